"""The Hungarian working-day calendar and the deadlines counted in it.

Working days are Monday to Friday, minus public holidays (Good Friday, Easter Monday and Whit
Monday included) and the shifted rest days, plus the shifted working Saturdays: all from the
``holidays`` library's Hungary calendar, corrected by operations in a TOML file of
``rest_days`` and ``working_days`` (no code change needed).
"""

from __future__ import annotations

import functools
import tomllib
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from gateway.domain.registration import BUDAPEST, budapest_local

if TYPE_CHECKING:
    from holidays import HolidayBase


class WorkingCalendar:
    def __init__(self, rest_days: frozenset[date] = frozenset(),
                 working_days: frozenset[date] = frozenset()) -> None:
        if rest_days & working_days:
            raise ValueError(f"days both rest and working: {sorted(rest_days & working_days)}")
        self._rest_days = rest_days
        self._working_days = working_days

    @functools.cached_property
    def _hungary(self) -> HolidayBase:
        # Made at the first working day asked: importing holidays and its Hungary (the library
        # imports every country's module with it) is about 0.1 s, and most commands count no
        # deadline.
        import holidays

        return holidays.country_holidays("HU")

    @classmethod
    def from_file(cls, path: Path | None) -> WorkingCalendar:
        if path is None:
            return cls()
        with open(path, "rb") as file:
            data = tomllib.load(file)
        days: dict[str, frozenset[date]] = {}
        for key in ("rest_days", "working_days"):
            values = data.get(key, [])
            if not all(isinstance(value, date) for value in values):
                raise ValueError(f"{path}: {key} must be a list of TOML dates (2027-12-24)")
            days[key] = frozenset(values)
        return cls(days["rest_days"], days["working_days"])

    def is_working_day(self, day: date) -> bool:
        if day in self._working_days:
            return True
        if day in self._rest_days:
            return False
        return bool(self._hungary.is_working_day(day))

    def deadline(self, start: datetime, working_days: int) -> datetime:
        """The end of the ``working_days``-th working day after the Budapest day of ``start``
        (that day itself does not count): midnight in Budapest, as an aware datetime."""
        day = budapest_local(start).date()
        counted = 0
        while counted < working_days:
            day += timedelta(days=1)
            if self.is_working_day(day):
                counted += 1
        return datetime.combine(day + timedelta(days=1), time(0), tzinfo=BUDAPEST)

    def working_day_start(self, start: datetime, working_days: int) -> datetime:
        """The beginning (Budapest midnight) of the ``working_days``-th working day after the
        Budapest day of ``start``: the moment of a presumed delivery."""
        return self.deadline(start, working_days) - timedelta(days=1)


# An office is warned of a document waiting this many working days (contract section 13).
WARNING_WORKING_DAYS = 3


def due_times(calendar: WorkingCalendar, *, to_organisation: bool, at: datetime,
              second_notice_working_days: int) -> tuple[datetime | None, datetime | None]:
    """(warning_due_at, not_collected_due_at) of a document accepted ``at``: an organisation
    is warned after 3 working days; a citizen's unopened document gets its second notice (and
    the sender its not_collected receipt) after ``second_notice_working_days`` (5)."""
    if to_organisation:
        return calendar.deadline(at, WARNING_WORKING_DAYS), None
    return None, calendar.deadline(at, second_notice_working_days)
