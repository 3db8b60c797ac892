"""Operations: readiness, probes, availability against the 99.5 % target, incidents and
announced maintenance (docs/rest-api.md, Operations)."""

from __future__ import annotations

import asyncio
import logging
from bisect import bisect_left
from collections.abc import Awaitable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from gateway.crypto.certificates import read_certificate
from gateway.domain.outages import (
    Incident,
    Maintenance,
    OutageStatement,
    Probe,
    deadline_extension,
    maintenance_rule_broken,
)
from gateway.domain.registration import BUDAPEST, budapest_local
from gateway.errors import GatewayError, InvalidRequest, KeysDiffer, NotFound
from gateway.services.ports.slices import OperationsPorts

log = logging.getLogger(__name__)
CHECK_TIMEOUT = 2.0
AVAILABILITY_TARGET = 99.5
MAINTENANCE_NOTICE = timedelta(days=3)
# Incidents longer than this are listed on /status until LISTED_FOR after they end.
LISTED_LONGER_THAN = timedelta(minutes=15)
LISTED_FOR = timedelta(days=30)
STRIP_DAYS = 90  # the status page's strip of daily availability
# What an incident affected when ``--affected`` was not given.
WHOLE_SERVICE = "a Kapu minden szolgáltatása (REST, HKP, webes felület)"
# A probe speaks for the minutes up to the next one, but for no longer than this: a longer
# silence (the gateway down, or the database unreachable so no probe could be written) counts
# as unavailable.
PROBE_COVERS = timedelta(minutes=2)


async def _timed(name: str, check: Awaitable[None]) -> str | None:
    """None when ``check`` answers in time, else a generic reason. The error's own text
    (paths, host names, driver messages) goes to the log only: readiness and the status
    page are public."""
    try:
        await asyncio.wait_for(check, CHECK_TIMEOUT)
    except TimeoutError:
        log.warning("readiness check %s: no answer within %g s", name, CHECK_TIMEOUT)
        return f"no answer within {CHECK_TIMEOUT:g} s"
    except (GatewayError, OSError) as exc:
        log.warning("readiness check %s failed: %s", name,
                    getattr(exc, "detail", None) or repr(exc))
        return "not answering"
    return None


async def _ping(ports: OperationsPorts) -> None:
    async with ports.uow() as uow:
        await uow.operations.ping()


async def readiness(ports: OperationsPorts) -> dict[str, str | None]:
    """Each dependency with None when it answers, else what is wrong."""
    database, blob_store = await asyncio.gather(
        _timed("database", _ping(ports)), _timed("blob_store", ports.blobs.check()))
    return {"database": database, "blob_store": blob_store}


async def record_probe(ports: OperationsPorts) -> bool:
    """Check readiness and remember the outcome for the availability figure."""
    checks = await readiness(ports)
    failures = "; ".join(f"{name}: {error}" for name, error in checks.items() if error)
    ok = not failures
    if checks["database"] is None:
        async with ports.write_uow() as uow:
            await uow.operations.add_probe(ports.clock.now(), ok, failures or None)
            await uow.commit()
    return ok


def month_start(at: datetime) -> datetime:
    local = budapest_local(at)
    return datetime(local.year, local.month, 1, tzinfo=BUDAPEST)


