"""The pages for people without JavaScript: plain HTTP with cookies and forms, as a browser
with scripts off sends them. Login, sessions, CSRF, languages, the sandbox console (login
throttling: test_throttling.py)."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from pathlib import Path
from urllib.parse import urlencode

import httpx
import pytest

from gateway.config import Settings
from gateway.domain.parties import PartyKind, StaffRole
from gateway.services import staff as staff_service
from gateway.services.audit import link_pending
from tests.conftest import FixedClock
from tests.helpers import PDF, Account, new_citizen, new_org, stored_files, upload
from tests.integration.conftest import Gateway, _start, sandbox_auth

_TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')
_FORM_KEY = re.compile(r'name="form_key" value="([^"]+)"')
_SENT = re.compile(r"/ui/sent\?box=[^&]+&sent=(\d{27})")


def token_of(page: httpx.Response) -> str:
    found = _TOKEN.search(page.text)
    assert found, page.text
    return found.group(1)


def sent_number(answer: httpx.Response) -> str:
    """The registration number a send form's answer redirects to (its outcome's page)."""
    assert answer.status_code == 303, answer.text
    found = _SENT.fullmatch(answer.headers["location"])
    assert found, answer.headers["location"]
    return found.group(1)


def form_fields(page: httpx.Response) -> dict[str, str]:
    """What a form of ``page`` carries besides its own fields: the CSRF token and, on a
    state-changing form, the page's first one-time form key."""
    key = _FORM_KEY.search(page.text)
    return {"csrf_token": token_of(page), **({"form_key": key.group(1)} if key else {})}


async def log_in(client: httpx.AsyncClient, who: Account, password: str | None = None,
                 **headers: str) -> httpx.Response:
    page = await client.get("/ui/login", headers=headers)
    return await client.post("/ui/login", headers=headers, data={
        **form_fields(page), "username": who.username,
        "password": who.password if password is None else password, "next": "/ui/"})


def without_token(html: str) -> str:
    return _TOKEN.sub("", html)


async def test_login_choose_and_logout(gw: Gateway) -> None:
    office = await new_org(gw.ports, name="Kapuvári Polgármesteri Hivatal")
    clerk = await new_citizen(gw.ports)
    await staff_service.grant_role(gw.ports, krid=office.krid or "", username=clerk.username,
                                   role=StaffRole.CLERK)
    page = await gw.client.get("/ui/login")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert '<html lang="hu">' in page.text and "Bejelentkezés" in page.text
    assert page.headers["cache-control"] == "no-store"
    assert "default-src 'self'" in page.headers["content-security-policy"]
    before = gw.client.cookies["kapu_csrf"]

    answer = await log_in(gw.client, clerk)
    assert answer.status_code == 303 and answer.headers["location"] == "/ui/"
    cookies = answer.headers.get_list("set-cookie")
    session = next(c for c in cookies if c.startswith("kapu_session="))
    assert "HttpOnly" in session and "samesite=lax" in session.lower()
    assert "Secure" not in session  # development; production marks it Secure
    assert gw.client.cookies["kapu_csrf"] != before  # new tokens after login

    chooser = await gw.client.get("/ui/")
    assert chooser.status_code == 200
    assert "Teszt Polgár" in chooser.text
    assert "Kapuvári Polgármesteri Hivatal" in chooser.text and "ügykezelő" in chooser.text

    old_session = gw.client.cookies["kapu_session"]
    out = await gw.client.post("/ui/logout", data={**form_fields(chooser)})
    assert out.status_code == 303 and out.headers["location"] == "/ui/login"
    # The old cookie opens nothing any more, even if a copy of it is sent again.
    gw.client.cookies.set("kapu_session", old_session, domain="kapu.test")
    again = await gw.client.get("/ui/")
    assert again.status_code == 303 and again.headers["location"].startswith("/ui/login")


