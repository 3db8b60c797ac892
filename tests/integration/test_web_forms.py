"""One click, one effect (every state-changing form's one-time key) and a GET that never
delivers a legal document: a citizen's first opening is a POST form."""

from __future__ import annotations

import asyncio

from gateway.domain.parties import StaffRole
from gateway.services import staff as staff_service
from tests.helpers import PDF, Account, new_citizen, new_org, upload, upload_form
from tests.integration.conftest import Gateway
from tests.integration.test_web import form_fields, log_in, sent_number


async def _mailbox(gw: Gateway, who: Account) -> list[str]:
    listed = (await gw.client.get("/api/v1/mailbox", auth=who.auth)).json()["items"]
    return [item["registration_number"] for item in listed]


async def _receipts(gw: Gateway, sender: Account, number: str) -> list[str]:
    listed = await gw.client.get(f"/api/v1/documents/{number}/receipts", auth=sender.auth)
    return [r["kind"] for r in listed.json()["items"]]


async def _state(gw: Gateway, recipient: Account, number: str) -> str:
    found = await gw.client.get(f"/api/v1/documents/{number}", auth=recipient.auth)
    return str(found.json()["delivery_state"])


async def _send_form(gw: Gateway, addressee: Account) -> dict[str, str]:
    page = await gw.client.get("/ui/send?box=me")
    assert page.status_code == 200 and 'name="form_key"' in page.text
    return {**form_fields(page), **upload_form(addressee)}


async def test_a_send_form_posted_twice_registers_one_document(gw: Gateway) -> None:
    citizen, office = await new_citizen(gw.ports), await new_org(gw.ports, name="Címzett Hivatal")
    await log_in(gw.client, citizen)
    fields = await _send_form(gw, office)
    first = await gw.client.post("/ui/send?box=me", data=fields,
                                 files={"file": ("kerelem.pdf", PDF)})
    # A browser's resend, a double click, a retry after a lost answer: the same form again.
    again = await gw.client.post("/ui/send?box=me", data=fields,
                                 files={"file": ("kerelem.pdf", PDF)})
    number = sent_number(first)
    assert sent_number(again) == number
    assert again.headers["location"] == first.headers["location"]
    assert await _mailbox(gw, office) == [number]
    # The outcome's page names the number, the addressee and the time, in both languages.
    for language, sentence in (
            ("en", f"Sent: registration number {number}, to Címzett Hivatal "
                   f"(KRID {office.krid}), accepted at"),
            ("hu", f"Elküldve: érkeztetési szám {number}, címzett: Címzett Hivatal "
                   f"(KRID {office.krid}), befogadva:")):
        shown = await gw.client.get(f"{first.headers['location']}&lang={language}")
        assert shown.status_code == 200 and sentence in shown.text
    # A new form is a new send.
    second = sent_number(await gw.client.post(
        "/ui/send?box=me", data=await _send_form(gw, office),
        files={"file": ("kerelem.pdf", PDF)}))
    assert second != number and sorted(await _mailbox(gw, office)) == sorted([number, second])


async def test_two_concurrent_posts_with_one_key_register_one_document(gw: Gateway) -> None:
    citizen, office = await new_citizen(gw.ports), await new_org(gw.ports)
    await log_in(gw.client, citizen)
    fields = await _send_form(gw, office)
    answers = await asyncio.gather(*(
        gw.client.post("/ui/send?box=me", data=fields, files={"file": ("kerelem.pdf", PDF)})
        for _ in range(3)))
    numbers = {sent_number(answer) for answer in answers}
    assert len(numbers) == 1
    assert await _mailbox(gw, office) == list(numbers)


async def test_a_form_without_its_key_is_refused_and_does_nothing(gw: Gateway) -> None:
    citizen, office = await new_citizen(gw.ports), await new_org(gw.ports)
    await log_in(gw.client, citizen)
    fields = await _send_form(gw, office)
    for key in (None, "short", "not a key at all, with spaces and more than enough"):
        refused = await gw.client.post(
            "/ui/send?box=me&lang=en",
            data={**{k: v for k, v in fields.items() if k != "form_key"},
                  **({"form_key": key} if key else {})},
            files={"file": ("kerelem.pdf", PDF)})
        assert refused.status_code == 400
        assert "came without its one-time key" in refused.text
        assert 'name="form_key"' in refused.text  # the form again, with a new key
    assert await _mailbox(gw, office) == []
    # The refusals did not use up the page's key.
    number = sent_number(await gw.client.post("/ui/send?box=me", data=fields,
                                              files={"file": ("kerelem.pdf", PDF)}))
    assert await _mailbox(gw, office) == [number]


