"""Publishing a hirdetmény from the browser (``/ui/offices/{krid}/notices/new``), on both
databases and the test clock: the form becomes the portal's document, once per form; a
correction; a refusal next to its field; only the office's own staff."""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import datetime, timedelta

import httpx

from gateway.domain.parties import PartyKind, StaffRole
from gateway.domain.public_notices import BUDAPEST, NoticeQuery
from gateway.services import public_notices
from gateway.services import staff as staff_service
from tests.helpers import Account, new_citizen, new_org
from tests.integration.conftest import Gateway
from tests.integration.test_epapir import png
from tests.integration.test_web import form_fields, log_in

_PUBLISHED = re.compile(r"/ui/offices/(\d{9})/notices/published/([0-9A-Za-z]+)")


async def _clerk_of(gw: Gateway, office: Account) -> Account:
    clerk = await new_citizen(gw.ports)
    await staff_service.grant_role(gw.ports, krid=office.krid or "", username=clerk.username,
                                   role=StaffRole.CLERK)
    return clerk


def _fields(start: datetime, **overrides: str) -> dict[str, str]:
    """The form's fields, shown from ``start`` (Budapest) for 30 days."""
    end = start + timedelta(days=30)
    return {"Azonosito": "H-2026/17", "Kategoria": "Építésügy",
            "Targy": "Árvízvédelmi gát építése", "EljaroHatosag": "Szentendrei Járási Hivatal",
            "Kerelmezo": "", "Ugyiratszam": "SZ/123-4/2026", "Telepules": "Szentendre",
            "Ugyintezo": "Kovács Éva",
            "MegjelenesKezdete_date": start.date().isoformat(),
            "MegjelenesKezdete_time": start.strftime("%H:%M"),
            "MegjelenesVege_date": end.date().isoformat(),
            "MegjelenesVege_time": end.strftime("%H:%M"),
            "Szoveg": "Tisztelt Lakosság!\r\nAz árvízvédelmi gát építéséről.", **overrides}


def _multipart(fields: dict[str, str], attachments: list[tuple[str, bytes]]
               ) -> list[tuple[str, tuple[str | None, bytes | str]]]:
    # As a browser sends it: a file input with no file is an empty, nameless part.
    files = [("Melleklet", (name, content)) for name, content in attachments] or [
        ("Melleklet", ("", b""))]
    return [(name, (None, value)) for name, value in fields.items()] + files


async def _post(gw: Gateway, krid: str, fields: dict[str, str],
                attachments: Sequence[tuple[str, bytes]] = (), lang: str = "en"
                ) -> httpx.Response:
    return await gw.client.post(f"/ui/offices/{krid}/notices/new?lang={lang}",
                                files=_multipart(fields, list(attachments)))


async def _form(gw: Gateway, krid: str) -> dict[str, str]:
    page = await gw.client.get(f"/ui/offices/{krid}/notices/new")
    assert page.status_code == 200, page.text
    return form_fields(page)


async def _notices(gw: Gateway, krid: str) -> list[int]:
    found = await public_notices.search(gw.ports, NoticeQuery(office_krid=krid))
    return [item.id for item in found.items]


async def test_a_clerk_publishes_once_and_corrects_it(gw: Gateway) -> None:
    office = await new_org(gw.ports, name="Szentendrei Járási Hivatal")
    krid = office.krid or ""
    clerk = await _clerk_of(gw, office)
    await log_in(gw.client, clerk)
    mailbox = await gw.client.get(f"/ui/mailbox/{krid}?lang=en")
    send = await gw.client.get(f"/ui/send?box={krid}&lang=en")
    for page in (mailbox, send):
        assert f'href="/ui/offices/{krid}/notices/new">Publish a notice<' in page.text
    # Shown from two hours on, in Budapest's time as the clerk types it.
    start = (gw.clock.now() + timedelta(hours=2)).astimezone(BUDAPEST).replace(
        second=0, microsecond=0)
    fields = {**await _form(gw, krid), **_fields(start)}
    picture = png()
    first = await _post(gw, krid, fields, [("helyszinrajz.png", picture)])
    assert first.status_code == 303, first.text
    # The browser's resend of the same form publishes nothing more.
    again = await _post(gw, krid, fields, [("helyszinrajz.png", picture)])
    assert again.headers["location"] == first.headers["location"]
    found = _PUBLISHED.fullmatch(first.headers["location"])
    assert found and found.group(1) == krid
    number = found.group(2)
    assert await _notices(gw, krid) == []  # not shown before its start
    # The outcome's page, in both languages: the number, the public page, and (before its
    # start) when the notice appears.
    links: set[str] = set()
    for language, sentences in (
            ("en", ["Notice published", f"registration number {number}",
                    "It appears on the public pages at"]),
            ("hu", ["A hirdetmény közzétéve", f"érkeztetési szám {number}",
                    "A nyilvános oldalakon"])):
        shown = await gw.client.get(f"{first.headers['location']}?lang={language}")
        assert shown.status_code == 200, shown.text
        links.add(re.findall(r'href="(/hirdetmenyek/[0-9]+)"', shown.text)[0])
        for sentence in sentences:
            assert sentence in shown.text, (language, sentence)
    gw.clock.advance(hours=2)
    [notice_id] = await _notices(gw, krid)
    assert links == {f"/hirdetmenyek/{notice_id}"}
    notice = await public_notices.notice(gw.ports, notice_id)
    form = notice.form
    assert (form.identifier, form.category, form.subject, form.authority, form.applicant,
            form.case_number, form.settlement, form.case_worker) == (
        "H-2026/17", "Építésügy", "Árvízvédelmi gát építése", "Szentendrei Járási Hivatal",
        None, "SZ/123-4/2026", "Szentendre", "Kovács Éva")
    assert form.display_from == start and form.display_until == start + timedelta(days=30)
    assert form.text == "Tisztelt Lakosság!\nAz árvízvédelmi gát építéséről."
    assert [v.registration_number for v in notice.versions] == [number]
    assert await public_notices.attachment(gw.ports, notice_id, 1, 1) == (
        "helyszinrajz.png", picture)
    # The document is the office's, named after the Azonosito; the audit names the clerk.
    document = await gw.client.get(f"/api/v1/documents/{number}", auth=office.auth)
    assert document.json()["file_name"] == "hirdetmeny-H-2026_17.xml"
    async with gw.ports.uow() as uow:
        entries = await uow.audit.of_office(krid, None, 10)
    assert any(entry.actor == clerk.username and entry.registration_number == number
               for entry in entries), entries
    # A correction: the checkbox, the same Azonosito, a new text (the session has lapsed
    # meanwhile, on the test clock).
    await log_in(gw.client, clerk)
    corrected = {**await _form(gw, krid), **_fields(start, Javitas="true",
                                                     Szoveg="Javított szöveg.")}
    answer = await _post(gw, krid, corrected)
    assert answer.status_code == 303, answer.text
    shown = await gw.client.get(f"{answer.headers['location']}?lang=en")
    assert "Correction published" in shown.text and "on the public pages now" in shown.text
    notice = await public_notices.notice(gw.ports, notice_id)
    assert notice.form.text == "Javított szöveg." and notice.modified_at == gw.clock.now()
    assert len(notice.versions) == 2 and notice.form.attachments == ()


