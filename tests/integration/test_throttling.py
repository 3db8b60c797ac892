"""One throttling rule on every door (REST Basic, HKP UsernameToken, the web login): per
username and client address, on the gateway's clock, never a username refused everywhere."""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
import pytest

from gateway.config import Settings
from gateway.services import auth
from tests.conftest import FixedClock
from tests.helpers import PDF, Account, new_citizen, new_org
from tests.hkp_helpers import Answer, document_xml, envelope, read_answer, swa, upload_form
from tests.integration.conftest import Gateway, _start
from tests.integration.test_overload import held_upload
from tests.integration.test_web import log_in, without_token

ATTACKER = "198.51.100.7"
OTHER = "203.0.113.9"


def unknown() -> Account:
    """A username no party has (fresh per test: the PostgreSQL database outlives a test)."""
    return Account(f"nincs-ilyen-{secrets.token_hex(4)}", "barmi")


@asynccontextmanager
async def client_from(gw: Gateway, host: str) -> AsyncIterator[httpx.AsyncClient]:
    """A client of the same app whose requests come from ``host``."""
    transport = httpx.ASGITransport(app=gw.app, client=(host, 40123))
    async with httpx.AsyncClient(transport=transport, base_url="http://kapu.test") as client:
        yield client


async def mailbox(client: httpx.AsyncClient, username: str, password: str) -> httpx.Response:
    return await client.get("/api/v1/mailbox", auth=(username, password))


async def postafiok(client: httpx.AsyncClient, username: str, password: str) -> Answer:
    return read_answer(await client.post(
        "/hkp", headers={"Content-Type": "text/xml"},
        content=envelope("GIPostaFiokLekerdezes", "<hkp:GIPostaFiokAdatokLekerdezeseKerdes/>",
                         username=username, password=password)))


def swa_upload(sender: Account, office: Account) -> tuple[bytes, str]:
    """An HKP upload of one document as SOAP with Attachments: the body and its Content-Type."""
    item = document_xml(krid=office.krid, content=PDF, href="csat-1")
    soap = envelope("UjDokumentumokFeltolteseGepiInterfeszAltal", upload_form(item),
                    username=sender.username, password=sender.password)
    return swa(soap, [("csat-1", PDF, "binary")])


async def failures_left(gw: Gateway, username: str, address: str) -> int:
    async with gw.ports.uow() as uow:
        return len(await uow.login_failures.latest(
            username, address, gw.clock.now() - 2 * auth.WINDOW, 100))


async def test_rest_refuses_an_address_for_15_minutes_after_five_failures(gw: Gateway) -> None:
    org = await new_org(gw.ports)
    async with client_from(gw, ATTACKER) as attacker, client_from(gw, OTHER) as other:
        wrong = [await mailbox(attacker, org.username, f"rossz-{n}") for n in range(5)]
        assert [answer.status_code for answer in wrong] == [401] * 5
        refused = await mailbox(attacker, org.username, org.password)  # even the right one
        assert refused.status_code == 429
        assert refused.headers["content-type"] == "application/problem+json"
        assert refused.json()["code"] == "too_many_attempts"
        assert refused.headers["Retry-After"] == "900"
        # The username is not refused everywhere: its party works on from another address.
        assert (await mailbox(other, org.username, org.password)).status_code == 200
        gw.clock.advance(minutes=14)
        still = await mailbox(attacker, org.username, org.password)
        assert (still.status_code, still.headers["Retry-After"]) == (429, "60")
        assert await failures_left(gw, org.username, ATTACKER) == 5  # refusals add none
        gw.clock.advance(minutes=1)
        assert (await mailbox(attacker, org.username, org.password)).status_code == 200
        assert await failures_left(gw, org.username, ATTACKER) == 0  # forgotten at success


async def test_an_unknown_username_is_throttled_exactly_alike(gw: Gateway) -> None:
    org = await new_org(gw.ports)
    seen = []
    async with client_from(gw, ATTACKER) as attacker:
        for username in (org.username, unknown().username):
            answers = [await mailbox(attacker, username, f"rossz-{n}") for n in range(7)]
            assert [answer.status_code for answer in answers] == [401] * 5 + [429] * 2
            seventh = answers[-1]
            seen.append((seventh.json(), seventh.headers["Retry-After"]))
    assert seen[0] == seen[1]


async def test_many_failures_everywhere_slow_a_username_but_never_refuse_it(
    gw: Gateway,
) -> None:
    org = await new_org(gw.ports)
    now = gw.clock.now()
    async with gw.ports.write_uow() as uow:  # 55 guesses, each from its own address
        for n in range(auth.SLOW_AFTER + 5):
            await uow.login_failures.add(org.username, f"192.0.2.{n}", now,
                                         forget_before=now - 2 * auth.WINDOW)
        await uow.commit()
    async with client_from(gw, OTHER) as other:
        started = time.monotonic()
        answer = await mailbox(other, org.username, org.password)
        elapsed = time.monotonic() - started
    assert answer.status_code == 200
    assert elapsed >= auth.slow_down(auth.SLOW_AFTER + 5) == 0.5


