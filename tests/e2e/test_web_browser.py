"""The pages for people in a real browser: Debian's Chromium driven by Playwright, against a
real ``kapu serve --demo`` in sandbox mode. Keyboard only; and axe-core, run inside each page,
in both languages."""

from __future__ import annotations

import functools
import os
import re
import secrets
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Page, expect, sync_playwright

from tests.e2e.conftest import Server, start_server, stop_server
from tests.e2e.test_status_page import CHROMIUM_FLAGS

ROOT = Path(__file__).resolve().parents[2]
AXE = ROOT / "node_modules" / "axe-core" / "axe.min.js"
# The README's pictures: taken by these tests, written to docs/ when KAPU_UPDATE_SCREENSHOTS=1.
SCREENSHOTS = ROOT / "docs" / "screenshots"
DEMO_ADMIN = ("demoadmin", "demoadmin-jelszo")
DEMO_CLERK = ("demougyintezo", "demougyintezo-jelszo")
DEMOCEG = ("DEMOCEG", "democeg-jelszo")


DEMO_CITIZEN = ("demopolgar", "demopolgar-jelszo")

# The pages and the keyboard, not the database, as in the other browser tests: the same paths
# run on SQLite and PostgreSQL in tests/integration, and a browser round on each database
# doubled this file's minutes (the slowest of make test) for nothing.
pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
DEMO_CITIZEN_CODE = "d3m0c0de0000000000000000000000a1"


def send_to_demo_citizen(server: Server, content: bytes, file_name: str) -> str:
    answer = httpx.post(f"{server.url}/api/v1/documents", auth=("DEMOHIVATAL",
                        "demohivatal-jelszo"), files={"file": (file_name, content)}, data={
        "recipient_code": DEMO_CITIZEN_CODE, "doc_type_office": "DEMO",
        "doc_type_id": "HATAROZAT", "doc_type_description": "Határozat"})
    assert answer.status_code == 201, answer.text
    return str(answer.json()["registration_number"])


def send_to_demohivatal(server: Server, content: bytes, file_name: str) -> str:
    answer = httpx.post(f"{server.url}/api/v1/documents", auth=DEMOCEG, files={
        "file": (file_name, content)}, data={
        "recipient_krid": "100000001", "doc_type_office": "DEMO", "doc_type_id": "KERELEM",
        "doc_type_description": "Kérelem", "return_receipt": "true"})
    assert answer.status_code == 201, answer.text
    return str(answer.json()["registration_number"])


@pytest.fixture
def server(database_url: str, tmp_path: Path) -> Iterator[Server]:
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    running = start_server(database_url, data_dir, "--demo",
                           env={"KAPU_SANDBOX": "1", "KAPU_BACKGROUND_JOBS": "0"})
    try:
        yield running
    finally:
        stop_server(running)


@pytest.fixture
def page() -> Iterator[Page]:
    # A browser a test, not one a module: while Playwright's synchronous API is open, its event
    # loop counts as running in the thread, and the fixtures' asyncio.run() would fail.
    chromium = shutil.which("chromium")
    assert chromium, "Debian's chromium is needed (make test installs it)"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_FLAGS)
        # bypass_csp: axe-core is injected as a script, which the pages' own policy forbids.
        yield browser.new_page(viewport={"width": 1000, "height": 800}, bypass_csp=True)
        browser.close()


