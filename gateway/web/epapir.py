"""``/ui/epapir``: a person writes an e-Papír to an office (contract 24), for themselves or for
an organisation where they hold a role. Two steps without JavaScript: find the office (or
``?office=KRID``), then the form with that office's topics. The outcome is the send form's:
``/ui/sent`` shows the registration number at once."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from babel.numbers import format_decimal
from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from starlette.requests import ClientDisconnect

from gateway.domain.epapir import MAX_ATTACHMENTS, SUBJECT_MAX_CHARS, TEXT_MAX_CHARS
from gateway.domain.formats import ALLOWED_FORMATS
from gateway.domain.parties import Party, PartyKind
from gateway.errors import GatewayError, InvalidRequest, NotFound, UnacceptableText
from gateway.forms import flag
from gateway.services import epapir as epapir_service
from gateway.services import mailbox as mailbox_service
from gateway.services import mandates
from gateway.services import staff as staff_service
from gateway.services.ports.parties import OfficeQuery, Topic
from gateway.services.topics import topics_in
from gateway.submission_form import receive_submission
from gateway.web import i18n
from gateway.web.deps import Person, once, ports_of
from gateway.web.pages import CSRF_FIELD, FORM_KEY_FIELD, csrf_ok, finish, language_of, render
from gateway.web.refusals import CsrfRefused, WebRoute
from gateway.web.sending import _size_text

router = APIRouter(route_class=WebRoute)

OWN = "me"  # the "write as" choice of a person writing for themselves
# The fields the form keeps when it is shown again (not the files: a browser cannot be given
# them back).
_KEPT = ("topic", "subject", "text", "reference_number", "return_receipt", "as")


def _is_krid(value: str) -> bool:
    return value.isascii() and value.isdigit() and len(value) == 9


async def _office(request: Request, krid: str) -> Party | None:
    """The office ``krid`` names, when it is a ``hivatali`` organisation."""
    if not _is_krid(krid):
        return None
    async with ports_of(request).uow() as uow:
        found = await uow.parties.by_krid(krid)
    return found if found is not None and found.kind is PartyKind.HIVATALI else None


async def _topics(request: Request, office: Party) -> list[Topic]:
    async with ports_of(request).uow() as uow:
        return await topics_in(uow, office)


async def _page(request: Request, person: Party, *, office: Party | None = None,
                problem: str | None = None, problem_field: str | None = None,
                fields: dict[str, str] | None = None, status_code: int = 200) -> Response:
    ports, query = ports_of(request), request.query_params
    found: list[Party] = []
    search_refused = False
    searched = query.get("office_q") or ""
    if office is None and searched:
        try:
            found = await mailbox_service.find_offices(
                ports, OfficeQuery(name=searched, kind=PartyKind.HIVATALI))
        except UnacceptableText:  # said in a sentence of its own
            search_refused, status_code = True, 422
        except InvalidRequest:  # longer than any office's name: it matches none
            pass
    locale = i18n.locale(language_of(request))
    limit = ports.epapir_max_bytes
    context: dict[str, Any] = {
        "office": office, "found": found[:20], "searched": searched,
        "search_refused": search_refused, "problem": problem, "problem_field": problem_field,
        "form": dict(fields or {}), "formats": ", ".join(ALLOWED_FORMATS),
        "max_attachments": MAX_ATTACHMENTS, "subject_max": SUBJECT_MAX_CHARS,
        "text_max": format_decimal(TEXT_MAX_CHARS, locale=locale),
        "size_limit": {"size": _size_text(limit, locale),
                       "bytes": format_decimal(limit, locale=locale)},
        "topics": await _topics(request, office) if office is not None else [],
        "organisations": [party for party, _ in
                          await staff_service.offices_of(ports, person)],
        # The citizens the person may write for under a mandate (contract 25), by their code.
        "principals": await mandates.principals_of(ports, person),
        "writing_as": query.get("box") or OWN,
    }
    return render(request, "epapir.html", context, status_code=status_code)


@router.get("/epapir")
async def epapir_page(request: Request, person: Person) -> Response:
    krid = request.query_params.get("office")
    if not krid:
        return await _page(request, person)
    office = await _office(request, krid)
    if office is None:
        return await _page(request, person, problem="office_unknown", status_code=404)
    return await _page(request, person, office=office)


@router.post("/epapir")
async def submit(request: Request, person: Person) -> Response:
    """The attachments stream to disk as they arrive (never whole in memory); the form's
    token can only be read after the body, so a missing one removes them unread."""
    ports = ports_of(request)
    office = await _office(request, request.query_params.get("office", ""))
    if office is None:
        return await _page(request, person, problem="office_unknown", status_code=404)
    with epapir_service.staged_attachments(ports) as attachments:
        try:
            fields = await receive_submission(request.headers.get("content-type", ""),
                                              request.stream(), attachments)
        except ClientDisconnect:
            return Response(status_code=400)
        except GatewayError as error:  # an eleventh attachment, too many bytes, a bad body
            return await _page(request, person, office=office, problem=error.code,
                               problem_field=error.field, status_code=422)
        if not csrf_ok(request, fields.get(CSRF_FIELD)):
            raise CsrfRefused
        kept = {name: fields[name] for name in _KEPT if name in fields}
        writing_as = fields.get("as", OWN)
        # A KRID: an organisation where the person holds a role; another name: a principal's
        # kapcsolati kód, for whom the person writes under a mandate.
        for_organisation = writing_as if _is_krid(writing_as) else None

        async def work() -> Response:
            try:
                return_receipt = flag(fields, "return_receipt")
                agency = None
                if writing_as != OWN and for_organisation is None:
                    agency = (await staff_service.mailbox_for(ports, person, writing_as)).agency
                acceptance = await epapir_service.submit(
                    ports, person, for_organisation=for_organisation, agency=agency,
                    recipient_krid=office.krid or "", topic=fields.get("topic", ""),
                    subject=fields.get("subject", ""), text=fields.get("text", ""),
                    attachments=attachments.items,
                    reference_number=fields.get("reference_number") or None,
                    return_receipt=return_receipt)
            except NotFound:  # no role at that organisation: as if it were not offered
                return await _page(request, person, office=office, problem="not_found",
                                   problem_field="as", fields=kept, status_code=422)
            except GatewayError as error:
                return await _page(request, person, office=office, problem=error.code,
                                   problem_field=error.field, fields=kept, status_code=422)
            outcome = {"box": writing_as, "sent": acceptance.registration_number}
            # The outcome's own page (the number at once), above what the mailbox sent: a
            # reload shows it again and sends nothing.
            return finish(request, RedirectResponse(f"/ui/sent?{urlencode(outcome)}",
                                                    status_code=303))

        return await once(request, person, fields.get(FORM_KEY_FIELD), work,
                          lambda: _page(request, person, office=office, fields=kept),
                          pending=f"/ui/sent?{urlencode({'box': writing_as})}")
