"""Two notices and presumed delivery (kézbesítési vélelem), on the working-day calendar and the
sandbox's test clock: the second notice at Budapest midnight after the 5th working day, the
presumption from 00:00 of the 5th working day after that; not a minute before."""

from __future__ import annotations

import base64
import hashlib
import secrets
from datetime import datetime
from email import message_from_bytes, policy
from pathlib import Path

from lxml import etree

from tests.helpers import PDF, Account, new_citizen, new_org, upload
from tests.hkp_helpers import kezbesitettseg
from tests.integration.conftest import Gateway
from tests.integration.test_evidence import IGAZOLAS, openssl_ts_verify, xmlsec_verify
from tests.integration.test_lifecycle import receipt_kinds, run_due, set_clock


def _mails_to(gw: Gateway, address: str) -> list[str]:
    """The subjects of the .eml files written for ``address`` (the embedded default)."""
    subjects = []
    for path in sorted((gw.blob_root.parent / "mail").glob("*.eml")):
        message = message_from_bytes(path.read_bytes(), policy=policy.default)
        if message["To"] == address:
            subjects.append(str(message["Subject"]))
    return subjects


async def _state(gw: Gateway, who: Account, number: str) -> str:
    response = await gw.client.get(f"/api/v1/documents/{number}", auth=who.auth)
    return str(response.json()["delivery_state"])


async def _kezbesitettseg(gw: Gateway, sender: Account, number: str) -> str | None:
    return await kezbesitettseg(gw.client, sender.username, sender.password, number)


async def test_second_notice_and_presumption_across_easter(sandbox: Gateway,
                                                           tmp_path: Path) -> None:
    gw = sandbox
    address = f"polgar-{secrets.token_hex(6)}@example.hu"
    office, citizen = await new_org(gw.ports), await new_citizen(gw.ports, email=address)
    content = PDF + secrets.token_bytes(16)
    # Tuesday before Easter 2027: Good Friday (26 March) and Easter Monday (29 March) are not
    # working days, and summer time starts on 28 March.
    await set_clock(gw, "2027-03-23T10:00:00+01:00")
    number = (await upload(gw.client, office, citizen, content=content,
                           return_receipt="true")).json()["registration_number"]
    await run_due(gw)
    assert len(_mails_to(gw, address)) == 1  # the first notice, at arrival

    await set_clock(gw, "2027-04-01T23:59:00+02:00")  # the 5th working day, still
    await run_due(gw)
    assert len(_mails_to(gw, address)) == 1
    assert await receipt_kinds(gw, office, number) == ["acceptance"]

    await set_clock(gw, "2027-04-02T00:00:00+02:00")
    await run_due(gw)
    await run_due(gw)
    _first, second = _mails_to(gw, address)
    assert number in second and "Második értesítés" in second
    assert await receipt_kinds(gw, office, number) == ["acceptance", "not_collected"]
    assert await _state(gw, office, number) == "waiting"

    # 5 working days after Friday 2 April: 5, 6, 7, 8, 9 April; from 00:00 of the 9th.
    await set_clock(gw, "2027-04-08T23:59:00+02:00")
    await run_due(gw)
    assert await _state(gw, office, number) == "waiting"
    assert await _kezbesitettseg(gw, office, number) == "0"

    await set_clock(gw, "2027-04-09T00:00:00+02:00")
    await run_due(gw)
    await run_due(gw)  # once only
    assert await receipt_kinds(gw, office, number) == [
        "acceptance", "not_collected", "presumed_delivery"]
    assert await _state(gw, office, number) == "presumed_delivered"
    assert await _state(gw, citizen, number) == "presumed_delivered"
    assert await _kezbesitettseg(gw, office, number) == "3"
    assert len(_mails_to(gw, address)) == 2  # no third e-mail

    receipt = (await gw.client.get(f"/api/v1/documents/{number}/receipts/presumed_delivery",
                                   auth=office.auth)).content
    root = etree.fromstring(receipt)
    assert root.findtext("i:Fajta", namespaces=IGAZOLAS) == "presumed_delivery"
    assert root.findtext("i:ElsoErtesites", namespaces=IGAZOLAS) == "2027-03-23T10:00:00+01:00"
    assert root.findtext("i:MasodikErtesites", namespaces=IGAZOLAS) == \
        "2027-04-02T00:00:00+02:00"
    assert root.findtext("i:VelelmezettKezbesites", namespaces=IGAZOLAS) == \
        "2027-04-09T00:00:00+02:00"
    ca = (await gw.client.get("/api/v1/trust")).content
    at = datetime.fromisoformat("2027-04-09T00:00:00+02:00")
    assert xmlsec_verify(receipt, ca, tmp_path, at)
    tampered = receipt.replace(b"2027-04-09T00:00:00+02:00", b"2027-04-10T00:00:00+02:00")
    assert not xmlsec_verify(tampered, ca, tmp_path, at)
    token = base64.b64decode(root.findtext("i:Idopecset", namespaces=IGAZOLAS))
    assert openssl_ts_verify(token, hashlib.sha256(content).hexdigest(), ca, tmp_path, at)
    # ETertiveveny: the presumption's receipt arrives in the office's mailbox as well.
    system = (await gw.client.get("/api/v1/mailbox?sender_type=system",
                                  auth=office.auth)).json()["items"]
    assert f"presumed_delivery_igazolas_{number}.xml" in [m["file_name"] for m in system]
    notices = (await gw.client.get("/api/v1/notifications", auth=office.auth)).json()["items"]
    assert [n["kind"] for n in notices if n["payload"]["registration_number"] == number] == [
        "not_collected", "presumed_delivery"]

    # Still downloadable until valid_until; opening it later is receipted as usual.
    opened = await gw.client.get(f"/api/v1/documents/{number}/content", auth=citizen.auth)
    assert opened.status_code == 200 and opened.content == content
    assert await receipt_kinds(gw, office, number) == [
        "acceptance", "not_collected", "presumed_delivery", "download"]
    assert await _state(gw, office, number) == "downloaded"
    assert await _kezbesitettseg(gw, office, number) == "1"


