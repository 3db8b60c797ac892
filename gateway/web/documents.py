"""A mailbox and its documents: the listing with its filters, a document's page, its content,
opening (receiving) and acknowledging it, its timestamp and receipts
(``/ui/mailbox/…``, ``/ui/documents/…``)."""

from __future__ import annotations

from datetime import date
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response, StreamingResponse

from gateway.domain.documents import MAX_TEXT, shows_evidence
from gateway.domain.limits import (
    EARLIEST_DAY,
    LATEST_DAY,
    MAX_SEARCH_TEXT,
    bounded_int,
    filter_day,
)
from gateway.domain.parties import PartyKind, on_behalf
from gateway.domain.receipts import ReceiptKind
from gateway.domain.receiving import offers_opening
from gateway.domain.registration import budapest_days
from gateway.errors import InvalidRequest, NotFound, UnacceptableText
from gateway.multipart import attachment_disposition
from gateway.services import delivery as delivery_service
from gateway.services import evidence as evidence_service
from gateway.services import mailbox as mailbox_service
from gateway.services import permanent_storage
from gateway.services import staff as staff_service
from gateway.services.ports.evidence import ReceiptRecord
from gateway.web.deps import CheckedForm, Person, Seen, SeenDocument, box_of, keyed, ports_of
from gateway.web.pages import finish, render
from gateway.web.refusals import WebRoute

router = APIRouter(route_class=WebRoute)


def _day(value: str | None, field: str, problems: list[str],
         refused: dict[str, str]) -> date | None:
    """The day a date filter names; an unreadable one is a problem (left out), one outside
    the calendar the gateway can compute with is refused (domain/limits.filter_day)."""
    try:
        return filter_day(value, field)
    except InvalidRequest:
        refused[field] = "range"
    except ValueError:
        problems.append(field)
    return None


@router.get("/mailbox/{krid}")
async def mailbox(request: Request, krid: str, person: Person) -> Response:
    """An office's mailbox by its KRID, or the person's own tárhely as ``me``."""
    ports, query = ports_of(request), request.query_params
    # A principal's kapcsolati kód: an agent acting under a mandate (contract 25).
    box = await staff_service.mailbox_for(ports, person, krid)
    office, role, agency = box.party, box.role, box.agency
    problems: list[str] = []  # unreadable filters: left out
    refused: dict[str, str] = {}  # filter -> why nothing is listed: range, text or long
    since, until = budapest_days(_day(query.get("from"), "from", problems, refused),
                                 _day(query.get("to"), "to", problems, refused))
    sender_type = query.get("sender_type") or None
    if sender_type not in (None, *(kind.value for kind in PartyKind)):
        problems.append("sender_type")
    filters = mailbox_service.MailboxFilter(
        only_waiting=query.get("state") == "new",
        sender_kind=PartyKind(sender_type) if sender_type and "sender_type" not in problems
        else None,
        doc_type_id=query.get("doc_type_id") or None,
        since=since, until=until,
        text=query.get("q") or None,
        # An agent sees only senders within the mandate's scope.
        sender_krids=agency.offices if agency is not None else None,
    )
    limit = query.get("limit", "25")
    size = bounded_int(limit, 10, 100) or 25
    page = mailbox_service.MailboxPage([], None)
    try:
        if not refused:
            page = await mailbox_service.browse_mailbox(ports, office, filters, limit=size,
                                                        cursor=query.get("cursor") or None)
    except InvalidRequest as error:
        if error.field != "cursor":  # a text filter the mailbox cannot be searched by
            refused[error.field or "q"] = ("text" if isinstance(error, UnacceptableText)
                                           else "long")
        else:
            problems.append("cursor")
            page = await mailbox_service.browse_mailbox(ports, office, filters, limit=size)
    older = None
    if page.next_cursor:
        older = "?" + urlencode({**{k: v for k, v in query.items() if k != "cursor"},
                                 "cursor": page.next_cursor})
    # Counted by the database (one GROUP BY), whatever the filters: the whole box's waiting.
    # Not for an agent: the count would tell of documents outside the mandate's scope.
    unread = (await mailbox_service.unread_counts(ports, office)).total if agency is None \
        else None
    return render(request, "mailbox.html", {
        "office": office, "role": role, "box": krid, "documents": page.items, "older": older,
        "unread": unread, "agency": agency,
        "query": query, "problems": problems, "kinds": [kind.value for kind in PartyKind],
        "refused": refused, "earliest": EARLIEST_DAY.isoformat(),
        "latest": LATEST_DAY.isoformat(),
        "text_limits": {"q": MAX_SEARCH_TEXT, "doc_type_id": MAX_TEXT},
    }, status_code=422 if refused else 400 if problems else 200)


