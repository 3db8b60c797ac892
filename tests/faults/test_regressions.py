"""Defects found on 2026-12-01 (issue 13), each with the test that failed before its fix."""

from __future__ import annotations

import asyncio
import shutil
import sqlite3
from pathlib import Path

import httpx
import pytest
from sqlalchemy import exc as sa_exc
from sqlalchemy.ext.asyncio import create_async_engine

from gateway.app import create_app
from gateway.config import Settings
from gateway.errors import Unavailable
from gateway.services.ports.parties import OfficeQuery
from gateway.storage.uow import SqlUnitOfWork
from tests.conftest import TEST_EPOCH, FixedClock
from tests.helpers import new_org, upload
from tests.hkp_helpers import NS, envelope, read_answer
from tests.integration.conftest import Gateway

RACERS = 12


async def _acknowledge_all(gw: Gateway, office_auth: tuple[str, str], number: str) -> list[int]:
    answers = await asyncio.gather(*[
        gw.client.post(f"/api/v1/documents/{number}/ack", auth=office_auth)
        for _ in range(RACERS)])
    return [a.status_code for a in answers]


async def test_racing_acknowledgements_all_answer_200_with_one_receipt(gw: Gateway) -> None:
    """Was: on PostgreSQL one 200, the others 500 (unique violation on the receipt)."""
    sender, office = await new_org(gw.ports), await new_org(gw.ports)
    number = (await upload(gw.client, sender, office, return_receipt="true")
              ).json()["registration_number"]

    assert await _acknowledge_all(gw, office.auth, number) == [200] * RACERS

    receipts = (await gw.client.get(f"/api/v1/documents/{number}/receipts",
                                    auth=sender.auth)).json()["items"]
    assert [r["kind"] for r in receipts] == ["acceptance", "download"]
    # The ETertiveveny travels once: one system message in the sender's mailbox.
    messages = (await gw.client.get("/api/v1/mailbox", auth=sender.auth)).json()["items"]
    assert len(messages) == 1 and messages[0]["system_message"]
    shown = (await gw.client.get(f"/api/v1/documents/{number}", auth=office.auth)).json()
    assert shown["delivery_state"] == "downloaded"


async def test_racing_hkp_acknowledgement_batches_answer_every_item(gw: Gateway) -> None:
    """Was: one racing item turned a whole SikeresDokumentumokOlvasas into HibaUzenet 50."""
    sender, office = await new_org(gw.ports), await new_org(gw.ports)
    numbers = [(await upload(gw.client, sender, office)).json()["registration_number"]
               for _ in range(3)]
    items = "".join(
        f"<hkp:VisszaigazolasAdatok><hkp:ErkeztetesiSzam>{n}</hkp:ErkeztetesiSzam>"
        "<hkp:Sikeres>true</hkp:Sikeres></hkp:VisszaigazolasAdatok>" for n in numbers)
    body = envelope("SikeresDokumentumokOlvasas",
                    f"<hkp:OlvasasVisszaigazolas>{items}</hkp:OlvasasVisszaigazolas>",
                    username=office.username, password=office.password)
    responses = await asyncio.gather(*[
        gw.client.post("/hkp", content=body, headers={"Content-Type": "text/xml"})
        for _ in range(6)])
    for response in responses:
        answer = read_answer(response)
        assert answer.hiba is None
        codes = [a.findtext("hkp:Uzenet/hkp:Szam", namespaces=NS)
                 for a in answer.form.findall("hkp:VisszaIgazolasValasz", NS)]
        assert codes == ["0", "0", "0"]
    for number in numbers:
        receipts = (await gw.client.get(f"/api/v1/documents/{number}/receipts",
                                        auth=sender.auth)).json()["items"]
        assert [r["kind"] for r in receipts] == ["acceptance", "download"]


async def test_notifications_after_outside_64_bits_is_refused(gw: Gateway) -> None:
    """Was: 500 (the number overflowed the database's integer)."""
    office = await new_org(gw.ports)
    for query in ("after=9223372036854775808", "after=-1", "after=" + "9" * 30):
        response = await gw.client.get(f"/api/v1/notifications?{query}", auth=office.auth)
        assert response.status_code == 422, query
        assert response.json()["code"] == "invalid_request"
        assert response.json()["field"] == "query.after"
    edge = await gw.client.get("/api/v1/notifications?after=9223372036854775807",
                               auth=office.auth)
    assert edge.status_code == 200 and edge.json()["items"] == []


async def test_outage_certificate_number_outside_64_bits_is_refused(gw: Gateway) -> None:
    """Was: 500 on SQLite (found by the REST fuzzer, 2026-12-04: incident 235843676056430739456)."""
    for incident in ("235843676056430739456", "9223372036854775808", "0", "-1"):
        response = await gw.client.get(f"/api/v1/status/incidents/{incident}/certificate")
        assert response.status_code == 422, incident
        assert response.json()["code"] == "invalid_request"
        assert response.json()["field"] == "path.incident_id"
    edge = await gw.client.get("/api/v1/status/incidents/9223372036854775807/certificate")
    assert edge.status_code == 404 and edge.json()["code"] == "not_found"


