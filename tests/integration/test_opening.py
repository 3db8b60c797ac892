"""In a citizen's own tárhely, opening is receiving (225/2009 Korm. r. 36. § (4)): the first
download, over REST or on the web page, acknowledges and issues the sender's download receipt."""

from __future__ import annotations

from gateway.services.audit import link_pending
from tests.helpers import PDF, new_citizen, new_org, upload
from tests.integration.conftest import Gateway
from tests.integration.test_web import form_fields, log_in, sent_number


async def _kinds(gw: Gateway, sender_auth: tuple[str, str], number: str) -> list[str]:
    listed = await gw.client.get(f"/api/v1/documents/{number}/receipts", auth=sender_auth)
    return [r["kind"] for r in listed.json()["items"]]


async def test_opening_over_rest_issues_exactly_one_download_receipt(gw: Gateway) -> None:
    office, citizen = await new_org(gw.ports), await new_citizen(gw.ports)
    number = (await upload(gw.client, office, citizen, return_receipt="true")).json()[
        "registration_number"]
    metadata = await gw.client.get(f"/api/v1/documents/{number}", auth=citizen.auth)
    assert metadata.json()["delivery_state"] == "waiting"  # looking is not opening
    for _ in range(2):
        opened = await gw.client.get(f"/api/v1/documents/{number}/content", auth=citizen.auth)
        assert opened.status_code == 200 and opened.content == PDF
    assert await _kinds(gw, office.auth, number) == ["acceptance", "download"]
    state = (await gw.client.get(f"/api/v1/documents/{number}", auth=office.auth)).json()
    assert state["delivery_state"] == "downloaded" and state["acknowledged_at"]
    # The sender asked for an e-tértivevény: the receipt arrived as one system message.
    system = (await gw.client.get("/api/v1/mailbox?sender_type=system",
                                  auth=office.auth)).json()["items"]
    assert [m["reference_number"] for m in system] == [number]


async def test_an_organisation_downloading_does_not_acknowledge(gw: Gateway) -> None:
    sender, office = await new_org(gw.ports), await new_org(gw.ports)
    number = (await upload(gw.client, sender, office)).json()["registration_number"]
    await gw.client.get(f"/api/v1/documents/{number}/content", auth=office.auth)
    assert await _kinds(gw, sender.auth, number) == ["acceptance"]


async def test_the_sender_downloading_its_own_copy_acknowledges_nothing(gw: Gateway) -> None:
    citizen, office = await new_citizen(gw.ports), await new_org(gw.ports)
    number = (await upload(gw.client, citizen, office)).json()["registration_number"]
    await gw.client.get(f"/api/v1/documents/{number}/content", auth=citizen.auth)
    assert (await gw.client.get(f"/api/v1/documents/{number}",
                                auth=office.auth)).json()["delivery_state"] == "waiting"


async def test_opening_on_the_web_page(gw: Gateway) -> None:
    office, citizen = await new_org(gw.ports), await new_citizen(gw.ports)
    number = (await upload(gw.client, office, citizen, note="egyedi megjegyzés")).json()[
        "registration_number"]
    await log_in(gw.client, citizen)
    tarhely = await gw.client.get("/ui/mailbox/me?lang=en")
    assert tarhely.status_code == 200 and number in tarhely.text
    assert "counts as receiving it" in tarhely.text
    page = await gw.client.get(f"/ui/documents/{number}?lang=en")
    assert "Opening is receiving" in page.text and "Confirm the download" not in page.text
    assert await _kinds(gw, office.auth, number) == ["acceptance"]  # the page is not opening
    opening = await gw.client.post(f"/ui/documents/{number}/open", data=form_fields(page))
    assert opening.status_code == 303
    assert opening.headers["location"] == f"/ui/documents/{number}/content"
    opened = await gw.client.get(opening.headers["location"])
    assert opened.status_code == 200 and opened.content == PDF
    await gw.client.get(f"/ui/documents/{number}/content")
    assert await _kinds(gw, office.auth, number) == ["acceptance", "download"]
    await link_pending(gw.ports)  # as the background jobs do within a second
    async with gw.ports.uow() as uow:
        entries = await uow.audit.entries(None, 100_000)
    assert [(e.actor, e.action, e.office_krid) for e in entries
            if e.registration_number == number and e.action == "acknowledged"] == \
        [(citizen.username, "acknowledged", None)]
    # A citizen sends from their own tárhely too, and sees it under sent documents.
    form = await gw.client.get("/ui/send?box=me")
    sent = await gw.client.post("/ui/send?box=me", data={
        **form_fields(form), "recipient_krid": office.krid or "",
        "doc_type_office": "K", "doc_type_id": "K", "doc_type_description": "Kérelem"},
        files={"file": ("kerelem.pdf", PDF)})
    assert sent_number(sent) in (await gw.client.get(sent.headers["location"])).text
    assert "kerelem.pdf" in (await gw.client.get("/ui/sent?box=me")).text