async def test_a_page_asks_for_login_and_returns_after_it(gw: Gateway) -> None:
    person = await new_citizen(gw.ports)
    first = await gw.client.get("/ui/")
    assert first.status_code == 303
    assert first.headers["location"] == "/ui/login?next=%2Fui%2F"
    login_page = await gw.client.get(first.headers["location"])
    assert 'name="next" value="/ui/"' in login_page.text
    # Only our own paths are followed after login: no open redirect.
    answer = await gw.client.post("/ui/login", data={
        **form_fields(login_page), "username": person.username,
        "password": person.password, "next": "https://evil.example/"})
    assert answer.headers["location"] == "/ui/"


async def test_post_without_or_with_a_wrong_token_is_403_and_changes_nothing(
    gw: Gateway
) -> None:
    person = await new_citizen(gw.ports)
    await gw.client.get("/ui/login")
    for token in (None, "wrong-token"):
        data = {"username": person.username, "password": person.password}
        if token:
            data["csrf_token"] = token
        refused = await gw.client.post("/ui/login", data=data)
        assert refused.status_code == 403
        assert "kapu_session" not in refused.headers.get("set-cookie", "")
        assert "kapu_session" not in gw.client.cookies
    await log_in(gw.client, person)
    chooser = await gw.client.get("/ui/")
    forged = await gw.client.post("/ui/logout", data={"csrf_token": "forged"})
    assert forged.status_code == 403
    assert (await gw.client.get("/ui/")).status_code == 200  # still logged in
    assert token_of(chooser)


async def test_organisations_and_wrong_passwords_are_refused_alike(gw: Gateway) -> None:
    office, person = await new_org(gw.ports), await new_citizen(gw.ports)
    wrong = await log_in(gw.client, person, password="nem-ez")
    machine = await log_in(gw.client, office)  # the right password of a machine account
    unknown = await log_in(gw.client, Account("nincs-ilyen-szemely", "x"))
    for answer in (wrong, machine, unknown):
        assert answer.status_code == 401
        assert "Hibás felhasználónév vagy jelszó." in answer.text
        assert "kapu_session" not in gw.client.cookies


async def test_a_new_session_id_at_every_login(gw: Gateway) -> None:
    person = await new_citizen(gw.ports)
    # A session id planted before login (fixation) is replaced, and opens nothing itself.
    gw.client.cookies.set("kapu_session", "planted-by-someone-else", domain="kapu.test")
    await log_in(gw.client, person)
    first = gw.client.cookies["kapu_session"]
    assert first != "planted-by-someone-else"
    await log_in(gw.client, person)
    assert gw.client.cookies["kapu_session"] != first
    gw.client.cookies.clear()
    gw.client.cookies.set("kapu_session", "planted-by-someone-else", domain="kapu.test")
    assert (await gw.client.get("/ui/")).status_code == 303


async def test_idle_timeout_on_the_gateways_clock(gw: Gateway) -> None:
    person = await new_citizen(gw.ports)
    await log_in(gw.client, person)
    gw.clock.advance(minutes=29)
    assert (await gw.client.get("/ui/")).status_code == 200  # use keeps it alive
    gw.clock.advance(minutes=29)
    assert (await gw.client.get("/ui/")).status_code == 200
    gw.clock.advance(minutes=31)
    assert (await gw.client.get("/ui/")).status_code == 303


@pytest.mark.parametrize("declared", [True, False], ids=["content-length", "chunked"])
async def test_a_huge_login_form_is_refused_without_reading_it(gw: Gateway,
                                                               declared: bool) -> None:
    """Was: 20 MB were read (and parsed) before the login refused them."""
    page = await gw.client.get("/ui/login")
    person = await new_citizen(gw.ports)
    pulled = []
    chunk = b"x" * (1 << 20)

    async def body() -> AsyncIterator[bytes]:
        yield urlencode({**form_fields(page), "username": person.username,
                         "password": person.password, "next": "/ui/"}).encode() + b"&pad="
        for _ in range(20):
            pulled.append(len(chunk))
            yield chunk

    headers = {"Content-Type": "application/x-www-form-urlencoded"}
    if declared:
        headers["Content-Length"] = str(len(chunk) * 21)
    refused = await gw.client.post("/ui/login", content=body(), headers=headers)
    assert refused.status_code == 413
    assert "kapu_session" not in refused.cookies
    assert len(pulled) <= (0 if declared else 1)  # the bound, not the 20 MiB
    logged_in = await log_in(gw.client, person)  # a form of normal size still logs in
    assert logged_in.status_code == 303 and logged_in.headers["location"] == "/ui/"


