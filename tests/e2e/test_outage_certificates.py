"""An outage certificate made from the command line on the sandbox's test clock, and the status
page listing it: real ``kapu`` processes, real ``xmlsec1``, Debian's Chromium with axe-core."""

from __future__ import annotations

import json
import re
import shutil
import time
from datetime import datetime
from pathlib import Path

import httpx
import pytest
from lxml import etree
from playwright.sync_api import sync_playwright

from tests.e2e.conftest import register_org, start_server, stop_server
from tests.e2e.test_cli import kapu
from tests.e2e.test_status_page import CHROMIUM_FLAGS
from tests.e2e.test_web_browser import axe_findings, shoot
from tests.integration.test_evidence import xmlsec_verify

SANDBOX = {"KAPU_SANDBOX": "1"}


# SQLite only: the integration tests run the certificates on both databases; this run is the
# processes and the browser, and a second database would double its cost.
@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_outage_certificate_on_the_test_clock_and_the_status_page(
    database_url: str, tmp_path: Path, keys_dir: Path
) -> None:
    """A vendor's run in seconds: the test clock set, an outage opened and closed from the
    command line two test hours apart, its certificate printed and verified, and the status
    page (Hungarian and English, axe-clean) listing it with its certificate and the strip."""
    chromium = shutil.which("chromium")
    assert chromium, "Debian's chromium is needed (make test installs it)"
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    # The session's keys, valid from the test epoch to years after the date the test clock
    # is set to.
    sandbox = SANDBOX | {"KAPU_KEYS_DIR": str(keys_dir)}
    # A readiness probe twice a second, on the test clock: today's bar of the strip has data.
    server = start_server(database_url, data_dir,
                          env=sandbox | {"KAPU_PROBE_INTERVAL_SECONDS": "0.5"})
    try:
        # The test clock needs an authenticated party.
        keeper = register_org(database_url, data_dir)

        def clock(body: dict[str, str]) -> datetime:
            moved = httpx.post(f"{server.url}/api/v1/sandbox/clock", json=body,
                               auth=keeper.auth)
            assert moved.status_code == 200, moved.text
            return datetime.fromisoformat(moved.json()["now"])

        # A Tuesday after the machine's date (also a year on, as CI runs it): the clock
        # never moves backwards.
        clock({"set": "2028-11-21T09:00:00+01:00"})
        probed = time.monotonic() + 20
        while httpx.get(f"{server.url}/api/v1/status").json()["availability"]["percent"] is None:
            assert time.monotonic() < probed, "no probe on the test clock within 20 s"
            time.sleep(0.2)
        refused = kapu(database_url, data_dir, "maintenance", "announce", "--start",
                       "2028-11-28T10:00:00+01:00", "--end", "2028-11-28T11:00:00+01:00",
                       "--reason", "frissítés", env=sandbox)
        assert refused.returncode == 2
        assert "wholly at night (22:00–06:00 Budapest time)" in refused.stderr
        affected = "HKP feltöltés és letöltés"
        opened = kapu(database_url, data_dir, "incident", "open", "--title", "HKP nem válaszol",
                      "--affected", affected, "--json", env=sandbox)
        assert opened.returncode == 0, opened.stderr
        incident = json.loads(opened.stdout)
        assert incident["opened_at"].startswith("2028-11-21T09:0"), incident
        assert incident["affected"] == affected
        clock({"advance": "PT2H"})
        closed = kapu(database_url, data_dir, "incident", "close", str(incident["id"]), "--json",
                      env=sandbox)
        assert json.loads(closed.stdout)["closed_at"].startswith("2028-11-21T11:0")
        printed = kapu(database_url, data_dir, "incident", "certificate", str(incident["id"]),
                       env=sandbox)
        assert printed.returncode == 0, printed.stderr
        certificate = printed.stdout.encode()
        assert b"<HataridoHosszabbitas>2028-11-22</HataridoHosszabbitas>" in certificate
        assert f"<Erintett>{affected}</Erintett>".encode() in certificate
        # --json: the certificate's fields, each as its XML states it, and the XML itself.
        shown = kapu(database_url, data_dir, "incident", "certificate", str(incident["id"]),
                     "--json", env=sandbox)
        assert shown.returncode == 0, shown.stderr
        fields = json.loads(shown.stdout)
        signed = fields.pop("xml").encode()
        assert fields.keys() == {"id", "kind", "start", "end", "duration", "affected",
                                 "deadline_extension", "issued_at"}
        assert (fields["id"], fields["kind"], fields["affected"]) == \
            (incident["id"], "uzemzavar", affected)
        assert (fields["start"], fields["end"]) == (incident["opened_at"],
                                                    json.loads(closed.stdout)["closed_at"])
        assert re.fullmatch(r"PT2H(\d{1,2}S)?", fields["duration"]), fields["duration"]
        assert fields["deadline_extension"] == "2028-11-22"
        assert _statement(signed) == {
            "Fajta": "uzemzavar", "Azonosito": str(incident["id"]), "Kezdet": fields["start"],
            "Vege": fields["end"], "Idotartam": fields["duration"], "Erintett": affected,
            "HataridoHosszabbitas": "2028-11-22", "Idopont": fields["issued_at"]}
        # A degraded incident extends no deadline: null, and no HataridoHosszabbitas.
        degraded = json.loads(kapu(database_url, data_dir, "incident", "open", "--title",
                                   "lassú", "--degraded", "--json", env=sandbox).stdout)
        kapu(database_url, data_dir, "incident", "close", str(degraded["id"]), env=sandbox)
        lesser = json.loads(kapu(database_url, data_dir, "incident", "certificate",
                                 str(degraded["id"]), "--json", env=sandbox).stdout)
        assert lesser["deadline_extension"] is None
        assert "HataridoHosszabbitas" not in _statement(lesser["xml"].encode())
        trust = httpx.get(f"{server.url}/api/v1/trust").content
        now = clock({"advance": "PT1M"})
        assert xmlsec_verify(certificate, trust, tmp_path, now)
        assert xmlsec_verify(signed, trust, tmp_path, now)
        assert not xmlsec_verify(certificate.replace(b"2028-11-22", b"2028-11-24"), trust,
                                 tmp_path, now)

        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_FLAGS)
            # bypass_csp: axe-core is injected as a script, which the page's policy forbids.
            page = browser.new_page(viewport={"width": 1000, "height": 900}, bypass_csp=True)
            findings, strips = {}, {}
            for language in ("hu", "en"):
                page.goto(f"{server.url}/status?lang={language}")
                strips[language] = page.locator("#days li").all_inner_texts()
                row = page.locator("#ended tr", has_text=affected)
                link = row.locator("a").get_attribute("href")
                findings[language] = axe_findings(page)
                if language == "hu":
                    shoot(page, "status", tmp_path)
                    heading = page.inner_text("h1")
            browser.close()
        assert heading == "A Kapu állapota"
        hungarian, english = strips["hu"], strips["en"]
        assert len(hungarian) == len(english) == 90
        # Today: probed, and down for the two hours of the outage; the days before: no data.
        assert re.fullmatch(r"2028-11-21: \d{1,3},\d\d? %", hungarian[-1]), hungarian[-1]
        assert re.fullmatch(r"2028-11-21: \d{1,3}\.\d\d? %", english[-1]), english[-1]
        assert hungarian[-2] == "2028-11-20: nincs adat" and english[0] == "2028-08-24: no data"
        assert link == f"/api/v1/status/incidents/{incident['id']}/certificate"
        assert httpx.get(f"{server.url}{link}").status_code == 200
        assert findings == {"hu": [], "en": []}
    finally:
        stop_server(server)


def _statement(signed: bytes) -> dict[str, str]:
    """The certificate's elements (the signature aside) by name."""
    root = etree.fromstring(signed)
    return {etree.QName(element).localname: element.text or "" for element in root
            if etree.QName(element).namespace == root.nsmap[None]}
