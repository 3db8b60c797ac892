"""Ports of operations: clocks, probes, incidents, maintenance, the sandbox clock, telemetry."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Protocol

from gateway.domain.outages import Incident, Maintenance, Probe


class Clock(Protocol):
    def now(self) -> datetime:
        """The current instant, timezone-aware."""
        ...


class OperationsRepository(Protocol):
    async def ping(self) -> None:
        """One round trip to the database."""
        ...
    async def add_probe(self, at: datetime, ok: bool, failures: str | None) -> None: ...
    async def probes(self, since: datetime, until: datetime) -> list[Probe]: ...
    async def open_incident(self, title: str, outage: bool, at: datetime,
                            affected: str) -> Incident: ...
    async def incident(self, incident_id: int) -> Incident | None: ...

    async def close_incident(self, incident_id: int, at: datetime) -> Incident | None: ...
    async def incidents(self, since: datetime) -> list[Incident]:
        """Incidents open now or closed after ``since``."""
        ...
    async def announce(self, start: datetime, end: datetime, reason: str,
                       at: datetime) -> Maintenance: ...
    async def maintenance(self, since: datetime) -> list[Maintenance]:
        """Windows ending after ``since``."""
        ...
    async def waiting_total(self) -> int: ...
    async def acceptance_receipts_owed(self) -> int:
        """Documents registered whose acceptance receipts are not written yet (for moments,
        or since their upload stopped)."""
        ...
    async def outbox_counts(self) -> dict[str, tuple[int, int]]:
        """Per channel (webhook, email): pending messages, and dead letters. A notification
        waits only for a party with a webhook; the others are read by polling."""
        ...
    async def record_ca(self, fingerprint: str, at: datetime) -> str:
        """Record the CA's fingerprint unless one is recorded; return the recorded one."""
        ...
    async def oldest_due(self, now: datetime) -> datetime | None:
        """The earliest deadline that has passed and is not yet dealt with."""
        ...


class SandboxClockRepository(Protocol):
    async def offset(self) -> float: ...
    async def set_offset(self, seconds: float) -> None: ...


class SettableClock(Protocol):
    """The sandbox's test clock: system time plus an offset shared through the database."""

    offset: timedelta

    def now(self) -> datetime: ...


class Telemetry(Protocol):
    """Counts what the services decide (metrics); the default counts nothing."""

    def accepted(self) -> None: ...
    def refused(self, code: str) -> None: ...
    def registered_batch(self, size: int) -> None:
        """One transaction registered ``size`` uploads together."""
        ...
    def signed_early(self, used: int, signed_again: int) -> None:
        """A batch used ``used`` receipts signed early and signed ``signed_again`` anew
        (their number forecast was wrong)."""
        ...
    def registered_as_forecast(self, outcome: str) -> None:
        """A batch's documents were inserted in its counters' own statement (``held``), or
        after it: the numbers taken were not those forecast (``missed``), or not every
        receipt was signed early (``none``)."""
        ...
    def registered_before_receipts(self) -> None:
        """A batch not registered as forecast was registered in one statement before its
        acceptance receipts."""
        ...
    def counter_held(self, seconds: float, uploads: int, rows: int = 1) -> None:
        """A transaction held ``rows`` registration counter rows for ``seconds`` (from the
        counter statement to the commit's end) and committed ``uploads`` numbered
        documents."""
        ...


class NoTelemetry:
    def accepted(self) -> None:
        pass

    def refused(self, code: str) -> None:
        pass

    def registered_batch(self, size: int) -> None:
        pass

    def signed_early(self, used: int, signed_again: int) -> None:
        pass

    def registered_as_forecast(self, outcome: str) -> None:
        pass

    def registered_before_receipts(self) -> None:
        pass

    def counter_held(self, seconds: float, uploads: int, rows: int = 1) -> None:
        pass