async def test_a_busy_session_ends_twelve_hours_after_its_login(gw: Gateway) -> None:
    """Was: a session used every half hour lived for ever (a stolen cookie with it)."""
    person = await new_citizen(gw.ports)
    await log_in(gw.client, person)
    for _ in range(28):  # used every 25 minutes: 11 h 40 min
        gw.clock.advance(minutes=25)
        assert (await gw.client.get("/ui/")).status_code == 200
    gw.clock.advance(minutes=19)
    assert (await gw.client.get("/ui/")).status_code == 200  # 11 h 59 min after the login
    gw.clock.advance(minutes=2)
    assert (await gw.client.get("/ui/")).status_code == 303  # 12 h 1 min: over, though busy
    assert (await gw.client.get("/ui/")).status_code == 303  # and removed
    await log_in(gw.client, person)
    assert (await gw.client.get("/ui/")).status_code == 200  # a new login starts a new one


@pytest.mark.parametrize(("query", "headers", "language", "text"), [
    ("", {}, "hu", "Bejelentkezés"),
    ("?lang=en", {}, "en", "Log in"),
    ("", {"Accept-Language": "en-GB,en;q=0.9,hu;q=0.5"}, "en", "Log in"),
    ("?lang=hu", {"Accept-Language": "en"}, "hu", "Bejelentkezés"),
    ("", {"Accept-Language": "de-DE"}, "hu", "Bejelentkezés"),
])
async def test_hungarian_first_english_too(
    gw: Gateway, query: str, headers: dict[str, str], language: str, text: str
) -> None:
    page = await gw.client.get(f"/ui/login{query}", headers=headers)
    assert f'<html lang="{language}">' in page.text and f"<h1>{text}</h1>" in page.text


async def test_the_chosen_language_is_remembered(gw: Gateway) -> None:
    await gw.client.get("/ui/login?lang=en")
    assert "<h1>Log in</h1>" in (await gw.client.get("/ui/login")).text


async def test_assets_and_unknown_pages(gw: Gateway) -> None:
    css = await gw.client.get("/ui/static/kapu.css")
    assert css.status_code == 200 and css.headers["content-type"].startswith("text/css")
    missing = await gw.client.get("/ui/nincs/ilyen?lang=en")
    assert missing.status_code == 404 and "<h1>Not found</h1>" in missing.text
    assert (await gw.client.get("/ui/sandbox")).status_code == 404  # sandbox off


async def _clock(gw: Gateway) -> datetime:
    answer = await gw.client.get("/api/v1/sandbox/clock", auth=await sandbox_auth(gw))
    return datetime.fromisoformat(answer.json()["now"])


async def test_sandbox_console_moves_the_clock_and_runs_due_jobs(sandbox: Gateway) -> None:
    gw = sandbox
    # On PostgreSQL the session's tests share one test clock: start from wherever it is.
    before = await _clock(gw)
    person = await new_citizen(gw.ports)
    await log_in(gw.client, person)
    console = await gw.client.get("/ui/sandbox?lang=en")
    assert console.status_code == 200 and "Sandbox console" in console.text
    assert f"{before:%Y-%m-%d %H:%M}" in console.text  # the test clock, in Budapest time
    refused = await gw.client.post("/ui/sandbox", data={"action": "advance", "days": "3",
                                                        "hours": "0"})
    assert refused.status_code == 403 and await _clock(gw) == before
    moved = await gw.client.post("/ui/sandbox", data={
        **form_fields(console), "action": "advance", "days": "3", "hours": "2"})
    assert moved.status_code == 303
    assert moved.headers["location"] == "/ui/sandbox?advanced=1&days=3&hours=2"
    assert await _clock(gw) == before + timedelta(days=3, hours=2)
    # Three days passed on the gateway's clock: the session timed out with them.
    assert (await gw.client.get("/ui/sandbox")).status_code == 303
    await log_in(gw.client, person)
    console = await gw.client.get("/ui/sandbox?lang=en")
    bad = await gw.client.post("/ui/sandbox", data={
        **form_fields(console), "action": "advance", "days": "-1", "hours": "0"})
    assert bad.status_code == 400 and "only moves forward" in bad.text
    assert await _clock(gw) == before + timedelta(days=3, hours=2)
    ran = await gw.client.post("/ui/sandbox", data={**form_fields(console),
                                                    "action": "run_due"})
    assert ran.status_code == 303 and ran.headers["location"].startswith("/ui/sandbox?ran=1&")
    outcome = await gw.client.get(ran.headers["location"] + "&lang=en")
    assert outcome.status_code == 200 and "Due jobs ran:" in outcome.text
    moved_page = await gw.client.get("/ui/sandbox?advanced=1&days=3&hours=2&lang=en")
    assert "The test clock moved forward by 3 days and 2 hours." in moved_page.text


