"""The érkeztetési szám: ``KKKKKKKKK YYYYMMDD HHMM NNNNNN`` without spaces (docs/README.md)."""

from __future__ import annotations

import re
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

BUDAPEST = ZoneInfo("Europe/Budapest")
SEQUENCE_DIGITS = 6
MAX_DAILY_SEQUENCE = 10**SEQUENCE_DIGITS - 1
_PATTERN = re.compile(r"^\d{27}$")


def budapest_local(instant: datetime) -> datetime:
    """``instant`` (timezone-aware) as Hungarian local time, daylight saving included."""
    if instant.tzinfo is None:
        raise ValueError("instant must be timezone-aware")
    return instant.astimezone(BUDAPEST)


def budapest_midnight(day: date) -> datetime:
    """The instant ``day`` begins in Budapest (a day is a Budapest day on every door)."""
    return datetime.combine(day, time(), tzinfo=BUDAPEST)


def budapest_days(first: date | None, last: date | None) -> tuple[datetime | None, datetime | None]:
    """The instants from ``first``'s Budapest midnight up to (not including) the midnight
    after ``last``: a filter from one day to another holds both days whole. None leaves
    that end open."""
    return (budapest_midnight(first) if first else None,
            budapest_midnight(last + timedelta(days=1)) if last else None)


def registration_day(instant: datetime) -> date:
    """The Budapest calendar day whose sequence a document accepted at ``instant`` takes."""
    return budapest_local(instant).date()


def registration_prefix(krid: str, instant: datetime) -> str:
    """The first 21 digits: the organisation's KRID and the Budapest minute of acceptance."""
    if not (len(krid) == 9 and krid.isdigit()):
        raise ValueError(f"KRID must be 9 digits, got {krid!r}")
    return f"{krid}{budapest_local(instant):%Y%m%d%H%M}"


def make_registration_number(krid: str, instant: datetime, sequence: int) -> str:
    """Format the number for the organisation ``krid``, accepted at ``instant``."""
    if not 1 <= sequence <= MAX_DAILY_SEQUENCE:
        raise ValueError(f"sequence out of range: {sequence}")
    return f"{registration_prefix(krid, instant)}{sequence:0{SEQUENCE_DIGITS}d}"


def sequence_of(registration_number: str) -> int:
    """The day's sequence number a registration number ends with."""
    return int(registration_number[-SEQUENCE_DIGITS:])


def is_registration_number(text: str) -> bool:
    return bool(_PATTERN.match(text))
