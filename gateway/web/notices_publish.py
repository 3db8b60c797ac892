"""``/ui/offices/{krid}/notices/new``: an office's staff publish a hirdetmény (contract 26) from
the browser, for an office without a document-management system of its own. The page builds
the form's XML (``notice_form.write_form``) and sends it to the portal's system address
through the same acceptance as any upload (services/acceptance.StagedUpload), so the portal
decides as it does for REST and HKP: a refusal names the form's element, and the page shows it
next to the field of that name (the HTML fields are named after the elements)."""

from __future__ import annotations

import asyncio
from datetime import date, datetime, time
from typing import Any
from urllib.parse import quote

from babel.numbers import format_decimal
from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from starlette.requests import ClientDisconnect

from gateway.domain.documents import UploadRequest
from gateway.domain.formats import ALLOWED_FORMATS
from gateway.domain.limits import checked_text
from gateway.domain.parties import Party, on_behalf
from gateway.domain.public_notices import (
    BUDAPEST,
    MAX_ATTACHMENT_BYTES,
    NOTICE_DOC_TYPE,
    NoticeForm,
    publishes_notices,
)
from gateway.domain.registration import budapest_local
from gateway.errors import (
    GatewayError,
    InvalidRequest,
    NotFound,
    TooLarge,
    UnacceptableText,
    Unavailable,
)
from gateway.forms import FieldReader, flag, read_multipart
from gateway.notice_form import write_form
from gateway.services import acceptance as acceptance_service
from gateway.services import public_notices as notice_service
from gateway.services import staff as staff_service
from gateway.web import i18n
from gateway.web.deps import Person, once, ports_of
from gateway.web.pages import CSRF_FIELD, FORM_KEY_FIELD, csrf_ok, finish, language_of, render
from gateway.web.refusals import CsrfRefused, WebRoute
from gateway.web.sending import _size_text

router = APIRouter(route_class=WebRoute)

ATTACHMENT_FIELD = "Melleklet"
TEXT_FIELD = "Szoveg"
# The one-line fields, by the element each becomes; the optional ones are left out when empty.
ONE_LINE_FIELDS = ("Azonosito", "Kategoria", "Targy", "EljaroHatosag", "Kerelmezo",
                   "Ugyiratszam", "Telepules", "Ugyintezo")
OPTIONAL_FIELDS = frozenset(("Kerelmezo", "Telepules", "Ugyintezo"))
MOMENTS = ("MegjelenesKezdete", "MegjelenesVege")
# The schema's maxLength of each text (schemas/hirdetmeny.xsd), said in the hints.
MAX_CHARS = {name: 255 for name in ONE_LINE_FIELDS} | {"Targy": 1000, TEXT_FIELD: 100_000}
# The text's part is read past the small fields' 64 KiB: 100,000 characters of UTF-8.
MAX_TEXT_BYTES = 4 * MAX_CHARS[TEXT_FIELD]
# The fields the form keeps when it is shown again (not the files: a browser cannot be given
# them back).
_KEPT = (*ONE_LINE_FIELDS, TEXT_FIELD, "Javitas",
         *(f"{name}_{part}" for name in MOMENTS for part in ("date", "time")))


class _NoticeReader(FieldReader):
    """The form's small fields by name; its text and each attachment read as they arrive into
    memory, since the XML holds them whole (base64), but never more than the limits: the text
    ``MAX_TEXT_BYTES``, each attachment ``MAX_ATTACHMENT_BYTES``, all together ``limit``."""

    def __init__(self, limit: int) -> None:
        super().__init__()
        self._limit = limit
        self._total = 0
        self._kind = ""
        self.text = bytearray()
        self.attachments: list[tuple[str, bytearray]] = []

    def file_begins(self, name: str, file_name: str | None) -> bool:
        if name == TEXT_FIELD:
            self._kind = "text"
        elif name != ATTACHMENT_FIELD:
            return False
        elif not file_name:
            # A file input with no file chosen sends an empty, nameless part.
            self._kind = "none"
        else:
            self._kind = "attachment"
            self.attachments.append((file_name, bytearray()))
        return True

    def file_data(self, chunk: memoryview) -> None:
        if self._kind == "text":
            if len(self.text) + len(chunk) > MAX_TEXT_BYTES:
                raise InvalidRequest(f"{TEXT_FIELD} is too long", field=TEXT_FIELD)
            self.text.extend(chunk)
        elif self._kind == "none":
            if len(chunk):
                raise InvalidRequest("an attachment part has no filename",
                                     field=ATTACHMENT_FIELD)
        else:
            content = self.attachments[-1][1]
            self._total += len(chunk)
            if (self._total > self._limit
                    or len(content) + len(chunk) > MAX_ATTACHMENT_BYTES):
                raise TooLarge(f"the attachments are over {MAX_ATTACHMENT_BYTES} bytes each"
                               f" or {self._limit} together", field=ATTACHMENT_FIELD)
            content.extend(chunk)


