from datetime import UTC, datetime, timedelta, timezone

import pytest

from gateway.domain.registration import (
    is_registration_number,
    make_registration_number,
    registration_day,
)


@pytest.mark.parametrize(("instant", "expected"), [
    # winter, UTC+1
    (datetime(2026, 1, 15, 9, 5, tzinfo=UTC), "123456789202601151005000042"),
    # summer, UTC+2
    (datetime(2026, 7, 1, 21, 59, tzinfo=UTC), "123456789202607012359000042"),
    # 22:00Z in summer is already the next Budapest day
    (datetime(2026, 7, 1, 22, 0, tzinfo=UTC), "123456789202607020000000042"),
    # an instant given in another zone is converted, not reinterpreted
    (datetime(2026, 1, 15, 4, 5, tzinfo=timezone(timedelta(hours=-5))),
     "123456789202601151005000042"),
])
def test_number_uses_budapest_local_time(instant: datetime, expected: str) -> None:
    number = make_registration_number("123456789", instant, 42)
    assert number == expected
    assert len(number) == 27 and is_registration_number(number)


def test_spring_forward_skips_the_hour_and_keeps_the_day() -> None:
    before = datetime(2026, 3, 29, 0, 59, tzinfo=UTC)  # 01:59 CET
    after = datetime(2026, 3, 29, 1, 0, tzinfo=UTC)  # 03:00 CEST
    assert make_registration_number("100000001", before, 1)[9:21] == "202603290159"
    assert make_registration_number("100000001", after, 2)[9:21] == "202603290300"
    assert registration_day(before) == registration_day(after)


def test_fall_back_repeats_the_hour_within_one_day() -> None:
    first = datetime(2026, 10, 25, 0, 30, tzinfo=UTC)  # 02:30 CEST
    second = datetime(2026, 10, 25, 1, 30, tzinfo=UTC)  # 02:30 CET
    assert make_registration_number("100000001", first, 1)[9:21] == "202610250230"
    assert make_registration_number("100000001", second, 2)[9:21] == "202610250230"
    assert registration_day(first) == registration_day(second)


@pytest.mark.parametrize(("krid", "sequence"), [("12345678", 1), ("12345678a", 1),
                                                ("123456789", 0), ("123456789", 1_000_000)])
def test_bad_parts_are_refused(krid: str, sequence: int) -> None:
    with pytest.raises(ValueError):
        make_registration_number(krid, datetime(2026, 1, 1, tzinfo=UTC), sequence)


def test_naive_time_is_refused() -> None:
    with pytest.raises(ValueError, match="timezone"):
        make_registration_number("123456789", datetime(2026, 1, 1), 1)
