"""The Rendelkezési Nyilvántartás's pages in a real browser (Debian's Chromium, Playwright)
against a real ``kapu serve --demo``: the demo citizen declares their disposition and offers a
mandate to DEMOHIVATAL's clerk, who accepts it and opens the citizen's tárhely — by keyboard
alone; and axe-core on the pages, their refusal and their outcomes, in both languages."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page

from tests.e2e import test_web_browser as browser
from tests.e2e.conftest import Server
from tests.e2e.test_web_browser import (
    AXE,
    DEMO_ADMIN,
    DEMO_CITIZEN,
    DEMO_CITIZEN_CODE,
    DEMO_CLERK,
    axe_findings,
    focused,
    press,
    send_to_demo_citizen,
    tab_to,
)

# The browser tests' fixtures: a real ``kapu serve --demo`` in sandbox mode, and Chromium.
server = browser.server
page = browser.page

DEMOHIVATAL_KRID = "100000001"
# DEMOHIVATAL's clerk, a citizen too: the agent of these tests.
DEMO_CLERK_CODE = "d3m0c0de0000000000000000000000a3"

# The pages and the keyboard, not the database: the same paths run on SQLite and PostgreSQL
# in tests/integration; a browser round on each database would double the minutes for nothing.
ONE_DATABASE = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


def _log_in_by_keyboard(page: Page, server: Server, who: tuple[str, str]) -> None:
    page.goto(f"{server.url}/ui/login?lang=en")
    tab_to(page, "username")
    page.keyboard.type(who[0])
    press(page, "Tab")
    page.keyboard.type(who[1])
    with page.expect_navigation(url=f"{server.url}/ui/"):
        press(page, "Enter")


def _log_out_by_keyboard(page: Page, server: Server) -> None:
    tab_to(page, "Log out")
    with page.expect_navigation(url=f"{server.url}/ui/login"):
        press(page, "Enter")


def _offer_and_accept(page: Page, server: Server, tmp_path: Path) -> int:
    """The demo citizen offers DEMOHIVATAL's clerk a mandate for DEMOHIVATAL, without end;
    the clerk accepts it. Keyboard only; the mandate's number."""
    _log_in_by_keyboard(page, server, DEMO_CITIZEN)
    page.goto(f"{server.url}/ui/mandates?lang=en")
    tab_to(page, "agent_code")
    page.keyboard.type(DEMO_CLERK_CODE)
    press(page, "Tab")
    assert focused(page) == "scope-all"  # the checked radio of the group
    press(page, "ArrowDown")  # the group's next choice: these offices
    assert page.is_checked("#scope-offices")
    press(page, "Tab")
    assert focused(page) == "offices"
    page.keyboard.type(DEMOHIVATAL_KRID)
    tab_to(page, "Offer the mandate")
    with page.expect_navigation():
        press(page, "Enter")
    outcome = page.inner_text("#outcome")
    found = re.search(r"Mandate (\d+) is offered", outcome)
    assert found, outcome
    number = int(found.group(1))
    row = page.inner_text(f"#given-{number}")
    assert "waiting for the agent's acceptance" in row and "Demo Ügyintéző" in row
    _log_out_by_keyboard(page, server)

    _log_in_by_keyboard(page, server, DEMO_CLERK)
    page.goto(f"{server.url}/ui/mandates?lang=en")
    assert "Demo Polgár" in page.inner_text(f"#received-{number}")
    tab_to(page, f"Accept mandate {number}")
    with page.expect_navigation():
        press(page, "Space")
    assert f"You accepted mandate {number}" in page.inner_text("#outcome")
    assert "in force" in page.inner_text(f"#received-{number}")
    browser.shoot(page, "mandates", tmp_path)
    return number


