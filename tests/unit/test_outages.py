"""The outage and maintenance rules on the working-day calendar (pure)."""

from __future__ import annotations

from datetime import date, datetime, timedelta

from gateway.crypto.receipts import iso_duration
from gateway.domain.calendar import WorkingCalendar
from gateway.domain.outages import deadline_extension, maintenance_rule_broken
from gateway.domain.registration import BUDAPEST

CALENDAR = WorkingCalendar()


def _at(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=BUDAPEST)  # type: ignore[misc]


def _extension(start: datetime, end: datetime) -> date | None:
    return deadline_extension(start, end, outage=True, calendar=CALENDAR)


def test_one_hour_within_one_working_day_is_needed() -> None:
    assert _extension(_at(2026, 11, 24, 9), _at(2026, 11, 24, 10)) == date(2026, 11, 25)
    assert _extension(_at(2026, 11, 24, 9), _at(2026, 11, 24, 9, 59)) is None
    # 23:30–00:45: not an hour on either day.
    assert _extension(_at(2026, 11, 24, 23, 30), _at(2026, 11, 25, 0, 45)) is None
    # A Saturday outage ending Monday 02:00: two hours on no working day.
    assert _extension(_at(2026, 11, 28, 9), _at(2026, 11, 30, 0, 30)) is None
    # From Sunday into Monday morning: an hour and a half on Monday, moved to Tuesday.
    assert _extension(_at(2026, 11, 29, 22), _at(2026, 11, 30, 1, 30)) == date(2026, 12, 1)
    # Wednesday 23 December 2026 before the Christmas rest days: Monday 28 December.
    assert _extension(_at(2026, 12, 23, 10), _at(2026, 12, 23, 12)) == date(2026, 12, 28)
    assert deadline_extension(_at(2026, 11, 24, 9), _at(2026, 11, 24, 12), outage=False,
                              calendar=CALENDAR) is None


def test_maintenance_at_night_or_on_non_working_days() -> None:
    assert maintenance_rule_broken(_at(2026, 12, 1, 22), _at(2026, 12, 2, 6), CALENDAR) is None
    assert maintenance_rule_broken(_at(2026, 11, 27, 22), _at(2026, 11, 30, 6), CALENDAR) is None
    assert "2026-12-02 06:00" in (
        maintenance_rule_broken(_at(2026, 12, 1, 23), _at(2026, 12, 2, 6, 1), CALENDAR) or "")
    assert "2026-12-01 21:59" in (
        maintenance_rule_broken(_at(2026, 12, 1, 21, 59), _at(2026, 12, 1, 23), CALENDAR) or "")
    # A rest day corrected in the operator's calendar file.
    rested = WorkingCalendar(rest_days=frozenset({date(2026, 12, 1)}))
    assert maintenance_rule_broken(_at(2026, 12, 1, 10), _at(2026, 12, 1, 12), rested) is None


def test_durations_are_iso_8601() -> None:
    assert iso_duration(timedelta(hours=2)) == "PT2H"
    assert iso_duration(timedelta(days=1, seconds=5)) == "PT24H5S"
    assert iso_duration(timedelta(minutes=90)) == "PT1H30M"
    assert iso_duration(timedelta(0)) == "PT0S"
