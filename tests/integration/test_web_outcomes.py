"""What the forms say they did: revoking one's own role asks first on a page of its own; the
sandbox console's "run the due jobs now" is a keyed outcome; the send form names the formats
and the size it takes, and its outcome and the sent page say to whom each document went."""

from __future__ import annotations

import re
from datetime import datetime, timedelta

from gateway.config import Settings
from gateway.domain.formats import ALLOWED_FORMATS
from gateway.domain.parties import PartyKind, StaffRole
from gateway.services import staff as staff_service
from tests.helpers import PDF, Account, new_citizen, new_org, upload
from tests.integration.conftest import Gateway, sandbox_auth
from tests.integration.test_web import form_fields, log_in, sent_number


async def _role(gw: Gateway, office: Account, person: Account) -> StaffRole | None:
    _, members = await staff_service.list_staff(gw.ports, krid=office.krid or "")
    return next((m.role for m in members if m.person.username == person.username), None)


async def _admins(gw: Gateway, *people: Account) -> Account:
    office = await new_org(gw.ports, name="Kilépő Hivatal")
    for person in people:
        await staff_service.grant_role(gw.ports, krid=office.krid or "",
                                       username=person.username, role=StaffRole.ADMIN)
    return office


async def test_revoking_ones_own_role_asks_first_on_a_page_of_its_own(gw: Gateway) -> None:
    me, other = await new_citizen(gw.ports), await new_citizen(gw.ports)
    office = await _admins(gw, me, other)
    gw.client.headers["Accept-Language"] = "en"
    await log_in(gw.client, me)
    staff = f"/ui/offices/{office.krid}/staff"
    page = await gw.client.get(staff)
    # Without the confirmation: nothing changes, and the page says what would happen.
    asked = await gw.client.post(staff, data={**form_fields(page), "person": me.username,
                                              "action": "revoke"})
    assert asked.status_code == 200 and "you lose access to its mailbox" in asked.text
    assert f'action="/ui/offices/{office.krid}/staff/leave"' in asked.text
    assert await _role(gw, office, me) is StaffRole.ADMIN
    # The same page by its own address (the staff page links to it): a GET changes nothing.
    shown = await gw.client.get(f"{staff}/leave?lang=hu")
    assert shown.status_code == 200 and "elveszíti a hozzáférést" in shown.text
    assert await _role(gw, office, me) is StaffRole.ADMIN
    # The confirming POST needs its CSRF token and its own one-time key.
    leave = f"{staff}/leave"
    assert (await gw.client.post(leave, data={"form_key": "x" * 32})).status_code == 403
    assert (await gw.client.post(leave, data={"csrf_token": form_fields(asked)[
        "csrf_token"]})).status_code == 400
    assert await _role(gw, office, me) is StaffRole.ADMIN
    confirm = form_fields(asked)
    left = await gw.client.post(leave, data=confirm)
    assert left.status_code == 303 and left.headers["location"] == "/ui/"
    assert await _role(gw, office, me) is None
    chooser = await gw.client.get("/ui/")
    assert office.krid not in chooser.text
    assert (await gw.client.get(staff)).status_code == 404
    # A resent confirmation shows the same outcome and does nothing more.
    again = await gw.client.post(leave, data=confirm)
    assert again.status_code == 303 and again.headers["location"] == "/ui/"
    assert await _role(gw, office, other) is StaffRole.ADMIN


async def test_revoking_someone_elses_role_stays_one_click(gw: Gateway) -> None:
    me, other = await new_citizen(gw.ports), await new_citizen(gw.ports)
    office = await _admins(gw, me, other)
    await log_in(gw.client, me)
    staff = f"/ui/offices/{office.krid}/staff"
    revoked = await gw.client.post(staff, data={**form_fields(await gw.client.get(staff)),
                                                "person": other.username, "action": "revoke"})
    assert revoked.status_code == 303 and await _role(gw, office, other) is None


async def test_the_last_admin_cannot_leave_even_when_confirming(gw: Gateway) -> None:
    me = await new_citizen(gw.ports)
    office = await _admins(gw, me)
    gw.client.headers["Accept-Language"] = "en"
    await log_in(gw.client, me)
    # No confirmation is asked for what would be refused: the rule says so at once.
    page = await gw.client.get(f"/ui/offices/{office.krid}/staff/leave")
    assert page.status_code == 409 and "The last admin stays" in page.text
    asked = await gw.client.post(f"/ui/offices/{office.krid}/staff", data={
        **form_fields(page), "person": me.username, "action": "revoke"})
    assert asked.status_code == 409 and "The last admin stays" in asked.text
    # A confirming POST sent anyway (a page kept open while another admin left) is refused.
    refused = await gw.client.post(f"/ui/offices/{office.krid}/staff/leave",
                                   data=form_fields(page))
    assert refused.status_code == 409 and "The last admin stays" in refused.text
    assert await _role(gw, office, me) is StaffRole.ADMIN