async def test_mailbox_cursor_outside_64_bits_is_refused(gw: Gateway) -> None:
    import base64

    office = await new_org(gw.ports)
    for payload in (b"d" + b"9" * 30, "d²".encode()):
        cursor = base64.urlsafe_b64encode(payload).decode().rstrip("=")
        response = await gw.client.get(f"/api/v1/mailbox?cursor={cursor}", auth=office.auth)
        assert response.status_code == 422, payload
        assert response.json()["field"] == "cursor"


async def test_long_office_name_filter_is_refused_not_an_outage(gw: Gateway) -> None:
    """Was: 503 unavailable (SQLite's "LIKE pattern too complex" taken for an outage)."""
    office = await new_org(gw.ports)
    for field in ("name", "short_name", "krid"):
        response = await gw.client.get("/api/v1/offices", params={field: "a" * 60_000},
                                       auth=office.auth)
        assert response.status_code == 422, field
        assert response.json()["code"] == "invalid_request"
        assert response.json()["field"] == field
    fits = await gw.client.get("/api/v1/offices", params={"name": "a" * 255}, auth=office.auth)
    assert fits.status_code == 200 and fits.json()["items"] == []


async def test_long_hkp_name_filter_is_a_schema_error_naming_the_element(gw: Gateway) -> None:
    """Was: HibaUzenet 50."""
    office = await new_org(gw.ports)
    body = envelope("HivatalokLekerdezese",
                    f"<hkp:GIHivatalokLekerdezeseKerdes><hkp:NevSzures>{'á' * 50_000}"
                    "</hkp:NevSzures></hkp:GIHivatalokLekerdezeseKerdes>",
                    username=office.username, password=office.password)
    answer = read_answer(await gw.client.post("/hkp", content=body,
                                              headers={"Content-Type": "text/xml"}))
    assert answer.hiba is not None
    szam, text = answer.hiba
    assert szam == 20 and "NevSzures" in text


async def test_a_query_error_is_not_reported_as_an_outage(
    gw: Gateway, database_url: str
) -> None:
    """Below the service's bound, straight at the repository: the database's refusal of the
    statement stays a statement error (a 500 if it ever reached a door), never Unavailable."""
    await new_org(gw.ports)  # a row for the LIKE to be tried on
    refused: BaseException | None = None
    try:
        async with gw.ports.uow() as uow:
            await uow.parties.offices(OfficeQuery(name="%_" * 40_000))
    except (Unavailable, sa_exc.DBAPIError) as exc:
        refused = exc
    assert not isinstance(refused, Unavailable), "a query error was reported as an outage"
    if database_url.startswith("sqlite"):
        assert "LIKE or GLOB pattern too complex" in str(refused)


async def test_a_locked_sqlite_database_is_an_outage(tmp_path: Path, sqlite_template: Path) -> None:
    """The other side of the line: another process holding SQLite's write lock past the busy
    timeout is worth retrying (Unavailable), unlike the statement errors above."""
    path = tmp_path / "kapu.db"
    shutil.copy(sqlite_template, path)
    engine = create_async_engine(f"sqlite+aiosqlite:///{path}", connect_args={"timeout": 0.1})
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    try:
        with pytest.raises(Unavailable):
            async with SqlUnitOfWork(engine, write=False) as uow:
                await uow.operations.add_probe(TEST_EPOCH, True, None)
                await uow.commit()
    finally:
        holder.rollback()
        holder.close()
        await engine.dispose()


async def test_web_pages_bound_their_numbers_and_searches(gw: Gateway) -> None:
    """The office log's ``before`` past 64 bits or in non-ASCII digits (was: 500), the mailbox
    page's ``limit`` likewise, and an office search longer than any name (was: a problem+json
    page) on the send form."""
    from gateway.domain.parties import StaffRole
    from tests.integration.test_web import _staffed_office, log_in

    office, admin = await _staffed_office(gw, StaffRole.ADMIN)
    await log_in(gw.client, admin)
    for before in ("9" * 30, "9223372036854775808", "²", "-1"):
        page = await gw.client.get(f"/ui/offices/{office.krid}/log?before={before}")
        assert page.status_code == 200, before
    for limit in ("9" * 30, "²"):
        page = await gw.client.get(f"/ui/mailbox/{office.krid}?limit={limit}")
        assert page.status_code == 200, limit
    send = await gw.client.get(f"/ui/send?box={office.krid}&office_q={'a' * 60_000}")
    assert send.status_code == 200
    assert "text/html" in send.headers["content-type"]


async def test_an_unexpected_error_ends_with_its_answer(
    settings: Settings, clock: FixedClock
) -> None:
    """Was: Starlette answered 500 and re-raised, and the server dropped the keep-alive
    connection, so the client's next request on it got no answer. Now the error ends with the
    answer (over ASGI: nothing is raised to the server)."""
    app = create_app(settings, clock=clock)

    async def boom() -> None:
        raise RuntimeError("a defect")

    app.add_api_route("/boom", boom)
    async with app.router.lifespan_context(app), httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://kapu.test") as client:
        response = await client.get("/boom")
        assert response.status_code == 500
        assert response.json()["code"] == "internal_error"
        assert "a defect" not in response.text
        assert (await client.get("/health")).status_code == 200
