"""``/ui``: logging in and out, choosing a mailbox, the sandbox console. Each route reads a
form, calls one service, and renders a page; the services decide."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from fastapi.staticfiles import StaticFiles

from gateway.config import Settings
from gateway.domain.parties import Party
from gateway.errors import GatewayError, Unauthorized
from gateway.services import deadlines, people, sandbox
from gateway.services import staff as staff_service
from gateway.services.auth import CredentialCache
from gateway.services.ports import Ports
from gateway.web.pages import (
    CSRF_FIELD,
    SESSION_COOKIE,
    csrf_ok,
    finish,
    render,
    renew_csrf,
    set_cookie,
)

router = APIRouter(prefix="/ui", include_in_schema=False)
static = StaticFiles(directory=Path(__file__).parent / "static")


def _ports(request: Request) -> Ports:
    ports: Ports = request.app.state.ports
    return ports


def _idle(request: Request) -> timedelta:
    settings: Settings = request.app.state.settings
    return timedelta(minutes=settings.ui_session_minutes)


async def _person(request: Request) -> Party | None:
    """The logged-in person (also kept on ``request.state`` for the page frame), or None."""
    token = request.cookies.get(SESSION_COOKIE)
    person = await people.session_person(_ports(request), token, _idle(request)) \
        if token else None
    request.state.person = person
    return person


def _to_login(request: Request) -> Response:
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return finish(request, RedirectResponse(
        f"/ui/login?{urlencode({'next': target})}", status_code=303))


def _refused(request: Request) -> Response:
    """A POST without the form's token: nothing is done."""
    return render(request, "forbidden.html", status_code=403)


def _next_page(value: object) -> str:
    # Only a path of our own: an open redirect would send a person anywhere after login.
    if isinstance(value, str) and value.startswith("/ui/") and not value.startswith("//"):
        return value
    return "/ui/"


@router.get("/login")
async def login_page(request: Request) -> Response:
    return render(request, "login.html", {"username": "", "refused": False,
                                          "next": _next_page(request.query_params.get("next"))})


@router.post("/login")
async def login(request: Request) -> Response:
    form = await request.form()
    if not csrf_ok(request, form.get(CSRF_FIELD)):
        return _refused(request)
    username = str(form.get("username") or "").strip()
    cache: CredentialCache = request.app.state.credential_cache
    try:
        session = await people.log_in(_ports(request), cache, username,
                                      str(form.get("password") or ""))
    except Unauthorized:
        return render(request, "login.html", {"username": username, "refused": True,
                                              "next": _next_page(form.get("next"))},
                      status_code=401)
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
    offices = await staff_service.offices_of(_ports(request), person)
    return render(request, "choose.html", {
        "offices": offices, "sandbox": _ports(request).sandbox_clock is not None})


async def _sandbox_page(request: Request, **context: object) -> Response:
    await _person(request)  # the frame shows who is logged in; the console needs no login
    ports = _ports(request)
    try:
        now = await sandbox.current(ports)
    except GatewayError:  # the sandbox is off: as if the page did not exist
        return render(request, "not_found.html", status_code=404)
    return render(request, "sandbox.html", {"now": now, **context},
                  status_code=400 if context.get("problem") else 200)


@router.get("/sandbox")
async def sandbox_console(request: Request) -> Response:
    return await _sandbox_page(request)


@router.post("/sandbox")
async def sandbox_action(request: Request) -> Response:
    form = await request.form()
    if not csrf_ok(request, form.get(CSRF_FIELD)):
        return _refused(request)
    ports = _ports(request)
    if ports.sandbox_clock is None:
        return render(request, "not_found.html", status_code=404)
    if form.get("action") == "run_due":
        await sandbox.refresh(ports)
        return await _sandbox_page(request, ran=await deadlines.run_due(ports))
    try:
        days, hours = int(str(form.get("days") or "0")), int(str(form.get("hours") or "0"))
    except ValueError:
        return await _sandbox_page(request, problem="not_numbers")
    if not (0 <= days <= 400 and 0 <= hours <= 23):
        return await _sandbox_page(request, problem="backwards" if days < 0 or hours < 0
                                   else "not_numbers")
    await sandbox.move(ports, advance=timedelta(days=days, hours=hours))
    return finish(request, RedirectResponse("/ui/sandbox", status_code=303))


@router.get("/{anything:path}")
async def not_found(request: Request, anything: str) -> Response:
    await _person(request)
    return render(request, "not_found.html", status_code=404)
