"""The system clock (the test clock of the sandbox arrives with the deadlines work)."""

from __future__ import annotations

from datetime import UTC, datetime


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)
