"""Admission control's slots and queues, without HTTP (ops/admission.py)."""

from __future__ import annotations

import asyncio

import pytest
from starlette.responses import Response
from starlette.types import Message, Receive, Scope, Send

from gateway.errors import Overloaded
from gateway.ops.admission import (
    Admission,
    AdmissionControl,
    Priority,
    hkp_priority,
    rest_priority,
)
from gateway.ops.shedding import Health, Limits


def admission(timeout: float = 5.0) -> Admission:
    return Admission({priority: Limits(1, 1, timeout) for priority in Priority})


async def settle() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


async def test_a_full_class_queues_then_sheds_and_hands_slots_over_in_order() -> None:
    gate = admission()
    await gate.enter(Priority.SHEDDABLE)
    queued = asyncio.create_task(gate.enter(Priority.SHEDDABLE))
    await settle()
    assert not queued.done()
    with pytest.raises(Overloaded, match="every slot and queue place"):
        await gate.enter(Priority.SHEDDABLE)
    gate.leave(Priority.SHEDDABLE)
    await asyncio.wait_for(queued, 1)  # the slot passed to the one waiting
    gate.leave(Priority.SHEDDABLE)
    await gate.enter(Priority.SHEDDABLE)  # free again


async def test_urgent_work_waiting_too_long_refuses_new_and_queued_lower_classes() -> None:
    gate = Admission({priority: Limits(1, 1, 5) for priority in Priority}, patience=0.05)
    await gate.enter(Priority.SHEDDABLE)
    queued_listing = asyncio.create_task(gate.enter(Priority.SHEDDABLE))
    await gate.enter(Priority.DEADLINES)
    queued_upload = asyncio.create_task(gate.enter(Priority.DEADLINES))
    await settle()
    # An upload has only just begun to wait: a moment's queue is no overload.
    await gate.enter(Priority.STANDARD)
    gate.leave(Priority.STANDARD)
    await asyncio.sleep(0.06)
    with pytest.raises(Overloaded, match="more urgent work"):
        await gate.enter(Priority.STANDARD)
    # The freed listing slot goes to no one: the listing queued for it is refused.
    gate.leave(Priority.SHEDDABLE)
    with pytest.raises(Overloaded, match="more urgent work"):
        await queued_listing
    gate.leave(Priority.DEADLINES)
    await asyncio.wait_for(queued_upload, 1)  # the upload gets the freed upload slot
    gate.leave(Priority.DEADLINES)
    await gate.enter(Priority.SHEDDABLE)  # nothing urgent presses any more


async def test_a_queued_request_waits_at_most_the_timeout_and_leaves_no_trace() -> None:
    gate = admission(timeout=0.05)
    await gate.enter(Priority.DEADLINES)
    with pytest.raises(Overloaded, match="waited"):
        await gate.enter(Priority.DEADLINES)
    gate.leave(Priority.DEADLINES)
    await gate.enter(Priority.SHEDDABLE)  # the timed-out waiter left nothing that presses
    await gate.enter(Priority.DEADLINES)


async def test_a_class_whose_slots_stay_taken_outranks_lower_ones_without_a_queue() -> None:
    # Fast uploads free a slot for a moment before their clients send again: they never
    # queue, yet they are all the gateway lets in (measured: uploads at 37 % of their rate
    # alone beside 48 listing clients when only an unbroken queue counted).
    gate = Admission({priority: Limits(2, 4, 5) for priority in Priority}, patience=0.5)
    await gate.enter(Priority.DEADLINES)
    await gate.enter(Priority.DEADLINES)  # every upload slot taken, no queue
    await gate.enter(Priority.SHEDDABLE)  # a moment's pressure is no overload
    gate.leave(Priority.SHEDDABLE)
    for _ in range(6):  # 0.6 s: an upload ends, its client sends the next 5 ms later
        await asyncio.sleep(0.1)
        gate.leave(Priority.DEADLINES)
        await asyncio.sleep(0.005)
        await gate.enter(Priority.DEADLINES)
    with pytest.raises(Overloaded, match="more urgent work"):
        await gate.enter(Priority.SHEDDABLE)
    # A break longer than PRESSURE_GAP of the patience (0.1 s) ends the stretch.
    gate.leave(Priority.DEADLINES)
    await asyncio.sleep(0.25)
    await gate.enter(Priority.DEADLINES)
    await gate.enter(Priority.SHEDDABLE)


