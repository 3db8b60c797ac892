"""Group commit: requests that arrive while one transaction runs share the next one.

Every upload to an office takes the next number from that office's counter row, whose lock
is held until the transaction commits; uploads one by one queue on the lock for a round trip,
the signing and the commit each. Registering everything that queued meanwhile in one
transaction pays those once per batch, as databases group their own commits. There is no
timer: a lone request runs at once, and a batch is whatever arrived during the last one.

Hand-written because the pattern is a few lines over asyncio and no maintained library
offers it for an arbitrary async batch function.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

Item = TypeVar("Item")
Result = TypeVar("Result")

# What a batch answers for each of its items, in order: a result or the item's own refusal.
BatchRun = Callable[[list[Item]], Awaitable[list[Result | BaseException]]]


class GroupCommit(Generic[Item, Result]):
    """Runs submitted items in batches of at most ``max_batch``, one batch at a time, in a
    task of its own: a request that gives up waiting does not interrupt its batch, so what
    the batch committed is finished (the batch function owns its items' side effects)."""

    def __init__(self, max_batch: int = 64) -> None:
        self._max_batch = max_batch
        self._waiting: list[tuple[Item, asyncio.Future[Result]]] = []
        self._drain: asyncio.Task[None] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    async def submit(self, item: Item, run: BatchRun[Item, Result]) -> Result:
        loop = asyncio.get_running_loop()
        if self._loop is not loop:  # a new event loop (tests start one per test)
            self._loop, self._waiting, self._drain = loop, [], None
        future: asyncio.Future[Result] = loop.create_future()
        # A submitter that gave up waiting never reads its outcome: read here, so asyncio
        # does not report a lost exception.
        future.add_done_callback(lambda done: done.cancelled() or done.exception())
        self._waiting.append((item, future))
        if self._drain is None or self._drain.done():
            self._drain = loop.create_task(self._run_all(run))
        return await asyncio.shield(future)

    async def _run_all(self, run: BatchRun[Item, Result]) -> None:
        while self._waiting:
            batch = self._waiting[:self._max_batch]
            del self._waiting[:self._max_batch]
            try:
                results = await run([item for item, _ in batch])
            except BaseException as failure:  # the whole batch failed: each item hears why
                for _, future in batch:
                    if not future.done():
                        future.set_exception(failure)
                if isinstance(failure, asyncio.CancelledError):
                    for _, future in self._waiting:
                        future.cancel()
                    self._waiting = []
                    raise
                continue
            for (_, future), result in zip(batch, results, strict=True):
                if future.done():
                    continue
                if isinstance(result, BaseException):
                    future.set_exception(result)
                else:
                    future.set_result(result)
