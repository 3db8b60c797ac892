"""Readiness, metrics, request logs and status (docs/rest-api.md, Operations)."""

from __future__ import annotations

import asyncio
import json
import secrets
import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from pydantic import SecretStr

from gateway.app import create_app
from gateway.config import Settings
from gateway.services import operations
from gateway.storage.database import upgrade
from tests.conftest import ADMIN_DSN, FixedClock
from tests.helpers import PDF, new_org, upload
from tests.hkp_helpers import envelope
from tests.integration.conftest import Gateway, _start


async def test_ready_names_a_failing_blob_store(gw: Gateway,
                                               caplog: pytest.LogCaptureFixture) -> None:
    """Also: was the OS's error text ("[Errno 20] Not a directory: '/srv/…/probe-…'"), a
    server path, on the public /ready and /api/v1/status."""
    assert (await gw.client.get("/ready")).json()["status"] == "ok"
    shutil.rmtree(gw.blob_root / "tmp")
    (gw.blob_root / "tmp").write_text("not a directory any more")
    failing = await gw.client.get("/ready")
    assert failing.status_code == 503
    assert failing.json()["failing"] == {"blob_store": "not answering"}
    status = await gw.client.get("/api/v1/status")
    assert status.json()["checks"] == {"database": "ok", "blob_store": "not answering"}
    for public in (failing, status, await gw.client.get("/status")):
        assert str(gw.blob_root) not in public.text and "Errno" not in public.text
    assert "Not a directory" in caplog.text  # the detail is for the operator's log
    assert (await gw.client.get("/health")).status_code == 200
    (gw.blob_root / "tmp").unlink()
    (gw.blob_root / "tmp").mkdir()
    assert (await gw.client.get("/ready")).status_code == 200


async def _admin(statement: str) -> None:
    connection = await asyncpg.connect(ADMIN_DSN, timeout=5)
    try:
        await connection.execute(statement)
    finally:
        await connection.close()