async def test_hkp_answers_szam_12_saying_when_to_retry(gw: Gateway) -> None:
    org = await new_org(gw.ports)
    async with client_from(gw, ATTACKER) as attacker, client_from(gw, OTHER) as other:
        for username, password in ((org.username, org.password), unknown().auth):
            wrong = [await postafiok(attacker, username, f"rossz-{n}") for n in range(5)]
            assert [answer.hiba[0] if answer.hiba else 0 for answer in wrong] == [10] * 5
            refused = await postafiok(attacker, username, password)
            assert refused.status == 200 and refused.hiba is not None
            szam, tartalom = refused.hiba
            assert szam == 12
            assert "retry in 900 seconds" in tartalom
        assert (await postafiok(other, org.username, org.password)).hiba is None
        gw.clock.advance(minutes=15)
        assert (await postafiok(attacker, org.username, org.password)).hiba is None


async def test_hkp_upload_with_a_throttled_address_stages_nothing(gw: Gateway) -> None:
    sender, office = await new_org(gw.ports), await new_org(gw.ports)
    body, content_type = swa_upload(sender, office)
    async with client_from(gw, ATTACKER) as attacker:
        for n in range(5):
            await postafiok(attacker, sender.username, f"rossz-{n}")
        answer = read_answer(await attacker.post("/hkp", content=body,
                                                 headers={"Content-Type": content_type}))
    assert answer.hiba is not None and answer.hiba[0] == 12
    assert not list((gw.blob_root / "tmp").iterdir())
    assert (await mailbox(gw.client, office.username, office.password)).json()["items"] == []


async def test_web_login_answers_429_in_the_persons_language(gw: Gateway) -> None:
    person = await new_citizen(gw.ports)
    pages = []
    async with client_from(gw, ATTACKER) as attacker:
        for who in (person, unknown()):
            wrong = [await log_in(attacker, who, password=f"rossz-{n}") for n in range(5)]
            assert [page.status_code for page in wrong] == [401] * 5
            refused = await log_in(attacker, who)  # the right password, for the person
            assert refused.status_code == 429
            assert refused.headers["Retry-After"] == "900"
            assert "kapu_session" not in attacker.cookies
            pages.append(without_token(refused.text).replace(who.username, "USERNAME"))
        assert "Próbálja újra 15 perc múlva." in pages[0]
        assert pages[0] == pages[1]  # nothing tells which usernames exist
        english = await log_in(attacker, person, **{"Accept-Language": "en"})
        assert english.status_code == 429
        assert "Try again in 15 min." in english.text
    async with client_from(gw, OTHER) as other:
        assert (await log_in(other, person)).status_code == 303
    gw.clock.advance(minutes=15)
    async with client_from(gw, ATTACKER) as attacker:
        assert (await log_in(attacker, person)).status_code == 303


async def test_web_organisation_passwords_count_as_failures(gw: Gateway) -> None:
    office = await new_org(gw.ports)
    async with client_from(gw, ATTACKER) as attacker:
        answers = [await log_in(attacker, office) for _ in range(6)]
    assert [page.status_code for page in answers] == [401] * 5 + [429]


async def test_concurrent_failures_from_one_address_are_all_counted(gw: Gateway) -> None:
    org = await new_org(gw.ports)

    async def guess(client: httpx.AsyncClient, n: int) -> int:
        return (await mailbox(client, org.username, f"rossz-{n}")).status_code

    async with client_from(gw, ATTACKER) as attacker:
        statuses = await asyncio.gather(*(guess(attacker, n) for n in range(5)))
        assert statuses == [401] * 5
        assert await failures_left(gw, org.username, ATTACKER) == 5
        assert (await mailbox(attacker, org.username, org.password)).status_code == 429



@pytest.fixture
async def one_upload_slot(
    database_url: str, tmp_path: Path, keys_dir: Path, clock: FixedClock
) -> AsyncIterator[Gateway]:
    """One upload at a time and no queue: a second upload is shed (503 overloaded)."""
    settings = Settings(database_url=database_url, data_dir=tmp_path / "data",
                        keys_dir=keys_dir, background_jobs=False,
                        admission_deadlines_limit=1, admission_deadlines_queue=0,
                        overload_shed_delay_seconds=0)
    async for gateway in _start(settings, clock):
        yield gateway


async def test_a_throttled_client_is_refused_before_it_takes_an_upload_slot(
    one_upload_slot: Gateway,
) -> None:
    gw = one_upload_slot
    sender, office = await new_org(gw.ports), await new_org(gw.ports)
    body, content_type = swa_upload(sender, office)
    async with client_from(gw, ATTACKER) as attacker:
        for n in range(6):  # the sixth is refused: this process knows it from then on
            await mailbox(attacker, sender.username, f"rossz-{n}")
        release = asyncio.Event()
        holding = asyncio.create_task(held_upload(gw, sender, office, release))
        await asyncio.sleep(0.2)  # the honest upload holds the one slot
        rest = await attacker.post("/api/v1/documents", auth=sender.auth, content=b"x",
                                   headers={"Content-Type": "multipart/form-data; boundary=b"})
        soap_answer = read_answer(await attacker.post(
            "/hkp", content=body, headers={"Content-Type": content_type}))
        release.set()
        assert (await holding).status_code == 201
    # Not shed as overloaded (the slot was taken): refused for the throttling, before it.
    assert (rest.status_code, rest.json()["code"]) == (429, "too_many_attempts")
    assert rest.headers["Retry-After"] == "900"
    assert soap_answer.hiba is not None and soap_answer.hiba[0] == 12
