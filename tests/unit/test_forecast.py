"""The number forecast: the sequences queued uploads will get, as long as this process alone
numbers their KRID; none before the first batch, a pause after a wrong one."""

from __future__ import annotations

from datetime import date

from gateway.services.forecast import (
    LONGEST_PAUSE,
    PAUSE_AFTER_MISS,
    CounterKey,
    NumberForecast,
)

DAY = date(2026, 3, 2)
OFFICE = ("900000002", DAY)
OTHER = ("900000003", DAY)


def _batch(forecast: NumberForecast, key: CounterKey, size: int, last: int,
           forecasts: int = 0, missed: int = 0) -> None:
    """A batch of ``size`` uploads for ``key`` starts and commits, its last sequence ``last``;
    ``forecasts`` of them had one, ``missed`` of those wrong."""
    forecast.leave([key] * size)
    forecast.settle(key, last, forecasts, missed)


def _taught(last: int) -> NumberForecast:
    """A forecast whose first batch for OFFICE, one upload, took sequences up to ``last``."""
    forecast = NumberForecast()
    forecast.join(OFFICE)
    _batch(forecast, OFFICE, 1, last)
    return forecast


async def test_no_forecast_before_a_batch_then_the_counter_plus_the_uploads_queued_before() -> None:
    forecast = NumberForecast()
    assert [forecast.join(OFFICE) for _ in range(3)] == [None, None, None]
    _batch(forecast, OFFICE, 2, 41)  # two of them took 40 and 41; one keeps waiting
    # The one still waiting gets 42 (it had no forecast); the next to join 43, then 44.
    assert [forecast.join(OFFICE), forecast.join(OFFICE)] == [43, 44]
    assert forecast.join(OTHER) is None  # each counter is its own
    _batch(forecast, OFFICE, 3, 44)
    assert forecast.join(OFFICE) == 45


async def test_after_a_wrong_forecast_none_for_a_while_then_again() -> None:
    forecast = _taught(1)
    assert forecast.join(OFFICE) == 2
    _batch(forecast, OFFICE, 1, 3, forecasts=1, missed=1)  # another process took 2
    for _ in range(PAUSE_AFTER_MISS):
        assert forecast.join(OFFICE) is None
        _batch(forecast, OFFICE, 1, 100)
    assert forecast.join(OFFICE) == 101


async def test_a_failed_batch_stops_forecasts_until_the_next_commits() -> None:
    forecast = _taught(7)
    assert forecast.join(OFFICE) == 8
    forecast.leave([OFFICE])
    forecast.forget([OFFICE])  # its batch rolled back: 8 was not taken
    assert forecast.join(OFFICE) is None
    _batch(forecast, OFFICE, 1, 8)
    assert forecast.join(OFFICE) == 9


async def test_a_new_day_forgets_the_days_before() -> None:
    forecast = NumberForecast()
    tomorrow = (OFFICE[0], date(2026, 3, 3))
    for key in (OFFICE, tomorrow):
        forecast.join(key)
        _batch(forecast, key, 1, 5)
    assert forecast.join(OFFICE) is None
    assert forecast.join(tomorrow) == 6



def _paused_batches(forecast: NumberForecast, key: CounterKey) -> int:
    """Batches of one upload without a forecast until an upload gets one (it stays queued)."""
    count = 0
    while forecast.join(key) is None:
        count += 1
        _batch(forecast, key, 1, 1000 * count)
    return count


async def test_wrong_forecasts_in_a_row_pause_twice_as_long_each_until_one_holds() -> None:
    forecast = _taught(1)
    assert forecast.join(OFFICE) is not None
    pauses = []
    for _ in range(8):  # another process keeps taking numbers: each forecast is wrong
        _batch(forecast, OFFICE, 1, 5000, forecasts=1, missed=1)
        pauses.append(_paused_batches(forecast, OFFICE))
    assert pauses == [16, 32, 64, 128, 256, 512, LONGEST_PAUSE, LONGEST_PAUSE]
    _batch(forecast, OFFICE, 1, 6000, forecasts=1)  # this one held
    assert forecast.join(OFFICE) is not None
    _batch(forecast, OFFICE, 1, 7000, forecasts=1, missed=1)
    assert _paused_batches(forecast, OFFICE) == PAUSE_AFTER_MISS