async def test_a_cancelled_waiter_gives_its_place_back() -> None:
    gate = admission()
    await gate.enter(Priority.STANDARD)
    queued = asyncio.create_task(gate.enter(Priority.STANDARD))
    await settle()
    queued.cancel()
    with pytest.raises(asyncio.CancelledError):
        await queued
    gate.leave(Priority.STANDARD)
    await gate.enter(Priority.STANDARD)  # the slot was not handed to the cancelled waiter


def test_requests_are_classed_by_what_they_do() -> None:
    assert rest_priority("POST", "/api/v1/documents") is Priority.DEADLINES
    assert rest_priority("POST", "/api/v1/epapir") is Priority.DEADLINES
    assert rest_priority("POST", "/api/v1/documents/KR-1/ack") is Priority.DEADLINES
    assert rest_priority("POST", "/api/v1/sandbox/run-due") is Priority.DEADLINES
    assert rest_priority("GET", "/api/v1/documents/KR-1/content") is Priority.STANDARD
    for path in ("/api/v1/mailbox", "/api/v1/offices", "/api/v1/status", "/status",
                 "/ui/login", "/redoc", "/docs-assets/swagger-ui-bundle.js", "/hirdetmenyek",
                 "/hirdetmenyek/feed.xml", "/hirdetmenyek/7/versions/1/attachments/1"):
        assert rest_priority("GET", path) is Priority.SHEDDABLE, path
    for path in ("/health", "/ready", "/metrics"):
        assert rest_priority("GET", path) is None
    ack = b'<iop:Szolgaltatas Module="HivataliModule"> SikeresDokumentumokOlvasas </iop:'
    assert hkp_priority(b"<x>" + ack, multipart=False) is Priority.DEADLINES
    assert hkp_priority(b"<iop:Szolgaltatas>HivatalokLekerdezese</iop:Szolgaltatas>",
                        multipart=False) is Priority.SHEDDABLE
    assert hkp_priority(b"no operation in sight", multipart=True) is Priority.DEADLINES
    assert hkp_priority(b"no operation in sight", multipart=False) is Priority.STANDARD


