"""Hirdetmények (public notices) as JSON, for anyone and without credentials
(``/api/v1/public/notices``): the search of the public list, one notice with its versions, and
a version's attachments. The query names are the public page's and the feed's
(``domain.public_notices.query_of``), so a search's address works on every door."""

from __future__ import annotations

import base64
import hashlib
from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response
from pydantic import BaseModel, Field

from gateway.domain.public_notices import (
    DEFAULT_PAGE,
    MAX_PAGE,
    NoticeAttachment,
    NoticeForm,
    PublicNotice,
    query_of,
)
from gateway.errors import NotFound
from gateway.multipart import attachment_disposition
from gateway.rest.deps import PortsDep
from gateway.rest.models import local
from gateway.rest.problems import problem_responses
from gateway.services import public_notices as notice_service

router = APIRouter(prefix="/api/v1/public/notices", tags=["public notices"],
                   responses=problem_responses(404, 422, 503))

PATH = "/api/v1/public/notices"


def _when(instant: datetime) -> datetime:
    """Budapest time with its offset, like the rest of the API; an office may send a display
    end at the very end of year 9999, which Budapest time cannot hold: that one stays UTC."""
    try:
        return local(instant)
    except OverflowError:
        return instant.astimezone(UTC)


# What is answered.

class OfficeRef(BaseModel):
    krid: str = Field(description="the publishing office's KRID")
    name: str


class AttachmentOut(BaseModel):
    file_name: str
    size: int
    sha256: str
    url: str = Field(description="its bytes, as sent")


class NoticeOut(BaseModel):
    id: int
    office: OfficeRef
    category: str
    subject: str
    authority: str = Field(description="the acting authority (EljaroHatosag)")
    applicant: str | None
    case_number: str
    settlement: str | None
    case_worker: str | None
    display_from: datetime
    display_until: datetime
    text: str
    published_at: datetime = Field(description="when its first version arrived")
    modified_at: datetime | None = Field(description="when its last correction arrived; "
                                         "null: never corrected")
    url: str = Field(description="this notice's own address, with every version")

    @classmethod
    def fields_of(cls, notice: PublicNotice) -> dict[str, object]:
        form = notice.form
        return {
            "id": notice.id,
            "office": OfficeRef(krid=notice.office.krid or "", name=notice.office.name),
            "category": form.category, "subject": form.subject, "authority": form.authority,
            "applicant": form.applicant, "case_number": form.case_number,
            "settlement": form.settlement, "case_worker": form.case_worker,
            "display_from": _when(form.display_from),
            "display_until": _when(form.display_until), "text": form.text,
            "published_at": _when(notice.published_at),
            "modified_at": _when(notice.modified_at) if notice.modified_at else None,
            "url": f"{PATH}/{notice.id}",
        }

    @classmethod
    def of(cls, notice: PublicNotice) -> NoticeOut:
        return cls.model_validate(cls.fields_of(notice))


class NoticesOut(BaseModel):
    items: list[NoticeOut] = Field(description="newest first")
    next_cursor: str | None = Field(description="the next page's ``cursor``; null: the last")


class VersionOut(BaseModel):
    number: int = Field(description="1 for the first publication")
    received_at: datetime
    text: str
    attachments: list[AttachmentOut]


class NoticeDetailOut(NoticeOut):
    attachments: list[AttachmentOut] = Field(description="the current version's")
    versions: list[VersionOut] = Field(description="every version, oldest first: the "
                                       "current one last")

    @classmethod
    def of_notice(cls, notice: PublicNotice) -> NoticeDetailOut:
        versions = [VersionOut(number=version.number, received_at=_when(version.received_at),
                               text=version.form.text,
                               attachments=_attachments(notice.id, version.number,
                                                        version.form))
                    for version in notice.versions]
        return cls.model_validate({**cls.fields_of(notice),
                                   "attachments": versions[-1].attachments if versions else [],
                                   "versions": versions})


def _attachments(notice_id: int, number: int, form: NoticeForm) -> list[AttachmentOut]:
    def out(index: int, attachment: NoticeAttachment) -> AttachmentOut:
        return AttachmentOut(
            file_name=attachment.file_name, size=attachment.size, sha256=attachment.sha256,
            url=f"{PATH}/{notice_id}/versions/{number}/attachments/{index}")

    return [out(index, attachment) for index, attachment in enumerate(form.attachments, 1)]


def _number(text: str, what: str) -> int:
    """A path's number; anything else names no notice (404, as for a number that is none)."""
    if not text.isascii() or not text.isdigit() or int(text) > notice_service.LARGEST_ID:
        raise NotFound(f"no public notice {what} {text!r}")
    return int(text)


# The routes.

_Text = Annotated[str | None, Query(description="words that fields of this kind must hold, "
                                    "each the beginning of a word; case and accents ignored")]


@router.get("", response_model=NoticesOut, summary="Search the public notices shown now")
async def search(
    request: Request, ports: PortsDep,
    q: Annotated[str | None, Query(description="free text: every word in any field, each "
                                   "the beginning of a word; case and accents ignored")] = None,
    category: _Text = None,
    period_from: Annotated[str | None, Query(
        alias="from", description="shown on or after this day (YYYY-MM-DD, Budapest)")] = None,
    period_to: Annotated[str | None, Query(
        alias="to", description="shown on or before this day (YYYY-MM-DD, Budapest)")] = None,
    office: Annotated[str | None, Query(description="the publishing office's KRID")] = None,
    subject: _Text = None, authority: _Text = None, applicant: _Text = None,
    case_number: _Text = None, settlement: _Text = None, case_worker: _Text = None,
    limit: Annotated[str | None, Query(
        description=f"notices a page, 1 to {MAX_PAGE} (default {DEFAULT_PAGE})")] = None,
    cursor: Annotated[str | None, Query(description="a ``next_cursor`` from an earlier "
                                        "page")] = None,
) -> NoticesOut:
    # The parameters above are for the OpenAPI document; the search reads the query string
    # as the page and the feed do, with the same rules and refusals.
    page = await notice_service.search(ports, query_of(request.query_params))
    return NoticesOut(items=[NoticeOut.of(notice) for notice in page.items],
                      next_cursor=page.next_cursor.token() if page.next_cursor else None)


@router.get("/{notice_id}", response_model=NoticeDetailOut,
            summary="A notice with every version (from its display's start, for 8 years "
                    "after its end)")
async def notice(notice_id: str, ports: PortsDep) -> NoticeDetailOut:
    found = await notice_service.notice(ports, _number(notice_id, "id"))
    return NoticeDetailOut.of_notice(found)


@router.get("/{notice_id}/versions/{version}/attachments/{index}", response_class=Response,
            summary="An attachment of a notice's version, as sent",
            responses={200: {"content": {"application/octet-stream": {}}}})
async def attachment(notice_id: str, version: str, index: str, ports: PortsDep) -> Response:
    file_name, content = await notice_service.attachment(
        ports, _number(notice_id, "id"), _number(version, "version"),
        _number(index, "attachment"))
    digest = base64.b64encode(hashlib.sha256(content).digest()).decode()
    return Response(content, media_type="application/octet-stream", headers={
        "Content-Disposition": attachment_disposition(file_name),
        "Repr-Digest": f"sha-256=:{digest}:",
        # Anyone's upload, served from the gateway's origin: never sniffed into a page.
        "X-Content-Type-Options": "nosniff",
    })