def shoot(page: Page, name: str, tmp_path: Path) -> None:
    target = SCREENSHOTS if os.environ.get("KAPU_UPDATE_SCREENSHOTS") == "1" else tmp_path
    target.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(target / f"{name}.png"), full_page=True)
    assert (target / f"{name}.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def press(page: Page, key: str, times: int = 1) -> None:
    for _ in range(times):
        page.keyboard.press(key)


def focused(page: Page) -> str:
    return str(page.evaluate(
        "() => { const e = document.activeElement;"
        " return e.id || e.name || e.textContent.trim(); }"))


def tab_to(page: Page, name: str, limit: int = 60) -> None:
    for _ in range(limit):
        if focused(page) == name:
            return
        press(page, "Tab")
    raise AssertionError(f"{name!r} cannot be reached with Tab")


def test_keyboard_only_login_mailbox_document_download_logout(
    server: Server, page: Page, tmp_path: Path
) -> None:
    content = b"%PDF-1.7\nBillentyuzet\n%%EOF\n"
    number = send_to_demohivatal(server, content, "billentyuzet.pdf")
    page.goto(f"{server.url}/ui/?lang=en")
    assert page.url.startswith(f"{server.url}/ui/login")
    shoot(page, "login", tmp_path)
    # Tab order: skip link, language links, then the form.
    press(page, "Tab")
    assert focused(page) == "Skip to the content"
    while focused(page) != "username":
        press(page, "Tab")
    page.keyboard.type(DEMO_ADMIN[0])
    press(page, "Tab")
    assert focused(page) == "password"
    page.keyboard.type(DEMO_ADMIN[1])
    press(page, "Enter")
    page.wait_for_url(f"{server.url}/ui/?lang=en")  # back where the login was asked for
    assert page.inner_text("h1") == "Your mailboxes"
    assert "DEMOHIVATAL" in page.inner_text("main")
    tab_to(page, "DEMOHIVATAL")
    press(page, "Enter")
    page.wait_for_url(f"{server.url}/ui/mailbox/100000001")
    tab_to(page, number, limit=200)
    press(page, "Enter")
    page.wait_for_url(f"{server.url}/ui/documents/{number}")
    tab_to(page, "Download billentyuzet.pdf")
    with page.expect_download() as download:
        press(page, "Enter")
    saved = tmp_path / "billentyuzet.pdf"
    download.value.save_as(saved)
    assert saved.read_bytes() == content
    # The focus ring is visible: an outline, not the browser's none.
    while focused(page) != "Log out":
        press(page, "Tab")
    outline = page.evaluate("() => getComputedStyle(document.activeElement).outlineStyle")
    assert outline == "solid"
    press(page, "Enter")
    page.wait_for_url(f"{server.url}/ui/login")


def test_a_clerk_finds_downloads_and_confirms_a_document(
    server: Server, page: Page, tmp_path: Path
) -> None:
    content = b"%PDF-1.7\nKerelem a bongeszos teszthez\n%%EOF\n"
    number = send_to_demohivatal(server, content, "bongeszo-kerelem.pdf")
    page.goto(f"{server.url}/ui/login?lang=en")
    page.fill("#username", DEMO_CLERK[0])
    page.fill("#password", DEMO_CLERK[1])
    page.click("button[type=submit]")
    page.click("text=DEMOHIVATAL")
    page.fill("#q", "bongeszo-kerelem")
    page.click("form.filters button")
    shoot(page, "mailbox", tmp_path)
    page.click(f"text={number}")
    shoot(page, "document", tmp_path)
    assert page.inner_text("#state") == "waiting"
    with page.expect_download() as download:
        page.click("text=Download bongeszo-kerelem.pdf")
    saved = tmp_path / "saved.pdf"
    download.value.save_as(saved)
    assert saved.read_bytes() == content
    page.click("text=Confirm the download")
    assert page.inner_text("#state") == "downloaded"
    receipts = httpx.get(f"{server.url}/api/v1/documents/{number}/receipts", auth=DEMOCEG)
    assert [r["kind"] for r in receipts.json()["items"]] == ["acceptance", "download"]

    # The clerk answers: the number comes at once, the state later.
    page.click("text=Back to the mailbox of DEMOHIVATAL")
    page.click("text=Send a document")
    page.fill("#office_q", "Demo Cég")
    page.click("button:has-text('Search')")
    page.click("text=Send to 100000002")
    answer = tmp_path / "valasz.pdf"
    answer.write_bytes(b"%PDF-1.7\nValasz\n%%EOF\n")
    page.set_input_files("#file", str(answer))
    page.fill("#doc_type_office", "DEMO")
    page.fill("#doc_type_id", "VALASZ")
    page.fill("#doc_type_description", "Válasz")
    page.fill("#reference_number", number)
    # A double click sends the form twice: one document, one number.
    page.dblclick("button:has-text('Send')")
    # The second submission aborts the first one's navigation, and wait_for_url fails on an
    # aborted navigation when it sees that one first; the URL is polled instead (as long as
    # wait_for_url would have waited: expect's own default is 5 s).
    expect(page).to_have_url(re.compile(r"/ui/sent\?box=[^&]+&sent=\d+$"), timeout=30_000)
    page.wait_for_load_state()
    sent = page.url.rsplit("sent=", 1)[1]
    shoot(page, "sent-at-once", tmp_path)
    # The outcome names the number and to whom it went, above what the office sent.
    assert sent.startswith("100000002") and sent in page.inner_text("#sent")
    assert "(KRID 100000002)" in page.inner_text("#sent")
    arrived = httpx.get(f"{server.url}/api/v1/mailbox", auth=DEMOCEG).json()["items"]
    assert [d["registration_number"] for d in arrived
            if d["file_name"] == "valasz.pdf" and d["reference_number"] == number] == [sent]
    assert "waiting" in page.inner_text(f"tr:has-text('{sent}')")
    httpx.post(f"{server.url}/api/v1/documents/{sent}/ack", auth=DEMOCEG).raise_for_status()
    page.reload()
    row = page.inner_text(f"tr:has-text('{sent}')")
    assert "downloaded" in row and "download receipt" in row


def test_a_citizen_opens_a_document_in_their_own_tarhely(
    server: Server, page: Page, tmp_path: Path
) -> None:
    content = b"%PDF-1.7\nHatarozat a polgarnak\n%%EOF\n"
    number = send_to_demo_citizen(server, content, "hatarozat-polgar.pdf")
    log_in(page, server, DEMO_CITIZEN)
    page.click("text=Tárhely of Demo Polgár")
    page.fill("#q", "hatarozat-polgar")
    page.click("form.filters button")
    shoot(page, "citizen-tarhely", tmp_path)
    page.click(f"text={number}")
    assert "Opening is receiving" in page.inner_text("#open")
    assert page.locator("text=Download hatarozat-polgar.pdf").count() == 0
    with page.expect_download() as download:
        page.click("text=Open hatarozat-polgar.pdf and receive it")
    saved = tmp_path / "hatarozat.pdf"
    download.value.save_as(saved)
    assert saved.read_bytes() == content
    receipts = httpx.get(f"{server.url}/api/v1/documents/{number}/receipts",
                         auth=("DEMOHIVATAL", "demohivatal-jelszo"))
    assert [r["kind"] for r in receipts.json()["items"]] == ["acceptance", "download"]


def test_a_citizen_sets_the_notice_address_and_the_notice_shows_in_the_sandbox(
    server: Server, page: Page, tmp_path: Path
) -> None:
    address = f"demo-{secrets.token_hex(4)}@example.hu"
    log_in(page, server, DEMO_CITIZEN)
    page.fill("#email", address)
    page.click("text=Save the e-mail address")
    assert "Notices now go to this address." in page.inner_text("main")
    number = send_to_demo_citizen(server, b"%PDF-1.7\nErtesites\n%%EOF\n", "ertesites.pdf")
    page.goto(f"{server.url}/ui/sandbox?lang=en")
    row = page.locator("#mails tr", has_text=address)
    assert "waiting to be sent" in row.inner_text()  # queued with the document
    page.click("text=Run the due jobs now")  # the jobs send it (the embedded default: a file)
    assert "e-mails sent" in page.inner_text("[role=status]")
    row = page.locator("#mails tr", has_text=address)
    row.locator("summary").click()
    text = row.inner_text()
    assert number in text and "sent" in text and "ertesites.pdf" not in text
    assert "Opening the document is its delivery" in text
    shoot(page, "sandbox-mail", tmp_path)


def test_a_citizen_keeps_a_document_and_removes_it_again(
    server: Server, page: Page, tmp_path: Path
) -> None:
    content = b"%PDF-1.7\nMegorzendo hatarozat\n%%EOF\n"
    number = send_to_demo_citizen(server, content, "megorzendo.pdf")
    log_in(page, server, DEMO_CITIZEN)
    page.goto(f"{server.url}/ui/documents/{number}")
    page.click("button:has-text('Keep in the tartós tár')")
    assert "The document is kept in your tartós tár." in page.inner_text("main")
    receipts = httpx.get(f"{server.url}/api/v1/documents/{number}/receipts",
                         auth=("DEMOHIVATAL", "demohivatal-jelszo"))
    assert [r["kind"] for r in receipts.json()["items"]] == ["acceptance", "download"]
    page.click("#kept a")
    assert number in page.inner_text("table")
    shoot(page, "citizen-tartos-tar", tmp_path)
    with page.expect_download() as download:
        page.click("text=Download megorzendo.pdf")
    download.value.save_as(tmp_path / "megorzendo.pdf")
    assert (tmp_path / "megorzendo.pdf").read_bytes() == content
    page.click("button:has-text('Remove megorzendo.pdf')")
    assert "is no longer kept in your tartós tár" in page.inner_text("main")
    assert number not in page.inner_text("main").replace(f"{number} is no longer", "")


# A row's measures in the browser: how many lines each day and the registration number take,
# the file name cell's height against one line, and whether the page scrolls sideways.
_ROW_MEASURES = """row => ({
    days: [...row.querySelectorAll('time')].map(t => t.getClientRects().length),
    number: row.querySelector('td.number a').getClientRects().length,
    nameHeight: row.querySelector('td.file').getBoundingClientRect().height,
    line: parseFloat(getComputedStyle(row).lineHeight),
    pageWidth: document.documentElement.scrollWidth,
    tableWidth: row.closest('table').getBoundingClientRect().width,
})"""


def test_a_long_file_name_wraps_in_its_cell_and_days_stay_on_one_line(
    server: Server, page: Page
) -> None:
    # 120 characters with nowhere a browser would break on its own (no space, no hyphen).
    long_name = ("Epitesi_engedely_iranti_kerelem_" * 4)[:116] + ".pdf"
    assert len(long_name) == 120
    number = send_to_demohivatal(server, b"%PDF-1.7\nhosszu\n%%EOF\n", long_name)
    page.set_viewport_size({"width": 1280, "height": 800})
    log_in(page, server, DEMO_CLERK)
    page.goto(f"{server.url}/ui/mailbox/100000001?lang=en")
    measures = page.locator(f"tr:has-text('{number}')").evaluate(_ROW_MEASURES)
    assert measures["days"] == [1, 1], measures  # arrival and valid_until, one line each
    assert measures["number"] == 1, measures
    assert measures["nameHeight"] > 1.5 * measures["line"], measures  # the name wrapped
    assert measures["pageWidth"] <= 1280, measures  # nothing overflows sideways
    assert measures["tableWidth"] > 1100, measures  # the table uses the page's width
    page.click("form.logout button")
    page.wait_for_url(f"{server.url}/ui/login")

    # A citizen's tartós tár: the same name in its download link and remove button.
    kept = send_to_demo_citizen(server, b"%PDF-1.7\nmegorzott\n%%EOF\n", long_name)
    log_in(page, server, DEMO_CITIZEN)
    page.goto(f"{server.url}/ui/documents/{kept}?lang=en")
    page.click(f"form[action='/ui/documents/{kept}/keep'] button")
    page.wait_for_url(f"{server.url}/ui/documents/{kept}?kept=1")
    page.goto(f"{server.url}/ui/storage?lang=en")
    measures = page.locator(f"tr:has-text('{kept}')").evaluate(_ROW_MEASURES)
    assert measures["days"] == [1] and measures["number"] == 1, measures
    assert measures["pageWidth"] <= 1280, measures


def test_a_person_without_a_role_gets_404(server: Server, page: Page) -> None:
    log_in(page, server, ("demopolgar", "demopolgar-jelszo"))
    for path in ("/ui/mailbox/100000001", "/ui/offices/100000001/staff",
                 "/ui/send?box=100000001"):
        answer = page.goto(f"{server.url}{path}")
        assert answer is not None and answer.status == 404, path
        assert page.inner_text("h1") == "Not found"


def log_in(page: Page, server: Server, who: tuple[str, str], language: str = "en") -> None:
    page.goto(f"{server.url}/ui/login?lang={language}")
    page.fill("#username", who[0])
    page.fill("#password", who[1])
    # A click does not wait for the page it leads to; the next step must see that page.
    with page.expect_navigation(url=f"{server.url}/ui/"):
        page.click("button[type=submit]")


def test_an_admin_grants_and_revokes_a_clerk_and_reads_the_log(
    server: Server, page: Page
) -> None:
    log_in(page, server, DEMO_ADMIN)
    page.click("text=Staff of DEMOHIVATAL")
    page.fill("#person", "demopolgar")
    page.select_option("#role", "clerk")
    page.click("button:has-text('Save')")
    assert "Saved: demopolgar." in page.inner_text("main")
    assert "demopolgar" in page.inner_text("table")
    page.fill("#person", "demopolgar")
    page.check("input[value=revoke]")
    page.click("button:has-text('Save')")
    assert "demopolgar" not in page.inner_text("table")
    page.click("text=The office's log")
    log = page.inner_text("table")
    assert "demopolgar: clerk" in log and "granted a role" in log and "revoked a role" in log


@functools.cache
def _axe_source() -> str:
    # Read once: Playwright reads a path anew for every page (0.30 s a page against 0.19 s).
    return AXE.read_text()


def axe_findings(page: Page) -> list[dict[str, Any]]:
    page.wait_for_load_state()
    page.add_script_tag(content=_axe_source())
    result: dict[str, Any] = page.evaluate(
        "async () => await axe.run(document, {runOnly: ['wcag2a', 'wcag2aa', 'wcag21a',"
        " 'wcag21aa', 'best-practice']})")
    return [{"id": v["id"], "impact": v["impact"], "nodes": len(v["nodes"])}
            for v in result["violations"]]


def test_axe_finds_nothing_serious_on_any_page(server: Server, page: Page) -> None:
    assert AXE.exists(), "make test installs axe-core (npm ci)"
    number = send_to_demohivatal(server, b"%PDF-1.7\naxe\n%%EOF\n", "axe.pdf")
    to_citizen = send_to_demo_citizen(server, b"%PDF-1.7\nhatarozat\n%%EOF\n", "hatarozat.pdf")
    # One the office sent: the sent page's outcome notice names it and its addressee.
    reply = httpx.post(f"{server.url}/api/v1/documents",
                       auth=("DEMOHIVATAL", "demohivatal-jelszo"),
                       files={"file": ("valasz.pdf", b"%PDF-1.7\nvalasz\n%%EOF\n")},
                       data={"recipient_krid": "100000002", "doc_type_office": "DEMO",
                             "doc_type_id": "VALASZ", "doc_type_description": "Válasz"})
    assert reply.status_code == 201, reply.text
    reply_number = reply.json()["registration_number"]
    findings: dict[str, list[dict[str, Any]]] = {}
    for language in ("hu", "en"):
        for path in ("/ui/login", "/ui/nincs-ilyen-oldal"):
            page.goto(f"{server.url}{path}?lang={language}")
            findings[f"{path} ({language})"] = axe_findings(page)
        page.goto(f"{server.url}/ui/login?lang={language}")
        page.fill("#username", DEMO_ADMIN[0])
        page.fill("#password", "nem-ez")
        with page.expect_navigation():  # axe needs the refusal's page loaded, not the form's
            page.click("button[type=submit]")
        findings[f"/ui/login refused ({language})"] = axe_findings(page)
        page.fill("#password", DEMO_ADMIN[1])
        page.click("button[type=submit]")
        page.wait_for_url(f"{server.url}/ui/")
        findings[f"/ui/ ({language})"] = axe_findings(page)
        with page.expect_navigation():
            page.click("text=DEMOHIVATAL")
        findings[f"/ui/mailbox/100000001 ({language})"] = axe_findings(page)
        # The unread count, the date hint and a filter's refusal naming the field.
        page.goto(f"{server.url}/ui/mailbox/100000001?from=tegnap&lang={language}")
        findings[f"/ui/mailbox/100000001 bad day ({language})"] = axe_findings(page)
        page.goto(f"{server.url}/ui/documents/{number}?lang={language}")
        findings[f"/ui/documents/… ({language})"] = axe_findings(page)
        for where in ("offices/100000001/staff", "offices/100000001/log",
                      "offices/100000001/staff/leave",
                      "send?box=100000001&office_q=Demo", "sent?box=100000001",
                      f"sent?box=100000001&sent={reply_number}", "sandbox",
                      "sandbox?ran=1&warned=1&not_collected=0&presumed_delivered=0&expired=0"
                      "&mails_sent=2&mandates_expired=0", "sandbox?advanced=1&days=3&hours=2"):
            separator = "&" if "?" in where else "?"
            page.goto(f"{server.url}/ui/{where}{separator}lang={language}")
            findings[f"/ui/{where} ({language})"] = axe_findings(page)
        page.click("form.logout button")
        page.wait_for_url(f"{server.url}/ui/login")
        # A citizen's own tárhely and a document in it.
        log_in(page, server, DEMO_CITIZEN, language)
        findings[f"/ui/ of a citizen ({language})"] = axe_findings(page)
        page.goto(f"{server.url}/ui/mailbox/me?lang={language}")
        findings[f"/ui/mailbox/me ({language})"] = axe_findings(page)
        page.goto(f"{server.url}/ui/documents/{to_citizen}?lang={language}")
        findings[f"/ui/documents/… of a citizen ({language})"] = axe_findings(page)
        if language == "hu":  # kept once; the English round sees it kept
            page.click(f"form[action='/ui/documents/{to_citizen}/keep'] button")
            page.wait_for_url(f"{server.url}/ui/documents/{to_citizen}?kept=1")
        findings[f"/ui/documents/… kept ({language})"] = axe_findings(page)
        # me/address: the swap's confirmation page, only opened (the demo's code is shared).
        for where in ("storage", "send?box=me", "me/address"):
            separator = "&" if "?" in where else "?"
            page.goto(f"{server.url}/ui/{where}{separator}lang={language}")
            findings[f"/ui/{where} of a citizen ({language})"] = axe_findings(page)
        page.click("form.logout button")
        page.wait_for_url(f"{server.url}/ui/login")
    page.goto(f"{server.url}/status")
    findings["/status"] = axe_findings(page)
    # Everything axe finds is shown; serious and critical ones fail the test.
    print("axe-core findings:", {where: found for where, found in findings.items() if found})
    serious = {where: [f for f in found if f["impact"] in ("serious", "critical")]
               for where, found in findings.items()}
    assert not any(serious.values()), serious