class Ticking:
    """A monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def adaptive(clock: Ticking) -> Admission:
    return Admission({Priority.DEADLINES: Limits(8, 8, 5), Priority.STANDARD: Limits(4, 4, 5),
                      Priority.SHEDDABLE: Limits(8, 16, 4)},
                     patience=10.0, health=Health(target=0.05, interval=0.5), monotonic=clock)


async def uploads(gate: Admission, clock: Ticking, seconds: float, latency: float) -> None:
    """An upload every 0.125 s for ``seconds``, each answered ``latency`` seconds after it
    came (times exact in binary: no rounding moves a window's end)."""
    for _ in range(round(seconds / 0.125)):
        arrived = await gate.enter(Priority.DEADLINES)
        clock.now += latency
        gate.leave(Priority.DEADLINES, arrived)
        clock.now += 0.125 - latency


SLOW, FAST = 0.0625, 0.015625  # against a target of 0.05 s


async def sheddable_limit(gate: Admission) -> int:
    """The sheddable class's limit as the next listing finds it."""
    await gate.enter(Priority.SHEDDABLE)
    gate.leave(Priority.SHEDDABLE)
    return gate.sheddable_limits().limit


async def test_slow_uploads_tighten_the_sheddable_class_and_recovery_loosens_it() -> None:
    clock = Ticking()
    gate = adaptive(clock)
    assert await sheddable_limit(gate) == 8
    # Slow uploads for half an interval are a burst: nothing moves.
    await uploads(gate, clock, 0.25, latency=SLOW)
    await uploads(gate, clock, 0.75, latency=FAST)
    assert await sheddable_limit(gate) == 8
    # Slow for a whole interval: halved, and again each interval it lasts, never below one.
    await uploads(gate, clock, 0.625, latency=SLOW)
    assert await sheddable_limit(gate) == 4
    assert gate.sheddable_limits() == Limits(4, 8, 2.0)  # shorter queue and wait too
    await uploads(gate, clock, 3.0, latency=SLOW)
    assert await sheddable_limit(gate) == 1
    assert gate.sheddable_limits() == Limits(1, 2, 0.5)
    # Recovered: a slot back per healthy interval, up to the configured limit and no further.
    await uploads(gate, clock, 0.5, latency=FAST)
    assert await sheddable_limit(gate) == 2
    await uploads(gate, clock, 1.0, latency=FAST)
    assert await sheddable_limit(gate) == 4
    # Tightened, a slot also rests after each answer: busy half the time at 4 of 8 slots.
    assert gate.control is not None and gate.control.rest(0.01) == 0.01
    assert gate.control.rest(2.0) == 0.5  # at most an interval
    clock.now += 60  # no uploads at all for a minute: healthy
    assert await sheddable_limit(gate) == 8
    assert gate.sheddable_limits() == Limits(8, 16, 4)
    assert gate.control.rest(0.01) == 0


async def test_uploads_queued_unanswered_tighten_it_too_and_a_tight_class_refuses_sooner(
) -> None:
    clock = Ticking()
    gate = adaptive(clock)
    for _ in range(8):  # every upload slot taken, and two uploads waiting: none answered
        await gate.enter(Priority.DEADLINES)
    stuck = [asyncio.create_task(gate.enter(Priority.DEADLINES)) for _ in range(2)]
    await settle()
    listings = [await gate.enter(Priority.SHEDDABLE) for _ in range(4)]
    clock.now += 2.125  # four intervals
    gate.leave(Priority.SHEDDABLE, listings[0])
    assert gate.sheddable_limits() == Limits(1, 2, 0.5)
    # Three listings still hold slots taken before the limit fell: one ending frees no slot,
    # and the next listings queue for the one slot left (two places), then are refused.
    queued = [asyncio.create_task(gate.enter(Priority.SHEDDABLE)) for _ in range(2)]
    await settle()
    with pytest.raises(Overloaded, match="every slot and queue place"):
        await gate.enter(Priority.SHEDDABLE)
    gate.leave(Priority.SHEDDABLE)
    gate.leave(Priority.SHEDDABLE)
    await settle()
    assert not any(task.done() for task in queued)
    gate.leave(Priority.SHEDDABLE)
    await asyncio.wait_for(queued[0], 1)  # the first queued gets the one slot
    assert not queued[1].done()
    for task in [*stuck, queued[1]]:
        task.cancel()
    await asyncio.gather(*stuck, queued[1], return_exceptions=True)


async def test_a_listing_refused_after_its_queue_wait_is_answered_without_a_further_pause(
) -> None:
    # Wait and pause added up once pushed the 503 past clients' own timeouts (5 s) and they
    # closed the connection unanswered: the pause only fills up what the wait has not.
    release = asyncio.Event()

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await release.wait()
        await Response("listed")(scope, receive, send)

    clock = Ticking()
    gate = Admission({priority: Limits(1, 1, 0.2) for priority in Priority}, monotonic=clock)
    control = AdmissionControl(app, gate, retry_after=1, shed_delay=30)

    async def listing() -> list[Message]:
        sent: list[Message] = []

        async def send(message: Message) -> None:
            sent.append(message)

        async def receive() -> Message:
            return {"type": "http.request", "body": b"", "more_body": False}

        scope = {"type": "http", "method": "GET", "path": "/api/v1/status", "headers": []}
        await control(scope, receive, send)
        return sent

    served = asyncio.create_task(listing())
    await settle()
    queued = asyncio.create_task(listing())
    await settle()
    clock.now += 40  # by the admission's clock it has waited longer than the pause
    refused = await asyncio.wait_for(queued, 5)  # refused after its wait, not 30 s later
    assert refused[0]["status"] == 503
    assert (b"retry-after", b"1") in refused[0]["headers"]
    release.set()
    assert (await served)[0]["status"] == 200
