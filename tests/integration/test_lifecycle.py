"""The mailbox's clock, driven through the sandbox's test clock (docs/rest-api.md)."""

from __future__ import annotations

import hashlib
import secrets
from pathlib import Path

from gateway.config import Settings
from tests.conftest import FixedClock
from tests.helpers import PDF, Account, new_citizen, new_org, stored_files, upload
from tests.hkp_helpers import NS, envelope, kezbesitettseg, read_answer
from tests.integration.conftest import Gateway, _start, sandbox_auth


async def set_clock(gw: Gateway, at: str) -> None:
    response = await gw.client.post("/api/v1/sandbox/clock", json={"set": at},
                                    auth=await sandbox_auth(gw))
    assert response.status_code == 200, response.text


async def run_due(gw: Gateway) -> None:
    # The counts it answers are the whole database's (on PostgreSQL, the whole test session's):
    # the tests look at their own documents instead.
    response = await gw.client.post("/api/v1/sandbox/run-due", auth=await sandbox_auth(gw))
    assert response.status_code == 200, response.text


async def receipt_kinds(gw: Gateway, sender: Account, number: str) -> list[str]:
    response = await gw.client.get(f"/api/v1/documents/{number}/receipts", auth=sender.auth)
    return [r["kind"] for r in response.json()["items"]]


async def notifications(gw: Gateway, party: Account) -> list[dict[str, object]]:
    response = await gw.client.get("/api/v1/notifications", auth=party.auth)
    return response.json()["items"]  # type: ignore[no-any-return]


async def test_not_collected_exactly_after_the_fifth_working_day(sandbox: Gateway) -> None:
    gw = sandbox
    office, citizen = await new_org(gw.ports), await new_citizen(gw.ports)
    # Wednesday before Easter 2027: Good Friday and Easter Monday do not count.
    await set_clock(gw, "2027-03-24T10:00:00+01:00")
    number = (await upload(gw.client, office, citizen, return_receipt="true")).json()[
        "registration_number"]

    await set_clock(gw, "2027-04-02T23:59:00+02:00")  # still the 5th working day
    await run_due(gw)
    assert await notifications(gw, office) == []
    assert await receipt_kinds(gw, office, number) == ["acceptance"]

    await set_clock(gw, "2027-04-03T00:00:30+02:00")
    await run_due(gw)
    await run_due(gw)  # once only
    (notice,) = await notifications(gw, office)
    assert notice["kind"] == "not_collected"
    assert notice["payload"]["registration_number"] == number  # type: ignore[index]
    assert await receipt_kinds(gw, office, number) == ["acceptance", "not_collected"]
    # ETertiveveny was asked: the receipt arrives as a system message too.
    (message,) = (await gw.client.get("/api/v1/mailbox", auth=office.auth)).json()["items"]
    assert message["file_name"] == f"not_collected_igazolas_{number}.xml"
    # The document itself still waits for the citizen until it expires.
    waiting = (await gw.client.get(f"/api/v1/documents/{number}", auth=citizen.auth)).json()
    assert waiting["delivery_state"] == "waiting"


async def test_warning_after_three_working_days_and_not_before(sandbox: Gateway) -> None:
    gw = sandbox
    sender, office = await new_org(gw.ports), await new_org(gw.ports)
    await set_clock(gw, "2027-03-24T10:00:00+01:00")
    number = (await upload(gw.client, sender, office)).json()["registration_number"]
    downloaded = (await upload(gw.client, sender, office)).json()["registration_number"]
    await gw.client.post(f"/api/v1/documents/{downloaded}/ack", auth=office.auth)

    await set_clock(gw, "2027-03-31T23:00:00+02:00")  # Wednesday: the 3rd working day
    await run_due(gw)
    assert await notifications(gw, office) == []
    await set_clock(gw, "2027-04-01T00:00:30+02:00")
    await run_due(gw)
    await run_due(gw)
    (warning,) = await notifications(gw, office)
    assert warning["kind"] == "mailbox_warning"
    assert warning["payload"]["registration_number"] == number  # type: ignore[index]
    assert await notifications(gw, sender) == []


