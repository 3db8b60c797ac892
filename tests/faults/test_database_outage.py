"""The database taken away for a few seconds while a real server takes uploads (PostgreSQL:
the test's own database refuses connections and its backends are terminated)."""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import httpx
import pytest

from gateway.storage.database import upgrade
from tests.conftest import ADMIN_DSN
from tests.e2e.conftest import start_server, stop_server
from tests.faults.conftest import SCALE, organisations
from tests.helpers import PDF, upload_form

OUTAGE_SECONDS = 3.0 * SCALE


async def _admin(*statements: str) -> None:
    connection = await asyncpg.connect(ADMIN_DSN, timeout=5)
    try:
        for statement in statements:
            await connection.execute(statement)
    finally:
        await connection.close()


@pytest.fixture
def own_database(postgres_url: str) -> Iterator[tuple[str, str]]:
    """A database of this test alone: taking it away disturbs no other test."""
    name = f"kapu_outage_{secrets.token_hex(4)}"
    asyncio.run(_admin(f'CREATE DATABASE "{name}"'))
    url = f"{postgres_url.rsplit('/', 1)[0]}/{name}"
    try:
        upgrade(url)
        yield url, name
    finally:
        asyncio.run(_admin(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true',
                           f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def _take_away(name: str) -> None:
    asyncio.run(_admin(
        f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS false',
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
        f"WHERE datname = '{name}' AND pid <> pg_backend_pid()"))


def _give_back(name: str) -> None:
    asyncio.run(_admin(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true'))


def _local_port(response: httpx.Response) -> int:
    # The client side of the TCP connection that carried the answer.
    return int(response.extensions["network_stream"].get_extra_info("client_addr")[1])


def test_database_outage_answers_503_and_resumes_on_the_same_connection(
    own_database: tuple[str, str], server_dirs: Path
) -> None:
    url, name = own_database
    data_dir = server_dirs
    sender, office = organisations(url, data_dir, 2)
    server = start_server(url, data_dir)
    accepted: list[str] = []
    statuses: dict[str, list[int]] = {"before": [], "during": [], "after": []}
    try:
        # One connection for everything: a dropped keep-alive shows as a new local port.
        with httpx.Client(base_url=server.url, timeout=30,
                          limits=httpx.Limits(max_connections=1)) as client:
            ports: set[int] = set()

            def send(phase: str, i: int) -> httpx.Response:
                response = client.post(
                    "/api/v1/documents", auth=sender.auth, data=upload_form(office),
                    files={"file": (f"level-{phase}-{i}.pdf", PDF + f"{phase}{i}".encode())})
                statuses[phase].append(response.status_code)
                ports.add(_local_port(response))
                if response.status_code == 201:
                    accepted.append(response.json()["registration_number"])
                return response

            for i in range(3):
                send("before", i)
            assert statuses["before"] == [201] * 3

            _take_away(name)
            taken_at = time.monotonic()
            i = 0
            while time.monotonic() - taken_at < OUTAGE_SECONDS:
                response = send("during", i)
                i += 1
                assert response.status_code == 503, response.text
                assert response.json()["code"] == "unavailable"
                assert response.headers["retry-after"]
            health, ready = client.get("/health"), client.get("/ready")
            assert health.status_code == 200
            assert ready.status_code == 503 and "database" in ready.json()["failing"]
            _give_back(name)

            # Service resumes by itself: no restart, the pool reconnects.
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline:
                if send("after", len(statuses["after"])).status_code == 201:
                    break
                time.sleep(0.2)
            for i in range(3):
                send("after", 100 + i)
            assert client.get("/ready").status_code == 200
            assert len(ports) == 1, f"the keep-alive connection was dropped: {ports}"

            listed = client.get("/api/v1/mailbox", params={"limit": 500}, auth=office.auth)
            numbers = {item["registration_number"] for item in listed.json()["items"]}
    finally:
        stop_server(server)

    assert 500 not in statuses["during"] + statuses["after"]
    assert len(statuses["during"]) >= 3
    assert statuses["after"][-3:] == [201] * 3
    assert numbers == set(accepted), "an upload answered 201 is not listed"
    print(f"outage: {len(statuses['during'])} uploads answered 503, "
          f"{len(accepted)} accepted in all, one keep-alive connection")