async def test_a_clerk_has_no_leave_page(gw: Gateway) -> None:
    clerk = await new_citizen(gw.ports)
    office = await new_org(gw.ports)
    await staff_service.grant_role(gw.ports, krid=office.krid or "", username=clerk.username,
                                   role=StaffRole.CLERK)
    await log_in(gw.client, clerk)
    leave = f"/ui/offices/{office.krid}/staff/leave"
    assert (await gw.client.get(leave)).status_code == 404
    chooser = await gw.client.get("/ui/")
    assert (await gw.client.post(leave, data=form_fields(chooser))).status_code == 404
    assert await _role(gw, office, clerk) is StaffRole.CLERK


async def _receipts(gw: Gateway, sender: Account, number: str) -> list[str]:
    listed = await gw.client.get(f"/api/v1/documents/{number}/receipts", auth=sender.auth)
    return [r["kind"] for r in listed.json()["items"]]


async def test_run_due_is_a_keyed_outcome_that_a_resend_does_not_repeat(
    sandbox: Gateway
) -> None:
    """Was: the button answered a 200 page, and a browser's resend ran the jobs again."""
    gw = sandbox
    person, office = await new_citizen(gw.ports), await new_org(gw.ports)
    uploaded = (await upload(gw.client, office, person)).json()
    number = uploaded["registration_number"]
    # The second notice falls due after five working days unopened: the clock goes to just
    # before that, then just after, both well within a form key's day.
    due = gw.ports.calendar.deadline(datetime.fromisoformat(uploaded["registered_at"]),
                                     gw.ports.second_notice_working_days)
    await _set_clock(gw, due - timedelta(hours=1))
    await log_in(gw.client, person)
    console = await gw.client.get("/ui/sandbox?lang=en")
    fields = {**form_fields(console), "action": "run_due"}
    first = await gw.client.post("/ui/sandbox", data=fields)
    assert first.status_code == 303
    outcome = first.headers["location"]
    assert re.fullmatch(r"/ui/sandbox\?ran=1&warned=\d+&not_collected=\d+"
                        r"&presumed_delivered=\d+&expired=\d+&mails_sent=\d+"
                        r"&mandates_expired=\d+", outcome)
    shown = await gw.client.get(f"{outcome}&lang=en")
    assert shown.status_code == 200 and "Due jobs ran:" in shown.text
    assert await _receipts(gw, office, number) == ["acceptance"]  # nothing was due yet
    await _set_clock(gw, due + timedelta(minutes=1))
    await log_in(gw.client, person)  # the session timed out with the hour
    fields["csrf_token"] = form_fields(await gw.client.get("/ui/sandbox"))["csrf_token"]
    again = await gw.client.post("/ui/sandbox", data=fields)  # the same form again
    assert again.status_code == 303 and again.headers["location"] == outcome
    assert await _receipts(gw, office, number) == ["acceptance"]  # it ran nothing
    fresh = await gw.client.post("/ui/sandbox", data={
        **form_fields(await gw.client.get("/ui/sandbox")), "action": "run_due"})
    assert fresh.status_code == 303 and fresh.headers["location"] != outcome
    assert await _receipts(gw, office, number) == ["acceptance", "not_collected"]
    counts = dict(re.findall(r"(\w+)=(\d+)", fresh.headers["location"]))
    assert int(counts["not_collected"]) >= 1


async def _set_clock(gw: Gateway, at: datetime) -> None:
    moved = await gw.client.post("/api/v1/sandbox/clock", json={"set": at.isoformat()},
                                 auth=await sandbox_auth(gw))
    assert moved.status_code == 200, moved.text


async def test_advancing_the_clock_says_by_how_much(sandbox: Gateway) -> None:
    gw = sandbox
    person = await new_citizen(gw.ports)
    await log_in(gw.client, person)
    console = await gw.client.get("/ui/sandbox")
    moved = await gw.client.post("/ui/sandbox", data={
        **form_fields(console), "action": "advance", "days": "0", "hours": "5"})
    assert moved.status_code == 303
    assert moved.headers["location"] == "/ui/sandbox?advanced=1&days=0&hours=5"
    await log_in(gw.client, person)  # the session timed out with the five hours
    shown = await gw.client.get(f"{moved.headers['location']}&lang=hu")
    assert "A tesztóra előreállt: 0 nap és 5 óra." in shown.text


