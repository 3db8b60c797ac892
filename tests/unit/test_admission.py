"""Admission control's slots and queues, without HTTP (ops/admission.py)."""

from __future__ import annotations

import asyncio

import pytest

from gateway.errors import Overloaded
from gateway.ops.admission import Admission, Limits, Priority, hkp_priority, rest_priority


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