async def test_sandbox_console_needs_a_logged_in_person(sandbox: Gateway) -> None:
    """Was: anyone could move the test clock and run the due jobs from the console."""
    gw = sandbox
    before = await _clock(gw)
    page = await gw.client.get("/ui/sandbox?lang=en")
    assert page.status_code == 303
    assert page.headers["location"] == "/ui/login?next=%2Fui%2Fsandbox%3Flang%3Den"
    login_page = await gw.client.get("/ui/login")  # a form token, but no session
    for form in ({"action": "advance", "days": "31", "hours": "0"}, {"action": "run_due"}):
        refused = await gw.client.post("/ui/sandbox",
                                       data={**form_fields(login_page), **form})
        assert refused.status_code == 303 and refused.headers["location"].startswith(
            "/ui/login?next="), form
    assert await _clock(gw) == before


async def test_office_kind_does_not_matter_for_the_chooser(gw: Gateway) -> None:
    company = await new_org(gw.ports, kind=PartyKind.CEG, name="Kapuvári Kft.")
    admin = await new_citizen(gw.ports)
    await staff_service.grant_role(gw.ports, krid=company.krid or "", username=admin.username,
                                   role=StaffRole.ADMIN)
    await log_in(gw.client, admin, **{"Accept-Language": "en"})
    chooser = await gw.client.get("/ui/?lang=en")
    assert "Kapuvári Kft." in chooser.text and "<td>admin</td>" in chooser.text


async def _staffed_office(gw: Gateway, role: StaffRole = StaffRole.CLERK,
                          ) -> tuple[Account, Account]:
    office = await new_org(gw.ports, name="Kapuvári Polgármesteri Hivatal")
    person = await new_citizen(gw.ports)
    await staff_service.grant_role(gw.ports, krid=office.krid or "", username=person.username,
                                   role=role)
    return office, person


def _rows(page: httpx.Response) -> list[str]:
    return re.findall(r'<a href="/ui/documents/(\d{27})">', page.text)


