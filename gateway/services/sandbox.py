"""The test clock of the sandbox (KAPU_SANDBOX=1): an offset from system time, kept in the
database so that every process of the installation sees the same time."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from gateway.domain.limits import TEST_CLOCK_EARLIEST, TEST_CLOCK_LATEST
from gateway.errors import InvalidRequest, NotFound
from gateway.services import deadlines, mail, mandates
from gateway.services.ports.operations import SettableClock
from gateway.services.ports.slices import SandboxPorts


def _clock(ports: SandboxPorts) -> SettableClock:
    if ports.sandbox_clock is None:
        raise NotFound("the sandbox is off (KAPU_SANDBOX=0)")
    return ports.sandbox_clock


async def refresh(ports: SandboxPorts) -> None:
    """Take the shared offset (another process may have moved the clock)."""
    clock = _clock(ports)
    async with ports.uow() as uow:
        clock.offset = timedelta(seconds=await uow.sandbox_clock.offset())


async def current(ports: SandboxPorts) -> datetime:
    await refresh(ports)
    return _clock(ports).now()


async def move(ports: SandboxPorts, *, advance: timedelta | None = None,
               to: datetime | None = None) -> datetime:
    """Advance the clock by ``advance``, or set it to ``to``; time keeps running from there.
    The clock never moves backwards (a negative ``advance``, or ``to`` before its current
    time, is InvalidRequest naming the field): receipts and numbers already issued keep
    their order."""
    clock = _clock(ports)
    if (advance is None) == (to is None):
        raise InvalidRequest('give exactly one of "advance" and "set"')
    if to is not None and to.tzinfo is None:
        raise InvalidRequest('"set" needs an offset, e.g. 2027-01-04T09:00:00+01:00',
                             field="set")
    # A time the gateway could not compute deadlines from would break every later request
    # (the offset is shared and kept): refuse it instead.
    window = f"the test clock stays between {TEST_CLOCK_EARLIEST:%Y-%m-%d} and " \
             f"{TEST_CLOCK_LATEST:%Y-%m-%d}"
    if to is not None and not TEST_CLOCK_EARLIEST <= to < TEST_CLOCK_LATEST:
        raise InvalidRequest(window, field="set")
    if advance is not None and advance >= TEST_CLOCK_LATEST - clock.now():
        raise InvalidRequest(window, field="advance")
    async with ports.write_uow() as uow:
        offset = timedelta(seconds=await uow.sandbox_clock.offset())
        if advance is not None:
            if advance < timedelta(0):
                raise InvalidRequest("the clock only moves forward", field="advance")
            offset += advance
        else:
            assert to is not None
            # Evidence dated before what was already recorded would be false: never backwards.
            if to < clock.now() - clock.offset + offset:
                raise InvalidRequest("the clock only moves forward: give a time after "
                                     "the clock's current time", field="set")
            offset = to - (clock.now() - clock.offset)
        await uow.sandbox_clock.set_offset(offset.total_seconds())
        await uow.commit()
    clock.offset = offset
    return clock.now()


# Mandates whose end is noticed in one transaction.
EXPIRY_BATCH = 100


@dataclass(frozen=True)
class DueRun:
    """What one "run the due jobs now" did, at the test clock's time ``at``."""

    at: datetime
    warned: int
    not_collected: int  # second notices (and the senders' not_collected receipts)
    presumed_delivered: int
    expired: int
    mails_sent: int
    mandates_expired: int = 0  # mandates whose valid_until passed, both sides noticed


async def run_due(ports: SandboxPorts) -> DueRun:
    """Run every job due at the test clock's time, as the background jobs would: the
    deadlines (warnings, second notices, presumed deliveries, expiries), the notices of
    mandates that ran out, then the queued e-mails. The one use case behind REST's ``POST
    /api/v1/sandbox/run-due`` and the web console's button; NotFound when the sandbox is off."""
    await refresh(ports)
    report = await deadlines.run_due(ports)
    # Mandates run out on the test clock too; every one due, not one batch.
    mandates_expired = 0
    while True:
        noticed = await mandates.notice_expired(ports, batch=EXPIRY_BATCH)
        mandates_expired += noticed
        if noticed < EXPIRY_BATCH:
            break
    sent = await mail.deliver_due(ports)
    assert report.at is not None
    return DueRun(at=report.at, warned=report.warned, not_collected=report.not_collected,
                  presumed_delivered=report.presumed, expired=report.expired, mails_sent=sent,
                  mandates_expired=mandates_expired)
