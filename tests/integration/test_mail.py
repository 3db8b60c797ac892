"""E-mail notices through a real SMTP server (aiosmtpd): plain, STARTTLS and TLS with AUTH;
the outbox retries while the server is down and sends each message once; without a server,
``.eml`` files in the data directory, listed on the sandbox console."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator, Iterator
from email import message_from_bytes, policy
from pathlib import Path

import pytest
from pydantic import SecretStr

from gateway.config import Settings
from gateway.domain.parties import StaffRole
from gateway.services import mail, staff
from gateway.services.audit import link_pending
from gateway.services.parties import register_citizen
from tests.conftest import FixedClock
from tests.helpers import PDF, Account, new_org, upload
from tests.integration.conftest import Gateway, _start, sandbox_auth
from tests.integration.test_web import form_fields, log_in
from tests.smtp import Catcher, authenticator, free_port, smtp_server, tls_files


def fresh_address() -> str:
    # On PostgreSQL the whole session shares one outbox: each test reads its own addresses.
    return f"polgar-{secrets.token_hex(6)}@example.hu"


async def citizen(gw: Gateway, email: str) -> Account:
    registered = await register_citizen(gw.ports, name="Posta Polgár", email=email)
    return Account(registered.username, registered.password, code=registered.code)


@pytest.fixture
def catcher() -> Catcher:
    return Catcher()


@pytest.fixture
def smtp_port(catcher: Catcher) -> Iterator[int]:
    port = free_port()
    server = smtp_server(catcher, port)
    yield port
    server.stop()


async def _gateway(settings: Settings, clock: FixedClock, **changes: object) -> AsyncIterator[
        Gateway]:
    async for gateway in _start(settings.model_copy(update=changes), clock):
        yield gateway


@pytest.fixture
async def mailing(settings: Settings, clock: FixedClock, smtp_port: int) -> AsyncIterator[
        Gateway]:
    async for gateway in _gateway(settings, clock,
                                  smtp_url=SecretStr(f"smtp://127.0.0.1:{smtp_port}"),
                                  mail_from="ertesites@kapu.example.hu"):
        yield gateway


async def test_first_notice_arrives_once_and_carries_no_file_name_note_or_bytes(
    mailing: Gateway, catcher: Catcher
) -> None:
    gw, address = mailing, fresh_address()
    office, person = await new_org(gw.ports, name="Teszt Földhivatal"), await citizen(gw, address)
    content = PDF + secrets.token_bytes(32)
    accepted = await upload(gw.client, office, person, content=content,
                            file_name="hatarozat-titkos.pdf", note="bizalmas megjegyzés")
    number = accepted.json()["registration_number"]
    await mail.deliver_due(gw.ports)
    await mail.deliver_due(gw.ports)  # nothing twice

    (received,) = catcher.to(address)
    assert received.mail_from == "ertesites@kapu.example.hu" and not received.tls
    message = received.message
    assert number in str(message["Subject"]) and message["Auto-Submitted"] == "auto-generated"
    texts = received.texts()
    assert set(texts) == {"hu", "en"}
    for text in texts.values():
        assert number in text and "Teszt Földhivatal" in text
        assert f"http://127.0.0.1:8080/ui/documents/{number}" in text
    assert "Letölthető eddig" in texts["hu"] and "Downloadable until" in texts["en"]
    for secret in (b"hatarozat-titkos", "bizalmas megjegyzés".encode(), content[-32:]):
        assert secret not in received.content
    assert not any(part.get_content_disposition() == "attachment"
                   for part in message.walk())
    # An office gets no e-mail notice for its documents: only citizens do.
    sent_to_office = await upload(gw.client, person, office)
    assert sent_to_office.status_code == 201
    await mail.deliver_due(gw.ports)
    assert len(catcher.to(address)) == 1


async def test_a_refused_upload_queues_no_notice(mailing: Gateway, catcher: Catcher) -> None:
    gw, address = mailing, fresh_address()
    office, person = await new_org(gw.ports), await citizen(gw, address)
    refused = await upload(gw.client, office, person, file_name="level.exe")
    assert refused.status_code == 415 and refused.json()["code"] == "format_not_allowed"
    async with gw.ports.uow() as uow:
        assert await uow.mail.of_party(await _party_id(gw, person), 10) == []
    await mail.deliver_due(gw.ports)
    assert catcher.to(address) == []


async def test_smtp_down_then_back_delivers_each_message_once(
    settings: Settings, clock: FixedClock
) -> None:
    catcher, port = Catcher(), free_port()  # nothing listens on the port yet
    async for gw in _gateway(settings, clock, smtp_url=SecretStr(f"smtp://127.0.0.1:{port}"),
                             mail_backoff_seconds=30.0):
        address = fresh_address()
        office, person = await new_org(gw.ports), await citizen(gw, address)
        numbers = [(await upload(gw.client, office, person)).json()["registration_number"]
                   for _ in range(3)]
        assert await mail.deliver_due(gw.ports) == 0
        async with gw.ports.uow() as uow:
            mine = [r for r in await uow.mail.of_party(await _party_id(gw, person), 10)]
        assert [(r.state, r.attempts) for r in mine] == [("pending", 1)] * 3

        server = smtp_server(catcher, port)
        try:
            assert await mail.deliver_due(gw.ports) == 0  # the back-off has not passed
            clock.advance(seconds=29)
            assert await mail.deliver_due(gw.ports) == 0
            clock.advance(seconds=2)
            await mail.deliver_due(gw.ports)
            await mail.deliver_due(gw.ports)
        finally:
            server.stop()
        received = catcher.to(address)
        assert sorted(n for r in received for n in numbers if n in str(r.message["Subject"])) \
            == sorted(numbers)
        assert len({str(r.message["Message-ID"]) for r in received}) == 3
        async with gw.ports.uow() as uow:
            mine = await uow.mail.of_party(await _party_id(gw, person), 10)
        assert {(r.state, r.attempts) for r in mine} == {("sent", 2)}


async def _party_id(gw: Gateway, account: Account) -> int:
    async with gw.ports.uow() as uow:
        party = await uow.parties.by_username(account.username)
    assert party is not None
    return party.id


async def test_two_workers_send_each_message_once(mailing: Gateway, catcher: Catcher,
                                                  settings: Settings, clock: FixedClock,
                                                  smtp_port: int) -> None:
    gw = mailing
    office = await new_org(gw.ports)
    addresses = [fresh_address() for _ in range(12)]
    for address in addresses:
        person = await citizen(gw, address)
        assert (await upload(gw.client, office, person)).status_code == 201
    # A second process: its own engine and ports on the same database.
    async for other in _gateway(settings, clock,
                                smtp_url=SecretStr(f"smtp://127.0.0.1:{smtp_port}")):
        sent = await asyncio.gather(mail.deliver_due(gw.ports), mail.deliver_due(other.ports),
                                    mail.deliver_due(gw.ports), mail.deliver_due(other.ports))
        assert sum(sent) >= 12
    for address in addresses:
        assert len(catcher.to(address)) == 1, address


async def test_starttls(settings: Settings, clock: FixedClock, tmp_path: Path) -> None:
    tls, catcher, port = tls_files(tmp_path), Catcher(), free_port()
    server = smtp_server(catcher, port, tls_context=tls.server_context, require_starttls=True)
    try:
        async for gw in _gateway(settings, clock,
                                 smtp_url=SecretStr(f"smtp+starttls://127.0.0.1:{port}"),
                                 smtp_ca_file=tls.ca_pem):
            address = fresh_address()
            office, person = await new_org(gw.ports), await citizen(gw, address)
            await upload(gw.client, office, person)
            await mail.deliver_due(gw.ports)
            (received,) = catcher.to(address)
            assert received.tls
            # A server whose certificate the CA did not sign is refused: nothing is sent.
            async for untrusting in _gateway(
                    settings, clock, smtp_url=SecretStr(f"smtp+starttls://127.0.0.1:{port}")):
                other = fresh_address()
                await upload(untrusting.client, office, await citizen(untrusting, other))
                assert await mail.deliver_due(untrusting.ports) == 0
                assert catcher.to(other) == []
    finally:
        server.stop()


@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS:UserWarning")
async def test_tls_with_a_login(settings: Settings, clock: FixedClock, tmp_path: Path) -> None:
    tls, catcher, port = tls_files(tmp_path), Catcher(), free_port()
    # aiosmtpd offers AUTH only after its own STARTTLS unless told that the TLS it was
    # started with counts (auth_require_tls=False); the connection is TLS from the first byte.
    server = smtp_server(catcher, port, ssl_context=tls.server_context,
                         authenticator=authenticator("kapu", "p@ss word"), auth_required=True,
                         auth_require_tls=False)
    try:
        async for gw in _gateway(
                settings, clock, smtp_url=SecretStr(f"smtps://kapu:p%40ss%20word@127.0.0.1:{port}"),
                smtp_ca_file=tls.ca_pem):
            address = fresh_address()
            office, person = await new_org(gw.ports), await citizen(gw, address)
            await upload(gw.client, office, person)
            assert await mail.deliver_due(gw.ports) >= 1
            (received,) = catcher.to(address)
            assert received.tls and received.login == "kapu"
    finally:
        server.stop()


async def test_embedded_default_writes_eml_files_listed_on_the_sandbox_console(
    sandbox: Gateway, settings: Settings
) -> None:
    gw, address = sandbox, fresh_address()
    office, person = await new_org(gw.ports), await citizen(gw, address)
    number = (await upload(gw.client, office, person)).json()["registration_number"]
    ran = await gw.client.post("/api/v1/sandbox/run-due", auth=await sandbox_auth(gw))
    assert ran.status_code == 200 and ran.json()["mails_sent"] >= 1
    mail_dir = gw.blob_root.parent / "mail"
    messages = [message_from_bytes(path.read_bytes(), policy=policy.default)
                for path in mail_dir.glob("*.eml")]
    (mine,) = [m for m in messages if m["To"] == address]
    assert number in str(mine["Subject"])
    assert not list(mail_dir.glob(".*.part"))  # written whole
    await log_in(gw.client, person)
    console = await gw.client.get("/ui/sandbox?lang=en")
    assert console.status_code == 200 and address in console.text and number in console.text


async def test_office_admins_get_the_three_day_warning_by_mail_and_in_their_tarhely(
    settings: Settings, clock: FixedClock, catcher: Catcher, smtp_port: int
) -> None:
    async for gw in _gateway(settings, clock, sandbox=True,
                             smtp_url=SecretStr(f"smtp://127.0.0.1:{smtp_port}")):
        await _warning(gw, catcher)


async def _warning(gw: Gateway, catcher: Catcher) -> None:
    admin_address, clerk_address = fresh_address(), fresh_address()
    office, sender = await new_org(gw.ports, name="Figyelő Hivatal"), await new_org(gw.ports)
    admin, clerk = await citizen(gw, admin_address), await citizen(gw, clerk_address)
    assert office.krid is not None
    await staff.grant_role(gw.ports, krid=office.krid, username=admin.username,
                           role=StaffRole.ADMIN)
    await staff.grant_role(gw.ports, krid=office.krid, username=clerk.username,
                           role=StaffRole.CLERK)
    auth = await sandbox_auth(gw)
    await gw.client.post("/api/v1/sandbox/clock", json={"set": "2027-01-04T09:00:00+01:00"},
                         auth=auth)
    number = (await upload(gw.client, sender, office)).json()["registration_number"]
    # Monday: the 3rd working day after it ends on Thursday midnight.
    await gw.client.post("/api/v1/sandbox/clock", json={"set": "2027-01-07T23:59:00+01:00"},
                         auth=auth)
    await gw.client.post("/api/v1/sandbox/run-due", auth=auth)
    assert catcher.to(admin_address) == []
    await gw.client.post("/api/v1/sandbox/clock", json={"set": "2027-01-08T00:00:00+01:00"},
                         auth=auth)
    await gw.client.post("/api/v1/sandbox/run-due", auth=auth)
    await gw.client.post("/api/v1/sandbox/run-due", auth=auth)
    (warning,) = catcher.to(admin_address)
    assert "Figyelő Hivatal" in str(warning.message["Subject"])
    assert all(number in text for text in warning.texts().values())
    assert catcher.to(clerk_address) == []  # admins only
    tarhely = (await gw.client.get("/api/v1/mailbox", auth=admin.auth)).json()["items"]
    (message,) = tarhely
    assert message["system_message"] and message["doc_type_id"] == "FIGYELMEZTETES"
    content = await gw.client.get(f"/api/v1/documents/{message['registration_number']}/content",
                                  auth=admin.auth)
    assert number in content.text
    assert (await gw.client.get("/api/v1/mailbox", auth=clerk.auth)).json()["items"] == []



async def test_a_person_changes_the_notification_address_on_the_web(
    mailing: Gateway, catcher: Catcher
) -> None:
    gw, old, new = mailing, fresh_address(), fresh_address()
    office, person = await new_org(gw.ports), await citizen(gw, old)
    await log_in(gw.client, person)
    page = await gw.client.get("/ui/?lang=en")
    assert f'value="{old}"' in page.text
    refused = await gw.client.post("/ui/me/email", data={"email": new})
    assert refused.status_code == 403  # no CSRF token
    wrong = await gw.client.post("/ui/me/email", data={
        **form_fields(page), "email": "not an address"})
    assert wrong.status_code == 400 and "This is not an e-mail address" in wrong.text
    assert 'aria-invalid="true"' in wrong.text and 'id="email-error"' in wrong.text
    saved = await gw.client.post("/ui/me/email", data={
        **form_fields(page), "email": new})
    assert saved.status_code == 303 and saved.headers["location"] == "/ui/?email=1"
    number = (await upload(gw.client, office, person)).json()["registration_number"]
    await mail.deliver_due(gw.ports)
    assert catcher.to(old) == []
    (notice,) = catcher.to(new)
    assert number in str(notice.message["Subject"])
    await link_pending(gw.ports)  # as the background jobs do within a second
    async with gw.ports.uow() as uow:
        entries = await uow.audit.entries(None, 100_000)
    assert (person.username, "email_changed") in [(e.actor, e.action) for e in entries]
