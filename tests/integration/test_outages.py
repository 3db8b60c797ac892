"""Outage certificates on the test clock, verified by the real ``xmlsec1``; maintenance windows
refused outside the night and non-working-day rule."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import pytest
from lxml import etree

from gateway.domain.registration import BUDAPEST
from gateway.errors import InvalidRequest
from gateway.services import operations
from tests.integration.conftest import Gateway
from tests.integration.test_evidence import IGAZOLAS, xmlsec_verify


async def _outage(gw: Gateway, start: datetime, end: datetime, *, outage: bool = True,
                  affected: str = "REST és HKP feltöltés") -> int:
    gw.clock.current = start
    incident = await operations.open_incident(gw.ports, "Adatbázis nem válaszol", outage,
                                              affected)
    gw.clock.current = end
    await operations.close_incident(gw.ports, incident.id)
    gw.clock.advance(minutes=5)  # the certificate is asked for after the end
    return incident.id


async def _certificate(gw: Gateway, incident_id: int) -> bytes:
    answer = await gw.client.get(f"/api/v1/status/incidents/{incident_id}/certificate")
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith("application/xml")
    return answer.content


def _text(signed: bytes, tag: str) -> str | None:
    found = etree.fromstring(signed).find(f"i:{tag}", IGAZOLAS)
    return None if found is None else found.text


def _budapest(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=BUDAPEST)  # type: ignore[misc]


async def test_two_hour_outage_on_a_working_day_moves_deadlines_to_the_next_one(
    gw: Gateway, tmp_path: Path
) -> None:
    # Tuesday 24 November 2026, 09:30–11:30 Budapest.
    incident_id = await _outage(gw, _budapest(2026, 11, 24, 9, 30),
                                _budapest(2026, 11, 24, 11, 30))
    signed = await _certificate(gw, incident_id)
    assert _text(signed, "Fajta") == "uzemzavar"
    assert _text(signed, "Kezdet") == "2026-11-24T09:30:00+01:00"
    assert _text(signed, "Vege") == "2026-11-24T11:30:00+01:00"
    assert _text(signed, "Idotartam") == "PT2H"
    assert _text(signed, "Erintett") == "REST és HKP feltöltés"
    assert _text(signed, "HataridoHosszabbitas") == "2026-11-25"

    trust = (await gw.client.get("/api/v1/trust")).content
    assert xmlsec_verify(signed, trust, tmp_path, gw.clock.now())
    changed = signed.replace(b"2026-11-25", b"2026-11-26", 1)
    assert changed != signed
    assert not xmlsec_verify(changed, trust, tmp_path, gw.clock.now())


async def test_half_hour_outage_and_degraded_service_move_no_deadline(
    gw: Gateway, tmp_path: Path
) -> None:
    short = await _outage(gw, _budapest(2026, 11, 24, 10, 0), _budapest(2026, 11, 24, 10, 30))
    degraded = await _outage(gw, _budapest(2026, 11, 24, 13, 0),
                             _budapest(2026, 11, 24, 16, 0), outage=False)
    trust = (await gw.client.get("/api/v1/trust")).content
    for incident_id, duration in ((short, "PT30M"), (degraded, "PT3H")):
        signed = await _certificate(gw, incident_id)
        assert _text(signed, "Idotartam") == duration
        assert _text(signed, "HataridoHosszabbitas") is None
        assert xmlsec_verify(signed, trust, tmp_path, gw.clock.now())
        one_byte = signed.replace(b"<Idotartam>PT", b"<Idotartam>XT", 1)
        assert not xmlsec_verify(one_byte, trust, tmp_path, gw.clock.now())


async def test_friday_evening_outage_before_a_holiday_moves_deadlines_past_it(
    gw: Gateway, tmp_path: Path
) -> None:
    # Friday 12 March 2027, 18:00–20:00; Monday 15 March is a public holiday (National Day).
    incident_id = await _outage(gw, _budapest(2027, 3, 12, 18, 0), _budapest(2027, 3, 12, 20, 0))
    signed = await _certificate(gw, incident_id)
    assert _text(signed, "HataridoHosszabbitas") == "2027-03-16"
    trust = (await gw.client.get("/api/v1/trust")).content
    assert xmlsec_verify(signed, trust, tmp_path, gw.clock.now())
    assert not xmlsec_verify(signed.replace(b"2027-03-16", b"2027-03-17", 1), trust, tmp_path,
                             gw.clock.now())


async def test_an_open_or_unknown_incident_has_no_certificate(gw: Gateway) -> None:
    incident = await operations.open_incident(gw.ports, "Lassú", True, "HKP")
    for incident_id in (incident.id, incident.id + 10_000):
        answer = await gw.client.get(f"/api/v1/status/incidents/{incident_id}/certificate")
        assert answer.status_code == 404
        assert answer.json()["code"] == "not_found"
    await operations.close_incident(gw.ports, incident.id)


async def test_maintenance_windows_at_night_or_on_rest_days_only(gw: Gateway) -> None:
    # The test clock: Tuesday 24 November 2026; each window is over 3 days ahead.
    with pytest.raises(InvalidRequest, match="wholly at night") as refused:
        await operations.announce_maintenance(
            gw.ports, _budapest(2026, 12, 1, 10, 0), _budapest(2026, 12, 1, 11, 0), "frissítés")
    assert "2026-12-01 10:00 is daytime on a working day" in refused.value.detail
    night = await operations.announce_maintenance(
        gw.ports, _budapest(2026, 12, 1, 23, 0), _budapest(2026, 12, 2, 1, 0), "frissítés")
    saturday = await operations.announce_maintenance(
        gw.ports, _budapest(2026, 11, 28, 9, 0), _budapest(2026, 11, 28, 17, 0), "költözés")
    assert night.end_at - night.start_at == timedelta(hours=2)
    assert saturday.reason == "költözés"
    # Saturday 12 December 2026 is a shifted working day (for Thursday 24 December).
    with pytest.raises(InvalidRequest, match="2026-12-12 09:00 is daytime on a working day"):
        await operations.announce_maintenance(
            gw.ports, _budapest(2026, 12, 12, 9, 0), _budapest(2026, 12, 12, 10, 0), "x")
    with pytest.raises(InvalidRequest, match="at least 3 days ahead"):
        await operations.announce_maintenance(
            gw.ports, _budapest(2026, 11, 25, 23, 0), _budapest(2026, 11, 26, 1, 0), "x")


async def test_status_page_lists_longer_incidents_for_30_days_with_certificates(
    gw: Gateway
) -> None:
    tag = f"{id(gw):x}"
    old = await _outage(gw, _budapest(2026, 10, 20, 10), _budapest(2026, 10, 20, 12),
                        affected=f"régi {tag}")
    short = await _outage(gw, _budapest(2026, 11, 23, 10), _budapest(2026, 11, 23, 10, 15),
                          affected=f"rövid {tag}")
    listed = await _outage(gw, _budapest(2026, 11, 23, 14), _budapest(2026, 11, 23, 14, 16),
                           affected=f"listázott {tag}")
    # Now: 21 November + 30 days after the old one ended is past; 24 November 09:00.
    gw.clock.current = _budapest(2026, 11, 24, 9, 0)
    await operations.record_probe(gw.ports)
    gw.clock.advance(minutes=1)
    await operations.record_probe(gw.ports)
    gw.clock.advance(minutes=1)

    hungarian = (await gw.client.get("/status")).text
    english = (await gw.client.get("/status?lang=en")).text
    assert "Az elmúlt 30 nap üzemzavarai" in hungarian
    assert "Incidents in the last 30 days" in english
    for page in (hungarian, english):
        assert f"/api/v1/status/incidents/{listed}/certificate" in page
        assert f"listázott {tag}" in page
        assert f"rövid {tag}" not in page and f"/incidents/{short}/" not in page
        assert f"régi {tag}" not in page and f"/incidents/{old}/" not in page
        strip = page[page.index('<ol id="days"'):page.index("</ol>")]
        assert strip.count("<li") == 90
        assert "2026-08-27: " in strip and "2026-11-24: 100" in strip
    assert "2026-11-24: 100,0 %" in hungarian and "2026-11-24: 100.0 %" in english
