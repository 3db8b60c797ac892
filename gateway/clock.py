"""Clocks: the system clock, and the sandbox's test clock."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


class SandboxClock:
    """System time plus an offset (the sandbox's test clock; the offset lives in the
    database, see services/sandbox.py)."""

    def __init__(self) -> None:
        self.offset = timedelta(0)

    def now(self) -> datetime:
        return datetime.now(UTC) + self.offset
