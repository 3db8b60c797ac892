"""``/ui``: logging in and out, choosing a mailbox, an office's mailbox and documents, the
sandbox console. Each route reads a form, calls one service, and renders a page; the services
decide (who may see what: services/staff.py)."""

from __future__ import annotations

import asyncio
import math
from collections.abc import Awaitable, Callable, Mapping
from datetime import date, datetime, time, timedelta
from pathlib import Path
from urllib.parse import parse_qsl, urlencode

from babel import Locale
from babel.numbers import format_decimal
from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response, StreamingResponse
from fastapi.staticfiles import StaticFiles
from starlette.datastructures import FormData, UploadFile
from starlette.requests import ClientDisconnect

from gateway.clients import client_address
from gateway.config import Settings
from gateway.domain import receiving
from gateway.domain.documents import MAX_TEXT, DeliveryState, Document
from gateway.domain.formats import ALLOWED_FORMATS
from gateway.domain.limits import (
    EARLIEST_DAY,
    LATEST_DAY,
    MAX_ID,
    MAX_SEARCH_TEXT,
    bounded_int,
)
from gateway.domain.parties import Party, PartyKind, StaffRole
from gateway.domain.receipts import ReceiptKind
from gateway.domain.registration import BUDAPEST
from gateway.errors import (
    Conflict,
    EmptyContent,
    Expired,
    Forbidden,
    GatewayError,
    InvalidRequest,
    LastAdmin,
    NotFound,
    QuotaExceeded,
    TooManyAdmins,
    TooManyAttempts,
    UnacceptableText,
    Unauthorized,
)
from gateway.forms import receive_form, upload_request
from gateway.multipart import attachment_disposition
from gateway.services import acceptance as acceptance_service
from gateway.services import delivery as delivery_service
from gateway.services import evidence as evidence_service
from gateway.services import forms as form_service
from gateway.services import mail, people, permanent_storage, sandbox
from gateway.services import mailbox as mailbox_service
from gateway.services import parties as party_service
from gateway.services import staff as staff_service
from gateway.services.auth import CredentialCache
from gateway.services.ports import Ports
from gateway.services.ports.evidence import ReceiptRecord
from gateway.services.ports.parties import OfficeQuery
from gateway.web import i18n
from gateway.web.pages import (
    CSRF_FIELD,
    FORM_KEY_FIELD,
    SESSION_COOKIE,
    csrf_ok,
    finish,
    language_of,
    mail_text,
    render,
    renew_csrf,
    set_cookie,
)

router = APIRouter(prefix="/ui", include_in_schema=False)
# ``/`` itself: a person who types the host's name lands on the pages.
root = APIRouter(include_in_schema=False)
# The most the console's form moves the test clock at once.
MAX_ADVANCE_DAYS = 400
# A login form holds a token, a username, a password and a path: a few hundred bytes.
LOGIN_FORM_BYTES = 16 * 1024
static = StaticFiles(directory=Path(__file__).parent / "static")


def _ports(request: Request) -> Ports:
    ports: Ports = request.app.state.ports
    return ports


async def _person(request: Request) -> Party | None:
    """The logged-in person (also kept on ``request.state`` for the page frame), or None."""
    token = request.cookies.get(SESSION_COOKIE)
    settings: Settings = request.app.state.settings
    person = await people.session_person(
        _ports(request), token, timedelta(minutes=settings.ui_session_minutes),
        timedelta(hours=settings.ui_session_max_hours)) if token else None
    request.state.person = person
    return person


def _to_login(request: Request) -> Response:
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return finish(request, RedirectResponse(
        f"/ui/login?{urlencode({'next': target})}", status_code=303))


def _refused(request: Request) -> Response:
    """A POST without the form's token: nothing is done."""
    return render(request, "forbidden.html", status_code=403)