async def test_a_shifted_working_saturday_counts(sandbox: Gateway) -> None:
    gw = sandbox
    office, citizen = await new_org(gw.ports), await new_citizen(gw.ports)
    # Monday 30 November 2026: the 5th working day after it is Monday 7 December, so the
    # second notice goes at 00:00 on the 8th; then 9, 10, 11, Saturday 12 December (a
    # working day in 2026, for Thursday 24 December) and Monday 14 December.
    await set_clock(gw, "2026-11-30T10:00:00+01:00")
    number = (await upload(gw.client, office, citizen)).json()["registration_number"]
    await set_clock(gw, "2026-12-07T23:59:00+01:00")
    await run_due(gw)
    assert await receipt_kinds(gw, office, number) == ["acceptance"]
    await set_clock(gw, "2026-12-08T00:00:00+01:00")
    await run_due(gw)
    assert await receipt_kinds(gw, office, number) == ["acceptance", "not_collected"]
    await set_clock(gw, "2026-12-13T23:59:00+01:00")
    await run_due(gw)
    assert await _state(gw, office, number) == "waiting"
    await set_clock(gw, "2026-12-14T00:00:00+01:00")
    await run_due(gw)
    assert await _state(gw, office, number) == "presumed_delivered"


async def test_an_opened_document_is_never_presumed(sandbox: Gateway) -> None:
    gw = sandbox
    office, citizen = await new_org(gw.ports), await new_citizen(gw.ports)
    await set_clock(gw, "2027-01-04T09:00:00+01:00")
    number = (await upload(gw.client, office, citizen)).json()["registration_number"]
    await set_clock(gw, "2027-01-12T00:00:00+01:00")  # after the 5th working day
    await run_due(gw)
    assert await receipt_kinds(gw, office, number) == ["acceptance", "not_collected"]
    opened = await gw.client.get(f"/api/v1/documents/{number}/content", auth=citizen.auth)
    assert opened.status_code == 200
    await set_clock(gw, "2027-01-25T00:00:00+01:00")  # well past the presumption's day
    await run_due(gw)
    assert await receipt_kinds(gw, office, number) == ["acceptance", "not_collected", "download"]
    assert await _state(gw, office, number) == "downloaded"


async def test_presumption_days_are_configurable(sandbox: Gateway) -> None:
    gw = sandbox
    gw.ports.second_notice_working_days, gw.ports.presumption_working_days = 2, 1
    office, citizen = await new_org(gw.ports), await new_citizen(gw.ports)
    await set_clock(gw, "2027-01-04T09:00:00+01:00")  # Monday
    number = (await upload(gw.client, office, citizen)).json()["registration_number"]
    await set_clock(gw, "2027-01-07T00:00:00+01:00")  # after Tuesday and Wednesday
    await run_due(gw)
    assert await receipt_kinds(gw, office, number) == ["acceptance", "not_collected"]
    await set_clock(gw, "2027-01-08T00:00:00+01:00")  # the 1st working day after: Friday
    await run_due(gw)
    assert await _state(gw, office, number) == "presumed_delivered"