def availability_percent(
    probes: list[Probe], incidents: list[Incident], windows: list[Maintenance],
    start: datetime, now: datetime,
) -> float | None:
    """Percent of the minutes from the first probe (or ``start``) to ``now`` that were up,
    announced maintenance left out. Down: a failed probe, a silence longer than
    PROBE_COVERS, an open outage incident. None before anything was observed."""
    if not probes:
        return None
    begin = max(start, probes[0].at)
    minutes = int((now - begin).total_seconds() // 60)
    if minutes <= 0:
        return 100.0 if probes[-1].ok else 0.0
    up = [False] * minutes

    def span(first: datetime, last: datetime) -> range:
        low = max(0, int((first - begin).total_seconds() // 60))
        high = min(minutes, int((last - begin).total_seconds() // 60) + 1)
        return range(low, high)

    for probe, following in zip(probes, [*probes[1:], None], strict=True):
        until = min(following.at if following else now, probe.at + PROBE_COVERS)
        if probe.ok:
            for minute in span(probe.at, until - timedelta(seconds=1)):
                up[minute] = True
    for incident in incidents:
        if incident.outage:
            for minute in span(incident.opened_at,
                               (incident.closed_at or now) - timedelta(seconds=1)):
                up[minute] = False
    excluded: set[int] = set()
    for window in windows:
        excluded.update(span(window.start_at, window.end_at - timedelta(seconds=1)))
    counted = [up[m] for m in range(minutes) if m not in excluded]
    if not counted:
        return 100.0
    return round(100.0 * sum(counted) / len(counted), 3)


@dataclass(frozen=True)
class Status:
    checks: dict[str, str | None]
    month: str
    availability: float | None
    open_incidents: list[Incident]
    maintenance: list[Maintenance]  # announced windows not yet over

    @property
    def ok(self) -> bool:
        return all(error is None for error in self.checks.values())


async def _month(ports: OperationsPorts) -> tuple[float | None, list[Incident], list[Maintenance]]:
    """This month's availability, its incidents and its maintenance windows."""
    now = ports.clock.now()
    start = month_start(now)
    async with ports.uow() as uow:
        found_probes = await uow.operations.probes(start - PROBE_COVERS, now)
        found_incidents = await uow.operations.incidents(start)
        windows = await uow.operations.maintenance(start)
    return (availability_percent(found_probes, found_incidents, windows, start, now),
            found_incidents, windows)


async def month_availability(ports: OperationsPorts) -> float | None:
    """Percent available this month so far (None before anything was observed)."""
    return (await _month(ports))[0]


async def status(ports: OperationsPorts) -> Status:
    now = ports.clock.now()
    checks = await readiness(ports)
    availability, found_incidents, windows = await _month(ports)
    return Status(
        checks=checks, month=f"{budapest_local(now):%Y-%m}", availability=availability,
        open_incidents=[i for i in found_incidents if i.closed_at is None],
        maintenance=[w for w in windows if w.end_at > now],
    )


@dataclass(frozen=True)
class DayAvailability:
    day: date
    percent: float | None  # None: nothing observed that day


@dataclass(frozen=True)
class History:
    """What the status page shows beyond now: the last days' availability, and the ended
    incidents longer than LISTED_LONGER_THAN that ended within LISTED_FOR."""

    days: list[DayAvailability]
    incidents: list[Incident]


def _day_bounds(day: date) -> tuple[datetime, datetime]:
    return (datetime.combine(day, time(0), tzinfo=BUDAPEST),
            datetime.combine(day + timedelta(days=1), time(0), tzinfo=BUDAPEST))


async def history(ports: OperationsPorts) -> History:
    """The last STRIP_DAYS Budapest days' availability (today so far included) and the
    incidents the status page lists."""
    now = ports.clock.now()
    today = budapest_local(now).date()
    strip = [today - timedelta(days=STRIP_DAYS - 1 - offset) for offset in range(STRIP_DAYS)]
    known = ports.past_days if ports.sandbox_clock is None else {}
    first_unknown = next(day for day in strip if day not in known or day == today)
    since = min(_day_bounds(first_unknown)[0], now - LISTED_FOR)
    async with ports.uow() as uow:
        found_probes = await uow.operations.probes(
            _day_bounds(first_unknown)[0] - PROBE_COVERS, now)
        found_incidents = await uow.operations.incidents(since)
        windows = await uow.operations.maintenance(since)
    times = [probe.at for probe in found_probes]
    days = []
    for day in strip:
        if day in known and day != today:
            days.append(DayAvailability(day, known[day]))
            continue
        begin, end = _day_bounds(day)
        end = min(end, now)
        # Only the probes that speak for this day: a day without any has no figure.
        low = bisect_left(times, begin - PROBE_COVERS)
        high = bisect_left(times, end)
        percent = availability_percent(found_probes[low:high], found_incidents, windows,
                                       begin, end)
        if day != today:
            known[day] = percent
        days.append(DayAvailability(day, percent))
    for day in [day for day in known if day < strip[0]]:
        del known[day]
    listed = [incident for incident in reversed(found_incidents)
              if incident.closed_at is not None and incident.closed_at > now - LISTED_FOR
              and incident.closed_at - incident.opened_at > LISTED_LONGER_THAN]
    return History(days, listed)


async def announce_maintenance(
    ports: OperationsPorts, start: datetime, end: datetime, reason: str
) -> Maintenance:
    """Announce a maintenance window; the law asks for 3 days' notice."""
    now = ports.clock.now()
    if start.tzinfo is None or end.tzinfo is None:
        raise InvalidRequest("give times with an offset, e.g. 2027-01-04T22:00:00+01:00")
    if start < now + MAINTENANCE_NOTICE:
        raise InvalidRequest(
            f"maintenance must be announced at least 3 days ahead: the start must be at or "
            f"after {budapest_local(now + MAINTENANCE_NOTICE):%Y-%m-%d %H:%M} (Budapest)",
            field="start")
    if end <= start:
        raise InvalidRequest("the end must be after the start", field="end")
    broken = maintenance_rule_broken(start, end, ports.calendar)
    if broken:
        raise InvalidRequest(broken, field="start")
    if not reason.strip():
        raise InvalidRequest("give a reason", field="reason")
    async with ports.write_uow() as uow:
        window = await uow.operations.announce(start, end, reason.strip(), now)
        await uow.commit()
    return window


async def open_incident(ports: OperationsPorts, title: str, outage: bool,
                        affected: str = WHOLE_SERVICE) -> Incident:
    """Record an incident at the gateway's clock (the test clock in sandbox mode)."""
    if not title.strip():
        raise InvalidRequest("give the incident a title", field="title")
    if not affected.strip():
        raise InvalidRequest("say what is affected", field="affected")
    async with ports.write_uow() as uow:
        incident = await uow.operations.open_incident(
            title.strip(), outage, ports.clock.now(), affected.strip()[:500])
        await uow.commit()
    return incident


async def close_incident(ports: OperationsPorts, incident_id: int) -> Incident:
    async with ports.write_uow() as uow:
        incident = await uow.operations.close_incident(incident_id, ports.clock.now())
        await uow.commit()
    if incident is None:
        raise NotFound(f"no open incident {incident_id}")
    return incident


@dataclass(frozen=True)
class OutageCertificate:
    """A signed outage certificate, and what it states (for a door that shows both)."""

    statement: OutageStatement
    xml: bytes


async def outage_certificate(ports: OperationsPorts, incident_id: int) -> OutageCertificate:
    """The signed outage certificate of a closed incident (Fajta ``uzemzavar``), with the
    deadline extension when the rule applies. An open or unknown incident has none."""
    async with ports.uow() as uow:
        incident = await uow.operations.incident(incident_id)
    if incident is None or incident.closed_at is None:
        raise NotFound(f"no closed incident {incident_id}")
    statement = OutageStatement(
        incident_id=incident.id, start=incident.opened_at, end=incident.closed_at,
        affected=incident.affected or WHOLE_SERVICE,
        deadline_extension=deadline_extension(
            incident.opened_at, incident.closed_at, outage=incident.outage,
            calendar=ports.calendar),
        issued_at=ports.clock.now(),
    )
    return OutageCertificate(statement, ports.receipt_signer.sign_outage(statement))


async def backlog_and_lag(ports: OperationsPorts) -> tuple[int, float]:
    """Waiting documents, and how long the oldest passed deadline has waited (seconds)."""
    now = ports.clock.now()
    async with ports.uow() as uow:
        waiting = await uow.operations.waiting_total()
        oldest = await uow.operations.oldest_due(now)
    return waiting, (now - oldest).total_seconds() if oldest else 0.0


async def acceptance_receipts_owed(ports: OperationsPorts) -> int:
    async with ports.uow() as uow:
        return await uow.operations.acceptance_receipts_owed()


async def outbox_counts(ports: OperationsPorts) -> dict[str, tuple[int, int]]:
    """Per channel (webhook, email): messages waiting to be delivered, and dead letters."""
    async with ports.uow() as uow:
        return await uow.operations.outbox_counts()


async def check_one_set_of_keys(ports: OperationsPorts) -> str:
    """Every host signs with the same keys (section 21): the first start records the CA's
    SHA-256 fingerprint in the database; a host with another CA is refused (KeysDiffer).
    Returns the fingerprint."""
    mine = read_certificate(ports.trust_pem).fingerprint_sha256
    async with ports.write_uow() as uow:
        recorded = await uow.operations.record_ca(mine, ports.clock.now())
        await uow.commit()
    if recorded != mine:
        raise KeysDiffer(
            f"this host's CA (SHA-256 {mine}) is not the one every host of this database "
            f"signs with (SHA-256 {recorded}): give it the same keys as the others "
            "(the same KAPU_KEYS_DIR contents, or the same production key files)")
    return mine
