"""The AVDH pages in Debian's Chromium (Playwright) against a real ``kapu serve --demo``:
axe-core finds nothing serious in either language, and a person authenticates a file with
the keyboard alone."""

from __future__ import annotations

from pathlib import Path
from typing import Any

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

__all__ = ["page", "server"]  # the fixtures, shared with the other browser tests

# The pages and the keyboard, not the database: the same paths run on SQLite and PostgreSQL
# in tests/integration; a browser round on each database would double the minutes for nothing.
ONE_DATABASE = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)



def _refused(page: Page, form_page: str, file: Path) -> None:
    page.goto(form_page)
    page.set_input_files("#file", str(file))
    with page.expect_navigation():  # axe needs the refusal's page loaded, not the form's
        page.click("form[enctype] button[type=submit]")


@ONE_DATABASE
def test_axe_finds_nothing_serious_on_the_avdh_pages(server: Server, page: Page,
                                                     tmp_path: Path) -> None:
    assert AXE.exists(), "make test installs axe-core (npm ci)"
    program = tmp_path / "setup.exe"
    program.write_bytes(b"MZ\x00\x00")
    findings: dict[str, list[dict[str, Any]]] = {}
    for language in ("hu", "en"):
        # A stranger: no login.
        page.goto(f"{server.url}/ui/verify?lang={language}")
        findings[f"/ui/verify ({language})"] = axe_findings(page)
        _refused(page, f"{server.url}/ui/verify?lang={language}", program)
        assert page.get_attribute("#file", "aria-invalid") == "true"
        findings[f"/ui/verify refused ({language})"] = axe_findings(page)
        log_in(page, server, DEMO_ADMIN, language)
        page.goto(f"{server.url}/ui/authenticate?lang={language}")
        assert page.locator("fieldset legend").count() == 1  # for myself / for the office
        findings[f"/ui/authenticate ({language})"] = axe_findings(page)
        _refused(page, f"{server.url}/ui/authenticate?lang={language}", program)
        assert page.get_attribute("#file", "aria-invalid") == "true"
        findings[f"/ui/authenticate refused ({language})"] = axe_findings(page)
        page.click("form.logout button")
        page.wait_for_url(f"{server.url}/ui/login")
    print("axe-core findings:", {where: found for where, found in findings.items() if found})
    serious = {where: [f for f in found if f["impact"] in ("serious", "critical")]
               for where, found in findings.items()}
    assert not any(serious.values()), serious


@ONE_DATABASE
def test_keyboard_only_authentication_for_an_office(server: Server, page: Page,
                                                    tmp_path: Path) -> None:
    """Tab to the office's radio, choose it with the arrow key, give the file, press Enter on
    the button: the hitelesített PDF downloads."""
    original = tmp_path / "kerelem.txt"
    original.write_text("Kérelem a hivatalnak\n", encoding="utf-8")
    log_in(page, server, DEMO_ADMIN)
    page.goto(f"{server.url}/ui/authenticate?lang=en")
    tab_to(page, "office")
    press(page, "ArrowDown")  # from "myself" to the office
    assert page.is_checked("input[name=office][value='100000001']")
    tab_to(page, "file")
    page.set_input_files("#file", str(original))  # the system's file dialog is no web page
    tab_to(page, "Authenticate")
    assert focused(page) == "Authenticate"
    with page.expect_download() as download:
        press(page, "Enter")
    assert download.value.suggested_filename == "kerelem-hiteles.pdf"
    saved = tmp_path / "saved.pdf"
    download.value.save_as(saved)
    assert saved.read_bytes().startswith(b"%PDF")
