"""Publishing a hirdetmény in a real browser (Debian's Chromium driven by Playwright) against a
real ``kapu serve --demo``: DEMOHIVATAL's clerk fills and sends the form by keyboard alone;
axe-core finds nothing on the form, on a refusal, or on the outcome's page, in Hungarian and
English."""

from __future__ import annotations

import secrets
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from playwright.sync_api import Page

from tests.e2e import test_web_browser as browser
from tests.e2e.conftest import Server
from tests.e2e.test_epapir_browser import DEMOHIVATAL_KRID, ONE_DATABASE
from tests.e2e.test_web_browser import AXE, DEMO_CLERK, axe_findings, focused, press, tab_to

server = browser.server
page = browser.page

FORM = f"/ui/offices/{DEMOHIVATAL_KRID}/notices/new"


def _type_into(page: Page, name: str, text: str) -> None:
    tab_to(page, name)
    page.keyboard.type(text)


@ONE_DATABASE
def test_a_clerk_publishes_a_notice_by_keyboard_and_axe_finds_nothing(
        server: Server, page: Page, tmp_path: Path) -> None:
    assert AXE.exists(), "make test installs axe-core (npm ci)"
    findings: dict[str, list[dict[str, Any]]] = {}
    attachment = tmp_path / "helyszinrajz.txt"
    attachment.write_text("Helyszínrajz: a gát nyomvonala.\n", encoding="utf-8")
    identifier = f"H-{secrets.token_hex(3)}"
    browser.log_in(page, server, DEMO_CLERK)
    for language in ("hu", "en"):
        page.goto(f"{server.url}{FORM}?lang={language}")
        findings[f"form ({language})"] = axe_findings(page)
        # A refusal from the portal, next to its field: a correction of nothing published.
        for name in ("Azonosito", "Kategoria", "Targy", "EljaroHatosag", "Ugyiratszam",
                     "Szoveg"):
            page.fill(f"#{name}", "Próba")
        page.fill("#MegjelenesVege_date", "9999-12-31")
        page.fill("#MegjelenesVege_time", "12:00")
        page.check("input[name=Javitas]")
        with page.expect_navigation():
            page.click(f"form[action='{FORM}'] button[type=submit]")
        assert page.get_attribute("#Azonosito", "aria-invalid") == "true"
        assert page.is_visible("#Azonosito-error")
        findings[f"refused ({language})"] = axe_findings(page)

    # From the mailbox, by keyboard alone (a file is chosen in the system's dialog, which a
    # test cannot drive: Playwright sets it).
    page.goto(f"{server.url}/ui/mailbox/{DEMOHIVATAL_KRID}?lang=en")
    tab_to(page, "Publish a notice")
    with page.expect_navigation():
        press(page, "Enter")
    _type_into(page, "Azonosito", identifier)
    press(page, "Tab")
    assert focused(page) == "Javitas" and not page.is_checked("input[name=Javitas]")
    for name, text in (("Kategoria", "Építésügy"), ("Targy", "Árvízvédelmi gát építése"),
                       ("EljaroHatosag", "Demo Hivatal"), ("Ugyiratszam", "DEMO/1-2/2026"),
                       ("Telepules", "Szentendre")):
        _type_into(page, name, text)
    # The display starts now (the server's clock fills it in); it ends 30 days later, typed
    # into Chromium's date field in its locale's order (month, day, year) and its time field.
    start = date.fromisoformat(page.input_value("#MegjelenesKezdete_date"))
    end = start + timedelta(days=30)
    tab_to(page, "MegjelenesVege_date")
    page.keyboard.type(end.strftime("%m%d%Y"))
    tab_to(page, "MegjelenesVege_time")
    page.keyboard.type("1200P")
    assert page.input_value("#MegjelenesVege_date") == end.isoformat()
    assert page.input_value("#MegjelenesVege_time") == "12:00"
    _type_into(page, "Szoveg", "Tisztelt Lakosság! A gát építési engedélyének kérelméről.")
    page.set_input_files("#Melleklet", str(attachment))
    browser.shoot(page, "publish-notice", tmp_path)
    tab_to(page, "Publish the notice")
    with page.expect_navigation():
        press(page, "Enter")
    assert page.inner_text("h1") == "Notice published"
    outcome = page.inner_text("#published")
    assert outcome.startswith("Published: registration number ")
    number = outcome.split("registration number ", 1)[1].split(",", 1)[0]
    assert len(number) == 27 and number.startswith("100000000")  # numbered by the portal
    assert page.inner_text("#appears") == "It is on the public pages now."
    assert page.get_attribute("text=The notice's public page", "href", strict=True) \
        .startswith("/hirdetmenyek/")
    findings["published (en)"] = axe_findings(page)
    page.goto(f"{page.url}?lang=hu")
    assert page.inner_text("h1") == "A hirdetmény közzétéve"
    findings["published (hu)"] = axe_findings(page)
    assert {where: found for where, found in findings.items() if found} == {}
