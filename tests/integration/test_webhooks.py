"""Notifications reach a party's webhook, with retries and back-off, exactly once; a slow or
dead endpoint delays no other party and no deadline sweep. The receivers listen on loopback,
so these gateways allow private addresses (``test_webhook_addresses.py`` checks the refusal)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import threading
from collections.abc import Awaitable, Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from gateway.config import Settings
from gateway.services import deadlines
from gateway.services.notifications import (
    DeliveryPolicy,
    SenderLimits,
    WebhookSender,
    deliver_due,
)
from gateway.webhook_client import HttpxPoster
from gateway.worker import run_forever
from tests.helpers import Account, new_org, upload
from tests.integration.conftest import Gateway


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"webhook_allow_private": True})


class Receiver:
    """A real HTTP server on loopback that fails the first ``failures`` POSTs."""

    def __init__(self, failures: int) -> None:
        self.failures = failures
        self.attempts = 0
        self.accepted: list[dict[str, object]] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                receiver.attempts += 1
                if receiver.attempts <= receiver.failures:
                    self.send_response(500)
                else:
                    receiver.accepted.append(body)
                    self.send_response(204)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/kapu-hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    running = Receiver(failures=2)
    yield running
    running.server.shutdown()
    running.server.server_close()


async def test_fails_twice_then_delivers_once(gw: Gateway, receiver: Receiver) -> None:
    sender, office = await new_org(gw.ports), await new_org(gw.ports)
    hooked = await gw.client.put("/api/v1/webhook", json={"url": receiver.url},
                                 auth=office.auth)
    assert hooked.status_code == 200
    number = (await upload(gw.client, sender, office)).json()["registration_number"]
    gw.clock.advance(days=10)  # past the 3rd working day: a mailbox_warning is due
    await deadlines.run_due(gw.ports)

    poster = HttpxPoster(timeout=5, allow_private=True)
    policy = DeliveryPolicy(max_attempts=5, backoff_seconds=60)
    try:
        assert await deliver_due(gw.ports, poster, policy) == 0  # 1st attempt: 500
        assert await deliver_due(gw.ports, poster, policy) == 0  # not due again yet
        gw.clock.advance(seconds=61)
        assert await deliver_due(gw.ports, poster, policy) == 0  # 2nd attempt: 500
        gw.clock.advance(seconds=61)
        assert await deliver_due(gw.ports, poster, policy) == 0  # back-off doubled: 120 s
        gw.clock.advance(seconds=60)
        assert await deliver_due(gw.ports, poster, policy) == 1  # 3rd attempt: delivered
        gw.clock.advance(days=1)
        assert await deliver_due(gw.ports, poster, policy) == 0
    finally:
        await poster.close()

    assert receiver.attempts == 3
    (delivered,) = receiver.accepted
    assert delivered["kind"] == "mailbox_warning"
    assert delivered["registration_number"] == number
    listed = (await gw.client.get("/api/v1/notifications", auth=office.auth)).json()["items"]
    assert [(n["kind"], n["state"], n["attempts"]) for n in listed] == \
        [("mailbox_warning", "delivered", 3)]


async def test_gives_up_into_the_dead_letter_state(gw: Gateway) -> None:
    sender, office = await new_org(gw.ports), await new_org(gw.ports)
    # Nothing listens on port 9: every attempt fails.
    await gw.client.put("/api/v1/webhook", json={"url": "http://127.0.0.1:9/x"},
                        auth=office.auth)
    await upload(gw.client, sender, office)
    gw.clock.advance(days=10)
    await deadlines.run_due(gw.ports)
    poster = HttpxPoster(timeout=2, allow_private=True)
    policy = DeliveryPolicy(max_attempts=3, backoff_seconds=1)
    try:
        for _ in range(5):
            await deliver_due(gw.ports, poster, policy)
            gw.clock.advance(seconds=10)
    finally:
        await poster.close()
    (notice,) = (await gw.client.get("/api/v1/notifications", auth=office.auth)).json()["items"]
    assert (notice["state"], notice["attempts"]) == ("dead", 3)


@pytest.mark.parametrize("url", ["ftp://example.hu/x", "not a url", "http:///nohost"])
async def test_webhook_must_be_http(gw: Gateway, url: str) -> None:
    office = await new_org(gw.ports)
    refused = await gw.client.put("/api/v1/webhook", json={"url": url}, auth=office.auth)
    assert refused.status_code == 422


@pytest.fixture
def hanging_url() -> Iterator[str]:
    """A loopback endpoint that accepts connections and never answers (the kernel accepts
    them into the listening socket's backlog; nobody reads)."""
    with socket.socket() as hanging:
        hanging.bind(("127.0.0.1", 0))
        hanging.listen(16)
        yield f"http://127.0.0.1:{hanging.getsockname()[1]}/hangs"


async def _wait_for(condition: Callable[[], Awaitable[bool]], seconds: float) -> float:
    """How long until ``condition`` held (fails after ``seconds``)."""
    loop = asyncio.get_running_loop()
    start = loop.time()
    while not await condition():
        assert loop.time() - start < seconds, "not within the time"
        await asyncio.sleep(0.02)
    return loop.time() - start


async def _states(gw: Gateway, party: Account) -> list[tuple[str, str, int]]:
    listed = (await gw.client.get("/api/v1/notifications", auth=party.auth)).json()["items"]
    return [(n["kind"], n["state"], n["attempts"]) for n in listed]


async def test_a_hanging_endpoint_delays_no_other_party_nor_the_deadline_sweeps(
    gw: Gateway, hanging_url: str
) -> None:
    """Was: one delivery at a time in the loop of the deadline sweeps, so party B's
    notification waited out party A's 5 s timeout, and so did the sweeps."""
    answering = Receiver(failures=0)
    sender, hung, other = (await new_org(gw.ports), await new_org(gw.ports),
                           await new_org(gw.ports))
    for office, url in ((hung, hanging_url), (other, answering.url)):
        assert (await gw.client.put("/api/v1/webhook", json={"url": url},
                                    auth=office.auth)).status_code == 200
    await upload(gw.client, sender, hung)  # the hanging party's notification comes first
    await upload(gw.client, sender, other)
    gw.clock.advance(days=10)
    await deadlines.run_due(gw.ports)

    # The hanging delivery's timeout outlasts the test: every delivery to the other party
    # below happens while it is still in flight, which the hanging party's untouched state
    # (pending, no attempt) shows without timing anything.
    poster = HttpxPoster(timeout=60, allow_private=True)
    jobs = asyncio.create_task(run_forever(gw.ports, poster, DeliveryPolicy(), interval=0.05))
    try:
        async def other_notified(count: int) -> bool:
            states = await _states(gw, other)
            return states.count(("mailbox_warning", "delivered", 1)) == count

        await _wait_for(lambda: other_notified(1), seconds=30)
        # Meanwhile the hanging delivery is in flight, leased: another process (a second
        # sender) does not deliver it again.
        assert await _states(gw, hung) == [("mailbox_warning", "pending", 0)]
        assert await WebhookSender(gw.ports, poster, DeliveryPolicy()).start_due() == []
        # The deadline sweep runs while it hangs: a new document's warning is made and sent.
        await upload(gw.client, sender, other)
        gw.clock.advance(days=10)
        await _wait_for(lambda: other_notified(2), seconds=30)
        assert len(answering.accepted) == 2
        assert await _states(gw, hung) == [("mailbox_warning", "pending", 0)]
    finally:
        jobs.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await jobs
        await poster.close()
        answering.server.shutdown()
        answering.server.server_close()


async def test_a_failing_endpoint_is_left_alone_for_a_while_without_dead_letters(
    gw: Gateway,
) -> None:
    """After ``breaker_failures`` failures in a row the party's endpoint is skipped for
    ``breaker_seconds``: its other notifications keep their attempts (none goes dead)."""
    sender, office = await new_org(gw.ports), await new_org(gw.ports)
    await gw.client.put("/api/v1/webhook", json={"url": "http://127.0.0.1:9/x"},
                        auth=office.auth)  # nothing listens on port 9
    for _ in range(4):
        await upload(gw.client, sender, office)
    gw.clock.advance(days=10)
    await deadlines.run_due(gw.ports)
    poster = HttpxPoster(timeout=2, allow_private=True)
    webhooks = WebhookSender(gw.ports, poster, DeliveryPolicy(max_attempts=3, backoff_seconds=1),
                             SenderLimits(breaker_failures=2, breaker_seconds=600))
    warning = "mailbox_warning"
    try:
        assert await webhooks.deliver_all_due() == 0
        assert await _states(gw, office) == [(warning, "pending", 1)] * 2 + \
            [(warning, "pending", 0)] * 2
        gw.clock.advance(seconds=300)  # past the back-off, not past the breaker
        assert await webhooks.deliver_all_due() == 0
        assert await _states(gw, office) == [(warning, "pending", 1)] * 2 + \
            [(warning, "pending", 0)] * 2
        gw.clock.advance(seconds=301)  # the breaker lets one through; it fails: open again
        assert await webhooks.deliver_all_due() == 0
        assert await _states(gw, office) == [(warning, "pending", 2)] + \
            [(warning, "pending", 1)] + [(warning, "pending", 0)] * 2
    finally:
        await poster.close()