def _moment(fields: dict[str, str], name: str) -> datetime:
    """The date and time inputs of ``name`` as the moment they give in Budapest."""
    try:
        day = date.fromisoformat(fields.get(f"{name}_date", "").strip())
        hour = time.fromisoformat(fields.get(f"{name}_time", "").strip() or "00:00")
    except ValueError as exc:
        raise InvalidRequest(f"{name} needs a date (YYYY-MM-DD) and a time (HH:MM)",
                             field=name) from exc
    return datetime.combine(day, hour.replace(tzinfo=None), tzinfo=BUDAPEST)


def _notice_form(fields: dict[str, str], text: bytes) -> NoticeForm:
    """The form's fields as a NoticeForm; what the schema decides (a missing subject, a text
    too long) is left to the portal's reading of the XML, which names the element."""
    values = {name: checked_text(fields.get(name, "").strip(), name)
              for name in ONE_LINE_FIELDS}
    try:
        body = text.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InvalidRequest(f"{TEXT_FIELD} is not UTF-8", field=TEXT_FIELD) from exc

    def optional(name: str) -> str | None:
        return values[name] or None

    return NoticeForm(
        identifier=values["Azonosito"], correction=flag(fields, "Javitas"),
        category=values["Kategoria"], subject=values["Targy"],
        authority=values["EljaroHatosag"], applicant=optional("Kerelmezo"),
        case_number=values["Ugyiratszam"], settlement=optional("Telepules"),
        case_worker=optional("Ugyintezo"),
        display_from=_moment(fields, "MegjelenesKezdete"),
        display_until=_moment(fields, "MegjelenesVege"),
        text=checked_text(body, TEXT_FIELD, multiline=True))


def file_name_for(identifier: str) -> str:
    """The document's name: the Azonosito in letters, digits, ``-`` and ``_`` only."""
    safe = "".join(char if char.isascii() and (char.isalnum() or char in "-_") else "_"
                   for char in identifier)[:100]
    return f"hirdetmeny-{safe}.xml"


async def _office(request: Request, person: Party, krid: str) -> Party:
    """The office whose staff the person is (any role may send, so any may publish); only
    an office (hivatali) publishes. NotFound otherwise, as for an office that does not exist."""
    office, _role = await staff_service.office_for(ports_of(request), person, krid)
    if not publishes_notices(office):
        raise NotFound(f"{krid} is no office: only offices publish notices")
    return office


def _now_fields(request: Request) -> dict[str, str]:
    """A new form's start: now, in Budapest (the page's clock, not the browser's)."""
    now = budapest_local(ports_of(request).clock.now())
    return {"MegjelenesKezdete_date": now.date().isoformat(),
            "MegjelenesKezdete_time": now.strftime("%H:%M")}


async def _page(request: Request, office: Party, *, fields: dict[str, str],
          problem: str | None = None, problem_field: str | None = None,
          status_code: int = 200) -> Response:
    ports = ports_of(request)
    locale = i18n.locale(language_of(request))
    # Attachments together: e-Papír's limit, as for what a person attaches to a submission; the
    # form holds them base64 in memory on its way in, so the document's own limit (hundreds of
    # MiB, streamed) would be far too much to hold.
    limit = ports.epapir_max_bytes
    context: dict[str, Any] = {
        "office": office, "form": fields, "problem": problem,
        "problem_field": _field_shown(problem_field),
        "why": _why(problem, _field_shown(problem_field), fields) if problem else None,
        "known_fields": (*ONE_LINE_FIELDS, "Javitas", *MOMENTS, TEXT_FIELD, ATTACHMENT_FIELD),
        "formats": ", ".join(ALLOWED_FORMATS),
        "max_chars": {name: format_decimal(count, locale=locale)
                      for name, count in MAX_CHARS.items()},
        "each_limit": _size_text(MAX_ATTACHMENT_BYTES, locale),
        "size_limit": {"size": _size_text(limit, locale),
                       "bytes": format_decimal(limit, locale=locale)},
    }
    return render(request, "publish_notice.html", context, status_code=status_code)


