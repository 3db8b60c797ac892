"""Overload (admission control): with the upload slots taken and an upload waiting, listings,
the office directory, status and pages are shed with 503 overloaded and Retry-After, an HKP
listing gets HTTP 503 and a soap:Server fault, while uploads and acknowledgements are queued and
served; the probes answer throughout. Small limits make it deterministic: requests are held in
flight by holding back the rest of their bodies."""

from __future__ import annotations

import asyncio
import re
import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from lxml import etree

from gateway.config import Settings
from tests.conftest import FixedClock
from tests.helpers import PDF, Account, new_org, upload, upload_form
from tests.hkp_helpers import NS, document_xml, envelope, read_answer
from tests.hkp_helpers import upload_form as hkp_upload_form
from tests.integration.conftest import Gateway, _start


@pytest.fixture
async def crowded(
    sqlite_template: Path, tmp_path: Path, keys_dir: Path, clock: FixedClock
) -> AsyncIterator[Gateway]:
    # SQLite only: admission sits in front of the database and does not depend on it.
    shutil.copy(sqlite_template, tmp_path / "kapu.db")
    settings = Settings(database_url=f"sqlite+aiosqlite:///{tmp_path / 'kapu.db'}",
                        data_dir=tmp_path / "data", keys_dir=keys_dir, background_jobs=False,
                        admission_deadlines_limit=2, admission_deadlines_queue=3,
                        admission_sheddable_limit=1, admission_sheddable_queue=0,
                        admission_deadlines_wait_seconds=60, overload_retry_after_seconds=7,
                        admission_patience_seconds=0, overload_shed_delay_seconds=0.01)
    async for gateway in _start(settings, clock):
        yield gateway


def gauge(text: str, name: str, priority: str) -> float:
    found = re.search(rf'^{name}{{priority="{priority}"}} ([\d.e+]+)$', text, re.MULTILINE)
    assert found, f"{name} {priority} not in /metrics"
    return float(found.group(1))


async def until_gauge(client: httpx.AsyncClient, name: str, priority: str, value: float) -> None:
    for _ in range(500):
        if gauge((await client.get("/metrics")).text, name, priority) == value:
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"{name}{{{priority}}} never reached {value}")


async def held_upload(gw: Gateway, sender: Account, to: Account,
                      release: asyncio.Event) -> httpx.Response:
    """An upload whose body stops halfway until ``release`` is set: it holds its slot."""
    request = gw.client.build_request("POST", "/api/v1/documents", data=upload_form(to),
                                      files={"file": ("level.pdf", PDF)})
    body = request.read()

    async def chunks() -> AsyncIterator[bytes]:
        yield body[: len(body) // 2]
        await release.wait()
        yield body[len(body) // 2:]

    return await gw.client.post("/api/v1/documents", auth=sender.auth, content=chunks(),
                                headers={"Content-Type": request.headers["Content-Type"]})


def assert_overloaded(response: httpx.Response) -> None:
    assert response.status_code == 503, response.text
    assert response.headers["Retry-After"] == "7"
    assert response.headers["Content-Type"] == "application/problem+json"
    assert response.json()["code"] == "overloaded"


async def test_listings_are_shed_while_uploads_and_acknowledgements_are_kept(
    crowded: Gateway,
) -> None:
    gw = crowded
    sender, office = await new_org(gw.ports), await new_org(gw.ports)
    waiting = (await upload(gw.client, sender, office)).json()["registration_number"]
    shed_before = gauge((await gw.client.get("/metrics")).text,
                        "kapu_admission_shed_total", "sheddable")
    release = asyncio.Event()
    held = [asyncio.create_task(held_upload(gw, sender, office, release)) for _ in range(2)]
    await until_gauge(gw.client, "kapu_admission_in_flight", "deadlines", 2)
    queued_upload = asyncio.create_task(upload(gw.client, sender, office))
    await until_gauge(gw.client, "kapu_admission_queued", "deadlines", 1)

    # Uploads are waiting: everything sheddable is refused at once.
    assert_overloaded(await gw.client.get("/api/v1/mailbox", auth=office.auth))
    assert_overloaded(await gw.client.get("/api/v1/offices", auth=office.auth))
    assert_overloaded(await gw.client.get("/api/v1/status"))
    page = await gw.client.get("/ui/login")
    assert page.status_code == 503
    assert page.headers["Retry-After"] == "7"
    assert "overloaded" in page.text and 'lang="hu"' in page.text
    listing = envelope("HivatalokLekerdezese", "<hkp:GIHivatalokLekerdezeseKerdes/>",
                       username=office.username, password=office.password)
    soap = await gw.client.post("/hkp", content=listing,
                                headers={"Content-Type": "text/xml; charset=utf-8"})
    assert soap.status_code == 503
    assert soap.headers["Retry-After"] == "7"
    fault = etree.fromstring(soap.content)
    assert fault.findtext(".//faultcode") == "soap:Server"
    assert "overloaded" in (fault.findtext(".//faultstring") or "")
    # The probes are never shed.
    for probe in ("/health", "/ready"):
        assert (await gw.client.get(probe)).status_code == 200

    # An acknowledgement and an HKP upload are not shed: they wait in the uploads' queue…
    ack = asyncio.create_task(gw.client.post(f"/api/v1/documents/{waiting}/ack",
                                             auth=office.auth))
    soap_upload = envelope("UjDokumentumokFeltolteseGepiInterfeszAltal", hkp_upload_form(
        document_xml(krid=office.krid, content=PDF, inline=True)),
        username=sender.username, password=sender.password)
    hkp_upload = asyncio.create_task(gw.client.post(
        "/hkp", content=soap_upload, headers={"Content-Type": "text/xml; charset=utf-8"}))
    await until_gauge(gw.client, "kapu_admission_queued", "deadlines", 3)
    # …which is bounded: one more upload finds it full.
    assert_overloaded(await upload(gw.client, sender, office))

    release.set()
    for response in [*(await asyncio.gather(*held)), await queued_upload]:
        assert response.status_code == 201, response.text
    acknowledged = await ack
    assert acknowledged.status_code == 200, acknowledged.text
    assert acknowledged.json()["registration_number"] == waiting
    accepted = read_answer(await hkp_upload)
    assert accepted.status == 200
    assert accepted.root.findtext(".//hkp:ErkeztetesiSzam", namespaces=NS)

    # The load is gone: listings are served again, and /metrics counted what was shed.
    assert (await gw.client.get("/api/v1/mailbox", auth=office.auth)).status_code == 200
    metrics = (await gw.client.get("/metrics")).text
    assert gauge(metrics, "kapu_admission_shed_total", "sheddable") == shed_before + 5
    assert gauge(metrics, "kapu_admission_in_flight", "deadlines") == 0
    assert gauge(metrics, "kapu_admission_queued", "deadlines") == 0
    assert gauge(metrics, "kapu_admission_limit", "deadlines") == 2
