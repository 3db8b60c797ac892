"""The office's e-Papír topics page in a real browser (Debian's Chromium, Playwright) against a
real ``kapu serve --demo``: set by keyboard alone, and axe-core on the page, its refusal and
its outcome, in both languages."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from playwright.sync_api import Page

from tests.e2e.conftest import Server
from tests.e2e.test_web_browser import (
    AXE,
    DEMO_ADMIN,
    axe_findings,
    focused,
    log_in,
    page,
    press,
    server,
    tab_to,
)

__all__ = ["page", "server"]  # the fixtures this module's tests use

TOPICS = "/ui/offices/100000001/topics"

# The pages and the keyboard, not the database: the same paths run on SQLite and PostgreSQL
# in tests/integration; a browser round on each database would double the minutes for nothing.
ONE_DATABASE = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)



def _offered(server: Server) -> list[dict[str, str]]:
    answer = httpx.get(f"{server.url}/api/v1/offices/100000001/topics",
                       auth=("DEMOCEG", "democeg-jelszo"))
    assert answer.status_code == 200, answer.text
    items: list[dict[str, str]] = answer.json()["items"]
    return items


@ONE_DATABASE
def test_an_admin_sets_topics_by_keyboard_alone(server: Server, page: Page) -> None:
    log_in(page, server, DEMO_ADMIN)
    page.goto(f"{server.url}/ui/offices/100000001/staff?lang=en")
    with page.expect_navigation():
        page.click("text=The office's e-Papír topics")
    assert page.inner_text("h1").startswith("e-Papír topics of")
    tab_to(page, "topics")
    page.keyboard.type("ADO_UGY = Adóügyek")
    press(page, "Enter")
    page.keyboard.type("EPITES = Építésügy")
    press(page, "Tab")  # past the hint, to the button
    assert focused(page) == "Save the topics"
    with page.expect_navigation():
        press(page, "Enter")
    assert "Saved: 2 topics." in page.inner_text("[role=status]")
    assert _offered(server) == [{"code": "ADO_UGY", "name": "Adóügyek"},
                                {"code": "EPITES", "name": "Építésügy"}]


@ONE_DATABASE
def test_axe_finds_nothing_serious_on_the_topics_pages(server: Server, page: Page) -> None:
    assert AXE.exists(), "make test installs axe-core (npm ci)"
    findings: dict[str, list[dict[str, Any]]] = {}
    log_in(page, server, DEMO_ADMIN)
    for language in ("hu", "en"):
        page.goto(f"{server.url}{TOPICS}?lang={language}")
        findings[f"topics ({language})"] = axe_findings(page)
        page.fill("#topics", "ADO = Adó\nado = kisbetű")
        with page.expect_navigation():
            page.click("form.stack button[type=submit]")
        assert page.locator("#topics-error").count() == 1
        assert page.get_attribute("#topics", "aria-invalid") == "true"
        findings[f"topics refused ({language})"] = axe_findings(page)
        page.fill("#topics", "ADO = Adó")
        with page.expect_navigation():
            page.click("form.stack button[type=submit]")
        assert page.locator("[role=status]").count() == 1
        findings[f"topics saved ({language})"] = axe_findings(page)
    print("axe-core findings:", {where: found for where, found in findings.items() if found})
    serious = {where: [f for f in found if f["impact"] in ("serious", "critical")]
               for where, found in findings.items()}
    assert not any(serious.values()), serious