async def test_a_refused_send_leaves_its_key_for_the_corrected_form(gw: Gateway) -> None:
    citizen, office = await new_citizen(gw.ports), await new_org(gw.ports)
    await log_in(gw.client, citizen)
    fields = await _send_form(gw, office)
    wrong = await gw.client.post("/ui/send?box=me", data=fields,
                                 files={"file": ("kerelem.exe", PDF)})
    assert wrong.status_code == 400 and await _mailbox(gw, office) == []
    number = sent_number(await gw.client.post("/ui/send?box=me", data=fields,
                                              files={"file": ("kerelem.pdf", PDF)}))
    assert await _mailbox(gw, office) == [number]


async def test_a_resent_staff_change_is_done_once(gw: Gateway) -> None:
    office = await new_org(gw.ports)
    admin, clerk = await new_citizen(gw.ports), await new_citizen(gw.ports)
    await staff_service.grant_role(gw.ports, krid=office.krid or "", username=admin.username,
                                   role=StaffRole.ADMIN)
    await log_in(gw.client, admin)
    staff = f"/ui/offices/{office.krid}/staff"
    fields = {**form_fields(await gw.client.get(staff)), "person": clerk.username,
              "role": "clerk", "action": "grant"}
    first = await gw.client.post(staff, data=fields)
    # Revoked meanwhile (in another tab): the resent grant must not grant it again.
    await staff_service.revoke_role(gw.ports, krid=office.krid or "", username=clerk.username)
    again = await gw.client.post(staff, data=fields)
    assert first.status_code == again.status_code == 303
    assert again.headers["location"] == first.headers["location"]
    _, members = await staff_service.list_staff(gw.ports, krid=office.krid or "")
    assert [m.person.username for m in members] == [admin.username]


async def test_a_get_of_an_unopened_document_delivers_nothing(gw: Gateway) -> None:
    office, citizen = await new_org(gw.ports), await new_citizen(gw.ports)
    number = (await upload(gw.client, office, citizen)).json()["registration_number"]
    await log_in(gw.client, citizen)
    for language, warning in (
            ("en", "Opening is receiving: when you open the document"),
            ("hu", "A megnyitás átvétel: amikor megnyitja a dokumentumot")):
        # A link scanner or a browser's prefetch: the page with the opening form, no bytes.
        got = await gw.client.get(f"/ui/documents/{number}/content?lang={language}")
        assert got.status_code == 200 and got.headers["content-type"].startswith("text/html")
        assert PDF not in got.content
        assert warning in got.text
        form = got.text.index(f'action="/ui/documents/{number}/open"')
        assert got.text.index(warning) > form  # said inside the form, before its button
        assert got.text.index(warning) < got.text.index("<button", form)
        assert f'href="/ui/documents/{number}/content"' not in got.text
    assert await _state(gw, citizen, number) == "waiting"
    assert await _receipts(gw, office, number) == ["acceptance"]


async def test_the_opening_form_receives_the_document_once(gw: Gateway) -> None:
    office, citizen = await new_org(gw.ports), await new_citizen(gw.ports)
    number = (await upload(gw.client, office, citizen)).json()["registration_number"]
    await log_in(gw.client, citizen)
    page = await gw.client.get(f"/ui/documents/{number}?lang=en")
    fields = form_fields(page)
    refused = await gw.client.post(f"/ui/documents/{number}/open",
                                   data={"csrf_token": fields["csrf_token"]})
    assert refused.status_code == 400 and await _state(gw, citizen, number) == "waiting"
    opened = await gw.client.post(f"/ui/documents/{number}/open", data=fields)
    assert opened.status_code == 303
    assert opened.headers["location"] == f"/ui/documents/{number}/content"
    assert await _state(gw, citizen, number) == "downloaded"
    assert await _receipts(gw, office, number) == ["acceptance", "download"]
    again = await gw.client.post(f"/ui/documents/{number}/open", data=fields)
    assert again.status_code == 303 and again.headers["location"] == opened.headers["location"]
    content = await gw.client.get(opened.headers["location"])
    assert content.status_code == 200 and content.content == PDF
    assert await _receipts(gw, office, number) == ["acceptance", "download"]


async def test_a_clerk_still_downloads_with_a_get(gw: Gateway) -> None:
    office, clerk = await new_org(gw.ports), await new_citizen(gw.ports)
    await staff_service.grant_role(gw.ports, krid=office.krid or "", username=clerk.username,
                                   role=StaffRole.CLERK)
    sender = await new_org(gw.ports)
    number = (await upload(gw.client, sender, office)).json()["registration_number"]
    await log_in(gw.client, clerk)
    page = await gw.client.get(f"/ui/documents/{number}")
    assert "/open" not in page.text and "/ack" in page.text
    content = await gw.client.get(f"/ui/documents/{number}/content")
    assert content.status_code == 200 and content.content == PDF
    assert await _state(gw, office, number) == "waiting"  # a clerk confirms explicitly
    opening = await gw.client.post(f"/ui/documents/{number}/open", data=form_fields(page))
    assert opening.status_code == 404 and await _state(gw, office, number) == "waiting"