async def test_mailbox_newest_first_with_filters_and_paging(gw: Gateway) -> None:
    office, clerk = await _staffed_office(gw)
    company = await new_org(gw.ports, kind=PartyKind.CEG, name="Árvíztűrő Tükörfúrógép Kft.")
    citizen = await new_citizen(gw.ports)
    sent: list[str] = []
    for n in range(26):
        gw.clock.advance(minutes=1)
        sender = citizen if n % 2 else company
        answer = await upload(gw.client, sender, office, PDF + bytes([n]), f"kerelem-{n}.pdf",
                              reference_number=f"UGY/{n}", doc_type_id="A" if n < 20 else "B")
        sent.append(answer.json()["registration_number"])
    gw.clock.advance(days=1)
    await log_in(gw.client, clerk)
    box = f"/ui/mailbox/{office.krid}"

    first = await gw.client.get(box)
    assert first.status_code == 200 and "Kapuvári Polgármesteri Hivatal" in first.text
    assert _rows(first) == sent[::-1][:25]  # newest first, 25 a page
    older = re.search(r'<a href="([^"]+)" rel="next">', first.text)
    assert older is not None
    second = await gw.client.get(box + older.group(1).replace("&amp;", "&"))
    assert _rows(second) == [sent[0]] and 'rel="next"' not in second.text

    async def rows(**query: str) -> list[str]:
        page = await gw.client.get(box, params=query)
        assert page.status_code == 200, page.text
        return _rows(page)

    assert await rows(q="kerelem-7.pdf") == [sent[7]]
    assert await rows(q="ugy/1") == [s for n, s in enumerate(sent) if str(n).startswith("1")
                                     ][::-1]
    assert await rows(q="ÁRVÍZTŰRŐ") == [s for n, s in enumerate(sent) if n % 2 == 0][::-1]
    assert await rows(sender_type="citizen") == [s for n, s in enumerate(sent) if n % 2][::-1]
    assert await rows(doc_type_id="B") == sent[20:][::-1]
    assert await rows(**{"from": "2026-11-25"}) == []
    assert len(await rows(**{"from": "2026-11-24", "to": "2026-11-24"})) == 25
    await upload(gw.client, company, office, PDF, "masnap.pdf")  # registered on 25 November
    assert len(await rows(**{"from": "2026-11-25", "to": "2026-11-25"})) == 1
    bad = await gw.client.get(box, params={"from": "tegnap"})
    assert bad.status_code == 400 and "YYYY-MM-DD" in bad.text.replace("ÉÉÉÉ-HH-NN", "YYYY-MM-DD")


async def test_document_download_and_acknowledgement_are_the_persons(gw: Gateway) -> None:
    office, clerk = await _staffed_office(gw)
    sender = await new_org(gw.ports)
    content = PDF + b"egyedi tartalom"
    number = (await upload(gw.client, sender, office, content, "hatarozat.pdf",
                           return_receipt="true")).json()["registration_number"]
    await log_in(gw.client, clerk)
    page = await gw.client.get(f"/ui/documents/{number}?lang=en")
    assert page.status_code == 200 and number in page.text and "waiting" in page.text
    downloaded = await gw.client.get(f"/ui/documents/{number}/content")
    assert downloaded.status_code == 200 and downloaded.content == content
    assert 'filename="hatarozat.pdf"' in downloaded.headers["content-disposition"]
    # Looking and downloading do not acknowledge; the clerk confirms explicitly.
    assert (await gw.client.get(f"/api/v1/documents/{number}",
                                auth=office.auth)).json()["delivery_state"] == "waiting"
    refused = await gw.client.post(f"/ui/documents/{number}/ack", data={})
    assert refused.status_code == 403
    confirmed = await gw.client.post(f"/ui/documents/{number}/ack",
                                     data={**form_fields(page)})
    assert confirmed.status_code == 303
    after = await gw.client.get(confirmed.headers["location"] + "&lang=en")
    assert "Download confirmed" in after.text and "downloaded" in after.text
    receipts = (await gw.client.get(f"/api/v1/documents/{number}/receipts",
                                    auth=sender.auth)).json()["items"]
    assert [r["kind"] for r in receipts] == ["acceptance", "download"]
    await link_pending(gw.ports)  # as the background jobs do within a second
    async with gw.ports.uow() as uow:
        entries = await uow.audit.entries(None, 100_000)
    mine = [(e.actor, e.action, e.office_krid) for e in entries
            if e.registration_number == number]
    assert mine == [(sender.username, "accepted", None),
                    (clerk.username, "downloaded", office.krid),
                    (clerk.username, "acknowledged", office.krid)]


async def test_sent_documents_show_their_receipts(gw: Gateway) -> None:
    office, admin = await _staffed_office(gw, StaffRole.ADMIN)
    addressee = await new_org(gw.ports)
    number = (await upload(gw.client, office, addressee)).json()["registration_number"]
    await log_in(gw.client, admin)
    page = await gw.client.get(f"/ui/documents/{number}?lang=en")
    assert page.status_code == 200 and "acceptance receipt" in page.text
    assert "Confirm the download" not in page.text  # only the addressee confirms
    receipt = await gw.client.get(f"/ui/documents/{number}/receipts/acceptance")
    expected = await gw.client.get(f"/api/v1/documents/{number}/receipts/acceptance",
                                   auth=office.auth)
    assert receipt.status_code == 200 and receipt.content == expected.content
    assert receipt.headers["content-type"] == "application/xml"
    token = await gw.client.get(f"/ui/documents/{number}/timestamp")
    assert token.content == (await gw.client.get(f"/api/v1/documents/{number}/timestamp",
                                                 auth=office.auth)).content
    assert (await gw.client.get(f"/ui/documents/{number}/receipts/download")).status_code == 404
    assert (await gw.client.get(f"/ui/documents/{number}/receipts/nonsense")).status_code == 404


