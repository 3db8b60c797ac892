"""The Rendelkezési Nyilvántartás for people (contract 25): a citizen's disposition
(``/ui/rny``), their mandates given and offered to them (``/ui/mandates``), and the check an
office's staff make before sending (``/ui/offices/{krid}/disposition``).

The services decide (services/rny.py, services/mandates.py); this door reads the forms, and
shows a refusal next to the field it names."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from starlette.datastructures import FormData

from gateway.domain.parties import Party, PartyKind
from gateway.domain.registration import BUDAPEST
from gateway.domain.rny import MAX_SCOPE_OFFICES, MandateScope, MandateState, mandate_id
from gateway.errors import Conflict, InvalidRequest, MandateConflict, NotFound
from gateway.services import mandates as mandate_service
from gateway.services import rny as rny_service
from gateway.services import staff as staff_service
from gateway.web.deps import CheckedForm, Person, keyed, ports_of
from gateway.web.pages import finish, render
from gateway.web.refusals import WebRoute

router = APIRouter(route_class=WebRoute)

# A kapcsolati kód or a KRID as a person types it: printable ASCII, no spaces. Anything else
# names nobody, and is never sent to the database (PostgreSQL refuses a NUL in a text).
_ADDRESS = re.compile(r"^[!-~]{1,64}$")
# The offices of a mandate's scope, as typed: KRIDs separated by spaces or commas.
_SEPARATORS = re.compile(r"[\s,]+")
# The years a datetime-local field may name (as the mailbox's day filters allow).
_FIRST_YEAR, _LAST_YEAR = 1900, 9998
# The fields of the offer form, in the page's order (the error summary links to them).
OFFER_FIELDS = ("agent_code", "offices", "valid_from", "valid_until")


def _address(value: object) -> str:
    text = str(value or "").strip()
    return text if _ADDRESS.match(text) else ""


# ---- the person's disposition ----------------------------------------------------------


async def _rny_page(request: Request, person: Party, *, problem: bool = False) -> Response:
    own = await rny_service.own_disposition(ports_of(request), person)
    return render(request, "rny.html", {
        "own": own, "problem": problem,
        "saved": request.query_params.get("saved") == "1",
    }, status_code=422 if problem else 200)


@router.get("/rny")
async def rny_page(request: Request, person: Person) -> Response:
    """The person's disposition in force, the form to change it, and every declaration."""
    return await _rny_page(request, person)


@router.post("/rny")
async def declare(request: Request, form: CheckedForm, person: Person) -> Response:
    """Declare from now whether the person deals with offices electronically (field
    ``electronic_contact``: ``yes`` or ``no``); neither: the form again (422)."""
    choice = form.get("electronic_contact")

    async def work() -> Response:
        if choice not in ("yes", "no"):
            return await _rny_page(request, person, problem=True)
        await rny_service.declare(ports_of(request), person,
                                  electronic_contact=choice == "yes")
        return finish(request, RedirectResponse("/ui/rny?saved=1", status_code=303))

    return await keyed(request, form, person, work, lambda: _rny_page(request, person),
                       pending="/ui/rny")


# ---- mandates ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Refusal:
    """Why a mandate form did nothing: a problem's name, and the form field it concerns
    (None: the page as a whole)."""

    problem: str
    field: str | None = None
    status_code: int = 422


@dataclass
class OfferForm:
    """The offer form as typed, kept when it is shown again."""

    agent_code: str = ""
    scope: str = "all"
    offices: str = ""
    valid_from: str = ""
    valid_until: str = ""

    @classmethod
    def of(cls, form: FormData) -> OfferForm:
        def text(name: str) -> str:
            return str(form.get(name) or "").strip()

        return cls(text("agent_code"), "offices" if text("scope") == "offices" else "all",
                   text("offices"), text("valid_from"), text("valid_until"))


def _local_moment(value: str, field_name: str) -> datetime | None:
    """A ``datetime-local`` field's value read as Budapest time; empty: None."""
    if not value:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise InvalidRequest(f"{field_name} is no date and time", field=field_name) from None
    if moment.tzinfo is not None or not _FIRST_YEAR <= moment.year <= _LAST_YEAR:
        raise InvalidRequest(f"{field_name} is out of range", field=field_name)
    return moment.replace(tzinfo=BUDAPEST)


def _scope(offer: OfferForm) -> MandateScope:
    if offer.scope == "all":
        return MandateScope.of(None)
    krids = [krid for krid in _SEPARATORS.split(offer.offices) if krid]
    try:
        return MandateScope.of(krids)
    except ValueError:
        raise InvalidRequest("the scope names no office, or what is no KRID",
                             field="scope") from None


def _refusal(error: InvalidRequest | MandateConflict) -> Refusal:
    if isinstance(error, MandateConflict):
        return Refusal("mandate_conflict", "agent_code", 409)
    # The service names the scope; on the page that is the text field of the offices.
    named = "offices" if error.field == "scope" else error.field
    return Refusal(named if named in OFFER_FIELDS else "invalid", named
                   if named in OFFER_FIELDS else None)


async def _mandates_page(request: Request, person: Party, *, refusal: Refusal | None = None,
                         offer: OfferForm | None = None) -> Response:
    ports = ports_of(request)
    both = await mandate_service.mandates_of(ports, person)
    query = request.query_params
    outcome = next(((name, query[name]) for name in ("offered", "accepted", "revoked")
                    if mandate_id(query.get(name, "")) is not None), None)
    return render(request, "mandates.html", {
        "given": both.given, "received": both.received, "now": ports.clock.now(),
        "states": MandateState, "offer": offer or OfferForm(), "refusal": refusal,
        "outcome": outcome, "max_offices": MAX_SCOPE_OFFICES,
    }, status_code=refusal.status_code if refusal else 200)


