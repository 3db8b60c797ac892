"""Listing a party's mailbox, oldest first, with an opaque keyset cursor."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from gateway.domain.documents import MAX_TEXT, Document
from gateway.domain.limits import MAX_ID, MAX_NAME_FILTER, checked_filter
from gateway.domain.parties import ORGANISATION_KINDS, Party, PartyKind
from gateway.domain.rny import Agency
from gateway.errors import InvalidRequest
from gateway.services.ports.documents import MailboxQuery
from gateway.services.ports.evidence import ReceiptRecord
from gateway.services.ports.parties import OfficeQuery
from gateway.services.ports.slices import MailboxPorts

MAX_PAGE = 500


@dataclass(frozen=True)
class MailboxPage:
    items: list[Document]
    next_cursor: str | None


def _encode_cursor(document_id: int) -> str:
    return base64.urlsafe_b64encode(f"d{document_id}".encode()).decode().rstrip("=")


def _decode_cursor(cursor: str) -> int:
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        if not text.startswith("d") or not text[1:].isascii():
            raise ValueError(text)
        document_id = int(text[1:])
        if not 0 <= document_id <= MAX_ID:
            raise ValueError(text)
        return document_id
    except (ValueError, binascii.Error, UnicodeDecodeError) as exc:
        raise InvalidRequest("cursor is not one this gateway gave out", field="cursor") from exc


async def list_mailbox(
    ports: MailboxPorts,
    party: Party,
    *,
    only_waiting: bool = True,
    sender_kind: PartyKind | None = None,
    doc_type_id: str | None = None,
    limit: int = 50,
    cursor: str | None = None,
    with_timestamp_tokens: bool = False,
    agency: Agency | None = None,
) -> MailboxPage:
    """One page of the party's mailbox (with ``agency``, the principal's: only senders within
    the mandate's scope). Listing does not consume: until a document is acknowledged it is
    listed again, so a client that crashes loses nothing."""
    if not 1 <= limit <= MAX_PAGE:
        raise InvalidRequest(f"limit must be between 1 and {MAX_PAGE}", field="limit")
    doc_type_id = checked_filter(doc_type_id, "doc_type_id", limit=MAX_TEXT)
    after_id = _decode_cursor(cursor) if cursor else 0
    return await _page(ports, MailboxQuery(
        recipient_id=party.id, only_waiting=only_waiting, sender_kind=sender_kind,
        doc_type_id=doc_type_id, after_id=after_id, limit=limit + 1,
        with_timestamp_tokens=with_timestamp_tokens,
        sender_krids=agency.offices if agency is not None else None,
    ))


async def _page(ports: MailboxPorts, query: MailboxQuery) -> MailboxPage:
    """``query.limit`` is one more than the page: the extra row says that another page follows."""
    async with ports.uow() as uow:
        rows = await uow.documents.mailbox(query)
    items = rows[:query.limit - 1]
    next_cursor = _encode_cursor(items[-1].id) if len(rows) >= query.limit else None
    return MailboxPage(items, next_cursor)


@dataclass(frozen=True)
class MailboxFilter:
    """What a person narrows a mailbox page by."""

    only_waiting: bool = False
    sender_kind: PartyKind | None = None
    doc_type_id: str | None = None
    since: datetime | None = None
    until: datetime | None = None  # exclusive
    text: str | None = None  # in the file name, reference number or sender's name
    # Only senders with these KRIDs (an agent's scope, contract 25: Agency.offices); None: any.
    sender_krids: frozenset[str] | None = None


async def browse_mailbox(
    ports: MailboxPorts, party: Party, narrowed: MailboxFilter, *, limit: int = 25,
    cursor: str | None = None,
) -> MailboxPage:
    """One page of the party's mailbox for a person, newest first; ``next_cursor`` leads to
    older documents. Looking does not acknowledge.

    A filter text longer than MAX_SEARCH_TEXT (doc_type_id: than a document type) or holding
    a control or format character is refused naming its field (``q`` for the text)."""
    if not 1 <= limit <= MAX_PAGE:
        raise InvalidRequest(f"limit must be between 1 and {MAX_PAGE}", field="limit")
    doc_type_id = checked_filter(narrowed.doc_type_id or None, "doc_type_id", limit=MAX_TEXT)
    text = checked_filter((narrowed.text or "").strip() or None, "q")
    before_id = _decode_cursor(cursor) if cursor else None
    return await _page(ports, MailboxQuery(
        recipient_id=party.id, only_waiting=narrowed.only_waiting,
        sender_kind=narrowed.sender_kind, doc_type_id=doc_type_id,
        limit=limit + 1, newest_first=True, before_id=before_id,
        since=narrowed.since, until=narrowed.until, text=text,
        sender_krids=narrowed.sender_krids,
    ))


@dataclass(frozen=True)
class SentPage:
    items: list[Document]
    receipts: dict[int, list[ReceiptRecord]]  # by document id
    next_cursor: str | None


async def sent_documents(
    ports: MailboxPorts, party: Party, *, limit: int = 25, cursor: str | None = None,
    agency: Agency | None = None,
) -> SentPage:
    """What the party sent, newest first, each with its delivery state and receipts (the
    feltöltés ellenőrzése); with ``agency``, only to offices within its scope."""
    async with ports.uow() as uow:
        rows = await uow.documents.sent_by(party.id, _decode_cursor(cursor) if cursor else None,
                                           limit + 1,
                                           agency.offices if agency is not None else None)
        items = rows[:limit]
        receipts = await uow.receipts.of_documents([d.id for d in items])
    return SentPage(items, receipts,
                    _encode_cursor(items[-1].id) if len(rows) > limit else None)


async def find_offices(ports: MailboxPorts, query: OfficeQuery) -> list[Party]:
    """Organisations matching every given filter (name: a substring, case- and
    accent-insensitive: domain.parties.fold_name).

    A filter longer than any office's name is refused: it could match nothing, and a long
    enough pattern is more than the database's LIKE will run; so is one holding a control or
    format character."""
    for field, given in (("name", query.name), ("short_name", query.short_name),
                         ("krid", query.krid)):
        checked_filter(given, field, limit=MAX_NAME_FILTER)
    async with ports.uow() as uow:
        return await uow.parties.offices(query)


@dataclass(frozen=True)
class UnreadCounts:
    """Waiting (not yet acknowledged) documents by who sent them."""

    total: int
    from_organisations: int
    from_citizens: int
    from_system: int


class UnreadSelector(StrEnum):
    """One of the counts of ``UnreadCounts``, which a document type may narrow."""

    ALL = "all"
    ORGANISATIONS = "organisations"
    CITIZENS = "citizens"
    SYSTEM = "system"


async def unread_counts(
    ports: MailboxPorts, party: Party, doc_types: Mapping[UnreadSelector, str] | None = None
) -> UnreadCounts:
    """The party's waiting documents counted by sender; ``doc_types`` narrows a count to the
    documents of one type (DokumentumTipusAzonosito), the others count every type."""
    narrowed = dict(doc_types or {})
    for wanted in narrowed.values():
        checked_filter(wanted, "doc_type_id", limit=MAX_TEXT)
    async with ports.uow() as uow:
        by_doc_type: dict[str | None, dict[PartyKind, int]] = {}
        for doc_type in {narrowed.get(selector) for selector in UnreadSelector}:
            by_doc_type[doc_type] = await uow.documents.waiting_counts(party.id, doc_type)

    def count(selector: UnreadSelector, kinds: Iterable[PartyKind]) -> int:
        by_kind = by_doc_type[narrowed.get(selector)]
        return sum(by_kind.get(kind, 0) for kind in kinds)

    return UnreadCounts(
        total=count(UnreadSelector.ALL, PartyKind),
        from_organisations=count(UnreadSelector.ORGANISATIONS, ORGANISATION_KINDS),
        from_citizens=count(UnreadSelector.CITIZENS, [PartyKind.CITIZEN]),
        from_system=count(UnreadSelector.SYSTEM, [PartyKind.SYSTEM]),
    )
