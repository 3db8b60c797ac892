"""The Rendelkezési Nyilvántartás over REST (contract 25): a citizen's disposition, offices'
lookups, and mandates (``/api/v1/me/disposition``, ``/api/v1/disposition/{key}``,
``/api/v1/mandates``)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Literal, TypedDict

from fastapi import APIRouter, Path, Query, Response
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StrictBool, field_validator

from gateway.domain.limits import TEST_CLOCK_EARLIEST, TEST_CLOCK_LATEST, forbidden_character
from gateway.domain.parties import Party, PartyKind
from gateway.domain.rny import MAX_SCOPE_OFFICES, Disposition, Mandate, MandateScope, mandate_id
from gateway.errors import Forbidden, InvalidRequest, NotFound
from gateway.rest.deps import PartyDep, PortsDep
from gateway.rest.models import local
from gateway.rest.problems import AUTHENTICATED, problem_responses
from gateway.services import mandates as mandate_service
from gateway.services import rny as rny_service
from gateway.services.rny import Lookup

router = APIRouter(prefix="/api/v1", responses=problem_responses(*AUTHENTICATED))

# The longest key or code a request may name: longer than any kapcsolati kód or KRID.
MAX_KEY = 255
# A lookup's moment: any instant a stored time can be compared with, in every time zone.
EARLIEST_AT = datetime(1900, 1, 1, tzinfo=UTC)
LATEST_AT = datetime(9998, 12, 31, tzinfo=UTC)


# What is answered.

class TarhelyAddressOut(BaseModel):
    kind: Literal["tarhely"] = "tarhely"
    code: str = Field(description="the citizen's current kapcsolati kód")


class MailboxAddressOut(BaseModel):
    kind: Literal["mailbox"] = "mailbox"
    krid: str = Field(description="the organisation's KRID")


class DispositionOut(BaseModel):
    electronic_contact: bool
    official_address: TarhelyAddressOut | MailboxAddressOut
    since: datetime | None = Field(description="when it took effect; null: nothing was "
                                   "declared (a citizen's default, an organisation's duty)")

    @classmethod
    def of(cls, party: Party, disposition: Disposition) -> DispositionOut:
        return cls(**_disposition_fields(party, disposition))


class _DispositionFields(TypedDict):
    electronic_contact: bool
    official_address: TarhelyAddressOut | MailboxAddressOut
    since: datetime | None


def _disposition_fields(party: Party, disposition: Disposition) -> _DispositionFields:
    address: TarhelyAddressOut | MailboxAddressOut = (
        MailboxAddressOut(krid=party.krid or "") if party.is_organisation
        else TarhelyAddressOut(code=party.code or ""))
    return {"electronic_contact": disposition.electronic_contact,
            "official_address": address,
            "since": local(disposition.since) if disposition.since else None}


class DeclarationOut(BaseModel):
    electronic_contact: bool
    since: datetime


class OwnDispositionOut(DispositionOut):
    history: list[DeclarationOut] = Field(description="every declaration, newest first")


class PersonOut(BaseModel):
    name: str
    code: str | None = Field(description="kapcsolati kód")


class OfficesScope(BaseModel):
    model_config = ConfigDict(extra="forbid")

    offices: list[str] = Field(min_length=1, max_length=MAX_SCOPE_OFFICES,
                               description="KRIDs of organisations")


class MandateOut(BaseModel):
    id: int
    state: Literal["pending", "active", "revoked", "expired"]
    principal: PersonOut
    agent: PersonOut
    scope: Literal["all"] | OfficesScope
    valid_from: datetime
    valid_until: datetime | None = Field(description="null: without end")
    created_at: datetime
    accepted_at: datetime | None
    revoked_at: datetime | None
    revoked_by: Literal["principal", "agent"] | None

    @classmethod
    def of(cls, mandate: Mandate, now: datetime) -> MandateOut:
        def when(instant: datetime | None) -> datetime | None:
            return local(instant) if instant else None

        revoked_by: Literal["principal", "agent"] | None = (
            "principal" if mandate.revoked_by_id == mandate.principal.id
            else "agent" if mandate.revoked_by_id == mandate.agent.id else None)
        return cls(
            id=mandate.id, state=mandate.state_at(now).value,
            principal=PersonOut(name=mandate.principal.name, code=mandate.principal.code),
            agent=PersonOut(name=mandate.agent.name, code=mandate.agent.code),
            scope=("all" if mandate.scope.offices is None
                   else OfficesScope(offices=sorted(mandate.scope.offices))),
            valid_from=local(mandate.valid_from), valid_until=when(mandate.valid_until),
            created_at=local(mandate.created_at), accepted_at=when(mandate.accepted_at),
            revoked_at=when(mandate.revoked_at), revoked_by=revoked_by)


class LookupOut(DispositionOut):
    mandates: list[MandateOut] = Field(description="the mandates in force at that moment, "
                                       "each with its state then")

    @classmethod
    def of_lookup(cls, lookup: Lookup) -> LookupOut:
        # Each state as at the moment asked, like the rest of the answer: in force then.
        return cls(**_disposition_fields(lookup.party, lookup.disposition),
                   mandates=[MandateOut.of(mandate, lookup.at) for mandate in lookup.mandates])


class MandatesOut(BaseModel):
    given: list[MandateOut] = Field(description="as principal, newest first")
    received: list[MandateOut] = Field(description="as agent, newest first")


# What is asked.

class DispositionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    electronic_contact: StrictBool  # "true" or 1 is no boolean


class MandateIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    agent_code: str = Field(max_length=MAX_KEY, description="the agent's kapcsolati kód")
    scope: Literal["all"] | OfficesScope = Field(
        description='"all" offices, or {"offices": [KRID, …]}')
    valid_from: AwareDatetime | None = Field(default=None, description="default: now")
    valid_until: AwareDatetime | None = Field(default=None, description="default: no end")

    @field_validator("scope", mode="before")
    @classmethod
    def _one_scope(cls, value: object) -> object:
        # One message naming "scope", not one per member of the union.
        if value == "all":
            return value
        if (isinstance(value, dict) and set(value) == {"offices"}
                and isinstance(value["offices"], list)
                and 1 <= len(value["offices"]) <= MAX_SCOPE_OFFICES
                and all(isinstance(krid, str) for krid in value["offices"])):
            return value
        raise ValueError(f'give "all" or {{"offices": [KRID, …]}} with 1 to '
                         f"{MAX_SCOPE_OFFICES} KRIDs")

    @field_validator("agent_code", "valid_from", "valid_until", mode="before")
    @classmethod
    def _text(cls, value: object) -> object:
        # The strings the schema declares, not also a Unix time as pydantic would take.
        if value is not None and not isinstance(value, str):
            raise ValueError("give a string")
        return value

    @field_validator("valid_from", "valid_until")
    @classmethod
    def _within_clock(cls, value: datetime | None) -> datetime | None:
        if value is not None and not TEST_CLOCK_EARLIEST <= value < TEST_CLOCK_LATEST:
            raise ValueError(f"give a time between {TEST_CLOCK_EARLIEST:%Y-%m-%d} and "
                             f"{TEST_CLOCK_LATEST:%Y-%m-%d}")
        return value

    def mandate_scope(self) -> MandateScope:
        offices = None if isinstance(self.scope, str) else self.scope.offices
        try:
            return MandateScope.of(offices)
        except ValueError as exc:
            raise InvalidRequest(str(exc), field="scope") from exc


def _moment(value: str | None) -> datetime | None:
    """``?at=``: an ISO 8601 time with its offset (InvalidRequest naming ``at``)."""
    if value is None:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError as exc:
        raise InvalidRequest(f"at: not an ISO 8601 time: {value[:40]!r}", field="at") from exc
    if moment.tzinfo is None:
        raise InvalidRequest("at: give the offset too, e.g. 2027-01-04T09:00:00+01:00",
                             field="at")
    if not EARLIEST_AT <= moment <= LATEST_AT:
        raise InvalidRequest(f"at: give a time between {EARLIEST_AT:%Y-%m-%d} and "
                             f"{LATEST_AT:%Y-%m-%d}", field="at")
    return moment


def _key(value: str) -> str:
    # A text no address can hold names no party (and never reaches the database).
    if len(value) > MAX_KEY or forbidden_character(value) is not None:
        raise NotFound("no party with that address")
    return value


# The mandate's id as the path gives it: any text, so that one naming no mandate is 404.
MandatePath = Annotated[str, Path(alias="id", description="the mandate's id")]


def _mandate_id(value: str) -> int:
    found = mandate_id(value)
    if found is None:
        raise NotFound(f"no mandate {value[:40]!r}")
    return found


# The routes.

@router.put("/me/disposition", response_model=DispositionOut,
            summary="Declare whether I deal with offices electronically (citizens)")
async def put_disposition(body: DispositionIn, party: PartyDep,
                          ports: PortsDep) -> DispositionOut:
    declared = await rny_service.declare(ports, party,
                                         electronic_contact=body.electronic_contact)
    return DispositionOut.of(party, declared)


@router.get("/me/disposition", response_model=OwnDispositionOut,
            summary="My disposition in force, and every declaration I made")
async def get_disposition(party: PartyDep, ports: PortsDep) -> OwnDispositionOut:
    own = await rny_service.own_disposition(ports, party)
    return OwnDispositionOut(
        **_disposition_fields(party, own.current),
        history=[DeclarationOut(electronic_contact=d.electronic_contact,
                                since=local(d.since))
                 for d in own.history if d.since is not None])


@router.get("/disposition/{key}", response_model=LookupOut,
            summary="How a party is to be contacted, as in force at a moment (offices)")
async def look_up(
    key: str, party: PartyDep, ports: PortsDep,
    at: Annotated[str | None, Query(
        max_length=64, description="ISO 8601 with offset; default: now")] = None,
) -> LookupOut:
    if party.kind is not PartyKind.HIVATALI:  # before the key is read: offices only
        raise Forbidden("only offices (hivatali kapu) look up dispositions")
    lookup = await rny_service.look_up(ports, party, _key(key), _moment(at))
    return LookupOut.of_lookup(lookup)


@router.post("/mandates", status_code=201, response_model=MandateOut,
             summary="Offer a mandate to another citizen (citizens)",
             responses={**problem_responses(409), 201: {"headers": {"Location": {
                 "description": "/api/v1/mandates/{id}", "schema": {"type": "string"}}}}})
async def offer_mandate(body: MandateIn, party: PartyDep, ports: PortsDep,
                        response: Response) -> MandateOut:
    if party.is_organisation:
        raise Forbidden("only a citizen gives a mandate")
    if forbidden_character(body.agent_code) is not None:
        raise InvalidRequest("agent_code names no citizen", field="agent_code")
    offered = await mandate_service.offer(
        ports, party, agent_code=body.agent_code, scope=body.mandate_scope(),
        valid_from=body.valid_from, valid_until=body.valid_until)
    response.headers["Location"] = f"/api/v1/mandates/{offered.id}"
    return MandateOut.of(offered, ports.clock.now())


@router.get("/mandates", response_model=MandatesOut,
            summary="My mandates, given and received, every state")
async def list_mandates(party: PartyDep, ports: PortsDep) -> MandatesOut:
    mine = await mandate_service.mandates_of(ports, party)
    now = ports.clock.now()
    return MandatesOut(given=[MandateOut.of(m, now) for m in mine.given],
                       received=[MandateOut.of(m, now) for m in mine.received])


@router.get("/mandates/{id}", response_model=MandateOut, summary="One of my mandates")
async def get_mandate(number: MandatePath, party: PartyDep, ports: PortsDep) -> MandateOut:
    found = await mandate_service.mandate(ports, party, _mandate_id(number))
    return MandateOut.of(found, ports.clock.now())


@router.post("/mandates/{id}/accept", response_model=MandateOut,
             summary="Accept a mandate offered to me (the agent); no body",
             responses=problem_responses(409))
async def accept_mandate(number: MandatePath, party: PartyDep, ports: PortsDep) -> MandateOut:
    # No body is read: nothing the agent sends changes the mandate's window or scope.
    accepted = await mandate_service.accept(ports, party, _mandate_id(number))
    return MandateOut.of(accepted, ports.clock.now())


@router.post("/mandates/{id}/revoke", response_model=MandateOut,
             summary="Revoke a mandate (either side; the agent declines one pending)")
async def revoke_mandate(number: MandatePath, party: PartyDep, ports: PortsDep) -> MandateOut:
    revoked = await mandate_service.revoke(ports, party, _mandate_id(number))
    return MandateOut.of(revoked, ports.clock.now())
