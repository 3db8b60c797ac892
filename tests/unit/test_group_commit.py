"""Group commit: what arrives while a batch runs forms the next batch; each submitter hears
its own item's outcome; a submitter that gives up does not take its item out of the batch."""

from __future__ import annotations

import asyncio

import pytest

from gateway.services.batching import GroupCommit


class Recorder:
    """A batch function that records each batch and, while ``gate`` is closed, waits."""

    def __init__(self) -> None:
        self.batches: list[list[int]] = []
        self.gate = asyncio.Event()
        self.gate.set()

    async def run(self, items: list[int]) -> list[int | BaseException]:
        self.batches.append(items)
        await self.gate.wait()
        return [ValueError(f"odd {item}") if item % 2 else item * 10 for item in items]


async def test_a_lone_item_runs_at_once_and_later_arrivals_share_the_next_batch() -> None:
    group: GroupCommit[int, int] = GroupCommit()
    recorder = Recorder()
    assert await group.submit(2, recorder.run) == 20
    recorder.gate.clear()
    first = asyncio.create_task(group.submit(4, recorder.run))
    await asyncio.sleep(0)  # the batch [4] starts and waits at the gate
    later = [asyncio.create_task(group.submit(item, recorder.run)) for item in (6, 8, 10)]
    await asyncio.sleep(0)
    recorder.gate.set()
    assert await first == 40
    assert [await task for task in later] == [60, 80, 100]
    assert recorder.batches == [[2], [4], [6, 8, 10]]


async def test_each_submitter_hears_its_own_refusal() -> None:
    group: GroupCommit[int, int] = GroupCommit()
    recorder = Recorder()
    recorder.gate.clear()
    tasks = [asyncio.create_task(group.submit(item, recorder.run)) for item in (2, 3, 4)]
    await asyncio.sleep(0)
    recorder.gate.set()
    assert await tasks[0] == 20
    with pytest.raises(ValueError, match="odd 3"):
        await tasks[1]
    assert await tasks[2] == 40


async def test_a_failed_batch_fails_each_of_its_items_and_the_next_batch_still_runs() -> None:
    group: GroupCommit[int, int] = GroupCommit()
    calls: list[list[int]] = []

    async def failing_once(items: list[int]) -> list[int | BaseException]:
        calls.append(items)
        if len(calls) == 1:
            await asyncio.sleep(0.01)
            raise ConnectionError("database gone")
        return list(items)

    first = asyncio.create_task(group.submit(1, failing_once))
    await asyncio.sleep(0)
    second = asyncio.create_task(group.submit(2, failing_once))
    with pytest.raises(ConnectionError):
        await first
    assert await second == 2
    assert calls == [[1], [2]]


async def test_batches_are_at_most_max_batch_long() -> None:
    group: GroupCommit[int, int] = GroupCommit(max_batch=2)
    recorder = Recorder()
    recorder.gate.clear()
    tasks = [asyncio.create_task(group.submit(item, recorder.run)) for item in (2, 4, 6, 8, 10)]
    await asyncio.sleep(0)
    recorder.gate.set()
    assert [await task for task in tasks] == [20, 40, 60, 80, 100]
    assert recorder.batches == [[2, 4], [6, 8], [10]]


async def test_a_submitter_that_gives_up_leaves_its_item_in_the_batch() -> None:
    group: GroupCommit[int, int] = GroupCommit()
    recorder = Recorder()
    recorder.gate.clear()
    running = asyncio.create_task(group.submit(2, recorder.run))
    await asyncio.sleep(0)
    queued = asyncio.create_task(group.submit(4, recorder.run))
    await asyncio.sleep(0)
    queued.cancel()  # the client went away while its upload waited for the next batch
    with pytest.raises(asyncio.CancelledError):
        await queued
    recorder.gate.set()
    assert await running == 20
    for _ in range(5):
        await asyncio.sleep(0)
    # The batch function owns its items: the cancelled one was registered all the same
    # (registrar.py places its bytes in the store).
    assert recorder.batches == [[2], [4]]