@pytest.fixture
async def own_database(postgres_url: str) -> AsyncIterator[str]:
    """A database of this test's own, which it may take away."""
    name = f"kapu_ready_{secrets.token_hex(4)}"
    await _admin(f'CREATE DATABASE "{name}"')
    url = postgres_url.rsplit("/", 1)[0] + f"/{name}"
    await asyncio.to_thread(upgrade, url)
    yield url
    await _admin(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true')
    await _admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


async def test_ready_follows_the_database_away_and_back(
    own_database: str, tmp_path: Path, keys_dir: Path
) -> None:
    name = own_database.rsplit("/", 1)[1]
    app = create_app(Settings(database_url=own_database, data_dir=tmp_path, keys_dir=keys_dir,
                              background_jobs=False))
    async with app.router.lifespan_context(app), httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://kapu.test"
    ) as client:
        assert (await client.get("/ready")).status_code == 200
        await _admin(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS false')
        await _admin("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                     f"WHERE datname = '{name}'")
        away = await client.get("/ready")
        assert away.status_code == 503
        assert set(away.json()["failing"]) == {"database"}
        assert (await client.get("/health")).status_code == 200
        await _admin(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true')
        statuses = []
        for _ in range(20):  # the pool notices the dead connections and makes new ones
            statuses.append((await client.get("/ready")).status_code)
            if statuses[-1] == 200:
                break
            await asyncio.sleep(0.25)
        assert statuses[-1] == 200, statuses


def _samples(text: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    return {(sample.name, frozenset(sample.labels.items())): sample.value
            for family in text_string_to_metric_families(text) for sample in family.samples}


async def test_metrics_behind_a_bearer_token_when_one_is_set(
    settings: Settings, clock: FixedClock
) -> None:
    token = secrets.token_urlsafe(24)
    async for gw in _start(settings.model_copy(update={"metrics_token": SecretStr(token)}),
                           clock):
        for refused in ({}, {"Authorization": "Bearer wrong"},
                        {"Authorization": f"Basic {token}"}, {"Authorization": "Bearer "}):
            answer = await gw.client.get("/metrics", headers=refused)
            assert answer.status_code == 401, refused
            assert answer.headers["www-authenticate"].startswith("Bearer")
            assert "kapu_" not in answer.text
        scraped = await gw.client.get("/metrics", headers={"Authorization": f"Bearer {token}"})
        assert scraped.status_code == 200 and "kapu_" in scraped.text
        assert (await gw.client.get("/ready")).status_code == 200  # still public


async def test_metrics_parse_and_move_with_traffic(gw: Gateway) -> None:
    sender, office = await new_org(gw.ports), await new_org(gw.ports)
    before = _samples((await gw.client.get("/metrics")).text)
    await upload(gw.client, sender, office)
    await upload(gw.client, sender, office, b"no pdf", "x.pdf")
    await gw.client.get("/api/v1/mailbox", auth=office.auth)
    await gw.client.post("/hkp", headers={"Content-Type": "text/xml"}, content=envelope(
        "GIPostaFiokLekerdezes", "<hkp:GIPostaFiokAdatokLekerdezeseKerdes/>",
        username=office.username, password=office.password))
    after = _samples((await gw.client.get("/metrics")).text)

    def moved(name: str, **labels: str) -> float:
        key = (name, frozenset(labels.items()))
        return after.get(key, 0.0) - before.get(key, 0.0)

    assert moved("kapu_documents_accepted_total") == 1
    assert moved("kapu_documents_refused_total", code="format_mismatch") == 1
    assert moved("kapu_http_requests_total", method="POST", route="/api/v1/documents",
                 status="201") == 1
    assert moved("kapu_http_requests_total", method="GET", route="/api/v1/mailbox",
                 status="200") == 1
    assert moved("kapu_hkp_requests_total", operation="GIPostaFiokLekerdezes",
                 outcome="ok") == 1
    assert moved("kapu_http_request_duration_seconds_count", method="GET",
                 route="/api/v1/mailbox") == 1


async def test_log_lines_carry_the_request_id_and_no_secret(
    gw: Gateway, capsys: pytest.CaptureFixture[str]
) -> None:
    sender, office = await new_org(gw.ports), await new_org(gw.ports)
    marker = f"TITKOS-TARTALOM-{secrets.token_hex(8)}".encode()
    capsys.readouterr()
    answer = await upload(gw.client, sender, office, PDF + marker,
                          headers={"X-Request-ID": "dms-req-4711"})
    assert answer.headers["x-request-id"] == "dms-req-4711"
    made = await gw.client.get("/api/v1/mailbox", auth=office.auth)
    assert len(made.headers["x-request-id"]) == 32
    fault = await gw.client.post("/hkp", content=b"<not-soap", headers={
        "Content-Type": "text/xml", "X-Request-ID": "soap-fault-1"})
    assert fault.status_code == 400
    await gw.client.post("/hkp", headers={"Content-Type": "text/xml"}, content=envelope(
        "GIPostaFiokLekerdezes", "<hkp:GIPostaFiokAdatokLekerdezeseKerdes/>",
        username=office.username, password=office.password))
    captured = capsys.readouterr()
    output = captured.out + captured.err
    lines = [json.loads(line) for line in captured.out.splitlines() if line.startswith("{")]
    upload_line = next(line for line in lines if line.get("request_id") == "dms-req-4711")
    assert upload_line["route"] == "/api/v1/documents" and upload_line["status"] == 201
    assert upload_line["party"] == sender.username
    fault_lines = [line for line in lines if line.get("request_id") == "soap-fault-1"]
    assert {line["event"] for line in fault_lines} == {"soap_fault", "request"}
    assert any(line.get("operation") == "GIPostaFiokLekerdezes" for line in lines)
    for secret in (sender.password, office.password, marker.decode(),
                   "Basic ", "wsse:Password"):
        assert secret not in output


async def test_status_json(gw: Gateway) -> None:
    status = (await gw.client.get("/api/v1/status")).json()
    assert status["status"] == "ok"
    assert status["checks"] == {"database": "ok", "blob_store": "ok"}
    assert status["availability"]["target_percent"] == 99.5
    assert status["availability"]["month"] == "2026-11"


async def test_status_json_names_what_an_open_incident_affects(gw: Gateway) -> None:
    incident = await operations.open_incident(gw.ports, "Lassú HKP", True, "HKP letöltés")
    try:
        status = (await gw.client.get("/api/v1/status")).json()
        shown = next(i for i in status["open_incidents"] if i["id"] == incident.id)
        assert shown["affected"] == "HKP letöltés" and shown["outage"] is True
        assert shown["opened_at"] == "2026-11-24T09:30:00+01:00"
    finally:
        await operations.close_incident(gw.ports, incident.id)