@ONE_DATABASE
def test_a_principal_declares_and_gives_a_mandate_the_agent_accepts_by_keyboard(
        server: Server, page: Page, tmp_path: Path) -> None:
    _log_in_by_keyboard(page, server, DEMO_CITIZEN)
    page.goto(f"{server.url}/ui/rny?lang=en")
    tab_to(page, "electronic_contact-yes")  # the demo citizen declared electronic contact
    press(page, "ArrowDown")
    assert page.is_checked("#electronic_contact-no")
    press(page, "ArrowUp")
    press(page, "Space")
    assert page.is_checked("#electronic_contact-yes")
    tab_to(page, "Save the disposition")
    with page.expect_navigation():
        press(page, "Enter")
    assert "in force from now" in page.inner_text("#saved")
    assert page.inner_text("#current-contact").startswith("yes")
    assert page.locator("#history tbody tr").count() == 2  # the demo's own, and this one
    browser.shoot(page, "rny", tmp_path)
    _log_out_by_keyboard(page, server)
    _offer_and_accept(page, server, tmp_path)


@ONE_DATABASE
def test_agent_opens_the_principals_tarhely_by_keyboard(
        server: Server, page: Page, tmp_path: Path) -> None:
    """Under the mandate, the agent opens the principal's tárhely from the chooser and sees
    the document from DEMOHIVATAL, an office in scope."""
    number = send_to_demo_citizen(server, b"%PDF-1.7\nmeghatalmazas\n%%EOF\n",
                                  "hatarozat-meghatalmazott.pdf")
    _offer_and_accept(page, server, tmp_path)
    page.goto(f"{server.url}/ui/?lang=en")
    tab_to(page, "Tárhely of Demo Polgár (under a mandate)")
    with page.expect_navigation(url=f"{server.url}/ui/mailbox/{DEMO_CITIZEN_CODE}"):
        press(page, "Enter")
    listing = page.inner_text("main")
    assert number in listing and "hatarozat-meghatalmazott.pdf" in listing, listing


@ONE_DATABASE
def test_axe_finds_nothing_serious_on_the_rny_pages(server: Server, page: Page) -> None:
    assert AXE.exists(), "make test installs axe-core (npm ci)"
    findings: dict[str, list[dict[str, Any]]] = {}
    browser.log_in(page, server, DEMO_CITIZEN)
    for language in ("hu", "en"):
        page.goto(f"{server.url}/ui/rny?lang={language}")
        findings[f"rny ({language})"] = axe_findings(page)
        with page.expect_navigation():
            page.click("form[action='/ui/rny'] button[type=submit]")
        findings[f"rny saved ({language})"] = axe_findings(page)
        page.goto(f"{server.url}/ui/mandates?lang={language}")
        findings[f"mandates ({language})"] = axe_findings(page)
        page.fill("#agent_code", "nincs-ilyen-kod")
        with page.expect_navigation():
            page.click("#offer button[type=submit]")
        assert page.get_attribute("#agent_code", "aria-invalid") == "true"
        findings[f"mandates refused ({language})"] = axe_findings(page)
        page.fill("#agent_code", DEMO_CLERK_CODE)
        with page.expect_navigation():
            page.click("#offer button[type=submit]")
        assert page.locator("#outcome").count() == 1
        findings[f"mandates offered ({language})"] = axe_findings(page)
        with page.expect_navigation():
            page.click("#given a[href$='/revoke']")
        findings[f"revoke ({language})"] = axe_findings(page)
        with page.expect_navigation():
            page.click("form[action$='/revoke'] button[type=submit]")
        findings[f"mandates revoked ({language})"] = axe_findings(page)
    page.click("form.logout button")
    page.wait_for_url(f"{server.url}/ui/login")
    browser.log_in(page, server, DEMO_ADMIN)
    for language in ("hu", "en"):
        for key in ("", DEMO_CITIZEN_CODE, "nincs-ilyen"):
            page.goto(f"{server.url}/ui/offices/{DEMOHIVATAL_KRID}/disposition"
                      f"?lang={language}&key={key}")
            findings[f"disposition {key or 'form'} ({language})"] = axe_findings(page)
    print("axe-core findings:", {where: found for where, found in findings.items() if found})
    serious = {where: [f for f in found if f["impact"] in ("serious", "critical")]
               for where, found in findings.items()}
    assert not any(serious.values()), serious
