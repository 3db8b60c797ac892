"""The numbers that queued uploads will get, forecast so that their receipts can be signed
while they wait for their batch.

An acceptance receipt names the registration number, which the batch takes from the KRID's
counter row while it holds the row's lock. Signing the receipts there kept the lock — and every
upload queued behind it — waiting for the signatures. In one process the numbers are
predictable: the counter's value after the last batch, plus the uploads queued before. A
receipt signed early is kept only if the number it names is the number its document got, so a
wrong forecast (another process or host numbering the same KRID) costs a second signature,
never a wrong receipt; after one, forecasts for that KRID pause for a while, twice as long
after each wrong one in a row.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import date

# (KRID, Budapest day): the counter a registration number's sequence comes from.
CounterKey = tuple[str, date]

# Batches without forecasts for a KRID after a wrong one, doubled after each further wrong one
# up to the longest pause: two processes numbering the same KRID (where forecasts hardly ever
# hold) soon waste about one signature in a thousand; a forecast that holds again resets it.
PAUSE_AFTER_MISS = 16
LONGEST_PAUSE = 1024


class NumberForecast:
    """Per process. Feed it every upload that joins or leaves the registration queue."""

    def __init__(self) -> None:
        self._loop: asyncio.AbstractEventLoop | None = None
        self._next: dict[CounterKey, int] = {}
        self._queued: Counter[CounterKey] = Counter()
        self._paused: dict[CounterKey, int] = {}  # batches left without forecasts
        self._pause: dict[CounterKey, int] = {}  # the last pause's length, while misses last

    def join(self, key: CounterKey) -> int | None:
        """An upload for ``key`` joins the queue: the sequence it should get, if known."""
        loop = asyncio.get_running_loop()
        if self._loop is not loop:  # a new event loop starts with an empty queue
            self._loop = loop
            self._next, self._queued, self._paused, self._pause = {}, Counter(), {}, {}
        self._queued[key] += 1
        sequence = self._next.get(key)
        if sequence is None or key in self._paused:
            return None
        self._next[key] = sequence + 1
        return sequence

    def leave(self, keys: list[CounterKey]) -> None:
        """A batch starts with these uploads (one key each)."""
        self._queued.subtract(keys)
        for key in set(keys):
            if self._queued[key] <= 0:
                del self._queued[key]

    def settle(self, key: CounterKey, last: int, forecasts: int, missed: int) -> None:
        """A batch committed and took sequences up to ``last`` for ``key``; of its uploads
        for ``key``, ``forecasts`` had one and ``missed`` of those were wrong."""
        self._next[key] = last + 1 + self._queued[key]
        for earlier in [other for other in self._next if other[1] < key[1]]:
            del self._next[earlier]  # yesterday's counters take no more numbers
            self._paused.pop(earlier, None)
            self._pause.pop(earlier, None)
        if missed:
            pause = min(2 * self._pause[key], LONGEST_PAUSE) if key in self._pause \
                else PAUSE_AFTER_MISS
            self._pause[key] = self._paused[key] = pause
        elif key in self._paused:
            self._paused[key] -= 1
            if not self._paused[key]:
                del self._paused[key]
        elif forecasts:  # they held: the next wrong one pauses briefly again
            self._pause.pop(key, None)

    def forget(self, keys: list[CounterKey]) -> None:
        """A batch failed or took no number: no forecasts for ``keys`` until one commits."""
        for key in keys:
            self._next.pop(key, None)