async def test_a_refusal_is_shown_next_to_its_field_and_publishes_nothing(
        gw: Gateway) -> None:
    office = await new_org(gw.ports)
    krid = office.krid or ""
    clerk = await _clerk_of(gw, office)
    await log_in(gw.client, clerk)
    start = gw.clock.now().astimezone(BUDAPEST)
    fields = {**await _form(gw, krid), **_fields(start)}
    for overrides, attachments, field, sentence in (
            ({"Javitas": "true"}, [], "Azonosito", "nothing to correct"),
            ({"MegjelenesVege_date": start.date().isoformat(),
              "MegjelenesVege_time": start.strftime("%H:%M")}, [], "MegjelenesVege",
             "must end later than it starts"),
            ({"Targy": " "}, [], "Targy", "at most 1,000 characters"),
            ({}, [("program.exe", b"MZ\x90\x00")], "Melleklet", "allowed format"),
            ({"Ugyintezo": "Kovács\u202eÉva"}, [], "Ugyintezo", "control character")):
        refused = await _post(gw, krid, {**fields, **overrides, "Kategoria": "Megőrzött"},
                              attachments)
        assert refused.status_code == 422, (field, refused.text)
        assert re.search(rf'<p class="error" id="{field}-error">[^<]*{sentence}', refused.text)
        assert re.search(rf'name="{field}(_date)?"[^>]*aria-invalid="true"[^>]*'
                         rf'aria-describedby="{field}-error {field}-hint"', refused.text)
        assert 'value="Megőrzött"' in refused.text  # what was typed is kept
        assert "the attachments must be chosen again" in refused.text
    assert await _notices(gw, krid) == []
    # The refusals did not use up the form's key: the corrected form publishes.
    assert (await _post(gw, krid, fields)).status_code == 303
    assert len(await _notices(gw, krid)) == 1


async def test_only_an_offices_own_staff_publish(gw: Gateway) -> None:
    office, other = await new_org(gw.ports), await new_org(gw.ports)
    company = await new_org(gw.ports, PartyKind.CEG)
    outsider = await _clerk_of(gw, other)
    await staff_service.grant_role(gw.ports, krid=company.krid or "",
                                   username=outsider.username, role=StaffRole.ADMIN)
    await log_in(gw.client, outsider)
    fields = {**await _form(gw, other.krid or ""), **_fields(gw.clock.now().astimezone(BUDAPEST))}
    # A company does not publish: its mailbox offers no such form.
    assert "/notices/new" not in (await gw.client.get(f"/ui/mailbox/{company.krid}")).text
    for krid in (office.krid or "", company.krid or ""):
        assert (await gw.client.get(f"/ui/offices/{krid}/notices/new")).status_code == 404
        assert (await _post(gw, krid, fields)).status_code == 404
        assert await _notices(gw, krid) == []
    # Nor is another office's outcome page shown to the outsider.
    office_clerk = await _clerk_of(gw, office)
    async with httpx.AsyncClient(transport=gw.client._transport,
                                 base_url=str(gw.client.base_url)) as own:
        await log_in(own, office_clerk)
        own_fields = {**form_fields(await own.get(f"/ui/offices/{office.krid}/notices/new")),
                      **_fields(gw.clock.now().astimezone(BUDAPEST))}
        sent = await own.post(f"/ui/offices/{office.krid}/notices/new",
                              files=_multipart(own_fields, []))
    assert sent.status_code == 303, sent.text
    assert (await gw.client.get(sent.headers["location"])).status_code == 404