async def test_a_person_without_a_role_gets_404_everywhere(gw: Gateway) -> None:
    office, _clerk = await _staffed_office(gw)
    sender = await new_org(gw.ports)
    number = (await upload(gw.client, sender, office)).json()["registration_number"]
    stranger = await new_citizen(gw.ports)
    await log_in(gw.client, stranger)
    chooser = await gw.client.get("/ui/")
    for path in (f"/ui/mailbox/{office.krid}", f"/ui/documents/{number}",
                 f"/ui/documents/{number}/content", f"/ui/documents/{number}/timestamp",
                 f"/ui/documents/{number}/receipts/acceptance", "/ui/mailbox/999999999",
                 f"/ui/documents/{'1' * 27}"):
        answer = await gw.client.get(path)
        assert answer.status_code == 404, path
        assert "PDF" not in answer.text and number not in answer.text
    ack = await gw.client.post(f"/ui/documents/{number}/ack",
                               data={**form_fields(chooser)})
    assert ack.status_code == 404
    assert (await gw.client.get(f"/api/v1/documents/{number}",
                                auth=office.auth)).json()["delivery_state"] == "waiting"


async def test_an_admin_grants_and_revokes_and_reads_the_log(gw: Gateway) -> None:
    office, admin = await _staffed_office(gw, StaffRole.ADMIN)
    clerk = await new_citizen(gw.ports)
    sender = await new_org(gw.ports)
    number = (await upload(gw.client, sender, office)).json()["registration_number"]
    gw.client.headers["Accept-Language"] = "en"
    await log_in(gw.client, admin)
    staff = f"/ui/offices/{office.krid}/staff"
    page = await gw.client.get(staff)
    assert page.status_code == 200 and admin.username in page.text
    assert (await gw.client.post(staff, data={"person": clerk.username, "role": "clerk",
                                             "action": "grant"})).status_code == 403
    granted = await gw.client.post(staff, data={
        **form_fields(page), "person": clerk.username, "role": "clerk",
        "action": "grant"})
    assert granted.status_code == 303
    assert clerk.username in (await gw.client.get(granted.headers["location"])).text
    for data, status, message in (
        ({"person": admin.username, "role": "clerk", "action": "grant"}, 409,
         "The last admin stays"),
        ({"person": admin.username, "action": "revoke"}, 409, "The last admin stays"),
        ({"person": "nincs-ilyen", "role": "clerk", "action": "grant"}, 400,
         "no person with that username"),
        ({"person": clerk.username, "role": "fonok", "action": "grant"}, 400,
         "Choose a role"),
    ):
        page = await gw.client.get(staff)  # a new form, with its own one-time key
        refused = await gw.client.post(staff, data={**form_fields(page), **data})
        assert refused.status_code == status and message in refused.text, data

    # The clerk works the mailbox; the admin reads it in the log with the clerk's name.
    gw.client.cookies.clear()
    await log_in(gw.client, clerk)
    await gw.client.get(f"/ui/documents/{number}/content")
    for path in (staff, f"/ui/offices/{office.krid}/log"):
        assert (await gw.client.get(path)).status_code == 404  # a clerk is no admin
    chooser = await gw.client.get("/ui/")
    assert (await gw.client.post(staff, data={
        **form_fields(chooser), "person": clerk.username, "role": "admin",
        "action": "grant"})).status_code == 404
    gw.client.cookies.clear()
    await log_in(gw.client, admin)
    page = await gw.client.get(staff)
    revoked = await gw.client.post(staff, data={
        **form_fields(page), "person": clerk.username, "action": "revoke"})
    assert revoked.status_code == 303
    log = await gw.client.get(f"/ui/offices/{office.krid}/log?lang=en")
    assert log.status_code == 200
    rows = re.findall(r"<tr><td>[^<]*</td><td>([^<]*)</td><td>([^<]*)</td><td>([^<]*)</td></tr>",
                      log.text)
    assert rows == [(admin.username, "revoked a role", f"{clerk.username}: clerk"),
                    (clerk.username, "downloaded", number),
                    (admin.username, "granted a role", f"{clerk.username}: clerk"),
                    ("cli", "granted a role", f"{admin.username}: admin")]


