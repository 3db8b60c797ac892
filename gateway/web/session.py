"""Logging in and out, the choice of mailbox, and the person's own settings (``/ui/``,
``/ui/login``, ``/ui/logout``, ``/ui/me/…``)."""

from __future__ import annotations

import math
from urllib.parse import parse_qsl

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from starlette.datastructures import FormData, UploadFile

from gateway.clients import client_address
from gateway.domain.parties import Party
from gateway.errors import InvalidRequest, TooManyAttempts, Unauthorized
from gateway.services import mandates, people
from gateway.services import parties as party_service
from gateway.services import staff as staff_service
from gateway.services.auth import CredentialCache
from gateway.web.deps import CheckedForm, Person, keyed, ports_of
from gateway.web.pages import (
    CSRF_FIELD,
    SESSION_COOKIE,
    csrf_ok,
    finish,
    render,
    renew_csrf,
    set_cookie,
)
from gateway.web.refusals import CsrfRefused, WebRoute

router = APIRouter(route_class=WebRoute)
# ``/`` itself: a person who types the host's name lands on the pages.
root = APIRouter(include_in_schema=False)
# A login form holds a token, a username, a password and a path: a few hundred bytes.
LOGIN_FORM_BYTES = 16 * 1024


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
        raise CsrfRefused
    username = str(form.get("username") or "").strip()
    cache: CredentialCache = request.app.state.credential_cache
    try:
        session = await people.log_in(ports_of(request), cache, username,
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
async def logout(request: Request, form: CheckedForm) -> Response:
    token = request.cookies.get(SESSION_COOKIE)
    if token:
        await people.log_out(ports_of(request), token)
    renew_csrf(request)
    response = RedirectResponse("/ui/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return finish(request, response)


@router.get("/")
async def choose_mailbox(request: Request, person: Person) -> Response:
    return await _chooser(request, person)


async def _chooser(request: Request, person: Party, **context: object) -> Response:
    offices = await staff_service.offices_of(ports_of(request), person)
    principals = await mandates.principals_of(ports_of(request), person)
    return render(request, "choose.html", {
        "offices": offices, "principals": principals,
        "sandbox": ports_of(request).sandbox_clock is not None,
        "swapped": request.query_params.get("swapped") == "1",
        "email_saved": request.query_params.get("email") == "1", **context},
        status_code=400 if context.get("email_problem") else 200)


@router.post("/me/email")
async def change_email(request: Request, form: CheckedForm, person: Person) -> Response:
    async def work() -> Response:
        try:
            await party_service.set_email(ports_of(request), person,
                                          str(form.get("email") or ""))
        except InvalidRequest:
            return await _chooser(request, person, email_problem=True,
                                  email_given=str(form.get("email") or ""))
        return finish(request, RedirectResponse("/ui/?email=1", status_code=303))

    return await keyed(request, form, person, work, lambda: _chooser(request, person),
                       pending="/ui/")


@router.get("/me/address")
async def swap_address_page(request: Request, person: Person) -> Response:
    """Swapping is irreversible: the first page's button leads here, which says what will
    happen before the confirming POST."""
    return render(request, "address.html")


@router.post("/me/address")
async def swap_address(request: Request, form: CheckedForm, person: Person) -> Response:
    async def work() -> Response:
        await party_service.swap_address(ports_of(request), person)
        return finish(request, RedirectResponse("/ui/?swapped=1", status_code=303))

    return await keyed(request, form, person, work, lambda: _chooser(request, person),
                       pending="/ui/")