async def test_expiry_deletes_content_keeps_metadata_and_proof(sandbox: Gateway) -> None:
    gw = sandbox
    sender, office = await new_org(gw.ports), await new_org(gw.ports)
    await set_clock(gw, "2027-01-04T09:00:00+01:00")
    # Content no other test shares: on PostgreSQL the database is the whole session's, and a
    # waiting document elsewhere with the same bytes would rightly keep the blob.
    content = PDF + secrets.token_bytes(16)
    number = (await upload(gw.client, sender, office, content)).json()["registration_number"]
    other = b"%PDF-1.7 kept\n" + secrets.token_bytes(16)
    kept = (await upload(gw.client, sender, office, other, "kept.pdf")).json()
    await gw.client.post(f"/api/v1/documents/{kept['registration_number']}/ack",
                         auth=office.auth)
    digest = hashlib.sha256(content).hexdigest()
    blob = gw.blob_root / digest[:2] / digest[2:4] / digest
    assert blob.exists()

    await set_clock(gw, "2027-02-03T08:59:00+01:00")
    await run_due(gw)
    assert blob.exists()
    assert await receipt_kinds(gw, sender, number) == ["acceptance"]
    await set_clock(gw, "2027-02-03T09:00:30+01:00")
    await run_due(gw)

    assert not blob.exists()
    assert not any(name.endswith(digest) for name in stored_files(gw.blob_root))
    gone = await gw.client.get(f"/api/v1/documents/{number}/content", auth=office.auth)
    assert gone.status_code == 410 and gone.json()["code"] == "expired"
    metadata = (await gw.client.get(f"/api/v1/documents/{number}", auth=sender.auth)).json()
    assert metadata["delivery_state"] == "expired"
    assert metadata["sha256"] == digest
    assert (await gw.client.get(f"/api/v1/documents/{number}/timestamp",
                                auth=sender.auth)).status_code == 200
    assert await receipt_kinds(gw, sender, number) == ["acceptance", "expired"]
    assert [n["kind"] for n in await notifications(gw, sender)] == ["expired"]
    ack = await gw.client.post(f"/api/v1/documents/{number}/ack", auth=office.auth)
    assert ack.status_code == 410
    # Downloaded documents do not expire, and their content stays.
    assert (await gw.client.get(f"/api/v1/documents/{kept['registration_number']}/content",
                                auth=office.auth)).content == other
    # Over HKP: Kezbesitettseg 2 and no attachment.
    assert await kezbesitettseg(gw.client, sender.username, sender.password, number) == "2"
    # Downloading it over HKP gives the metadata, but no attachment to name or carry.
    download = read_answer(await gw.client.post("/hkp", headers={"Content-Type": "text/xml"},
                                                content=envelope(
        "DokumentumokLekerdezeseGepiInterfeszAltal2",
        "<hkp:DokumentumAdatokLetoltesKerdes><hkp:ErkeztetesiSzamAlapjan><hkp:ErkeztetesiSzam>"
        f"{number}</hkp:ErkeztetesiSzam></hkp:ErkeztetesiSzamAlapjan>"
        "</hkp:DokumentumAdatokLetoltesKerdes>",
        username=office.username, password=office.password)))
    (item,) = download.form.findall("hkp:DokumentumAdatok", NS)
    assert item.get("href") is None and download.parts == {}
    assert item.findtext("hkp:Kezbesitettseg", namespaces=NS) == "2"


async def test_expiry_keeps_content_another_document_shares(sandbox: Gateway) -> None:
    gw = sandbox
    sender, office = await new_org(gw.ports), await new_org(gw.ports)
    content = PDF + secrets.token_bytes(16)
    await set_clock(gw, "2027-01-04T09:00:00+01:00")
    await upload(gw.client, sender, office, content)
    await set_clock(gw, "2027-01-20T09:00:00+01:00")
    later = (await upload(gw.client, sender, office, content)).json()["registration_number"]
    await set_clock(gw, "2027-02-04T09:00:00+01:00")
    await run_due(gw)
    same = await gw.client.get(f"/api/v1/documents/{later}/content", auth=office.auth)
    assert same.content == content


