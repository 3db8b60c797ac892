"""The sandbox console shows a person only the e-mail queued for them and the mailbox
warnings of the offices where they hold a role; and every page, with ``KAPU_SANDBOX=1``,
carries a banner with the test clock's time."""

from __future__ import annotations

import re
import secrets
from datetime import datetime

from gateway.domain.parties import Party, StaffRole
from gateway.domain.registration import BUDAPEST
from gateway.services import mail, staff
from gateway.services.parties import register_citizen, set_email
from tests.helpers import Account, new_org, upload
from tests.integration.conftest import Gateway, sandbox_auth
from tests.integration.test_web import log_in


async def _person(gw: Gateway, email: str | None = None) -> Account:
    # On PostgreSQL the session shares one outbox: every address here is this test's own.
    registered = await register_citizen(
        gw.ports, name="Konzol Polgár", email=email or f"k-{secrets.token_hex(6)}@example.hu")
    return Account(registered.username, registered.password, code=registered.code)


async def _party(gw: Gateway, account: Account) -> Party:
    async with gw.ports.uow() as uow:
        party = await uow.parties.by_username(account.username)
    assert party is not None
    return party


async def _queue_warning(gw: Gateway, admin: Account, office: Account, number: str) -> str:
    """The 3-working-day warning as the deadline job queues it (mail.warning), for ``office``
    to ``admin``; returns its subject."""
    notice = mail.warning(gw.ports, await _party(gw, admin), await _party(gw, office),
                          [number], gw.clock.now())
    assert notice is not None
    async with gw.ports.write_uow() as uow:
        await uow.mail.add_many([notice])
        await uow.commit()
    return notice.subject


async def _console_rows(gw: Gateway, who: Account) -> str:
    gw.client.cookies.clear()
    await log_in(gw.client, who)
    console = await gw.client.get("/ui/sandbox?lang=en")
    assert console.status_code == 200
    table = re.search(r'<table id="mails">.*?</table>', console.text, re.S)
    return table.group(0) if table else ""


async def test_the_console_shows_a_person_only_their_own_and_their_offices_mail(
    sandbox: Gateway
) -> None:
    """Was: every logged-in person saw every outgoing e-mail, everyone's addresses and
    registration numbers."""
    gw = sandbox
    first, second, sender = await new_org(gw.ports), await new_org(gw.ports), await new_org(
        gw.ports)
    admin, clerk, stranger = await _person(gw), await _person(gw), await _person(gw)
    # Someone who enters another person's address as their own does not get their mail.
    copycat_of, copycat = await _person(gw), await _person(gw)
    for office, person, role in ((first, admin, StaffRole.ADMIN), (second, admin,
                                 StaffRole.ADMIN), (first, clerk, StaffRole.CLERK)):
        await staff.grant_role(gw.ports, krid=office.krid or "", username=person.username,
                               role=role)
    numbers = {}
    for name, to in (("admin", admin), ("clerk", clerk), ("stranger", stranger),
                     ("copied", copycat_of)):
        answer = await upload(gw.client, sender, to)
        numbers[name] = answer.json()["registration_number"]
    first_doc = (await upload(gw.client, sender, first)).json()["registration_number"]
    second_doc = (await upload(gw.client, sender, second)).json()["registration_number"]
    first_warning = await _queue_warning(gw, admin, first, first_doc)
    second_warning = await _queue_warning(gw, admin, second, second_doc)
    copied_address = (await _party(gw, copycat_of)).email or ""
    await set_email(gw.ports, await _party(gw, copycat), copied_address)

    seen = await _console_rows(gw, clerk)
    assert numbers["clerk"] in seen and first_warning in seen  # own, and the office's
    for hidden in (numbers["admin"], numbers["stranger"], numbers["copied"], second_warning):
        assert hidden not in seen, hidden

    seen = await _console_rows(gw, admin)
    assert numbers["admin"] in seen and first_warning in seen and second_warning in seen
    for hidden in (numbers["clerk"], numbers["stranger"], numbers["copied"]):
        assert hidden not in seen, hidden

    seen = await _console_rows(gw, stranger)
    assert numbers["stranger"] in seen
    for hidden in (numbers["admin"], numbers["clerk"], numbers["copied"], first_warning):
        assert hidden not in seen, hidden

    seen = await _console_rows(gw, copycat)
    assert copied_address not in seen and numbers["copied"] not in seen


async def test_every_page_carries_the_sandbox_banner_with_the_test_clock(
    sandbox: Gateway
) -> None:
    gw = sandbox
    answer = await gw.client.get("/api/v1/sandbox/clock", auth=await sandbox_auth(gw))
    now = datetime.fromisoformat(answer.json()["now"])
    login = await gw.client.get("/ui/login?lang=en")
    banner = re.search(r'<p class="sandbox-banner" id="sandbox-banner">(.*?)</p>', login.text,
                       re.S)
    assert banner is not None
    assert "Sandbox: a test installation, not the real gateway." in banner.group(1)
    assert "Test clock (Budapest time):" in banner.group(1)
    assert f"{now.astimezone(BUDAPEST):%Y-%m-%d %H:%M}" in banner.group(1)
    assert "/ui/sandbox" not in banner.group(1)  # the console needs a login
    person = await _person(gw)
    await log_in(gw.client, person)
    chooser = await gw.client.get("/ui/?lang=hu")
    assert "Tesztkörnyezet (sandbox): nem az éles rendszer." in chooser.text
    assert "Tesztóra (budapesti idő):" in chooser.text
    assert 'href="/ui/sandbox"' in chooser.text.split('id="sandbox-banner"')[1].split("</p>")[0]
    missing = await gw.client.get("/ui/nincs/ilyen?lang=en")
    assert missing.status_code == 404 and 'id="sandbox-banner"' in missing.text


async def test_without_the_sandbox_no_banner(gw: Gateway) -> None:
    page = await gw.client.get("/ui/login?lang=en")
    assert page.status_code == 200 and "sandbox-banner" not in page.text
