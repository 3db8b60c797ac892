"""Sending from a mailbox, and what it sent (``/ui/send``, ``/ui/sent``)."""

from __future__ import annotations

from urllib.parse import urlencode

from babel import Locale
from babel.numbers import format_decimal
from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from starlette.requests import ClientDisconnect

from gateway.domain.documents import Document
from gateway.domain.epapir import DOC_TYPE_OFFICE as EPAPIR_DOC_TYPE
from gateway.domain.formats import ALLOWED_FORMATS
from gateway.domain.parties import Party, on_behalf
from gateway.domain.rny import Agency
from gateway.errors import (
    EmptyContent,
    Forbidden,
    GatewayError,
    InvalidRequest,
    NotFound,
    UnacceptableText,
)
from gateway.forms import receive_form, upload_request
from gateway.services import acceptance as acceptance_service
from gateway.services import mailbox as mailbox_service
from gateway.services import staff as staff_service
from gateway.services.ports.parties import OfficeQuery
from gateway.web import i18n
from gateway.web.deps import Person, box_of, once, ports_of, seen
from gateway.web.pages import CSRF_FIELD, FORM_KEY_FIELD, csrf_ok, finish, language_of, render
from gateway.web.refusals import CsrfRefused, WebRoute

router = APIRouter(route_class=WebRoute)


async def _send_page(request: Request, office: Party, box: str, *, problem: str | None = None,
                     problem_field: str | None = None, fields: dict[str, str] | None = None,
                     status_code: int = 200, agency: Agency | None = None) -> Response:
    query = request.query_params
    found: list[Party] = []
    search_refused = False
    if query.get("office_q"):
        try:
            found = await mailbox_service.find_offices(
                ports_of(request), OfficeQuery(name=query.get("office_q")))
        except UnacceptableText:  # said in a sentence of its own
            search_refused, status_code = True, 422
        except InvalidRequest:  # longer than any office's name: it matches none
            pass
    form = dict(fields or {})
    if "recipient_krid" not in form and query.get("recipient_krid"):
        form["recipient_krid"] = query.get("recipient_krid") or ""
    # The formats and the size the upload is checked against, not a copy of them.
    locale = i18n.locale(language_of(request))
    limit = ports_of(request).max_document_bytes
    return render(request, "send.html", {
        "office": office, "box": box, "found": found[:20], "searched": query.get("office_q"),
        "agency": agency,
        "search_refused": search_refused, "problem": problem, "problem_field": problem_field,
        "form": form, "formats": ", ".join(ALLOWED_FORMATS),
        "size_limit": {"size": _size_text(limit, locale),
                       "bytes": format_decimal(limit, locale=locale)},
    }, status_code=status_code)


def _size_text(size: int, locale: Locale) -> str:
    """A byte count as people read it: ``300 MB`` (binary units, as the limit is set)."""
    for unit, scale in (("GB", 2**30), ("MB", 2**20), ("KB", 2**10)):
        if size >= scale:
            return f"{format_decimal(size / scale, '#,##0.#', locale=locale)} {unit}"
    return f"{format_decimal(size, locale=locale)} B"


@router.get("/send")
async def send_page(request: Request, person: Person) -> Response:
    mailbox = await staff_service.mailbox_for(ports_of(request), person,
                                              request.query_params.get("box", ""))
    return await _send_page(request, mailbox.party, box_of(person, mailbox.party),
                            agency=mailbox.agency)


@router.post("/send")
async def send(request: Request, person: Person) -> Response:
    """The file streams into the blob store as it arrives (as a REST upload does); the form's
    token can only be read after the body, so a missing one discards the staged bytes (and
    the form is not a ``CheckedForm``, which would read the body whole)."""
    ports = ports_of(request)
    # A principal's kapcsolati kód: an agent sends in the principal's name (contract 25).
    mailbox = await staff_service.mailbox_for(ports, person, request.query_params.get("box", ""))
    office, agency = mailbox.party, mailbox.agency
    box = box_of(person, office)
    async with acceptance_service.StagedUpload(ports) as staged:
        try:
            form = await receive_form(request.headers.get("content-type", ""),
                                      request.stream(), staged.content)
        except ClientDisconnect:
            return Response(status_code=400)
        except GatewayError as error:
            return await _send_page(request, office, box, problem=error.code, status_code=400,
                                    agency=agency)
        if not csrf_ok(request, form.fields.get(CSRF_FIELD)):
            raise CsrfRefused

        async def work() -> Response:
            try:
                acceptance = await staged.accept(office, upload_request(form),
                                                 person=on_behalf(person, office),
                                                 agency=agency)
            except UnacceptableText as error:  # a sentence naming the field, as a form's refusal
                return await _send_page(request, office, box, problem="text",
                                        problem_field=error.field, fields=form.fields,
                                        status_code=422, agency=agency)
            except GatewayError as error:  # accept_document removed the staged bytes
                # An empty file is refused as REST refuses it (422), with a sentence of its own;
                # an office outside an agent's mandate as REST does (403).
                return await _send_page(request, office, box, problem=error.code,
                                        problem_field=error.field, fields=form.fields,
                                        status_code=422 if isinstance(error, EmptyContent)
                                        else 403 if isinstance(error, Forbidden)
                                        and agency is not None else 400, agency=agency)
            # The outcome's own page (number, addressee, time), above what the mailbox sent: a
            # reload shows it again and sends nothing.
            return finish(request, RedirectResponse(
                f"/ui/sent?{urlencode({'box': box, 'sent': acceptance.registration_number})}",
                status_code=303))

        # A refused form or a repeat never hands the bytes over: leaving the block removes them.
        return await once(request, person, form.fields.get(FORM_KEY_FIELD), work,
                          lambda: _send_page(request, office, box, fields=form.fields,
                                             agency=agency),
                          pending=f"/ui/sent?{urlencode({'box': box})}")


@router.get("/sent")
async def sent_page(request: Request, person: Person) -> Response:
    ports, query = ports_of(request), request.query_params
    mailbox = await staff_service.mailbox_for(ports, person, query.get("box", ""))
    office = mailbox.party
    try:
        page = await mailbox_service.sent_documents(ports, office,
                                                    cursor=query.get("cursor") or None,
                                                    agency=mailbox.agency)
    except InvalidRequest as error:  # a cursor of no page: as if the page did not exist
        raise NotFound("no such page of sent documents") from error
    box = box_of(person, office)
    older = ("?" + urlencode({"box": box, "cursor": page.next_cursor})
             if page.next_cursor else None)
    outcome = await _sent_outcome(request, person, office, query.get("sent"))
    return render(request, "sent.html", {
        "office": office, "box": box, "documents": page.items, "receipts": page.receipts,
        "agency": mailbox.agency, "older": older, "outcome": outcome,
        # "Send another" after an e-Papír leads back to the e-Papír form.
        "outcome_is_epapir": (outcome is not None
                              and outcome.doc_type_office == EPAPIR_DOC_TYPE)})


async def _sent_outcome(request: Request, person: Party, mailbox: Party,
                        registration_number: str | None) -> Document | None:
    """The document a send form just sent from ``mailbox`` (its outcome's notice), or None
    for any number that is not one this mailbox sent."""
    if not registration_number:
        return None
    try:
        found = await seen(request, person, registration_number)
    except NotFound:
        return None
    return (found.document if found.office.id == mailbox.id
            and found.document.sender_id == mailbox.id else None)