async def test_clock_rules(sandbox: Gateway) -> None:
    gw = sandbox
    auth = await sandbox_auth(gw)
    before = (await gw.client.get("/api/v1/sandbox/clock", auth=auth)).json()["now"]
    moved = await gw.client.post("/api/v1/sandbox/clock", json={"advance": "P3D"}, auth=auth)
    assert moved.status_code == 200
    assert moved.json()["now"] > before
    for bad in ({"advance": "-P1D"}, {"set": "2027-01-04T09:00:00"}, {},
                {"advance": "P1D", "set": "2027-01-04T09:00:00+01:00"}):
        refused = await gw.client.post("/api/v1/sandbox/clock", json=bad, auth=auth)
        assert refused.status_code == 422, bad


async def test_the_clock_never_moves_backwards(sandbox: Gateway) -> None:
    """Was: {"set": "2001-01-01…"} was taken, and the next upload's number and signed
    timestamp said 2001: backdated evidence."""
    gw = sandbox
    sender, office = await new_org(gw.ports), await new_org(gw.ports)
    await set_clock(gw, "2027-03-01T10:00:00+01:00")
    auth = await sandbox_auth(gw)
    for body, field in (({"set": "2001-01-01T00:00:00+01:00"}, "set"),
                        ({"set": "2027-03-01T09:59:00+01:00"}, "set"),
                        ({"advance": "-PT1M"}, "advance")):
        refused = await gw.client.post("/api/v1/sandbox/clock", json=body, auth=auth)
        assert refused.status_code == 422, body
        assert refused.json()["code"] == "invalid_request"
        assert refused.json()["field"] == field
    now = (await gw.client.get("/api/v1/sandbox/clock", auth=auth)).json()["now"]
    assert now.startswith("2027-03-01T10:00")
    accepted = (await upload(gw.client, sender, office)).json()
    assert accepted["registered_at"].startswith("2027-03-01T10:00")
    await set_clock(gw, "2027-03-01T10:00:00+01:00")  # the same time again is no step back


async def test_sandbox_paths_need_an_authenticated_party(sandbox: Gateway) -> None:
    """Was: anonymous requests moved the clock 31 days and expired offices' documents."""
    gw = sandbox
    before = (await gw.client.get("/api/v1/sandbox/clock",
                                  auth=await sandbox_auth(gw))).json()["now"]
    for method, path in (("GET", "/api/v1/sandbox/clock"), ("POST", "/api/v1/sandbox/clock"),
                         ("POST", "/api/v1/sandbox/run-due")):
        for auth in (None, (gw.clock_keeper.username if gw.clock_keeper else "", "wrong")):
            response = await gw.client.request(method, path, json={"advance": "P31D"},
                                               auth=auth)
            assert response.status_code == 401, (path, auth)
            assert response.json()["code"] == "unauthorized"
    after = (await gw.client.get("/api/v1/sandbox/clock",
                                 auth=await sandbox_auth(gw))).json()["now"]
    assert after == before


async def test_sandbox_paths_are_404_without_sandbox(gw: Gateway) -> None:
    auth = await sandbox_auth(gw)
    for method, path in (("GET", "/api/v1/sandbox/clock"), ("POST", "/api/v1/sandbox/clock"),
                         ("POST", "/api/v1/sandbox/run-due")):
        for credentials in (None, auth):
            response = await gw.client.request(method, path, json={"advance": "P1D"},
                                               auth=credentials)
            assert response.status_code == 404, path


async def test_every_instance_sees_the_moved_clock(
    database_url: str, tmp_path: Path, keys_dir: Path, clock: FixedClock
) -> None:
    settings = Settings(database_url=database_url, data_dir=tmp_path / "data", sandbox=True,
                        keys_dir=keys_dir, background_jobs=False)
    async for first in _start(settings, clock):
        async for second in _start(settings, FixedClock(clock.now())):
            sender, office = await new_org(first.ports), await new_org(first.ports)
            await set_clock(first, "2027-06-01T10:00:00+02:00")
            accepted = (await upload(second.client, sender, office)).json()
            assert accepted["registered_at"].startswith("2027-06-01T10:0")
