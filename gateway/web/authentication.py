"""AVDH on the web (contract 23): ``/ui/authenticate`` for a logged-in person, for themselves
or for an office where they hold a role, and ``/ui/verify`` for anyone."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, Request
from fastapi.responses import Response, StreamingResponse
from starlette.requests import ClientDisconnect

from gateway.domain.formats import ALLOWED_FORMATS
from gateway.domain.parties import Party
from gateway.errors import Conflict, GatewayError
from gateway.forms import receive_form
from gateway.multipart import attachment_disposition
from gateway.services import authentication as authentication_service
from gateway.services import forms as form_service
from gateway.services import staff as staff_service
from gateway.web.deps import Person, ports_of, session_person
from gateway.web.pages import (
    CSRF_FIELD,
    FORM_KEY_FIELD,
    csrf_ok,
    finish,
    human_size,
    language_of,
    render,
)
from gateway.web.refusals import CsrfRefused, WebRoute

router = APIRouter(route_class=WebRoute)
# Where a resent authentication form is sent: nothing is stored to answer it again.
DONE_PAGE = "/ui/authenticate/done"


async def _form_page(request: Request, person: Party, *, problem: str | None = None,
                     office: str = "", status_code: int = 200) -> Response:
    offices = await staff_service.offices_of(ports_of(request), person)
    return render(request, "authenticate.html", {
        "offices": [found for found, _role in offices], "chosen": office,
        "problem": problem, "formats": ", ".join(ALLOWED_FORMATS),
        "limit": human_size(ports_of(request).avdh_max_bytes, language_of(request)),
    }, status_code=status_code)


@router.get("/authenticate")
async def authenticate_page(request: Request, person: Person) -> Response:
    return await _form_page(request, person)


@router.get("/authenticate/done")
async def done_page(request: Request, person: Person) -> Response:
    return render(request, "authenticated.html")


@router.post("/authenticate")
async def authenticate(request: Request, person: Person) -> Response:
    """The file streams into a temporary file as it arrives; the answer is the hitelesített
    PDF as a download. One click, one effect: the form's key is settled with the page that
    says it was done, where a resent form goes (the PDF is not kept to be sent again)."""
    ports = ports_of(request)
    async with authentication_service.staged_file(ports) as staged:
        try:
            form = await receive_form(request.headers.get("content-type", ""),
                                      request.stream(), staged)
        except ClientDisconnect:
            return Response(status_code=400)
        except GatewayError as error:  # too large: not read further; a broken body
            return await _form_page(request, person, problem=error.code,
                                    status_code=413 if error.code == "too_large" else 400)
        if not csrf_ok(request, form.fields.get(CSRF_FIELD)):
            raise CsrfRefused
        office = form.fields.get("office", "")
        key = form.fields.get(FORM_KEY_FIELD)
        if not form_service.well_formed(key):
            request.state.form_refused = True
            return await _form_page(request, person, office=office, status_code=400)
        assert isinstance(key, str)
        try:
            earlier = await form_service.claim(ports, person, key)
        except Conflict:
            earlier = DONE_PAGE
        if earlier is not None:
            return finish(request, Response(status_code=303, headers={"location": earlier}))

        async def attempt() -> Response:
            try:
                result = await authentication_service.authenticate(
                    ports, person, staged, form.file_name or "", office_krid=office or None)
            except GatewayError as error:
                await form_service.release(ports, person, key)
                return await _form_page(request, person, problem=error.code, office=office,
                                        status_code=413 if error.code == "too_large" else 422)
            except BaseException:
                await form_service.release(ports, person, key)
                raise
            await form_service.settle(ports, person, key, DONE_PAGE)
            return finish(request, StreamingResponse(
                result.chunks(), media_type="application/pdf", headers={
                    "Content-Length": str(result.size),
                    "Content-Disposition": attachment_disposition(result.file_name)}))

        # Shielded as web/deps.once is: a dropped request does not cancel the work it began.
        return await asyncio.shield(attempt())


@router.get("/verify")
async def verify_page(request: Request) -> Response:
    await session_person(request)  # the page frame shows who is logged in, if anyone
    return render(request, "verify.html", {"problem": None})


@router.post("/verify")
async def verify(request: Request) -> Response:
    """Changes nothing (no form key); the CSRF token still guards the form."""
    await session_person(request)
    ports = ports_of(request)
    async with authentication_service.staged_file(ports) as staged:
        try:
            form = await receive_form(request.headers.get("content-type", ""),
                                      request.stream(), staged)
            if not csrf_ok(request, form.fields.get(CSRF_FIELD)):
                raise CsrfRefused
            found = await authentication_service.verify(ports, staged)
        except ClientDisconnect:
            return Response(status_code=400)
        except GatewayError as error:
            status = {"too_large": 413, "unavailable": 503}.get(error.code, 422)
            return render(request, "verify.html", {"problem": error.code},
                          status_code=status)
    return render(request, "verify.html", {"problem": None, "found": found})
