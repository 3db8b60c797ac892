"""e-Papír in a real browser (Debian's Chromium driven by Playwright) against a real ``kapu
serve --demo``: a citizen writes to DEMOHIVATAL by keyboard alone; axe-core finds nothing on
either step of ``/ui/epapir``, nor on a refusal, in Hungarian and English."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Page

from tests.e2e import test_web_browser as browser
from tests.e2e.conftest import Server
from tests.e2e.test_web_browser import AXE, DEMO_CITIZEN, axe_findings, focused, press, tab_to

# The browser tests' fixtures: a real ``kapu serve --demo`` in sandbox mode, and Chromium.
server = browser.server
page = browser.page

DEMOHIVATAL_KRID = "100000001"

# The pages and the keyboard, not the database: the same paths run on SQLite and PostgreSQL
# in tests/integration; a browser round on each database would double the minutes for nothing.
ONE_DATABASE = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)



@ONE_DATABASE
def test_a_citizen_sends_an_epapir_by_keyboard_alone(
        server: Server, page: Page, tmp_path: Path) -> None:
    attachment = tmp_path / "nyilatkozat.txt"
    attachment.write_text("Nyilatkozat: ő és ű.\n", encoding="utf-8")
    page.goto(f"{server.url}/ui/login?lang=en")
    tab_to(page, "username")
    page.keyboard.type(DEMO_CITIZEN[0])
    press(page, "Tab")
    page.keyboard.type(DEMO_CITIZEN[1])
    with page.expect_navigation():
        press(page, "Enter")
    page.goto(f"{server.url}/ui/epapir?lang=en")
    tab_to(page, "office_q")
    page.keyboard.type("demo hiv")
    with page.expect_navigation():
        press(page, "Enter")
    tab_to(page, "Write to DEMOHIVATAL")
    with page.expect_navigation():
        press(page, "Enter")
    assert page.inner_text("h2") == f"To Demo Hivatal (KRID {DEMOHIVATAL_KRID})"
    tab_to(page, "topic")
    tab_to(page, "subject")
    page.keyboard.type("Kérelem billentyűzettel")
    press(page, "Tab")
    assert focused(page) == "text"
    page.keyboard.type("Tisztelt Hivatal! Kérem az ügyem intézését.")
    page.set_input_files("#attachment", str(attachment))
    tab_to(page, "return_receipt")
    press(page, "Space")
    assert page.is_checked("input[name=return_receipt]")
    browser.shoot(page, "epapir", tmp_path)
    tab_to(page, "Send the e-Papír")
    with page.expect_navigation():
        press(page, "Enter")
    notice = page.inner_text("#sent")
    assert "Sent: registration number" in notice and "Demo Hivatal" in notice
    number = notice.split("registration number ", 1)[1].split(",", 1)[0]
    assert len(number) == 27 and number.startswith(DEMOHIVATAL_KRID)
    assert f"epapir-{number}.pdf" in page.inner_text("table")
    picture_of_page_one(server, number, tmp_path)


def picture_of_page_one(server: Server, number: str, tmp_path: Path) -> None:
    """Page 1 of the hitelesített PDF as the office receives it, drawn by poppler's pdftoppm
    (the README's picture of the záradék)."""
    content = httpx.get(f"{server.url}/api/v1/documents/{number}/content",
                        auth=("DEMOHIVATAL", "demohivatal-jelszo"))
    assert content.status_code == 200 and content.content.startswith(b"%PDF-")
    (tmp_path / "hiteles.pdf").write_bytes(content.content)
    target = browser.SCREENSHOTS if os.environ.get("KAPU_UPDATE_SCREENSHOTS") == "1" \
        else tmp_path
    subprocess.run(["pdftoppm", "-png", "-r", "60", "-f", "1", "-l", "1", "-singlefile",
                    str(tmp_path / "hiteles.pdf"), str(target / "hiteles-pdf")], check=True)
    assert (target / "hiteles-pdf.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@ONE_DATABASE
def test_axe_finds_nothing_on_the_epapir_pages(server: Server, page: Page) -> None:
    assert AXE.exists(), "make test installs axe-core (npm ci)"
    findings: dict[str, list[dict[str, Any]]] = {}
    browser.log_in(page, server, DEMO_CITIZEN)
    for language in ("hu", "en"):
        for name, path in (("search", "/ui/epapir?office_q=hivatal"),
                           ("form", f"/ui/epapir?office={DEMOHIVATAL_KRID}")):
            page.goto(f"{server.url}{path}&lang={language}")
            findings[f"{name} ({language})"] = axe_findings(page)
        # A refusal: the subject on two lines cannot be typed, but a text too long can.
        page.fill("#subject", "Kérelem")
        page.fill("#text", "x" * 10_001)
        with page.expect_navigation():
            page.click("form[action^='/ui/epapir'] button[type=submit]")
        assert page.get_attribute("#text", "aria-invalid") == "true"
        findings[f"refused ({language})"] = axe_findings(page)
    assert {where: found for where, found in findings.items() if found} == {}