@router.get("/mandates")
async def mandates_page(request: Request, person: Person) -> Response:
    """The offer form, the mandates the person gave and those offered to them."""
    return await _mandates_page(request, person)


@router.post("/mandates")
async def offer_mandate(request: Request, form: CheckedForm, person: Person) -> Response:
    """Offer a mandate to the citizen of ``agent_code`` (pending until they accept it);
    refused: the form again, the reason next to the field (422, or 409 for an overlapping
    one). A resent form registers nothing again."""
    ports, offer = ports_of(request), OfferForm.of(form)

    async def work() -> Response:
        try:
            agent_code = _address(offer.agent_code)
            if not agent_code:
                raise InvalidRequest("agent_code names no citizen", field="agent_code")
            mandate = await mandate_service.offer(
                ports, person, agent_code=agent_code, scope=_scope(offer),
                valid_from=_local_moment(offer.valid_from, "valid_from"),
                valid_until=_local_moment(offer.valid_until, "valid_until"))
        except (InvalidRequest, MandateConflict) as error:
            return await _mandates_page(request, person, refusal=_refusal(error), offer=offer)
        return finish(request, RedirectResponse(
            f"/ui/mandates?{urlencode({'offered': mandate.id})}", status_code=303))

    return await keyed(request, form, person, work,
                       lambda: _mandates_page(request, person, offer=offer),
                       pending="/ui/mandates")


def _path_id(value: str) -> int:
    number = mandate_id(value)
    if number is None:
        raise NotFound(f"no mandate {value!r}")
    return number


@router.post("/mandates/{number}/accept")
async def accept_mandate(request: Request, number: str, form: CheckedForm,
                         person: Person) -> Response:
    """The agent accepts a mandate offered to them; another's: 404; one revoked or expired
    meanwhile: the page says it can no longer be accepted (409)."""
    identifier = _path_id(number)

    async def work() -> Response:
        try:
            await mandate_service.accept(ports_of(request), person, identifier)
        except Conflict:  # revoked or expired meanwhile
            return await _mandates_page(request, person,
                                        refusal=Refusal("not_pending", None, 409))
        return finish(request, RedirectResponse(
            f"/ui/mandates?{urlencode({'accepted': identifier})}", status_code=303))

    return await keyed(request, form, person, work, lambda: _mandates_page(request, person),
                       pending="/ui/mandates")


async def _revoke_page(request: Request, person: Party, identifier: int) -> Response:
    ports = ports_of(request)
    mandate = await mandate_service.mandate(ports, person, identifier)  # another's: 404
    now = ports.clock.now()
    return render(request, "revoke.html", {
        "mandate": mandate, "state": mandate.state_at(now), "states": MandateState,
        "principal_side": mandate.principal.id == person.id, "open": mandate.open_at(now),
    })


@router.get("/mandates/{number}/revoke")
async def revoke_page(request: Request, number: str, person: Person) -> Response:
    """Revoking (or declining) asks first: the page says what will happen, and holds the
    confirming form."""
    return await _revoke_page(request, person, _path_id(number))


@router.post("/mandates/{number}/revoke")
async def revoke_mandate(request: Request, number: str, form: CheckedForm,
                         person: Person) -> Response:
    """Either side revokes a mandate, effective at once; another's: 404."""
    identifier = _path_id(number)

    async def work() -> Response:
        await mandate_service.revoke(ports_of(request), person, identifier)
        return finish(request, RedirectResponse(
            f"/ui/mandates?{urlencode({'revoked': identifier})}", status_code=303))

    return await keyed(request, form, person, work,
                       lambda: _revoke_page(request, person, identifier),
                       pending="/ui/mandates")


# ---- an office's check before sending ---------------------------------------------------


async def _hivatal(request: Request, person: Party, krid: str) -> Party:
    """The office whose mailbox the person works, when it is a ``hivatali`` one; NotFound
    otherwise (a company's staff, a stranger), as for an office that does not exist."""
    office, _ = await staff_service.office_for(ports_of(request), person, krid)
    if office.kind is not PartyKind.HIVATALI:
        raise NotFound(f"no disposition check for {krid}")
    return office


@router.get("/offices/{krid}/disposition")
async def disposition_check(request: Request, krid: str, person: Person) -> Response:
    """How the addressee of ``key`` (a kapcsolati kód or a KRID) may be contacted now, for
    the staff of a ``hivatali`` office; every lookup is audited with the person and office.
    Kapu never refuses a send on it."""
    ports = ports_of(request)
    office = await _hivatal(request, person, krid)
    given = str(request.query_params.get("key") or "").strip()
    key = _address(given)
    lookup, unknown = None, False
    if given:
        try:
            if not key:
                raise NotFound("no party with that address")
            lookup = await rny_service.look_up(ports, office, key, person=person.username)
        except NotFound:
            unknown = True
    return render(request, "disposition.html", {
        # What was typed, shown again unless it cannot be (too long, or unprintable).
        "office": office, "given": given if len(given) <= 200 and given.isprintable() else "",
        "lookup": lookup,
        "unknown": unknown,
    }, status_code=404 if unknown else 200)
