"""Outages and maintenance as legal facts (225/2009 Korm. r. 26. § (4), 27. § (2)–(3)).

An outage of at least one hour continuously within one working day moves the procedural
deadlines of that day to the first working day after the outage ends; the operator certifies
outages on request. Planned maintenance falls wholly at night (22:00–06:00 Budapest time) or
on non-working days. Pure: times in, dates and reasons out.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from gateway.domain.calendar import WorkingCalendar
from gateway.domain.registration import BUDAPEST, budapest_local

EXTENDING_OUTAGE = timedelta(hours=1)
NIGHT_STARTS = time(22)
NIGHT_ENDS = time(6)
NIGHT_RULE = ("maintenance must fall wholly at night (22:00–06:00 Budapest time) or on "
              "non-working days (weekends and rest days; a shifted working Saturday is a "
              "working day)")


@dataclass(frozen=True)
class Probe:
    """One readiness probe: when, and whether every check answered."""

    at: datetime
    ok: bool


@dataclass(frozen=True)
class Incident:
    """An incident in the operator's log; ``outage``: the service was down."""

    id: int
    title: str
    outage: bool
    opened_at: datetime
    closed_at: datetime | None
    affected: str | None = None  # None: recorded before incidents named what they affected


@dataclass(frozen=True)
class Maintenance:
    """An announced maintenance window."""

    id: int
    start_at: datetime
    end_at: datetime
    reason: str
    announced_at: datetime


@dataclass(frozen=True)
class OutageStatement:
    """What an outage certificate (Igazolas, Fajta ``uzemzavar``) states."""

    incident_id: int
    start: datetime
    end: datetime
    affected: str
    deadline_extension: date | None  # HataridoHosszabbitas
    issued_at: datetime


def _local_days(start: datetime, end: datetime) -> Iterator[tuple[date, datetime, datetime]]:
    """The Budapest calendar days ``[start, end)`` touches, each with the part of the span
    that falls on it (aware datetimes; a 23- or 25-hour day around the clock change is one)."""
    day = budapest_local(start).date()
    while True:
        day_start = datetime.combine(day, time(0), tzinfo=BUDAPEST)
        day_end = datetime.combine(day + timedelta(days=1), time(0), tzinfo=BUDAPEST)
        if day_start >= end:
            return
        yield day, max(start, day_start), min(end, day_end)
        day += timedelta(days=1)


def deadline_extension(start: datetime, end: datetime, *, outage: bool,
                       calendar: WorkingCalendar) -> date | None:
    """The first working day after ``end`` when the outage (not a degraded service) lasted at
    least one hour continuously within one working day; otherwise None."""
    if not outage:
        return None
    extends = any(calendar.is_working_day(day) and until - since >= EXTENDING_OUTAGE
                  for day, since, until in _local_days(start, end))
    if not extends:
        return None
    day = budapest_local(end).date() + timedelta(days=1)
    while not calendar.is_working_day(day):
        day += timedelta(days=1)
    return day


def maintenance_rule_broken(start: datetime, end: datetime,
                            calendar: WorkingCalendar) -> str | None:
    """None when the window ``[start, end)`` lies wholly at night or on non-working days;
    otherwise the rule and the first moment that breaks it."""
    for day, since, until in _local_days(start, end):
        if not calendar.is_working_day(day):
            continue
        day_begins = datetime.combine(day, NIGHT_ENDS, tzinfo=BUDAPEST)
        night_begins = datetime.combine(day, NIGHT_STARTS, tzinfo=BUDAPEST)
        # The working day's daytime is [06:00, 22:00); the window must not touch it.
        if since < night_begins and until > day_begins:
            first = max(since, day_begins)
            return (f"{NIGHT_RULE}; {budapest_local(first):%Y-%m-%d %H:%M} is daytime on a "
                    f"working day")
    return None