async def _once(request: Request, person: Party, key: object,
                work: Callable[[], Awaitable[Response]],
                page: Callable[[], Awaitable[Response]], *, pending: str) -> Response:
    """One click, one effect (services/forms.py): ``work`` runs for the first POST with the
    form's one-time ``key``, and its redirect is the key's outcome; a repeat (a double click,
    a browser's resend, a retry after a lost answer) does nothing and is redirected to that
    outcome, or to ``pending`` while the first is still at work after a minute. Once
    started, the work and its record finish even if the request is cancelled. Without a
    well-formed key nothing is done: ``page`` (the form again) answers 400. A POST that
    answers anything but a redirect did nothing and releases the key."""
    ports = _ports(request)
    if not form_service.well_formed(key):
        request.state.form_refused = True
        refusal = await page()
        refusal.status_code = 400
        return refusal
    assert isinstance(key, str)
    try:
        earlier = await form_service.claim(ports, person, key)
    except Conflict:
        earlier = pending
    if earlier is not None:
        return finish(request, RedirectResponse(earlier, status_code=303))

    async def attempt() -> Response:
        try:
            response = await work()
        except Exception:
            await form_service.release(ports, person, key)
            raise
        outcome = response.headers.get("location")
        if response.status_code == 303 and outcome:
            await form_service.settle(ports, person, key, outcome)
        else:
            await form_service.release(ports, person, key)
        return response

    # Shielded: a browser that drops this request for its repeat (a double click) cancels
    # the request, not the work it started; the repeat waits for this outcome and shows it.
    return await asyncio.shield(attempt())


async def _keyed(request: Request, work: Callable[[FormData, Party], Awaitable[Response]],
                 page: Callable[[Party], Awaitable[Response]], *, pending: str) -> Response:
    """A logged-in person's state-changing form (one of a few fields): refused with 403
    without its CSRF token, the login page without a session, then ``work`` once per
    one-time key, ``page`` being the form again (``_once``)."""
    form = await request.form()
    if not csrf_ok(request, form.get(CSRF_FIELD)):
        return _refused(request)
    person = await _person(request)
    if person is None:
        return _to_login(request)
    return await _once(request, person, form.get(FORM_KEY_FIELD), lambda: work(form, person),
                       lambda: page(person), pending=pending)


def _next_page(value: object) -> str:
    # Only a path of our own: an open redirect would send a person anywhere after login.
    if isinstance(value, str) and value.startswith("/ui/") and not value.startswith("//"):
        return value
    return "/ui/"


@root.get("/")
async def home() -> Response:
    return RedirectResponse("/ui/", status_code=303)


@router.get("/login")
async def login_page(request: Request) -> Response:
    return render(request, "login.html", {"username": "", "refused": False,
                                          "next": _next_page(request.query_params.get("next"))})


async def _small_form(request: Request) -> FormData | None:
    """The login form, or None when its body is larger than ``LOGIN_FORM_BYTES``: refused
    on its Content-Length before a byte is read, or as soon as a body sent without one
    passes the bound. Before any password is checked, nobody may make the server read
    megabytes. Parsed here (urlencoded, as the page sends it) because Starlette's
    ``request.form()`` reads a urlencoded body whole, however long."""
    declared = request.headers.get("content-length", "")
    if declared and (not declared.isdigit() or int(declared) > LOGIN_FORM_BYTES):
        return None
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > LOGIN_FORM_BYTES:
            return None
    fields: list[tuple[str, str | UploadFile]] = list(
        parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))
    return FormData(fields)


@router.post("/login")
async def login(request: Request) -> Response:
    form = await _small_form(request)
    if form is None:  # the unread rest is not waited for: the connection is closed
        return Response(f"the form is larger than {LOGIN_FORM_BYTES} bytes\n",
                        status_code=413, media_type="text/plain",
                        headers={"Connection": "close"})
    if not csrf_ok(request, form.get(CSRF_FIELD)):
        return _refused(request)
    username = str(form.get("username") or "").strip()
    cache: CredentialCache = request.app.state.credential_cache
    try:
        session = await people.log_in(_ports(request), cache, username,
                                      str(form.get("password") or ""),
                                      address=client_address(request.scope))
    except Unauthorized:
        return render(request, "login.html", {"username": username, "refused": True,
                                              "next": _next_page(form.get("next"))},
                      status_code=401)
    except TooManyAttempts as throttled:
        page = render(request, "login.html", {
            "username": username, "refused": True, "next": _next_page(form.get("next")),
            "retry_minutes": math.ceil(throttled.retry_after / 60)}, status_code=429)
        page.headers["Retry-After"] = str(throttled.retry_after)
        return page
    renew_csrf(request)  # a new session gets new tokens: nothing from before carries over
    response = RedirectResponse(_next_page(form.get("next")), status_code=303)
    set_cookie(response, request, SESSION_COOKIE, session.token)
    return finish(request, response)


