"""Units of work that only read run in autocommit on PostgreSQL (no BEGIN and ROLLBACK round
trips around every listing); writing ones keep their transaction, and SQLite keeps both. A
listing's page shares one object per party it names, each document keeping its own."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import text

from gateway.domain.parties import PartyKind
from gateway.storage.database import create_engine, reading_engine
from tests.helpers import new_org, upload
from tests.integration.conftest import Gateway


async def _now_twice(engine_url: str, *, reading: bool) -> tuple[object, object]:
    engine = create_engine(engine_url)
    try:
        used = reading_engine(engine) if reading else engine
        async with used.connect() as connection, connection.begin():
            first = await connection.scalar(text("SELECT now()"))
            await connection.execute(text("SELECT pg_sleep(0.02)"))
            second = await connection.scalar(text("SELECT now()"))
        return first, second
    finally:
        await engine.dispose()


async def test_a_reading_unit_on_postgresql_runs_each_statement_on_its_own(
        postgres_url: str) -> None:
    # now() is the transaction's start: the same for both statements inside one transaction.
    first, second = await _now_twice(postgres_url, reading=True)
    assert second > first  # type: ignore[operator]
    first, second = await _now_twice(postgres_url, reading=False)
    assert second == first


async def test_sqlite_keeps_its_read_transactions(tmp_path: Path) -> None:
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'kapu.db'}")
    try:
        assert reading_engine(engine) is engine
    finally:
        await engine.dispose()


async def test_a_page_names_each_documents_own_parties(gw: Gateway) -> None:
    # A page makes one party object per party it names (storage) and one view per party
    # (REST): interleaved senders of different kinds must still each keep their own.
    office = await new_org(gw.ports, name="Címzett Hivatal")
    senders = [await new_org(gw.ports, name="Első Hivatal"),
               await new_org(gw.ports, PartyKind.CEG, name="Második Cég"),
               await new_org(gw.ports, name="Harmadik Hivatal")]
    sent = []
    for round_number in range(3):
        for sender in senders:
            answer = await upload(gw.client, sender, office, file_name=f"l{round_number}.pdf")
            assert answer.status_code == 201, answer.text
            sent.append((answer.json()["registration_number"], sender))

    page = (await gw.client.get("/api/v1/mailbox?limit=50", auth=office.auth)).json()

    assert [item["registration_number"] for item in page["items"]] == [n for n, _ in sent]
    kinds = {senders[0].krid: "hivatali", senders[1].krid: "ceg",
             senders[2].krid: "hivatali"}
    for item, (_, sender) in zip(page["items"], sent, strict=True):
        assert item["sender"]["krid"] == sender.krid
        assert item["sender"]["kind"] == kinds[sender.krid]
        assert item["recipient"]["krid"] == office.krid
        assert item["recipient"]["name"] == "Címzett Hivatal"
    assert {item["sender"]["name"] for item in page["items"]} == {
        "Első Hivatal", "Második Cég", "Harmadik Hivatal"}
