from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from gateway.domain.calendar import WorkingCalendar
from gateway.resources import resource_dir

CALENDAR = WorkingCalendar.from_file(resource_dir("calendar") / "hu.toml")


@pytest.mark.parametrize(("day", "working"), [
    (date(2027, 3, 26), False),  # Good Friday
    (date(2027, 3, 29), False),  # Easter Monday
    (date(2027, 5, 17), False),  # Whit Monday
    (date(2025, 4, 18), False),  # Good Friday 2025
    (date(2025, 6, 9), False),  # Whit Monday 2025
    (date(2026, 1, 1), False),
    (date(2026, 1, 2), False),  # bridge day, worked on Saturday 10 January 2026
    (date(2026, 1, 10), True),  # the shifted working Saturday
    (date(2024, 8, 3), True),  # worked for Monday 19 August 2024
    (date(2024, 8, 19), False),
    (date(2024, 12, 24), False),  # Christmas Eve 2024: rest day, worked on 7 December
    (date(2024, 12, 7), True),
    (date(2026, 10, 23), False),  # national day
    (date(2026, 11, 24), True),  # an ordinary Tuesday
    (date(2026, 11, 28), False),  # an ordinary Saturday
])
def test_working_days(day: date, working: bool) -> None:
    assert CALENDAR.is_working_day(day) is working


def _at(text: str) -> datetime:
    return datetime.fromisoformat(text)


@pytest.mark.parametrize(("accepted", "days", "deadline"), [
    # Wednesday before Easter 2027: Thu 25 (1), Tue 30 (2), Wed 31 (3), Thu 1 (4), Fri 2 (5).
    ("2027-03-24T10:00:00+01:00", 3, "2027-04-01T00:00:00+02:00"),
    ("2027-03-24T10:00:00+01:00", 5, "2027-04-03T00:00:00+02:00"),
    # Late on a Friday: the acceptance day never counts.
    ("2026-11-27T23:59:00+01:00", 3, "2026-12-03T00:00:00+01:00"),
    # Over the turn of 2024/25: 23 Dec, 30 Dec, 31 Dec, 2 Jan, 3 Jan.
    ("2024-12-20T09:00:00+01:00", 5, "2025-01-04T00:00:00+01:00"),
    # A shifted working Saturday counts: 2026-01-10.
    ("2026-01-08T09:00:00+01:00", 3, "2026-01-13T00:00:00+01:00"),
])
def test_deadlines(accepted: str, days: int, deadline: str) -> None:
    assert CALENDAR.deadline(_at(accepted), days) == _at(deadline)


def test_instant_counts_in_budapest_time() -> None:
    # 23:30 UTC on Monday is already Tuesday in Budapest: Tuesday does not count.
    monday_night = datetime(2026, 11, 23, 23, 30, tzinfo=UTC)
    assert CALENDAR.deadline(monday_night, 1) == _at("2026-11-26T00:00:00+01:00")


def test_operations_can_correct_the_calendar(tmp_path: Path) -> None:
    corrections = tmp_path / "hu.toml"
    corrections.write_text("rest_days = [2027-12-27]\nworking_days = [2027-12-18]\n")
    corrected = WorkingCalendar.from_file(corrections)
    assert corrected.is_working_day(date(2027, 12, 27)) is False
    assert corrected.is_working_day(date(2027, 12, 18)) is True
    assert CALENDAR.is_working_day(date(2027, 12, 27)) is True


def test_a_bad_corrections_file_is_refused(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text('rest_days = ["2027-12-27"]\n')
    with pytest.raises(ValueError, match="TOML dates"):
        WorkingCalendar.from_file(bad)
    both = tmp_path / "both.toml"
    both.write_text("rest_days = [2027-12-27]\nworking_days = [2027-12-27]\n")
    with pytest.raises(ValueError, match="both rest and working"):
        WorkingCalendar.from_file(both)
