"""Webhooks never reach inside (server-side request forgery): an address inside is refused
when the URL is set and again when connecting, unless KAPU_WEBHOOK_ALLOW_PRIVATE=true."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from sqlalchemy import select

from gateway.services import deadlines
from gateway.services.notifications import DeliveryPolicy, deliver_due
from gateway.storage.tables import parties
from gateway.storage.uow import SqlUnitOfWork
from gateway.webhook_client import HttpxPoster
from tests.helpers import Account, new_org, upload
from tests.integration.conftest import Gateway

REFUSED = [
    "http://127.0.0.1:8080/hook", "http://169.254.169.254/latest/meta-data/",
    "http://[::1]:5432/", "http://0x7f000001/", "http://127.1/", "http://2130706433/",
    "http://0177.0.0.1/", "http://127.0.0.1./", "http://[::ffff:127.0.0.1]/",
    "http://[::ffff:a9fe:a9fe]/", "http://10.0.0.1/", "http://192.168.1.1/",
    "http://172.16.0.1/", "http://0.0.0.0:8080/", "http://224.0.0.1/", "http://[fe80::1]/",
    "http://[fc00::1]/", "http://localhost:8080/hook", "http://LOCALHOST/",
    "https://user:secret@example.hu/hook", "https://user@example.hu/hook",
    "https://:secret@example.hu/hook", "http://example.hu:99999/",
]


class Listener:
    """A real HTTP server on loopback that counts what it is sent."""

    def __init__(self) -> None:
        self.received: list[dict[str, object]] = []
        listener = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers["Content-Length"])
                listener.received.append(json.loads(self.rfile.read(length)))
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


@pytest.fixture
def listener() -> Iterator[Listener]:
    running = Listener()
    yield running
    running.server.shutdown()
    running.server.server_close()


@pytest.mark.parametrize("url", REFUSED)
async def test_a_webhook_inside_or_with_credentials_is_refused(gw: Gateway, url: str) -> None:
    """Was: 200 for every one of them."""
    office = await new_org(gw.ports)
    kept = "https://93.184.215.14/kapu-hook"  # a public address: accepted
    assert (await gw.client.put("/api/v1/webhook", json={"url": kept},
                                auth=office.auth)).status_code == 200
    refused = await gw.client.put("/api/v1/webhook", json={"url": url}, auth=office.auth)
    assert refused.status_code == 422, url
    assert (refused.json()["code"], refused.json()["field"]) == ("invalid_request", "url")
    assert await _webhook_of(gw, office.username) == kept  # the refused URL left nothing behind


async def test_a_name_that_does_not_resolve_now_is_accepted(gw: Gateway) -> None:
    office = await new_org(gw.ports)
    response = await gw.client.put("/api/v1/webhook", json={"url": "https://kapu-hook.invalid/x"},
                                   auth=office.auth)
    assert response.status_code == 200


async def _webhook_of(gw: Gateway, username: str) -> str | None:
    async with gw.ports.uow() as uow:
        assert isinstance(uow, SqlUnitOfWork)
        return (await uow._connection.execute(  # type: ignore[union-attr]
            select(parties.c.webhook_url).where(parties.c.username == username))).scalar_one()


async def _notified_office_with_webhook(gw: Gateway, url: str) -> Account:
    """An office with one mailbox_warning due and ``url`` stored as its webhook as it is (as
    if its name had pointed outside when it was set)."""
    sender, office = await new_org(gw.ports), await new_org(gw.ports)
    async with gw.ports.write_uow() as uow:
        party = await uow.parties.by_username(office.username)
        assert party is not None
        await uow.parties.set_webhook(party.id, url)
        await uow.commit()
    await upload(gw.client, sender, office)
    gw.clock.advance(days=10)
    await deadlines.run_due(gw.ports)
    return office


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "0x7f000001", "[::ffff:127.0.0.1]"])
async def test_the_connection_refuses_an_address_inside(
    gw: Gateway, listener: Listener, host: str
) -> None:
    """A URL that got past registration (a name resolving elsewhere later: DNS rebinding)
    reaches nothing inside: the listener receives nothing, the attempt is a failure. Was: the
    worker POSTed to the loopback listener."""
    office = await _notified_office_with_webhook(gw, f"http://{host}:{listener.port}/hook")
    poster = HttpxPoster(timeout=2)
    try:
        assert await deliver_due(gw.ports, poster, DeliveryPolicy(3, 60)) == 0
    finally:
        await poster.close()
    assert listener.received == []
    (notice,) = (await gw.client.get("/api/v1/notifications", auth=office.auth)).json()["items"]
    assert (notice["state"], notice["attempts"]) == ("pending", 1)


async def test_the_development_switch_lets_webhooks_reach_loopback(
    gw: Gateway, listener: Listener
) -> None:
    office = await _notified_office_with_webhook(gw, f"http://localhost:{listener.port}/hook")
    poster = HttpxPoster(timeout=2, allow_private=True)
    try:
        assert await deliver_due(gw.ports, poster, DeliveryPolicy(3, 60)) == 1
    finally:
        await poster.close()
    assert [body["kind"] for body in listener.received] == ["mailbox_warning"]
    (notice,) = (await gw.client.get("/api/v1/notifications", auth=office.auth)).json()["items"]
    assert notice["state"] == "delivered"
