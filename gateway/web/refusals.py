"""The pages' refusals, mapped by one table, as ``rest/problems.STATUS`` and
``hkp/render.HIBA_SZAM`` map them for the other doors.

Every route of ``/ui`` is a ``WebRoute``: a refusal it (or one of its dependencies) raises is
answered here with its page. Refusals not in the table (an outage, an overload) go on to the
application's handlers, as before.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any
from urllib.parse import urlencode

from fastapi import Request
from fastapi.responses import RedirectResponse, Response
from fastapi.routing import APIRoute

from gateway.errors import Expired, Forbidden, GatewayError, NotFound
from gateway.web.pages import finish, render


class LoginNeeded(Exception):
    """The page is a logged-in person's, and nobody is logged in: the login page, then back."""


class CsrfRefused(Exception):
    """A POST without its form's CSRF token (or with another): nothing is done."""


# Status and page of each refusal. A document that is not the person's, or one they may not
# act on (Forbidden: open, acknowledge or keep another's), is answered as if it did not exist.
PAGES: dict[type[Exception], tuple[int, str]] = {
    NotFound: (404, "not_found.html"),
    Forbidden: (404, "not_found.html"),
    Expired: (410, "expired.html"),
    CsrfRefused: (403, "forbidden.html"),
}


def page_of(error: Exception) -> tuple[int, str] | None:
    """The status and page of ``error`` by the nearest class in the table, or None."""
    for cls in type(error).__mro__:
        if cls in PAGES:
            return PAGES[cls]
    return None


def refusal(request: Request, error: Exception) -> Response:
    """The page of a refusal in the table (NotFound for anything else: used by the door for
    its own refusals, such as the sandbox being off)."""
    status, template = page_of(error) or PAGES[NotFound]
    return render(request, template, status_code=status)


def not_found(request: Request) -> Response:
    return refusal(request, NotFound("no such page"))


def to_login(request: Request) -> Response:
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return finish(request, RedirectResponse(
        f"/ui/login?{urlencode({'next': target})}", status_code=303))


class WebRoute(APIRoute):
    """A page's route: its refusals answered by the table, a missing login by the login page."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def answer(request: Request) -> Response:
            try:
                return await handler(request)
            except LoginNeeded:
                return to_login(request)
            except (GatewayError, CsrfRefused) as error:
                if page_of(error) is None:
                    raise
                return refusal(request, error)

        return answer
