"""``/api/v1/notifications``, ``/api/v1/webhook`` and the sandbox's test clock."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, Field, field_validator

from gateway.domain.limits import MAX_ID
from gateway.errors import NotFound
from gateway.rest.deps import PartyDep, PortsDep, current_party
from gateway.rest.models import local
from gateway.rest.problems import AUTHENTICATED, problem_responses
from gateway.services import notifications, sandbox
from gateway.services import parties as party_service

router = APIRouter(prefix="/api/v1", responses=problem_responses(*AUTHENTICATED))


async def _sandbox_on(ports: PortsDep) -> None:
    # Asked before the credentials: without the sandbox these paths do not exist for anyone.
    if ports.sandbox_clock is None:
        raise NotFound("the sandbox is off (KAPU_SANDBOX=0)")


# The test clock: an authenticated party (it moves every party's deadlines); not found when
# the sandbox is off.
sandbox_router = APIRouter(
    prefix="/api/v1", dependencies=[Depends(_sandbox_on), Depends(current_party)],
    responses=problem_responses(*AUTHENTICATED))


class NotificationOut(BaseModel):
    id: int
    kind: str
    created_at: datetime
    state: str  # pending, delivered, dead
    attempts: int
    payload: dict[str, Any]


class NotificationsOut(BaseModel):
    items: list[NotificationOut]
    next_after: int | None


class WebhookIn(BaseModel):
    url: str | None = Field(description="http(s) URL to POST notifications to; null: none")


class ClockOut(BaseModel):
    now: datetime


class ClockIn(BaseModel):
    advance: timedelta | None = Field(default=None, description='ISO 8601 duration, "P3D"')
    set: datetime | None = Field(default=None, description="2027-01-04T09:00:00+01:00")

    @field_validator("advance", "set", mode="before")
    @classmethod
    def _iso_text(cls, value: object) -> object:
        # The strings the schema declares, not also a number of seconds (or a Unix time) as
        # pydantic would otherwise take.
        if value is not None and not isinstance(value, str):
            raise ValueError("give an ISO 8601 string")
        return value


class RunDueOut(BaseModel):
    now: datetime
    warned: int
    not_collected: int  # second notices (and the senders' not_collected receipts)
    presumed_delivered: int
    expired: int
    mails_sent: int
    mandates_expired: int  # mandates that ran out, both sides noticed


@router.get("/notifications", response_model=NotificationsOut, summary="My notifications")
async def list_notifications(
    party: PartyDep, ports: PortsDep,
    # Bounded to the database's 64-bit ids: a larger number is the client's mistake (422).
    after: Annotated[int, Query(ge=0, le=MAX_ID)] = 0,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> NotificationsOut:
    found = await notifications.list_notifications(ports, party, after, limit)
    return NotificationsOut(
        items=[NotificationOut(id=n.id, kind=n.kind, created_at=local(n.created_at),
                               state=n.state, attempts=n.attempts, payload=n.payload)
               for n in found],
        next_after=found[-1].id if len(found) == limit else None,
    )


class AddressOut(BaseModel):
    code: str = Field(description="the new kapcsolati kód; the old one is no address any more")


@router.post("/me/address", response_model=AddressOut,
             summary="Swap my kapcsolati kód for a new random one (citizens)")
async def swap_address(party: PartyDep, ports: PortsDep) -> AddressOut:
    return AddressOut(code=await party_service.swap_address(ports, party))


@router.put("/webhook", response_model=WebhookIn, summary="Where my notifications are POSTed")
async def put_webhook(body: WebhookIn, party: PartyDep, ports: PortsDep) -> WebhookIn:
    await notifications.set_webhook(ports, party, body.url)
    return body


@sandbox_router.get("/sandbox/clock", response_model=ClockOut,
                    summary="The test clock (sandbox only)")
async def get_clock(ports: PortsDep) -> ClockOut:
    return ClockOut(now=local(await sandbox.current(ports)))


@sandbox_router.post("/sandbox/clock", response_model=ClockOut,
             summary="Advance or set the test clock (sandbox only)")
async def move_clock(body: ClockIn, ports: PortsDep) -> ClockOut:
    return ClockOut(now=local(await sandbox.move(ports, advance=body.advance, to=body.set)))


@sandbox_router.post("/sandbox/run-due", response_model=RunDueOut,
             summary="Run every job due at the test clock's time (sandbox only)")
async def run_due(ports: PortsDep) -> RunDueOut:
    ran = await sandbox.run_due(ports)
    return RunDueOut(now=local(ran.at), warned=ran.warned, not_collected=ran.not_collected,
                     presumed_delivered=ran.presumed_delivered, expired=ran.expired,
                     mails_sent=ran.mails_sent, mandates_expired=ran.mandates_expired)
