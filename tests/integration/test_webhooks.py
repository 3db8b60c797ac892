"""Notifications reach a party's webhook, with retries and back-off, exactly once. The
receivers listen on loopback, so these gateways allow private addresses
(``test_webhook_addresses.py`` checks the refusal)."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from gateway.config import Settings
from gateway.services import deadlines
from gateway.services.notifications import DeliveryPolicy, deliver_due
from gateway.webhook_client import HttpxPoster
from tests.helpers import new_org, upload
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

