"""Documents travel citizen → organisation and organisation → organisation, end to end."""

from __future__ import annotations

import base64
import hashlib

from gateway.domain.parties import PartyKind
from tests.helpers import PDF, new_citizen, new_org, sha256, upload
from tests.integration.conftest import Gateway


async def test_citizen_to_organisation_round_trip(gw: Gateway) -> None:
    office = await new_org(gw.ports)
    citizen = await new_citizen(gw.ports)

    sent = await upload(gw.client, citizen, office, reference_number="KÉRELEM/7",
                        note="Kérem az ügy intézését")
    assert sent.status_code == 201, sent.text
    accepted = sent.json()
    number = accepted["registration_number"]
    # The organisation party is the addressee: its KRID leads the number. 08:30Z is 09:30 in
    # Budapest in November (UTC+1).
    assert number == f"{office.krid}202611240930000001"
    assert accepted["registered_at"] == "2026-11-24T09:30:00+01:00"
    assert accepted["valid_until"] == "2026-12-24T09:30:00+01:00"
    assert accepted["sha256"] == sha256(PDF)
    assert accepted["size"] == len(PDF)
    assert accepted["file_name"] == "level.pdf"

    mailbox = (await gw.client.get("/api/v1/mailbox", auth=office.auth)).json()
    assert [d["registration_number"] for d in mailbox["items"]] == [number]
    item = mailbox["items"][0]
    assert item["sender"] == {"kind": "citizen", "name": "Teszt Polgár", "krid": None,
                              "short_name": None, "code": citizen.code}
    assert item["recipient"]["krid"] == office.krid
    assert item["reference_number"] == "KÉRELEM/7"
    assert item["note"] == "Kérem az ügy intézését"
    assert item["delivery_state"] == "waiting"
    assert mailbox["next_cursor"] is None

    content = await gw.client.get(f"/api/v1/documents/{number}/content", auth=office.auth)
    assert content.status_code == 200
    assert content.content == PDF
    digest = base64.b64encode(hashlib.sha256(PDF).digest()).decode()
    assert content.headers["repr-digest"] == f"sha-256=:{digest}:"
    assert "level.pdf" in content.headers["content-disposition"]

    # Downloading alone does not take the document out of the mailbox.
    again = (await gw.client.get("/api/v1/mailbox", auth=office.auth)).json()
    assert len(again["items"]) == 1

    ack = await gw.client.post(f"/api/v1/documents/{number}/ack", auth=office.auth)
    assert ack.status_code == 200
    assert ack.json()["registration_number"] == number
    repeated = await gw.client.post(f"/api/v1/documents/{number}/ack", auth=office.auth)
    assert repeated.json() == ack.json()

    assert (await gw.client.get("/api/v1/mailbox", auth=office.auth)).json()["items"] == []
    everything = (await gw.client.get("/api/v1/mailbox?state=all", auth=office.auth)).json()
    assert [d["delivery_state"] for d in everything["items"]] == ["downloaded"]

    # The sender sees the outcome of what it sent.
    seen = (await gw.client.get(f"/api/v1/documents/{number}", auth=citizen.auth)).json()
    assert seen["delivery_state"] == "downloaded"
    assert seen["acknowledged_at"] == ack.json()["acknowledged_at"]


async def test_organisation_to_organisation_and_to_citizen(gw: Gateway) -> None:
    office = await new_org(gw.ports)
    company = await new_org(gw.ports, kind=PartyKind.CEG)
    citizen = await new_citizen(gw.ports)

    to_company = await upload(gw.client, office, company, b"plain text", "valasz.txt")
    assert to_company.status_code == 201, to_company.text
    assert to_company.json()["registration_number"].startswith(company.krid)

    # A citizen addressee has no KRID: the sending organisation's KRID numbers it.
    to_citizen = await upload(gw.client, office, citizen, PDF, "hatarozat.pdf")
    assert to_citizen.status_code == 201, to_citizen.text
    assert to_citizen.json()["registration_number"] == f"{office.krid}202611240930000001"

    company_box = (await gw.client.get("/api/v1/mailbox", auth=company.auth)).json()
    assert company_box["items"][0]["sender"]["kind"] == "hivatali"
    assert company_box["items"][0]["sender"]["krid"] == office.krid
    citizen_box = (await gw.client.get("/api/v1/mailbox", auth=citizen.auth)).json()
    assert [d["file_name"] for d in citizen_box["items"]] == ["hatarozat.pdf"]
    body = await gw.client.get(
        f"/api/v1/documents/{to_citizen.json()['registration_number']}/content",
        auth=citizen.auth,
    )
    assert body.content == PDF