async def test_send_answers_the_number_at_once_and_sent_shows_it(gw: Gateway) -> None:
    office, clerk = await _staffed_office(gw)
    addressee = await new_org(gw.ports, name="Címzett Városháza")
    gw.client.headers["Accept-Language"] = "en"
    await log_in(gw.client, clerk)
    form = await gw.client.get(f"/ui/send?box={office.krid}&office_q=címzett VÁROS")
    assert form.status_code == 200
    assert f'recipient_krid={addressee.krid}' in form.text  # the office search found it
    chosen = await gw.client.get(f"/ui/send?box={office.krid}&recipient_krid={addressee.krid}")
    assert f'value="{addressee.krid}"' in chosen.text
    fields = {**form_fields(form), "recipient_krid": addressee.krid or "",
              "doc_type_office": "TESZT", "doc_type_id": "VALASZ",
              "doc_type_description": "Válasz", "reference_number": "UI/1",
              "note": "böngészőből", "return_receipt": "true"}
    sent = await gw.client.post(f"/ui/send?box={office.krid}", data=fields,
                                files={"file": ("valasz.pdf", PDF)})
    number = _SENT.fullmatch(sent.headers["location"])
    assert sent.status_code == 303 and number is not None
    assert number.group(1).startswith(addressee.krid or "")
    outcome = await gw.client.get(sent.headers["location"])
    assert outcome.status_code == 200
    assert (f"Sent: registration number {number.group(1)}, to Címzett Városháza "
            f"(KRID {addressee.krid}), accepted at" in outcome.text)
    metadata = (await gw.client.get(f"/api/v1/documents/{number.group(1)}",
                                    auth=addressee.auth)).json()
    assert metadata["sender"]["krid"] == office.krid and metadata["return_receipt"] is True
    assert (metadata["reference_number"], metadata["note"]) == ("UI/1", "böngészőből")
    listing = await gw.client.get(f"/ui/sent?box={office.krid}")
    assert number.group(1) in listing.text and "waiting" in listing.text
    assert "acceptance receipt" in listing.text and "download receipt" not in listing.text
    acknowledged = await gw.client.post(f"/api/v1/documents/{number.group(1)}/ack",
                                        auth=addressee.auth)
    assert acknowledged.status_code == 200
    listing = await gw.client.get(f"/ui/sent?box={office.krid}")
    assert "downloaded" in listing.text and "download receipt" in listing.text
    await link_pending(gw.ports)  # as the background jobs do within a second
    async with gw.ports.uow() as uow:
        entries = await uow.audit.entries(None, 100_000)
    assert [(e.actor, e.action, e.office_krid) for e in entries
            if e.registration_number == number.group(1)] == \
        [(clerk.username, "accepted", office.krid),
         (addressee.username, "acknowledged", None)]


async def test_a_refused_send_leaves_nothing(gw: Gateway) -> None:
    office, clerk = await _staffed_office(gw)
    addressee = await new_org(gw.ports)
    await log_in(gw.client, clerk)
    page = await gw.client.get(f"/ui/send?box={office.krid}&lang=en")
    fields = {"recipient_krid": addressee.krid or "", "doc_type_office": "T",
              "doc_type_id": "T", "doc_type_description": "T"}
    no_token = await gw.client.post(f"/ui/send?box={office.krid}", data=fields,
                                    files={"file": ("a.pdf", PDF)})
    assert no_token.status_code == 403
    wrong = await gw.client.post(f"/ui/send?box={office.krid}&lang=en",
                                 data={**fields, **form_fields(page)},
                                 files={"file": ("virus.exe", b"MZ")})
    assert wrong.status_code == 400 and "cannot be sent" in wrong.text
    missing = await gw.client.post(f"/ui/send?box={office.krid}&lang=en",
                                   data={**form_fields(page)},
                                   files={"file": ("a.pdf", PDF)})
    assert missing.status_code == 400 and "nothing was sent" in missing.text
    assert stored_files(gw.blob_root) == []
    assert (await gw.client.get("/api/v1/mailbox", auth=addressee.auth)).json()["items"] == []
    # No number was consumed: the addressee's next document is its first of the day.
    first = (await upload(gw.client, office, addressee)).json()["registration_number"]
    assert first.endswith("000001")