async def test_the_send_form_names_the_formats_and_size_it_takes(gw: Gateway,
                                                                 settings: Settings) -> None:
    person = await new_citizen(gw.ports)
    await log_in(gw.client, person)
    page = await gw.client.get("/ui/send?box=me&lang=en")
    hint = re.search(r'<p id="file-hint">([^<]*)</p>', page.text)
    assert hint is not None and page.text.index('id="file-hint"') < page.text.index('id="file"')
    assert f"Allowed formats: {', '.join(ALLOWED_FORMATS)}." in hint.group(1)
    # The tests' limit (KAPU_MAX_DOCUMENT_BYTES), not a copy of the default.
    assert settings.max_document_bytes == 65_536
    assert "At most 64 KB (65,536 bytes) a file." in hint.group(1)
    hungarian = await gw.client.get("/ui/send?box=me&lang=hu")
    assert "Legfeljebb 64 KB (65\xa0536 bájt) fájlonként." in hungarian.text
    too_large = await gw.client.post("/ui/send?box=me&lang=en", data={
        **form_fields(page), "recipient_krid": "100000001", "doc_type_office": "T",
        "doc_type_id": "T", "doc_type_description": "T"},
        files={"file": ("nagy.txt", b"x" * 65_537)})
    assert too_large.status_code == 400
    assert "The file is too large: at most 64 KB (65,536 bytes) can be sent." in too_large.text
    refused = await gw.client.post("/ui/send?box=me&lang=en", data={
        **form_fields(page), "recipient_krid": "100000001", "doc_type_office": "T",
        "doc_type_id": "T", "doc_type_description": "T"}, files={"file": ("a.exe", b"MZ")})
    assert refused.status_code == 400
    assert f"cannot be sent. Allowed: {', '.join(ALLOWED_FORMATS)}." in refused.text


async def test_the_search_lists_addressees_of_every_kind(gw: Gateway) -> None:
    person = await new_citizen(gw.ports)
    office = await new_org(gw.ports, name="Címzettkereső Hivatal")
    company = await new_org(gw.ports, kind=PartyKind.CEG, name="Címzettkereső Kft.")
    await log_in(gw.client, person)
    for language, caption, kinds in (
            ("en", "Addressees found", ("Hivatali kapu (office)", "Cégkapu (company)")),
            ("hu", "Talált címzettek", ("Hivatali kapu", "Cégkapu"))):
        page = await gw.client.get("/ui/send", params={
            "box": "me", "office_q": "címzettkereső", "lang": language})
        assert f"<caption>{caption}</caption>" in page.text
        for krid, kind in zip((office.krid, company.krid), kinds, strict=True):
            row = re.search(rf"<tr>(?:(?!</tr>).)*recipient_krid={krid}(?:(?!</tr>).)*</tr>",
                            page.text, re.S)
            assert row is not None and kind in row.group(0), (language, kind)


async def test_the_outcome_and_the_sent_page_say_to_whom(gw: Gateway) -> None:
    """An office by its name and KRID, a citizen by their name. Was: the name only."""
    person, sender = await new_citizen(gw.ports), await new_org(gw.ports)
    await staff_service.grant_role(gw.ports, krid=sender.krid or "", username=person.username,
                                   role=StaffRole.CLERK)
    office = await new_org(gw.ports, name="Kinek Hivatal")
    citizen = await new_citizen(gw.ports)
    await log_in(gw.client, person)
    box = f"/ui/send?box={sender.krid}"
    for addressee, expected in ((office, f"Kinek Hivatal (KRID {office.krid})"),
                                (citizen, "Teszt Polgár")):
        page = await gw.client.get(box)
        target = ({"recipient_krid": addressee.krid} if addressee.krid
                  else {"recipient_code": addressee.code})
        sent = await gw.client.post(box, data={
            **form_fields(page), **target, "doc_type_office": "T", "doc_type_id": "T",
            "doc_type_description": "T"}, files={"file": ("level.pdf", PDF)})
        number = sent_number(sent)
        outcome = await gw.client.get(f"{sent.headers['location']}&lang=en")
        notice = re.search(r'id="sent">([^<]*)</p>', outcome.text)
        assert notice is not None
        assert f"Sent: registration number {number}, to {expected}, accepted at" \
            in notice.group(1)
    listing = await gw.client.get(f"/ui/sent?box={sender.krid}")
    assert listing.status_code == 200 and 'id="sent"' not in listing.text
    assert f"<td>Kinek Hivatal (KRID {office.krid})</td>" in listing.text
    assert "<td>Teszt Polgár</td>" in listing.text
    # A number this mailbox did not send names nothing.
    stranger = await new_org(gw.ports)
    elsewhere = (await upload(gw.client, stranger, office)).json()["registration_number"]
    other = await gw.client.get(f"/ui/sent?box={sender.krid}&sent={elsewhere}")
    assert other.status_code == 200 and 'id="sent"' not in other.text