async def test_sequence_counts_per_krid_and_restarts_each_budapest_day(gw: Gateway) -> None:
    office = await new_org(gw.ports)
    other = await new_org(gw.ports)
    sender = await new_org(gw.ports)
    numbers = []
    for to in (office, office, other, office):
        response = await upload(gw.client, sender, to)
        numbers.append(response.json()["registration_number"])
    assert [n[-6:] for n in numbers] == ["000001", "000002", "000001", "000003"]

    # 22:59:59Z is 23:59:59 in Budapest; one second later it is the next local day.
    gw.clock.current = gw.clock.current.replace(hour=22, minute=59, second=59)
    late = (await upload(gw.client, sender, office)).json()["registration_number"]
    gw.clock.advance(seconds=1)
    early = (await upload(gw.client, sender, office)).json()["registration_number"]
    assert late == f"{office.krid}202611242359000004"
    assert early == f"{office.krid}202611250000000001"


async def test_daylight_saving_fall_back_keeps_one_day_sequence(gw: Gateway) -> None:
    """On 25 October 2026 02:30 happens twice in Budapest; both are the same local day."""
    office = await new_org(gw.ports)
    sender = await new_org(gw.ports)
    from datetime import UTC, datetime

    gw.clock.current = datetime(2026, 10, 25, 0, 30, tzinfo=UTC)  # 02:30 CEST
    first = (await upload(gw.client, sender, office)).json()
    gw.clock.current = datetime(2026, 10, 25, 1, 30, tzinfo=UTC)  # 02:30 CET, an hour later
    second = (await upload(gw.client, sender, office)).json()
    assert first["registration_number"] == f"{office.krid}202610250230000001"
    assert second["registration_number"] == f"{office.krid}202610250230000002"
    assert first["registered_at"] == "2026-10-25T02:30:00+02:00"
    assert second["registered_at"] == "2026-10-25T02:30:00+01:00"


async def test_offices_directory_filters(gw: Gateway) -> None:
    office = await new_org(gw.ports, name="Szegedi Járási Hivatal")
    company = await new_org(gw.ports, kind=PartyKind.CEG, name="ÉPÍTŐ CÉG Kft.")

    by_name = (await gw.client.get("/api/v1/offices", params={"name": "járási hiv"},
                                   auth=office.auth)).json()["items"]
    assert [o["krid"] for o in by_name if o["krid"] == office.krid] == [office.krid]
    assert all("járási hiv" in o["name"].casefold() for o in by_name)

    # Non-ASCII case folding works on SQLite too.
    folded = (await gw.client.get("/api/v1/offices", params={"name": "építő cég"},
                                  auth=office.auth)).json()["items"]
    assert company.krid in [o["krid"] for o in folded]

    by_krid = (await gw.client.get("/api/v1/offices", params={"krid": company.krid},
                                   auth=office.auth)).json()["items"]
    assert by_krid == [{"krid": company.krid, "short_name": company.username,
                        "name": "ÉPÍTŐ CÉG Kft.", "mak_code": None, "type": "ceg"}]
    only_ceg = (await gw.client.get("/api/v1/offices", params={"type": "ceg"},
                                    auth=office.auth)).json()["items"]
    assert {o["type"] for o in only_ceg} == {"ceg"}
    by_short = (await gw.client.get("/api/v1/offices", params={"short_name": office.username},
                                    auth=office.auth)).json()["items"]
    assert [o["krid"] for o in by_short] == [office.krid]


async def test_openapi_describes_the_upload_form(gw: Gateway) -> None:
    spec = (await gw.client.get("/openapi.json")).json()
    upload_body = spec["paths"]["/api/v1/documents"]["post"]["requestBody"]
    schema = upload_body["content"]["multipart/form-data"]["schema"]
    assert {"file", "recipient_krid", "recipient_code", "sha256"} <= set(schema["properties"])
    for path in ("/api/v1/mailbox", "/api/v1/documents/{registration_number}/content",
                 "/api/v1/documents/{registration_number}/ack", "/api/v1/offices"):
        assert path in spec["paths"]
    assert (await gw.client.get("/docs")).status_code == 200


async def test_non_ascii_file_name_survives(gw: Gateway) -> None:
    sender, office = await new_org(gw.ports), await new_org(gw.ports)
    sent = await upload(gw.client, sender, office, PDF, "Határozat – végzés.pdf")
    assert sent.status_code == 201, sent.text
    assert sent.json()["file_name"] == "Határozat – végzés.pdf"
    number = sent.json()["registration_number"]
    content = await gw.client.get(f"/api/v1/documents/{number}/content", auth=office.auth)
    assert "filename*=UTF-8''Hat%C3%A1rozat%20%E2%80%93%20v%C3%A9gz%C3%A9s.pdf" in \
        content.headers["content-disposition"]