@router.get("/documents/{registration_number}")
async def document_page(request: Request, seen: SeenDocument) -> Response:
    return await document_view(request, seen)


async def document_view(request: Request, seen: Seen, *, problem: str | None = None,
                        status_code: int = 200) -> Response:
    """The document's page: its data, its receipts for its sender, the opening form where
    opening is receiving, the keeping form in the person's own box."""
    ports, (person, office, document) = ports_of(request), (seen.person, seen.office,
                                                             seen.document)
    receipts: list[ReceiptRecord] = []
    if shows_evidence(office, document):
        _, receipts = await evidence_service.receipts_of(ports, office,
                                                         document.registration_number)
    own = office.id == person.id
    return render(request, "document.html", {
        "office": office, "document": document, "receipts": receipts, "agency": seen.agency,
        "incoming": document.recipient_id == office.id, "own": own,
        "box": box_of(person, office),
        "acknowledged": request.query_params.get("acknowledged") == "1",
        "receiving": offers_opening(office, document),
        "kept_at": await permanent_storage.kept_since(ports, person, document)
        if own else None,
        "kept": request.query_params.get("kept") == "1", "problem": problem,
    }, status_code=status_code)


@router.get("/documents/{registration_number}/content")
async def document_content(request: Request, registration_number: str,
                           seen: SeenDocument) -> Response:
    if offers_opening(seen.office, seen.document):
        # Opening is receiving, and a GET receives nothing (a link scanner, a browser's
        # prefetch): the page with the opening form instead.
        return await document_view(request, seen)
    download = await delivery_service.open_content(
        ports_of(request), seen.office, registration_number,
        person=on_behalf(seen.person, seen.office), agency=seen.agency)
    headers = {"Content-Length": str(download.document.size),
               "Content-Disposition": attachment_disposition(download.document.file_name)}
    response = finish(request, StreamingResponse(
        download.chunks, media_type="application/octet-stream", headers=headers))
    # Recorded (for a citizen: received) only now that the answer is built.
    await download.record()
    return response


@router.post("/documents/{registration_number}/open")
async def open_document(request: Request, registration_number: str, form: CheckedForm,
                        seen: SeenDocument) -> Response:
    """A citizen's first opening of a document of their tárhely: receiving it (the sender's
    download receipt), then its content. Another's: 404 (Forbidden), an expired one 410."""
    content = f"/ui/documents/{registration_number}/content"

    async def work() -> Response:
        await delivery_service.receive(ports_of(request), seen.office, registration_number,
                                       person=on_behalf(seen.person, seen.office),
                                       agency=seen.agency)
        return finish(request, RedirectResponse(content, status_code=303))

    return await keyed(request, form, seen.person, work, lambda: document_view(request, seen),
                       pending=content)


@router.get("/documents/{registration_number}/timestamp")
async def document_timestamp(request: Request, registration_number: str,
                             seen: SeenDocument) -> Response:
    """The RFC 3161 token issued at acceptance (``openssl ts -verify`` reads it)."""
    token = await evidence_service.timestamp_token(ports_of(request), seen.office,
                                                   registration_number)
    return finish(request, Response(token, media_type="application/timestamp-reply", headers={
        "Content-Disposition": f'attachment; filename="{registration_number}.tst"'}))


@router.get("/documents/{registration_number}/receipts/{kind}")
async def document_receipt(request: Request, registration_number: str, kind: str,
                           seen: SeenDocument) -> Response:
    """A signed receipt (XML; ``xmlsec1 --verify`` checks it) of a document the office sent."""
    try:
        receipt_kind = ReceiptKind(kind)
    except ValueError:
        raise NotFound(f"no kind of receipt {kind!r}") from None
    receipt = await evidence_service.receipt(ports_of(request), seen.office,
                                             registration_number, receipt_kind)
    return finish(request, Response(receipt, media_type="application/xml", headers={
        "Content-Disposition": f'attachment; filename="{registration_number}-{kind}.xml"'}))


@router.post("/documents/{registration_number}/ack")
async def acknowledge(request: Request, registration_number: str, form: CheckedForm,
                      seen: SeenDocument) -> Response:
    """The clerk confirms the download: the sender's download receipt. Not the addressee's
    to confirm: 404 (Forbidden); expired: 410."""
    async def work() -> Response:
        await delivery_service.acknowledge(ports_of(request), seen.office, registration_number,
                                           person=on_behalf(seen.person, seen.office),
                                           agency=seen.agency)
        return finish(request, RedirectResponse(
            f"/ui/documents/{registration_number}?acknowledged=1", status_code=303))

    return await keyed(request, form, seen.person, work, lambda: document_view(request, seen),
                       pending=f"/ui/documents/{registration_number}")
