"""Ports of the hirdetmények (public notices): the notices, their versions and their search."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from gateway.domain.public_notices import NoticeForm, NoticePage, NoticeQuery, PublicNotice


@dataclass(frozen=True)
class NoticeArrival:
    """A form as it arrived: the document that carried it, and what it is searched by."""

    office_id: int
    form: NoticeForm
    document_id: int
    received_at: datetime
    search_terms: list[str]  # domain/public_notices.search_terms
    listed_at: datetime
    keep_until: datetime


class PublicNoticeRepository(Protocol):
    async def of_office(self, office_id: int, identifier: str) -> PublicNotice | None:
        """The office's notice with this Azonosito (its own id), without its versions."""
        ...
    async def publish(self, arrival: NoticeArrival) -> int:
        """A new notice, its first version and its search terms; returns its id."""
        ...
    async def correct(self, notice_id: int, arrival: NoticeArrival) -> None:
        """A correction: the next version, shown from now on (the notice's content, dates
        and search terms replaced, ``modified_at`` set to its arrival)."""
        ...
    async def by_id(self, notice_id: int) -> PublicNotice | None:
        """The notice with every version, oldest first."""
        ...
    async def of_document(self, registration_number: str) -> int | None:
        """The id of the notice a document (by its registration number) published or
        corrected; None for any other document."""
        ...
    async def search(self, query: NoticeQuery, now: datetime) -> NoticePage:
        """The notices shown at ``now`` that match ``query``, newest first (by ``listed_at``,
        then id), a page of ``query.limit`` after ``query.after``."""
        ...
