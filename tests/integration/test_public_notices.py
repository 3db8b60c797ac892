"""Hirdetmények through the REST door and the services, on both databases and the test clock:
publishing, the portal's taking it at once, display periods, corrections, refusals, search."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from gateway.config import Settings
from gateway.domain.parties import Party
from gateway.domain.public_notices import NoticeQuery
from gateway.domain.registration import sequence_of
from gateway.services import public_notices
from gateway.storage.database import upgrade
from gateway.wiring import build_runtime
from tests.conftest import ADMIN_DSN, _admin
from tests.helpers import new_org
from tests.integration.conftest import Gateway
from tests.notices import notice_xml, publish


async def _listed(gw: Gateway, krid: str, **query: object) -> list[str]:
    page = await public_notices.search(gw.ports, NoticeQuery(office_krid=krid, **query))
    return [item.form.identifier for item in page.items]


async def test_a_notice_is_shown_from_its_start_until_its_end(gw: Gateway) -> None:
    office = await new_org(gw.ports)
    start = gw.clock.now() + timedelta(hours=2)
    sent = await publish(gw.client, office, notice_xml(start))
    assert sent.status_code == 201, sent.text
    number = sent.json()["registration_number"]
    # The portal took it at once: the office has its download receipt already.
    receipt = await gw.client.get(f"/api/v1/documents/{number}/receipts/download",
                                  auth=office.auth)
    assert receipt.status_code == 200, receipt.text
    assert await _listed(gw, office.krid or "") == []
    gw.clock.advance(hours=2)
    assert await _listed(gw, office.krid or "") == ["H-1"]
    [item] = (await public_notices.search(gw.ports, NoticeQuery(office_krid=office.krid))).items
    gw.clock.advance(days=30)
    assert await _listed(gw, office.krid or "") == []
    shown = await public_notices.notice(gw.ports, item.id)
    assert shown.form.subject == "Árvízvédelmi gát építése"
    assert [v.registration_number for v in shown.versions] == [number]


async def test_a_correction_replaces_the_content_and_keeps_the_versions(gw: Gateway) -> None:
    office, other = await new_org(gw.ports), await new_org(gw.ports)
    now = gw.clock.now()
    assert (await publish(gw.client, office, notice_xml(now))).status_code == 201
    gw.clock.advance(hours=1)
    corrected = notice_xml(now, correction=True, text="Javított szöveg.",
                           display_until=now + timedelta(days=60))
    refused = await publish(gw.client, other, corrected)
    assert refused.status_code == 422 and refused.json()["field"] == "Azonosito"
    again = await publish(gw.client, office, notice_xml(now))
    assert again.status_code == 422 and again.json()["field"] == "Azonosito"
    sent = await publish(gw.client, office, corrected)
    assert sent.status_code == 201, sent.text
    [item] = (await public_notices.search(gw.ports, NoticeQuery(office_krid=office.krid))).items
    shown = await public_notices.notice(gw.ports, item.id)
    assert shown.form.text == "Javított szöveg." and shown.modified_at == gw.clock.now()
    assert [v.form.text for v in shown.versions] == [
        "Az árvízvédelmi gát építési engedélyének kérelméről.", "Javított szöveg."]
    # The first form is kept as long as the corrected notice (8 years after its new end).
    async with gw.ports.uow() as uow:
        first = await uow.documents.by_number(shown.versions[0].registration_number)
    assert first is not None and first.valid_until == shown.keep_until
    assert shown.keep_until.year == (now + timedelta(days=60)).year + 8


async def test_an_invalid_form_is_refused_and_takes_no_number(gw: Gateway) -> None:
    office = await new_org(gw.ports)
    now = gw.clock.now()
    form = notice_xml(now)
    without_subject = form.replace("<Targy>Árvízvédelmi gát építése</Targy>".encode(), b"")
    local_time = form.replace(now.isoformat().encode(),
                              now.replace(tzinfo=None).isoformat().encode())
    for broken, element in ((without_subject, "Targy"), (local_time, "MegjelenesKezdete")):
        assert broken != form
        refused = await publish(gw.client, office, broken)
        assert refused.status_code == 422, refused.text
        assert refused.json()["field"] == element, refused.text
    letter = await publish(gw.client, office, notice_xml(now), doc_type_id="LEVEL")
    assert letter.status_code == 422 and letter.json()["code"] == "recipient_unknown"
    assert await _listed(gw, office.krid or "") == []
    sent = await publish(gw.client, office, notice_xml(now, identifier="H-2"))
    first = sent.json()["registration_number"]
    sent = await publish(gw.client, office, notice_xml(now, identifier="H-3"))
    assert sequence_of(sent.json()["registration_number"]) == sequence_of(first) + 1


async def test_search_ignores_case_and_accents_and_reads_each_filter(gw: Gateway) -> None:
    office = await new_org(gw.ports)
    now = gw.clock.now()
    await publish(gw.client, office, notice_xml(now))
    await publish(gw.client, office, notice_xml(now, identifier="H-2", subject="Útfelújítás",
                                                settlement="Budaörs", text="Útépítés."))
    krid = office.krid or ""
    assert await _listed(gw, krid, text="ARVIZ gat") == ["H-1"]
    assert await _listed(gw, krid, text="arviz budaors") == []
    assert sorted(await _listed(gw, krid)) == ["H-1", "H-2"]
    assert await _listed(gw, krid, settlement="budaörs") == ["H-2"]
    assert await _listed(gw, krid, subject="árvíz") == ["H-1"]
    assert sorted(await _listed(gw, krid, case_worker="kovacs", case_number="123-4")) == [
        "H-1", "H-2"]
    assert await _listed(gw, krid, text="utfel") == ["H-2"]  # a word's beginning
    # A page of one by free text (PostgreSQL finds it among the newest notices first), then
    # the rest after its cursor.
    first = await public_notices.search(gw.ports, NoticeQuery(office_krid=krid, text="a",
                                                              limit=1))
    assert [item.form.identifier for item in first.items] == ["H-2"]
    assert first.next_cursor is not None
    assert await _listed(gw, krid, text="a", after=first.next_cursor) == ["H-1"]


async def test_the_portal_exists_once_and_nobody_logs_in_as_it(gw: Gateway) -> None:
    first = await public_notices.ensure_portal(gw.ports)
    again = await public_notices.ensure_portal(gw.ports)
    assert first == again and first.krid == gw.ports.portal_krid
    for password in ("", "!", "x"):
        answer = await gw.client.get("/api/v1/mailbox", auth=(first.username, password))
        assert answer.status_code == 401, password


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A migrated database of this test alone, without the portal every start registers."""
    if request.param == "sqlite":
        url = f"sqlite+aiosqlite:///{tmp_path}/kapu.db"
        upgrade(url)
        yield url
        return
    request.getfixturevalue("postgres_url")  # skipped (or failed in CI) without PostgreSQL
    name = f"kapu_portal_{secrets.token_hex(4)}"
    asyncio.run(_admin(f'CREATE DATABASE "{name}"'))
    base = ADMIN_DSN.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://")
    try:
        upgrade(f"{base}/{name}")
        yield f"{base}/{name}"
    finally:
        asyncio.run(_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def test_two_hosts_starting_together_register_the_portal_once(
    empty_database: str, tmp_path: Path, keys_dir: Path
) -> None:
    """Was: the second host's insert lost the race, and its start failed with a Conflict."""

    async def two_starts() -> list[Party]:
        runtimes = [build_runtime(Settings(database_url=empty_database, data_dir=tmp_path / n,
                                           keys_dir=keys_dir, background_jobs=False))
                    for n in ("a", "b")]
        try:
            return await asyncio.gather(
                *(public_notices.ensure_portal(runtime.ports) for runtime in runtimes))
        finally:
            for runtime in runtimes:
                await runtime.engine.dispose()

    first, second = asyncio.run(two_starts())
    assert first == second and first.short_name == public_notices.PORTAL_SHORT_NAME
