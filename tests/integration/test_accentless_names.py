"""Office name search ignores accents (and case): ``tura`` finds "Túra Hivatal" on REST,
HKP's HivatalokLekerdezese and the web's send form; migration 0016 refolds the names that
were stored before. Was: only ``túra`` found it."""

from __future__ import annotations

import asyncio
import secrets
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic import command
from sqlalchemy.ext.asyncio import create_async_engine

from gateway.domain.parties import PartyKind, StaffRole, fold_name
from gateway.services import staff
from gateway.storage.database import alembic_config
from gateway.storage.tables import UTCDateTime
from tests.conftest import ADMIN_DSN, TEST_EPOCH, _admin
from tests.helpers import Account, new_citizen, new_org, upload
from tests.hkp_helpers import NS
from tests.integration.conftest import Gateway
from tests.integration.test_hkp import call
from tests.integration.test_web import log_in


def test_fold_name_drops_case_and_accents() -> None:
    assert fold_name("Túra Hivatal") == fold_name("tura hivatal") == "tura hivatal"
    assert fold_name("ÉPÍTŐ CÉG Kft.") == "epito ceg kft."
    assert fold_name("Őrség Ügyfélszolgálat") == "orseg ugyfelszolgalat"
    assert fold_name("Straße") == "strasse" and fold_name("ﬁnom") == "finom"


async def _tura(gw: Gateway) -> tuple[Account, str]:
    # A word of this test's own: on PostgreSQL the session's tests share one database.
    word = f"túrakő{secrets.token_hex(3)}"
    office = await new_org(gw.ports, name=f"{word.capitalize()} Hivatal")
    return office, word


async def test_rest_finds_an_office_without_its_accents(gw: Gateway) -> None:
    office, word = await _tura(gw)
    company = await new_org(gw.ports, kind=PartyKind.CEG, name=f"{word.upper()} Kft.")
    for needle in (word, word.upper(), fold_name(word), fold_name(word).upper(),
                   f"{fold_name(word)} hivatal"):
        found = (await gw.client.get("/api/v1/offices", params={"name": needle},
                                     auth=office.auth)).json()["items"]
        assert office.krid in [o["krid"] for o in found], needle
    both = (await gw.client.get("/api/v1/offices", params={"name": fold_name(word)},
                                auth=office.auth)).json()["items"]
    assert {o["krid"] for o in both} == {office.krid, company.krid}
    # A substring still has to be one: the accents go, the letters stay.
    assert (await gw.client.get("/api/v1/offices", params={"name": f"{word}x"},
                                auth=office.auth)).json()["items"] == []


async def test_hkp_finds_an_office_without_its_accents(gw: Gateway) -> None:
    office, word = await _tura(gw)
    found = await call(gw, office, "HivatalokLekerdezese", f"""
        <hkp:GIHivatalokLekerdezeseKerdes><hkp:NevSzures>{fold_name(word).upper()}</hkp:NevSzures>
        </hkp:GIHivatalokLekerdezeseKerdes>""")
    assert [h.findtext("hkp:KRID", namespaces=NS) for h in found.forms] == [office.krid]


async def test_the_send_forms_search_finds_an_office_without_its_accents(gw: Gateway) -> None:
    office, word = await _tura(gw)
    person = await new_citizen(gw.ports)
    await log_in(gw.client, person)
    page = await gw.client.get("/ui/send", params={"box": "me", "office_q": fold_name(word)})
    assert page.status_code == 200 and f"recipient_krid={office.krid}" in page.text


async def test_the_mailbox_finds_a_sender_without_its_accents(gw: Gateway) -> None:
    """The mailbox's text filter reads the same folded names (its ``q``)."""
    sender, word = await _tura(gw)
    addressee = await new_org(gw.ports)
    person = await new_citizen(gw.ports)
    await staff.grant_role(gw.ports, krid=addressee.krid or "", username=person.username,
                           role=StaffRole.CLERK)
    number = (await upload(gw.client, sender, addressee)).json()["registration_number"]
    await log_in(gw.client, person)
    for needle in (word, fold_name(word).upper()):
        page = await gw.client.get(f"/ui/mailbox/{addressee.krid}", params={"q": needle})
        assert page.status_code == 200 and number in page.text, needle


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_database(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A database of its own, without any migration run: to migrate step by step."""
    if request.param == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path / 'old.db'}"
    request.getfixturevalue("postgres_url")  # skips (or fails) as the suite does without it
    name = f"kapu_migration_{secrets.token_hex(4)}"
    asyncio.run(_admin(f'CREATE DATABASE "{name}"'))
    request.addfinalizer(lambda: asyncio.run(_admin(f'DROP DATABASE IF EXISTS "{name}" '
                                                     "WITH (FORCE)")))
    base = ADMIN_DSN.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://")
    return f"{base}/{name}"


async def test_migration_0016_refolds_the_stored_names(empty_database: str) -> None:
    config = alembic_config(empty_database)
    await asyncio.to_thread(command.upgrade, config, "0015")
    parties = sa.table("parties", sa.column("id"), sa.column("kind"), sa.column("name"),
                       sa.column("name_folded"), sa.column("username"),
                       sa.column("password_hash"), sa.column("created_at", UTCDateTime()))
    names = ["Túra Hivatal", "ÉPÍTŐ CÉG Kft.", "ﬁ" * 200]
    engine = create_async_engine(empty_database)
    try:
        async with engine.begin() as connection:
            await connection.execute(sa.insert(parties), [
                {"kind": "hivatali", "name": name, "name_folded": name.casefold()[:255],
                 "username": f"regi{number}", "password_hash": "x", "created_at": TEST_EPOCH}
                for number, name in enumerate(names)])
        await asyncio.to_thread(command.upgrade, config, "head")
        async with engine.connect() as connection:
            folded = dict((await connection.execute(
                sa.select(parties.c.name, parties.c.name_folded)
                .where(parties.c.name.in_(names)))).all())
            # The system party of 0002 is refolded too.
            system = (await connection.execute(sa.select(parties.c.name_folded).where(
                parties.c.kind == "system"))).scalar_one()
        assert folded == {"Túra Hivatal": "tura hivatal", "ÉPÍTŐ CÉG Kft.": "epito ceg kft.",
                          "ﬁ" * 200: "fi" * 127 + "f"}  # cut to the column's 255
        assert system == "kozponti rendszer"
        await asyncio.to_thread(command.downgrade, config, "0015")
        async with engine.connect() as connection:
            back = dict((await connection.execute(
                sa.select(parties.c.name, parties.c.name_folded)
                .where(parties.c.name.in_(names[:2])))).all())
        assert back == {"Túra Hivatal": "túra hivatal", "ÉPÍTŐ CÉG Kft.": "építő cég kft."}
    finally:
        await engine.dispose()
