"""Clocks: the system clock, and the sandbox's test clock."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from gateway.services.ports.operations import Clock


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


class SandboxClock:
    """A base clock (the system's, or a test's) plus an offset: the sandbox's test clock. The
    offset lives in the database, see services/sandbox.py."""

    def __init__(self, base: Clock | None = None) -> None:
        self.base: Clock = base or SystemClock()
        self.offset = timedelta(0)

    def now(self) -> datetime:
        return self.base.now() + self.offset
