"""The status page as a person sees it: headless Chromium (Debian's, driven by Playwright)."""

from __future__ import annotations

import json
import re
import shutil
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
from playwright.sync_api import sync_playwright

from gateway.domain.registration import BUDAPEST
from tests.e2e.conftest import start_server, stop_server
from tests.e2e.test_cli import kapu

CHROMIUM_FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update",
                  "--disable-sync"]


def process_now() -> datetime:
    """The clock of the ``kapu`` processes under test, which run outside the sandbox and read
    the machine's clock: the times sent to them are offsets from it, never fixed dates."""
    return datetime.now(UTC)  # wall clock ok: the process under test reads the same clock


def test_maintenance_and_incidents_from_the_command_line(database_url: str,
                                                         tmp_path: Path) -> None:
    soon = (process_now() + timedelta(days=2)).isoformat(timespec="minutes")
    refused = kapu(database_url, tmp_path, "maintenance", "announce", "--start", soon,
                   "--end", (process_now() + timedelta(days=2, hours=2)).isoformat(),
                   "--reason", "túl korán")
    assert refused.returncode == 2
    assert "at least 3 days ahead" in refused.stderr
    naive = kapu(database_url, tmp_path, "maintenance", "announce", "--start",
                 "2030-01-01T22:00", "--end", "2030-01-01T23:00", "--reason", "x")
    assert naive.returncode == 2 and "offset" in naive.stderr

    opened = kapu(database_url, tmp_path, "incident", "open", "--title", "Lassú letöltés",
                  "--degraded", "--json")
    assert opened.returncode == 0, opened.stderr
    incident = json.loads(opened.stdout)
    assert incident["outage"] is False and incident["closed_at"] is None
    closed = kapu(database_url, tmp_path, "incident", "close", str(incident["id"]), "--json")
    assert json.loads(closed.stdout)["closed_at"] is not None
    again = kapu(database_url, tmp_path, "incident", "close", str(incident["id"]))
    assert again.returncode == 2 and "no open incident" in again.stderr


def test_status_page_in_chromium(database_url: str, tmp_path: Path) -> None:
    chromium = shutil.which("chromium")
    assert chromium, "Debian's chromium is needed (make test installs it)"
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    # 23:00–01:00 Budapest time: maintenance falls at night (or on a non-working day).
    start = (process_now() + timedelta(days=4)).astimezone(BUDAPEST).replace(
        hour=23, minute=0, second=0, microsecond=0)
    reason = f"Adatbázis-frissítés {start:%H%M%S}"
    announced = kapu(database_url, data_dir, "maintenance", "announce", "--start",
                     start.isoformat(), "--end", (start + timedelta(hours=2)).isoformat(),
                     "--reason", reason)
    assert announced.returncode == 0, announced.stderr
    opened = kapu(database_url, data_dir, "incident", "open", "--title", "Lassú SOAP válaszok",
                  "--degraded", "--json")
    incident_id = json.loads(opened.stdout)["id"]
    server = start_server(database_url, data_dir)  # records a probe as it starts
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and httpx.get(
                f"{server.url}/api/v1/status").json()["availability"]["percent"] is None:
            time.sleep(0.2)
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_FLAGS)
            page = browser.new_page(viewport={"width": 900, "height": 900})
            page.goto(f"{server.url}/status?lang=en")
            availability = page.inner_text("#availability")
            maintenance = page.inner_text("#maintenance")
            incidents = page.inner_text("#incidents")
            state = page.inner_text("#state")
            page.screenshot(path=str(tmp_path / "status.png"), full_page=True)
            browser.close()
        assert re.search(r"\d{1,3}\.\d\d? %", availability), availability
        assert "target 99.5 %" in availability
        assert reason in maintenance
        assert f"{start.astimezone(BUDAPEST):%Y-%m-%d %H:%M}" in maintenance
        assert "Lassú SOAP válaszok" in incidents
        assert "Operational" in state
        assert (tmp_path / "status.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    finally:
        kapu(database_url, data_dir, "incident", "close", str(incident_id))
        stop_server(server)

