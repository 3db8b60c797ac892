"""What the pages' routes ask for: the logged-in person, a CSRF-checked form, a document the
person may see; and one click, one effect for a state-changing form (``once``, ``keyed``).

The dependencies raise, and ``refusals.WebRoute`` answers: no session is the login page, a
form without its token 403, a document the person may not see 404. A route declares the form
before the person, so a POST without its token is refused before anything is looked up.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Annotated

from fastapi import Depends, Request
from fastapi.responses import RedirectResponse, Response
from starlette.datastructures import FormData

from gateway.config import Settings
from gateway.domain.documents import Document
from gateway.domain.parties import Party
from gateway.domain.rny import Agency
from gateway.errors import Conflict
from gateway.services import forms as form_service
from gateway.services import people
from gateway.services import staff as staff_service
from gateway.services.ports import Ports
from gateway.web.pages import CSRF_FIELD, FORM_KEY_FIELD, SESSION_COOKIE, csrf_ok, finish
from gateway.web.refusals import CsrfRefused, LoginNeeded


def ports_of(request: Request) -> Ports:
    ports: Ports = request.app.state.ports
    return ports


async def session_person(request: Request) -> Party | None:
    """The logged-in person (also kept on ``request.state`` for the page frame), or None."""
    token = request.cookies.get(SESSION_COOKIE)
    settings: Settings = request.app.state.settings
    person = await people.session_person(
        ports_of(request), token, timedelta(minutes=settings.ui_session_minutes),
        timedelta(hours=settings.ui_session_max_hours)) if token else None
    request.state.person = person
    return person


async def logged_in(request: Request) -> Party:
    """The logged-in person; without one, the login page (LoginNeeded)."""
    person = await session_person(request)
    if person is None:
        raise LoginNeeded
    return person


async def checked_form(request: Request) -> FormData:
    """The POSTed form (one of a few fields), refused with 403 without its CSRF token."""
    form = await request.form()
    if not csrf_ok(request, form.get(CSRF_FIELD)):
        raise CsrfRefused
    return form


@dataclass(frozen=True)
class Seen:
    """A document the person may see, and the mailbox it is seen from: the person's own
    tárhely, an office where they hold a role, or a principal's tárhely under a mandate
    (``agency``; services/staff.py decides)."""

    person: Party
    office: Party
    document: Document
    agency: Agency | None = None


async def seen(request: Request, person: Party, registration_number: str) -> Seen:
    box, document = await staff_service.document_seen(ports_of(request), person,
                                                      registration_number)
    return Seen(person, box.party, document, box.agency)


async def seen_document(request: Request, registration_number: str,
                        person: Annotated[Party, Depends(logged_in)]) -> Seen:
    """The document of the path, for the logged-in person; NotFound (404) for one they may
    not see, exactly as for one that does not exist."""
    return await seen(request, person, registration_number)


Person = Annotated[Party, Depends(logged_in)]
CheckedForm = Annotated[FormData, Depends(checked_form)]
SeenDocument = Annotated[Seen, Depends(seen_document)]


async def once(request: Request, person: Party, key: object,
               work: Callable[[], Awaitable[Response]],
               page: Callable[[], Awaitable[Response]], *, pending: str) -> Response:
    """One click, one effect (services/forms.py): ``work`` runs for the first POST with the
    form's one-time ``key``, and its redirect is the key's outcome; a repeat (a double click,
    a browser's resend, a retry after a lost answer) does nothing and is redirected to that
    outcome, or to ``pending`` while the first is still at work after a minute. Once
    started, the work and its record finish even if the request is cancelled. Without a
    well-formed key nothing is done: ``page`` (the form again) answers 400. A POST that
    answers anything but a redirect did nothing and releases the key."""
    ports = ports_of(request)
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


async def keyed(request: Request, form: FormData, person: Party,
                work: Callable[[], Awaitable[Response]],
                page: Callable[[], Awaitable[Response]], *, pending: str) -> Response:
    """A logged-in person's state-changing form, its CSRF token checked (``checked_form``):
    ``work`` once per the form's one-time key, ``page`` being the form again (``once``)."""
    return await once(request, person, form.get(FORM_KEY_FIELD), work, page, pending=pending)


def box_of(person: Party, mailbox: Party) -> str:
    """How the pages name a mailbox: ``me`` for the person's own tárhely, an office's KRID, a
    principal's kapcsolati kód (as ``staff.mailbox_for`` reads it back)."""
    if mailbox.id == person.id:
        return staff_service.OWN_BOX
    return mailbox.krid or mailbox.code or ""
