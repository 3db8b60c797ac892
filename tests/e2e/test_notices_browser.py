"""The hirdetmények in a real browser (Debian's Chromium, Playwright) against a real ``kapu
serve --demo``: DEMOHIVATAL publishes two notices and corrects one over REST; a visitor, not
logged in, searches and opens the corrected one by keyboard alone; the notice prints without
the page's frame; axe-core on the list, a refusal, a notice with versions and a missing one,
in both languages. Then DEMOHIVATAL's clerk publishes one from the browser, by keyboard alone,
axe-clean on the form, a refusal and the outcome (one server start for both: each costs
seconds of make test)."""

from __future__ import annotations

import re
import secrets
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Page

from tests.e2e.conftest import Server
from tests.e2e.test_web_browser import (
    AXE,
    DEMO_CLERK,
    axe_findings,
    focused,
    log_in,
    page,
    press,
    server,
    shoot,
    tab_to,
)
from tests.notices import PORTAL, notice_xml

__all__ = ["page", "server"]  # the fixtures this module's tests use

DEMOHIVATAL = ("DEMOHIVATAL", "demohivatal-jelszo")
DEMOHIVATAL_KRID = "100000001"

# The pages and the keyboard, not the database: the same paths run on SQLite and PostgreSQL
# in tests/integration; a browser round on each database would double the minutes for nothing.
ONE_DATABASE = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


def _publish(server: Server, content: bytes) -> None:
    answer = httpx.post(f"{server.url}/api/v1/documents", auth=DEMOHIVATAL, data={
        "recipient_krid": PORTAL.krid, "doc_type_office": "HIRDETMENY",
        "doc_type_id": "HIRDETMENY", "doc_type_description": "Hirdetmény"},
        files={"file": ("hirdetmeny.xml", content, "application/xml")})
    assert answer.status_code == 201, answer.text


def _publish_three_forms(server: Server) -> None:
    """Two notices shown from the server's test clock's now, the first corrected."""
    clock = httpx.get(f"{server.url}/api/v1/sandbox/clock", auth=DEMOHIVATAL)
    assert clock.status_code == 200, clock.text
    now = datetime.fromisoformat(clock.json()["now"])
    _publish(server, notice_xml(now, attachments=[("helyszínrajz.pdf", b"%PDF-1.7\n%%EOF\n")],
                                text="A kérelem az árvízvédelmi gát építéséről szól.\n"
                                     "Észrevételt 15 napon belül lehet tenni."))
    _publish(server, notice_xml(now, identifier="H-2", subject="Útfelújítás a Fő utcában",
                                category="Közlekedés", settlement="Budaörs",
                                text="A Fő utca felújítása miatt a forgalom terelve."))
    _publish(server, notice_xml(now, correction=True,
                                text="A kérelem az árvízvédelmi gát építéséről szól.\n"
                                     "Észrevételt 30 napon belül lehet tenni."))


@ONE_DATABASE
def test_a_visitor_finds_a_notice_and_a_clerk_publishes_one_by_keyboard_axe_clean(
        server: Server, page: Page, tmp_path: Path) -> None:
    _publish_three_forms(server)
    page.goto(f"{server.url}/ui/login?lang=en")
    tab_to(page, "Public notices")  # the footer's link, on every page
    with page.expect_navigation(url=f"{server.url}/hirdetmenyek"):
        press(page, "Enter")
    tab_to(page, "q")
    page.keyboard.type("arviz")  # without accents: found all the same
    tab_to(page, "office")
    page.keyboard.type(DEMOHIVATAL_KRID)
    with page.expect_navigation():
        press(page, "Enter")  # the form's implicit submission
    rows = page.locator("#notices tbody tr")
    assert rows.count() == 1 and "modified on" in rows.inner_text()
    shoot(page, "notices", tmp_path)
    tab_to(page, "Árvízvédelmi gát építése")
    with page.expect_navigation(url=re.compile(r"/hirdetmenyek/\d+$")):
        press(page, "Enter")
    notice_url = page.url
    assert page.inner_text("h1") == "Árvízvédelmi gát építése"
    assert page.inner_text("#modified").startswith("Modified on")
    assert "30 napon belül" in page.inner_text(".notice-text >> nth=0")
    assert "15 napon belül" in page.inner_text("#v1 .notice-text")
    # The text keeps its line breaks.
    assert page.inner_text("#v1 .notice-text").count("\n") == 1
    tab_to(page, "helyszínrajz.pdf")
    assert focused(page) == "helyszínrajz.pdf"
    shoot(page, "notice", tmp_path)
    # Printed: the content only.
    page.emulate_media(media="print")
    assert not page.is_visible("header.top") and not page.is_visible("footer.bottom")
    assert page.is_visible("h1") and page.is_visible("#v1")
    page.emulate_media(media="screen")

    assert AXE.exists(), "make test installs axe-core (npm ci)"
    findings: dict[str, list[dict[str, Any]]] = {}
    for language in ("hu", "en"):
        page.goto(f"{server.url}/hirdetmenyek?lang={language}")
        assert page.locator("#notices tbody tr").count() == 2
        findings[f"notices ({language})"] = axe_findings(page)
        page.goto(f"{server.url}/hirdetmenyek?lang={language}&from=2026-02-30&q=gat")
        assert page.get_attribute("#from", "aria-invalid") == "true"
        findings[f"notices refused ({language})"] = axe_findings(page)
        page.goto(f"{server.url}/hirdetmenyek?lang={language}&q=nincsilyenszo")
        assert page.locator("#no-notices").count() == 1
        findings[f"notices none ({language})"] = axe_findings(page)
        page.goto(f"{notice_url}?lang={language}")
        assert page.locator("#v1").count() == 1
        findings[f"notice with versions ({language})"] = axe_findings(page)
        page.goto(f"{server.url}/hirdetmenyek/999999999?lang={language}")
        findings[f"notice missing ({language})"] = axe_findings(page)
    print("axe-core findings:", {where: found for where, found in findings.items() if found})
    serious = {where: [f for f in found if f["impact"] in ("serious", "critical")]
               for where, found in findings.items()}
    assert not any(serious.values()), serious
    # One server for both sides of the portal: the clerk publishes after the visitor's checks.
    _a_clerk_publishes_by_keyboard(server, page, tmp_path)


FORM = f"/ui/offices/{DEMOHIVATAL_KRID}/notices/new"


def _type_into(page: Page, name: str, text: str) -> None:
    tab_to(page, name)
    page.keyboard.type(text)


def _a_clerk_publishes_by_keyboard(server: Server, page: Page, tmp_path: Path) -> None:
    """DEMOHIVATAL's clerk fills and sends the publish form by keyboard alone; axe-core finds
    nothing on the form, a refusal or the outcome, in Hungarian and English."""
    findings: dict[str, list[dict[str, Any]]] = {}
    attachment = tmp_path / "helyszinrajz.txt"
    attachment.write_text("Helyszínrajz: a gát nyomvonala.\n", encoding="utf-8")
    identifier = f"H-{secrets.token_hex(3)}"
    log_in(page, server, DEMO_CLERK)
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
    shoot(page, "publish-notice", tmp_path)
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
