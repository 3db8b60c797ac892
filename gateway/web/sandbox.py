"""The sandbox console (``/ui/sandbox``, with ``KAPU_SANDBOX=1``): the test clock, the due
jobs, and the e-mails queued for the logged-in person. Without the sandbox: 404."""

from __future__ import annotations

from collections.abc import Mapping
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response

from gateway.domain.limits import (
    MAX_ADVANCE_DAYS,
    MAX_ID,
    AdvanceRefusal,
    bounded_int,
    clock_advance,
)
from gateway.domain.parties import Party
from gateway.errors import GatewayError, NotFound
from gateway.services import mail, sandbox
from gateway.web.deps import CheckedForm, Person, keyed, ports_of
from gateway.web.pages import finish, mail_text, render
from gateway.web.refusals import WebRoute

# What "run the due jobs now" did, carried in its outcome's address (a reload shows it again
# and runs nothing).
_RAN_FIELDS = ("warned", "not_collected", "presumed_delivered", "expired", "mails_sent",
               "mandates_expired")


def _counts(query: Mapping[str, str], names: tuple[str, ...],
            high: int) -> dict[str, int] | None:
    """The outcome's numbers from the query, or None unless every one is there and sane."""
    values = {name: bounded_int(query.get(name), 0, high) for name in names}
    if any(value is None for value in values.values()):
        return None
    return {name: value for name, value in values.items() if value is not None}


def _sandbox_on(request: Request) -> None:
    # Asked before the login and the form: without the sandbox the console does not exist
    # for anyone.
    if ports_of(request).sandbox_clock is None:
        raise NotFound("the sandbox is off (KAPU_SANDBOX=0)")


router = APIRouter(route_class=WebRoute, dependencies=[Depends(_sandbox_on)])


async def _sandbox_page(request: Request, person: Party, **context: object) -> Response:
    ports = ports_of(request)
    try:
        now = await sandbox.current(ports)
    except GatewayError as error:  # the sandbox is off: as if the page did not exist
        raise NotFound("the sandbox is off") from error
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
async def sandbox_console(request: Request, person: Person) -> Response:
    # A logged-in person only: the clock moves every party's deadlines, and the mail shown
    # is their own.
    return await _sandbox_page(request, person)


@router.post("/sandbox")
async def sandbox_action(request: Request, form: CheckedForm, person: Person) -> Response:
    """Advance the test clock, or run the due jobs: each a keyed outcome (303 to the console
    saying what happened; a resent form does nothing again)."""
    ports = ports_of(request)

    async def work() -> Response:
        if form.get("action") == "run_due":
            ran = await sandbox.run_due(ports)
            outcome = {"ran": "1", **{name: str(getattr(ran, name)) for name in _RAN_FIELDS}}
            return finish(request, RedirectResponse(f"/ui/sandbox?{urlencode(outcome)}",
                                                    status_code=303))
        advance = clock_advance(str(form.get("days") or ""), str(form.get("hours") or ""))
        if isinstance(advance, AdvanceRefusal):
            return await _sandbox_page(request, person, problem=advance.value)
        await sandbox.move(ports, advance=advance)
        days, hours = advance.days, advance.seconds // 3600
        return finish(request, RedirectResponse(
            f"/ui/sandbox?{urlencode({'advanced': '1', 'days': days, 'hours': hours})}",
            status_code=303))

    return await keyed(request, form, person, work,
                       lambda: _sandbox_page(request, person), pending="/ui/sandbox")