@router.post("/logout")
async def logout(request: Request) -> Response:
    form = await request.form()
    if not csrf_ok(request, form.get(CSRF_FIELD)):
        return _refused(request)
    token = request.cookies.get(SESSION_COOKIE)
    if token:
        await people.log_out(_ports(request), token)
    renew_csrf(request)
    response = RedirectResponse("/ui/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return finish(request, response)


@router.get("/")
async def choose_mailbox(request: Request) -> Response:
    person = await _person(request)
    if person is None:
        return _to_login(request)
    return await _chooser(request, person)


async def _chooser(request: Request, person: Party, **context: object) -> Response:
    offices = await staff_service.offices_of(_ports(request), person)
    return render(request, "choose.html", {
        "offices": offices, "sandbox": _ports(request).sandbox_clock is not None,
        "swapped": request.query_params.get("swapped") == "1",
        "email_saved": request.query_params.get("email") == "1", **context},
        status_code=400 if context.get("email_problem") else 200)


@router.post("/me/email")
async def change_email(request: Request) -> Response:
    async def work(form: FormData, person: Party) -> Response:
        try:
            await party_service.set_email(_ports(request), person,
                                          str(form.get("email") or ""))
        except InvalidRequest:
            return await _chooser(request, person, email_problem=True,
                                  email_given=str(form.get("email") or ""))
        return finish(request, RedirectResponse("/ui/?email=1", status_code=303))

    return await _keyed(request, work, lambda person: _chooser(request, person), pending="/ui/")


@router.get("/me/address")
async def swap_address_page(request: Request) -> Response:
    """Swapping is irreversible: the first page's button leads here, which says what will
    happen before the confirming POST."""
    person = await _person(request)
    if person is None:
        return _to_login(request)
    return render(request, "address.html")


@router.post("/me/address")
async def swap_address(request: Request) -> Response:
    async def work(form: FormData, person: Party) -> Response:
        await party_service.swap_address(_ports(request), person)
        return finish(request, RedirectResponse("/ui/?swapped=1", status_code=303))

    return await _keyed(request, work, lambda person: _chooser(request, person), pending="/ui/")


# What "run the due jobs now" did, carried in its outcome's address (a reload shows it again
# and runs nothing).
_RAN_FIELDS = ("warned", "not_collected", "presumed_delivered", "expired", "mails_sent")


def _counts(query: Mapping[str, str], names: tuple[str, ...],
            high: int) -> dict[str, int] | None:
    """The outcome's numbers from the query, or None unless every one is there and sane."""
    values = {name: bounded_int(query.get(name), 0, high) for name in names}
    if any(value is None for value in values.values()):
        return None
    return {name: value for name, value in values.items() if value is not None}


async def _sandbox_page(request: Request, person: Party, **context: object) -> Response:
    ports = _ports(request)
    try:
        now = await sandbox.current(ports)
    except GatewayError:  # the sandbox is off: as if the page did not exist
        return render(request, "not_found.html", status_code=404)
    mails = [(record, mail_text(record.message))
             for record in await mail.addressed_to(ports, person)]
    query = request.query_params
    ran = _counts(query, _RAN_FIELDS, MAX_ID) if query.get("ran") == "1" else None
    advanced = (_counts(query, ("days", "hours"), MAX_ADVANCE_DAYS)
                if query.get("advanced") == "1" else None)
    return render(request, "sandbox.html", {"now": now, "mails": mails, "ran": ran,
                                            "advanced": advanced, **context},
                  status_code=400 if context.get("problem") else 200)


@router.get("/sandbox")
async def sandbox_console(request: Request) -> Response:
    if _ports(request).sandbox_clock is None:
        return render(request, "not_found.html", status_code=404)
    # A logged-in person only: the clock moves every party's deadlines, and the mail shown
    # is their own.
    person = await _person(request)
    if person is None:
        return _to_login(request)
    return await _sandbox_page(request, person)


@router.post("/sandbox")
async def sandbox_action(request: Request) -> Response:
    """Advance the test clock, or run the due jobs: each a keyed outcome (303 to the console
    saying what happened; a resent form does nothing again)."""
    ports = _ports(request)
    if ports.sandbox_clock is None:
        return render(request, "not_found.html", status_code=404)

    async def work(form: FormData, person: Party) -> Response:
        if form.get("action") == "run_due":
            ran = await sandbox.run_due(ports)
            outcome = {"ran": "1", **{name: str(getattr(ran, name)) for name in _RAN_FIELDS}}
            return finish(request, RedirectResponse(f"/ui/sandbox?{urlencode(outcome)}",
                                                    status_code=303))
        try:
            days = int(str(form.get("days") or "0"))
            hours = int(str(form.get("hours") or "0"))
        except ValueError:
            return await _sandbox_page(request, person, problem="not_numbers")
        if not (0 <= days <= MAX_ADVANCE_DAYS and 0 <= hours <= 23):
            return await _sandbox_page(request, person, problem="backwards" if days < 0 or hours < 0
                                       else "not_numbers")
        await sandbox.move(ports, advance=timedelta(days=days, hours=hours))
        return finish(request, RedirectResponse(
            f"/ui/sandbox?{urlencode({'advanced': '1', 'days': days, 'hours': hours})}",
            status_code=303))

    return await _keyed(request, work, lambda person: _sandbox_page(request, person),
                        pending="/ui/sandbox")


def _on_behalf(person: Party, mailbox: Party) -> str | None:
    """The person acting for an office (named in its audit entries), or None in their own
    tárhely, where they act as themselves."""
    return None if mailbox.id == person.id else person.username


def _box(person: Party, mailbox: Party) -> str:
    """How the pages name a mailbox: ``me`` for the person's own tárhely, else its KRID."""
    return staff_service.OWN_BOX if mailbox.id == person.id else mailbox.krid or ""


def _day(value: str | None, field: str, problems: list[str],
         refused: dict[str, str]) -> date | None:
    """The day a date filter names; an unreadable one is a problem (left out), one outside
    the calendar the gateway can compute with is refused."""
    if not value:
        return None
    try:
        day = date.fromisoformat(value)
    except ValueError:
        problems.append(field)
        return None
    if not EARLIEST_DAY <= day <= LATEST_DAY:
        refused[field] = "range"
        return None
    return day


def _budapest_midnight(day: date) -> datetime:
    return datetime.combine(day, time(), tzinfo=BUDAPEST)


@router.get("/mailbox/{krid}")
async def mailbox(request: Request, krid: str) -> Response:
    """An office's mailbox by its KRID, or the person's own tárhely as ``me``."""
    person = await _person(request)
    if person is None:
        return _to_login(request)
    ports, query = _ports(request), request.query_params
    try:
        office, role = await staff_service.mailbox_of(ports, person, krid)
    except NotFound:
        return render(request, "not_found.html", status_code=404)
    problems: list[str] = []  # unreadable filters: left out
    refused: dict[str, str] = {}  # filter -> why nothing is listed: range, text or long
    since = _day(query.get("from"), "from", problems, refused)
    until = _day(query.get("to"), "to", problems, refused)
    sender_type = query.get("sender_type") or None
    if sender_type not in (None, *(kind.value for kind in PartyKind)):
        problems.append("sender_type")
    filters = mailbox_service.MailboxFilter(
        only_waiting=query.get("state") == "new",
        sender_kind=PartyKind(sender_type) if sender_type and "sender_type" not in problems
        else None,
        doc_type_id=query.get("doc_type_id") or None,
        since=_budapest_midnight(since) if since else None,
        until=_budapest_midnight(until + timedelta(days=1)) if until else None,
        text=query.get("q") or None,
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
    unread = (await mailbox_service.unread_counts(ports, office)).total
    return render(request, "mailbox.html", {
        "office": office, "role": role, "box": krid, "documents": page.items, "older": older,
        "unread": unread,
        "query": query, "problems": problems, "kinds": [kind.value for kind in PartyKind],
        "refused": refused, "earliest": EARLIEST_DAY.isoformat(),
        "latest": LATEST_DAY.isoformat(),
        "text_limits": {"q": MAX_SEARCH_TEXT, "doc_type_id": MAX_TEXT},
    }, status_code=422 if refused else 400 if problems else 200)


async def _document(request: Request, registration_number: str) -> tuple[Party, Party,
                                                                           Document] | None:
    person = await _person(request)
    if person is None:
        return None
    office, document = await staff_service.document_for(_ports(request), person,
                                                        registration_number)
    return person, office, document


def _receiving(mailbox: Party, document: Document) -> bool:
    """Whether the document's page offers the opening form (a citizen's unopened document
    whose content is still there): its content is then delivered only after that POST."""
    return (receiving.received_on_opening(mailbox, document)
            and document.delivery_state is not DeliveryState.EXPIRED)


@router.get("/documents/{registration_number}")
async def document_page(request: Request, registration_number: str) -> Response:
    return await _document_page(request, registration_number)


async def _document_page(request: Request, registration_number: str, *,
                         problem: str | None = None, status_code: int = 200) -> Response:
    try:
        found = await _document(request, registration_number)
    except NotFound:
        return render(request, "not_found.html", status_code=404)
    if found is None:
        return _to_login(request)
    person, office, document = found
    receipts: list[ReceiptRecord] = []
    if document.sender_id == office.id:
        _, receipts = await evidence_service.receipts_of(_ports(request), office,
                                                         registration_number)
    own = office.id == person.id
    return render(request, "document.html", {
        "office": office, "document": document, "receipts": receipts,
        "incoming": document.recipient_id == office.id, "own": own,
        "box": _box(person, office),
        "acknowledged": request.query_params.get("acknowledged") == "1",
        "receiving": _receiving(office, document),
        "kept_at": await permanent_storage.kept_since(_ports(request), person, document)
        if own else None,
        "kept": request.query_params.get("kept") == "1", "problem": problem,
    }, status_code=status_code)


@router.get("/documents/{registration_number}/content")
async def document_content(request: Request, registration_number: str) -> Response:
    try:
        found = await _document(request, registration_number)
        if found is None:
            return _to_login(request)
        person, office, document = found
        if _receiving(office, document):
            # Opening is receiving, and a GET receives nothing (a link scanner, a browser's
            # prefetch): the page with the opening form instead.
            return await _document_page(request, registration_number)
        download = await delivery_service.open_content(
            _ports(request), office, registration_number,
            person=_on_behalf(person, office))
    except NotFound:
        return render(request, "not_found.html", status_code=404)
    except Expired:
        return render(request, "expired.html", status_code=410)
    headers = {"Content-Length": str(download.document.size),
               "Content-Disposition": attachment_disposition(download.document.file_name)}
    response = finish(request, StreamingResponse(
        download.chunks, media_type="application/octet-stream", headers=headers))
    # Recorded (for a citizen: received) only now that the answer is built.
    await download.record()
    return response


@router.post("/documents/{registration_number}/open")
async def open_document(request: Request, registration_number: str) -> Response:
    """A citizen's first opening of a document of their tárhely: receiving it (the sender's
    download receipt), then its content."""
    content = f"/ui/documents/{registration_number}/content"

    async def work(form: FormData, person: Party) -> Response:
        try:
            found = await _document(request, registration_number)
            assert found is not None  # the person was found above
            _, office, _ = found
            await delivery_service.receive(_ports(request), office, registration_number,
                                           person=_on_behalf(person, office))
        except (NotFound, Forbidden):
            return render(request, "not_found.html", status_code=404)
        except Expired:
            return render(request, "expired.html", status_code=410)
        return finish(request, RedirectResponse(content, status_code=303))

    return await _keyed(request, work,
                        lambda person: _document_page(request, registration_number),
                        pending=content)


@router.get("/documents/{registration_number}/timestamp")
async def document_timestamp(request: Request, registration_number: str) -> Response:
    """The RFC 3161 token issued at acceptance (``openssl ts -verify`` reads it)."""
    try:
        found = await _document(request, registration_number)
        if found is None:
            return _to_login(request)
        _, office, _ = found
        token = await evidence_service.timestamp_token(_ports(request), office,
                                                       registration_number)
    except NotFound:
        return render(request, "not_found.html", status_code=404)
    return finish(request, Response(token, media_type="application/timestamp-reply", headers={
        "Content-Disposition": f'attachment; filename="{registration_number}.tst"'}))


@router.get("/documents/{registration_number}/receipts/{kind}")
async def document_receipt(request: Request, registration_number: str, kind: str) -> Response:
    """A signed receipt (XML; ``xmlsec1 --verify`` checks it) of a document the office sent."""
    try:
        found = await _document(request, registration_number)
        if found is None:
            return _to_login(request)
        _, office, _ = found
        receipt = await evidence_service.receipt(_ports(request), office, registration_number,
                                                 ReceiptKind(kind))
    except (NotFound, ValueError):
        return render(request, "not_found.html", status_code=404)
    return finish(request, Response(receipt, media_type="application/xml", headers={
        "Content-Disposition": f'attachment; filename="{registration_number}-{kind}.xml"'}))


@router.post("/documents/{registration_number}/ack")
async def acknowledge(request: Request, registration_number: str) -> Response:
    async def work(form: FormData, person: Party) -> Response:
        try:
            found = await _document(request, registration_number)
            assert found is not None  # the person was found above
            _, office, _ = found
            await delivery_service.acknowledge(
                _ports(request), office, registration_number,
                person=_on_behalf(person, office))
        except (NotFound, Forbidden):
            return render(request, "not_found.html", status_code=404)
        except Expired:
            return render(request, "expired.html", status_code=410)
        return finish(request, RedirectResponse(
            f"/ui/documents/{registration_number}?acknowledged=1", status_code=303))

    return await _keyed(request, work,
                        lambda person: _document_page(request, registration_number),
                        pending=f"/ui/documents/{registration_number}")


@router.post("/documents/{registration_number}/keep")
async def keep(request: Request, registration_number: str) -> Response:
    """Keep a document of the person's own box in their tartós tár (keeping is opening)."""
    async def work(form: FormData, person: Party) -> Response:
        try:
            # The person keeps for themselves: an office's document is not theirs (NotFound).
            await permanent_storage.keep(_ports(request), person, registration_number)
        except (NotFound, Forbidden):
            return render(request, "not_found.html", status_code=404)
        except Expired:
            return render(request, "expired.html", status_code=410)
        except QuotaExceeded:
            return await _document_page(request, registration_number,
                                        problem="quota_exceeded", status_code=413)
        return finish(request, RedirectResponse(
            f"/ui/documents/{registration_number}?kept=1", status_code=303))

    return await _keyed(request, work,
                        lambda person: _document_page(request, registration_number),
                        pending=f"/ui/documents/{registration_number}")


@router.get("/storage")
async def storage_page(request: Request) -> Response:
    """The person's own tartós tár: what they keep, and how much of the quota it takes."""
    person = await _person(request)
    if person is None:
        return _to_login(request)
    storage = await permanent_storage.contents(_ports(request), person)
    return render(request, "storage.html", {
        "storage": storage, "deleted": request.query_params.get("deleted")})


@router.post("/storage/{registration_number}/delete")
async def delete_kept(request: Request, registration_number: str) -> Response:
    async def work(form: FormData, person: Party) -> Response:
        try:
            await permanent_storage.discard(_ports(request), person, registration_number)
        except NotFound:
            return render(request, "not_found.html", status_code=404)
        return finish(request, RedirectResponse(
            f"/ui/storage?{urlencode({'deleted': registration_number})}", status_code=303))

    return await _keyed(request, work, lambda person: storage_page(request), pending="/ui/storage")


async def _send_page(request: Request, office: Party, box: str, *, problem: str | None = None,
                     problem_field: str | None = None, fields: dict[str, str] | None = None,
                     status_code: int = 200) -> Response:
    query = request.query_params
    found: list[Party] = []
    search_refused = False
    if query.get("office_q"):
        try:
            found = await mailbox_service.find_offices(
                _ports(request), OfficeQuery(name=query.get("office_q")))
        except UnacceptableText:  # said in a sentence of its own
            search_refused, status_code = True, 422
        except InvalidRequest:  # longer than any office's name: it matches none
            pass
    form = dict(fields or {})
    if "recipient_krid" not in form and query.get("recipient_krid"):
        form["recipient_krid"] = query.get("recipient_krid") or ""
    # The formats and the size the upload is checked against, not a copy of them.
    locale = i18n.locale(language_of(request))
    limit = _ports(request).max_document_bytes
    return render(request, "send.html", {
        "office": office, "box": box, "found": found[:20], "searched": query.get("office_q"),
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
async def send_page(request: Request) -> Response:
    person = await _person(request)
    if person is None:
        return _to_login(request)
    try:
        office, _ = await staff_service.mailbox_of(_ports(request), person,
                                                   request.query_params.get("box", ""))
    except NotFound:
        return render(request, "not_found.html", status_code=404)
    return await _send_page(request, office, _box(person, office))


@router.post("/send")
async def send(request: Request) -> Response:
    """The file streams into the blob store as it arrives (as a REST upload does); the form's
    token can only be read after the body, so a missing one discards the staged bytes."""
    person = await _person(request)
    if person is None:
        return _to_login(request)
    ports = _ports(request)
    try:
        office, _ = await staff_service.mailbox_of(ports, person,
                                                   request.query_params.get("box", ""))
    except NotFound:
        return render(request, "not_found.html", status_code=404)
    async with acceptance_service.StagedUpload(ports) as staged:
        try:
            form = await receive_form(request.headers.get("content-type", ""),
                                      request.stream(), staged.content)
        except ClientDisconnect:
            return Response(status_code=400)
        except GatewayError as error:
            return await _send_page(request, office, _box(person, office), problem=error.code,
                                    status_code=400)
        if not csrf_ok(request, form.fields.get(CSRF_FIELD)):
            return _refused(request)
        box = _box(person, office)

        async def work() -> Response:
            try:
                acceptance = await staged.accept(office, upload_request(form),
                                                 person=_on_behalf(person, office))
            except UnacceptableText as error:  # a sentence naming the field, as a form's refusal
                return await _send_page(request, office, box, problem="text",
                                        problem_field=error.field, fields=form.fields,
                                        status_code=422)
            except GatewayError as error:  # accept_document removed the staged bytes
                # An empty file is refused as REST refuses it (422), with a sentence of its own.
                return await _send_page(request, office, box, problem=error.code,
                                        fields=form.fields,
                                        status_code=422 if isinstance(error, EmptyContent)
                                        else 400)
            # The outcome's own page (number, addressee, time), above what the mailbox sent: a
            # reload shows it again and sends nothing.
            return finish(request, RedirectResponse(
                f"/ui/sent?{urlencode({'box': box, 'sent': acceptance.registration_number})}",
                status_code=303))

        # A refused form or a repeat never hands the bytes over: leaving the block removes them.
        return await _once(request, person, form.fields.get(FORM_KEY_FIELD), work,
                           lambda: _send_page(request, office, box, fields=form.fields),
                           pending=f"/ui/sent?{urlencode({'box': box})}")


@router.get("/sent")
async def sent_page(request: Request) -> Response:
    person = await _person(request)
    if person is None:
        return _to_login(request)
    ports, query = _ports(request), request.query_params
    try:
        office, _ = await staff_service.mailbox_of(ports, person, query.get("box", ""))
        page = await mailbox_service.sent_documents(ports, office,
                                                    cursor=query.get("cursor") or None)
    except (NotFound, InvalidRequest):
        return render(request, "not_found.html", status_code=404)
    box = _box(person, office)
    older = ("?" + urlencode({"box": box, "cursor": page.next_cursor})
             if page.next_cursor else None)
    return render(request, "sent.html", {
        "office": office, "box": box, "documents": page.items, "receipts": page.receipts,
        "older": older, "outcome": await _sent_outcome(ports, person, office,
                                                       query.get("sent"))})


async def _sent_outcome(ports: Ports, person: Party, mailbox: Party,
                        registration_number: str | None) -> Document | None:
    """The document a send form just sent from ``mailbox`` (its outcome's notice), or None
    for any number that is not one this mailbox sent."""
    if not registration_number:
        return None
    try:
        owner, document = await staff_service.document_for(ports, person, registration_number)
    except NotFound:
        return None
    return document if owner.id == mailbox.id and document.sender_id == mailbox.id else None


async def _staff_page(request: Request, person: Party, krid: str, *,
                      problem: str | None = None, done: str | None = None) -> Response:
    office = await staff_service.admin_office(_ports(request), person, krid)
    _, members = await staff_service.list_staff(_ports(request), krid=krid)
    return render(request, "staff.html", {
        "office": office, "members": members, "problem": problem, "done": done,
        "form": {} if problem is None else getattr(request.state, "staff_form", {}),
    }, status_code=409 if problem in ("too_many_admins", "last_admin") else
        400 if problem else 200)


@router.get("/offices/{krid}/staff")
async def staff_page(request: Request, krid: str) -> Response:
    person = await _person(request)
    if person is None:
        return _to_login(request)
    try:
        return await _staff_page(request, person, krid,
                                 done=request.query_params.get("done"))
    except NotFound:
        return render(request, "not_found.html", status_code=404)


@router.post("/offices/{krid}/staff")
async def change_staff(request: Request, krid: str) -> Response:
    ports = _ports(request)

    async def work(form: FormData, person: Party) -> Response:
        username, role = str(form.get("person") or "").strip(), str(form.get("role") or "")
        request.state.staff_form = {"person": username, "role": role}
        try:
            await staff_service.admin_office(ports, person, krid)  # admins only: 404 else
        except NotFound:
            return render(request, "not_found.html", status_code=404)
        try:
            if form.get("action") == "revoke" and username == person.username:
                # Revoking one's own role loses the office's mailbox: irreversible for the
                # person, so nothing is done before its own confirming page.
                return await _leave_page(request, person, krid)
            if form.get("action") == "revoke":
                await staff_service.revoke_role(ports, krid=krid, username=username,
                                                actor=person.username)
            elif role in (r.value for r in StaffRole):
                await staff_service.grant_role(ports, krid=krid, username=username,
                                               role=StaffRole(role), actor=person.username)
            else:
                return await _staff_page(request, person, krid, problem="role")
        except TooManyAdmins:
            return await _staff_page(request, person, krid, problem="too_many_admins")
        except LastAdmin:
            return await _staff_page(request, person, krid, problem="last_admin")
        except (NotFound, UnacceptableText):  # a control character names no person either
            return await _staff_page(request, person, krid, problem="no_person")
        return finish(request, RedirectResponse(
            f"/ui/offices/{krid}/staff?{urlencode({'done': username})}", status_code=303))

    return await _keyed(request, work, lambda person: _staff_page(request, person, krid),
                        pending=f"/ui/offices/{krid}/staff")


async def _leave_page(request: Request, person: Party, krid: str) -> Response:
    """The confirmation page, or the staff page saying why the last admin stays (409)."""
    try:
        office = await staff_service.check_leaving(_ports(request), person, krid)
    except LastAdmin:
        return await _staff_page(request, person, krid, problem="last_admin")
    return render(request, "leave.html", {"office": office})


@router.get("/offices/{krid}/staff/leave")
async def leave_page(request: Request, krid: str) -> Response:
    """Revoking one's own role asks first, on a page of its own: the person loses the office's
    mailbox, and only another admin can grant it back."""
    person = await _person(request)
    if person is None:
        return _to_login(request)
    try:
        return await _leave_page(request, person, krid)
    except NotFound:
        return render(request, "not_found.html", status_code=404)


@router.post("/offices/{krid}/staff/leave")
async def leave(request: Request, krid: str) -> Response:
    """The confirmed revocation of the person's own role; the last admin stays (409). Then
    the chooser, where the office is no longer listed."""
    ports = _ports(request)

    async def work(form: FormData, person: Party) -> Response:
        try:
            await staff_service.admin_office(ports, person, krid)  # admins only: 404 else
        except NotFound:
            return render(request, "not_found.html", status_code=404)
        try:
            await staff_service.revoke_role(ports, krid=krid, username=person.username,
                                            actor=person.username)
        except LastAdmin:
            return await _staff_page(request, person, krid, problem="last_admin")
        return finish(request, RedirectResponse("/ui/", status_code=303))

    async def page(person: Party) -> Response:
        try:
            return await _leave_page(request, person, krid)
        except NotFound:
            return render(request, "not_found.html", status_code=404)

    return await _keyed(request, work, page, pending="/ui/")


@router.get("/offices/{krid}/log")
async def office_log(request: Request, krid: str) -> Response:
    person = await _person(request)
    if person is None:
        return _to_login(request)
    before = request.query_params.get("before")
    try:
        office, entries = await staff_service.office_log(
            _ports(request), person, krid,
            before=bounded_int(before, 1, MAX_ID), limit=51)
    except NotFound:
        return render(request, "not_found.html", status_code=404)
    older = f"?before={entries[49].id}" if len(entries) > 50 else None
    return render(request, "log.html", {"office": office, "entries": entries[:50],
                                        "older": older})


@router.get("/{anything:path}")
async def not_found(request: Request, anything: str) -> Response:
    await _person(request)
    return render(request, "not_found.html", status_code=404)