def _why(problem: str, field: str | None, fields: dict[str, str]) -> str:
    """Which sentence says what is wrong with ``field`` (publish_notice.html has them)."""
    if problem in ("text", "too_large", "unavailable"):
        return problem
    if field == ATTACHMENT_FIELD:
        return "attachment"
    if field in MOMENTS:
        try:
            _moment(fields, field)
        except InvalidRequest:
            return "moment"
        return "order"  # a moment the form reads: the end is not after the start
    if field in MAX_CHARS:
        value = fields.get(field, "").strip()
        if field == "Azonosito" and 0 < len(value) <= MAX_CHARS[field]:
            # The portal's own rule: a first notice's Azonosito is new, a correction's known.
            return "unknown" if fields.get("Javitas") else "exists"
        return "length"
    return "other"


def _field_shown(field: str | None) -> str | None:
    """The field a refusal is shown next to: an attachment's name (``FileNev``) or a form
    that is not XML (only an attachment too large for the parser makes one) is the
    attachments'."""
    return ATTACHMENT_FIELD if field in ("FileNev", "file") else field


@router.get("/offices/{krid}/notices/new")
async def publish_page(request: Request, krid: str, person: Person) -> Response:
    office = await _office(request, person, krid)
    return await _page(request, office, fields=_now_fields(request))


@router.post("/offices/{krid}/notices/new")
async def publish(request: Request, krid: str, person: Person) -> Response:
    """The form is read as it arrives (the attachments within their limits), its XML written
    into the staged upload, and accepted as a document to the portal from the office, in the
    person's name; the form's token can only be read after the body."""
    ports = ports_of(request)
    office = await _office(request, person, krid)
    reader = _NoticeReader(ports.epapir_max_bytes)
    try:
        await read_multipart(reader, request.headers.get("content-type", ""),
                             request.stream(), "notice form")
    except ClientDisconnect:
        return Response(status_code=400)
    except GatewayError as error:  # an attachment too large, a body that is not a form
        # What was read before the refusal is shown again (the files come last).
        return await _page(request, office, fields=_kept(reader), problem=error.code,
                           problem_field=error.field, status_code=422)
    fields = reader.fields
    if not csrf_ok(request, fields.get(CSRF_FIELD)):
        raise CsrfRefused
    kept = _kept(reader)

    async def work() -> Response:
        try:
            form = _notice_form(fields, bytes(reader.text))
            for file_name, _content in reader.attachments:
                checked_text(file_name, ATTACHMENT_FIELD)
            # Base64 of up to the limit's bytes, and the tree's serialisation: off the loop.
            content = await asyncio.to_thread(write_form, form, [
                (name, bytes(data)) for name, data in reader.attachments])
            reader.attachments.clear()  # the XML holds them now
            async with acceptance_service.StagedUpload(ports) as staged:
                staged.content.write(content)
                acceptance = await staged.accept(office, UploadRequest(
                    file_name=file_name_for(form.identifier),
                    doc_type_office=NOTICE_DOC_TYPE, doc_type_id=NOTICE_DOC_TYPE,
                    doc_type_description="Hirdetmény", recipient_krid=ports.portal_krid),
                    person=on_behalf(person, office))
        except GatewayError as error:
            return await _page(
                request, office, fields=kept,
                problem="text" if isinstance(error, UnacceptableText) else error.code,
                problem_field=error.field,
                status_code=503 if isinstance(error, Unavailable) else 422)
        number = acceptance.registration_number
        return finish(request, RedirectResponse(
            f"/ui/offices/{krid}/notices/published/{quote(number)}", status_code=303))

    return await once(request, person, fields.get(FORM_KEY_FIELD), work,
                      lambda: _page(request, office, fields=kept),
                      pending=f"/ui/sent?box={krid}")


def _kept(reader: _NoticeReader) -> dict[str, str]:
    kept = {name: reader.fields[name] for name in _KEPT if name in reader.fields}
    kept[TEXT_FIELD] = reader.text.decode("utf-8", errors="replace")
    return kept


@router.get("/offices/{krid}/notices/published/{registration_number}")
async def published_page(request: Request, krid: str, registration_number: str,
                         person: Person) -> Response:
    """What a publication did: its number, the notice's public page, and when it appears.
    Only for the office's staff, and only for a notice this office sent (404 otherwise)."""
    ports = ports_of(request)
    office = await _office(request, person, krid)
    _box, document = await staff_service.document_seen(ports, person, registration_number)
    notice = await notice_service.notice_of_document(ports, registration_number)
    if notice is None or document.sender_id != office.id or notice.office.id != office.id:
        raise NotFound(f"{office.short_name} published no notice as {registration_number}")
    now = ports.clock.now()
    version = next(each for each in notice.versions
                   if each.registration_number == registration_number)
    return render(request, "published_notice.html", {
        "office": office, "document": document, "notice": notice,
        "correction": version.number > 1,
        "appears_at": notice.listed_at if notice.listed_at > now else None,
    })
