"""The érkeztetési szám: ``KKKKKKKKK YYYYMMDD HHMM NNNNNN`` without spaces (contract section 6)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime
from zoneinfo import ZoneInfo

BUDAPEST = ZoneInfo("Europe/Budapest")
MAX_DAILY_SEQUENCE = 999_999
_PATTERN = re.compile(r"^\d{27}$")


def budapest_local(instant: datetime) -> datetime:
    """``instant`` (timezone-aware) as Hungarian local time, daylight saving included."""
    if instant.tzinfo is None:
        raise ValueError("instant must be timezone-aware")
    return instant.astimezone(BUDAPEST)


def registration_day(instant: datetime) -> date:
    """The Budapest calendar day whose sequence a document accepted at ``instant`` takes."""
    return budapest_local(instant).date()


@dataclass(frozen=True)
class RegistrationNumber:
    krid: str
    local_moment: datetime  # Budapest local time, minute precision is what shows
    sequence: int

    def __str__(self) -> str:
        return (
            f"{self.krid}{self.local_moment:%Y%m%d%H%M}{self.sequence:06d}"
        )


def make_registration_number(krid: str, instant: datetime, sequence: int) -> str:
    """Format the number for the organisation ``krid``, accepted at ``instant``."""
    if not (len(krid) == 9 and krid.isdigit()):
        raise ValueError(f"KRID must be 9 digits, got {krid!r}")
    if not 1 <= sequence <= MAX_DAILY_SEQUENCE:
        raise ValueError(f"sequence out of range: {sequence}")
    return str(RegistrationNumber(krid, budapest_local(instant), sequence))


def is_registration_number(text: str) -> bool:
    return bool(_PATTERN.match(text))