@pytest.mark.parametrize(("language", "sentence"), [
    ("en", "The file is empty (0 bytes)"), ("hu", "A fájl üres (0 bájt)")])
async def test_an_empty_file_is_refused_in_a_sentence_and_leaves_nothing(
        gw: Gateway, language: str, sentence: str) -> None:
    office, clerk = await _staffed_office(gw)
    addressee = await new_org(gw.ports)
    await log_in(gw.client, clerk)
    page = await gw.client.get(f"/ui/send?box={office.krid}&lang={language}")
    fields = {**form_fields(page), "recipient_krid": addressee.krid or "",
              "doc_type_office": "T", "doc_type_id": "T", "doc_type_description": "T"}
    # A refused send releases its one-time key: the same form may be corrected and sent again.
    for file_name in ("ures.txt", "ures.pdf"):  # not a format mismatch for the .pdf
        refused = await gw.client.post(f"/ui/send?box={office.krid}&lang={language}",
                                       data=fields, files={"file": (file_name, b"")})
        assert refused.status_code == 422
        error = re.search(r'id="send-error">\s*([^<]*)<', refused.text)
        assert error is not None and error.group(1).startswith(sentence), refused.text
    assert stored_files(gw.blob_root) == []
    assert (await gw.client.get("/api/v1/mailbox", auth=addressee.auth)).json()["items"] == []
    first = (await upload(gw.client, office, addressee)).json()["registration_number"]
    assert first.endswith("000001")


async def test_send_and_sent_are_404_for_others(gw: Gateway) -> None:
    office, _clerk = await _staffed_office(gw)
    stranger = await new_citizen(gw.ports)
    await log_in(gw.client, stranger)
    for path in (f"/ui/send?box={office.krid}", f"/ui/sent?box={office.krid}", "/ui/send"):
        assert (await gw.client.get(path)).status_code == 404, path
    chooser = await gw.client.get("/ui/")
    refused = await gw.client.post(f"/ui/send?box={office.krid}",
                                   data={**form_fields(chooser)},
                                   files={"file": ("a.pdf", PDF)})
    assert refused.status_code == 404


async def test_production_marks_the_cookies_secure(
    database_url: str, tmp_path: Path, keys_dir: Path, clock: FixedClock
) -> None:
    person_settings = Settings(
        database_url=database_url, data_dir=tmp_path / "data", background_jobs=False,
        environment="production", ca_cert_file=keys_dir / "ca.pem",
        signing_key_file=keys_dir / "signing.key.pem", signing_cert_file=keys_dir / "signing.pem",
        tsa_key_file=keys_dir / "tsa.key.pem", tsa_cert_file=keys_dir / "tsa.pem",
        avdh_key_file=keys_dir / "avdh.key.pem", avdh_cert_file=keys_dir / "avdh.pem")
    async for gw in _start(person_settings, clock):
        person = await new_citizen(gw.ports)
        page = await gw.client.get("/ui/login")
        assert "Secure" in page.headers["set-cookie"]
        # A browser sends Secure cookies back over HTTPS only; the test client speaks plain
        # HTTP, so the cookie goes back by hand.
        answer = await gw.client.post("/ui/login", headers={
            "Cookie": f"kapu_csrf={token_of(page)}"}, data={
            **form_fields(page), "username": person.username,
            "password": person.password})
        assert answer.status_code == 303
        assert all("Secure" in cookie for cookie in answer.headers.get_list("set-cookie"))
