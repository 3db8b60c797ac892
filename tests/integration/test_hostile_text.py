"""Text fields never hold control or format characters (Cc, Cf), on every door: refused naming
the field, nothing registered, no number consumed; rows stored before the rule still list."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest
from lxml import etree
from sqlalchemy import update

from gateway.domain.parties import StaffRole
from gateway.errors import InvalidRequest
from gateway.services import staff as staff_service
from gateway.services.parties import register_citizen, register_organisation, set_email
from gateway.storage.tables import documents
from gateway.storage.uow import SqlUnitOfWork
from tests.conftest import fresh_krid, fresh_short_name
from tests.helpers import (
    PDF,
    Account,
    new_citizen,
    new_org,
    sequence_of,
    stored_files,
    upload,
    upload_form,
)
from tests.hkp_helpers import NS, document_xml, envelope, read_answer
from tests.hkp_helpers import upload_form as hkp_upload_form
from tests.integration.conftest import Gateway
from tests.integration.test_web import form_fields, log_in, sent_number

# Characters no one-line text may hold: controls (C0, DEL, C1), line breaks, tab, and format
# characters (zero width space, right-to-left override, byte order mark, soft hyphen).
HOSTILE = ["\x01", "\r\n", "\n", "\r", "\t", "\x7f", "\x85", "\u200b", "\u202e", "\ufeff",
           "\u00ad"]
# … and what a multi-line text (the note) may still not hold.
HOSTILE_IN_NOTE = ["\x01", "\r", "\x7f", "\x85", "\u200b", "\u202e", "\ufeff", "\x00"]
ONE_LINE_FIELDS = ["doc_type_office", "doc_type_id", "doc_type_description", "reference_number"]


def _raw_upload(to: Account, file_name_star: str, **fields: str) -> tuple[bytes, str]:
    """A multipart upload whose file part names its file only as RFC 5987 ``filename*``
    (percent-encoded UTF-8), as a client sends a name with any character in it."""
    boundary = "kapu-hostile"
    lines: list[bytes] = []
    for name, value in upload_form(to, **fields).items():
        lines += [f"--{boundary}".encode(),
                  f'Content-Disposition: form-data; name="{name}"'.encode(), b"",
                  value.encode()]
    lines += [f"--{boundary}".encode(),
              b"Content-Disposition: form-data; name=\"file\"; filename*=UTF-8''"
              + file_name_star.encode(),
              b"Content-Type: application/pdf", b"", PDF, f"--{boundary}--".encode(), b""]
    return b"\r\n".join(lines), f"multipart/form-data; boundary={boundary}"


def _refused(answer: httpx.Response, field: str) -> None:
    assert answer.status_code == 422, answer.text
    problem = answer.json()
    assert (problem["code"], problem["field"]) == ("invalid_request", field), problem


async def _next_is_first(gw: Gateway, sender: Account, to: Account) -> None:
    """Nothing was registered for ``to`` and no number consumed: its next is 000001."""
    assert (await gw.client.get("/api/v1/mailbox", params={"state": "all"},
                                auth=to.auth)).json()["items"] == []
    honest = await upload(gw.client, sender, to)
    assert honest.status_code == 201, honest.text
    assert sequence_of(honest.json()["registration_number"]) == 1


async def test_rest_file_name_with_crlf_is_refused_and_leaves_nothing(gw: Gateway) -> None:
    sender, office = await new_org(gw.ports), await new_org(gw.ports)
    for name in ["hatarozat%0D%0A.pdf", "hatarozat%0D%0AX-Injected%3A%201.pdf", "a%01.pdf",
                 "level%E2%80%AEfdp.exe", "%EF%BB%BFlevel.pdf", "le%09vel.pdf"]:
        body, content_type = _raw_upload(office, name)
        answer = await gw.client.post("/api/v1/documents", content=body, auth=sender.auth,
                                      headers={"Content-Type": content_type})
        _refused(answer, "file_name")
        assert "control and format characters are not accepted" in answer.json()["detail"]
    assert stored_files(gw.blob_root) == []
    await _next_is_first(gw, sender, office)


@pytest.mark.parametrize("field", ONE_LINE_FIELDS)
async def test_rest_one_line_fields_refuse_every_control_and_format_character(
    gw: Gateway, field: str
) -> None:
    sender, office = await new_org(gw.ports), await new_org(gw.ports)
    for character in HOSTILE:
        _refused(await upload(gw.client, sender, office, **{field: f"A{character}B"}), field)
    assert stored_files(gw.blob_root) == []
    await _next_is_first(gw, sender, office)


async def test_rest_note_is_multi_line_but_refuses_other_controls(gw: Gateway) -> None:
    sender, office = await new_org(gw.ports), await new_org(gw.ports)
    for character in HOSTILE_IN_NOTE:
        _refused(await upload(gw.client, sender, office, note=f"első{character}sor"), "note")
    await _next_is_first(gw, sender, office)
    # Tab and line breaks are a multi-line text's own; CR LF is kept as LF.
    accepted = await upload(gw.client, sender, office, PDF + b"2",
                            note="első sor\r\nmásodik\tsor\nharmadik")
    assert accepted.status_code == 201, accepted.text
    number = accepted.json()["registration_number"]
    metadata = (await gw.client.get(f"/api/v1/documents/{number}", auth=office.auth)).json()
    assert metadata["note"] == "első sor\nmásodik\tsor\nharmadik"


async def test_rest_filters_refuse_control_characters_and_long_texts(gw: Gateway) -> None:
    office = await new_org(gw.ports)
    for character in ["\x00", "\x01", "\u202e", "\n"]:
        _refused(await gw.client.get("/api/v1/mailbox", auth=office.auth,
                                     params={"doc_type_id": f"LE{character}VEL"}), "doc_type_id")
        for field in ("name", "short_name"):
            _refused(await gw.client.get("/api/v1/offices", auth=office.auth,
                                         params={field: f"Hiva{character}tal"}), field)
    _refused(await gw.client.get("/api/v1/mailbox", auth=office.auth,
                                 params={"doc_type_id": "L" * 256}), "doc_type_id")


async def test_rest_range_of_thousands_of_digits_is_unsatisfiable(gw: Gateway) -> None:
    sender, office = await new_org(gw.ports), await new_org(gw.ports)
    number = (await upload(gw.client, sender, office)).json()["registration_number"]
    content = f"/api/v1/documents/{number}/content"
    past = await gw.client.get(content, auth=office.auth,
                               headers={"Range": f"bytes={'9' * 5000}-"})
    assert past.status_code == 416 and past.json()["code"] == "range_not_satisfiable"
    # A huge end or suffix asks for everything there is.
    whole = await gw.client.get(content, auth=office.auth,
                                headers={"Range": f"bytes=0-{'9' * 5000}"})
    assert whole.status_code == 206 and whole.content == PDF
    tail = await gw.client.get(content, auth=office.auth,
                               headers={"Range": f"bytes=-{'9' * 5000}"})
    assert tail.status_code == 206 and tail.content == PDF


async def test_honest_uploads_all_succeed_beside_hostile_ones_at_the_same_time(
    gw: Gateway,
) -> None:
    """Another party's hostile names and notes, sent at the same moment, fail no honest
    upload (they are refused before anything is registered or committed)."""
    honest, hostile, office = (await new_org(gw.ports), await new_org(gw.ports),
                               await new_org(gw.ports))

    async def hostile_upload(name: str, note: str) -> httpx.Response:
        body, content_type = _raw_upload(office, name, note=note)
        return await gw.client.post("/api/v1/documents", content=body, auth=hostile.auth,
                                    headers={"Content-Type": content_type})

    answers = await asyncio.gather(
        *(upload(gw.client, honest, office, PDF + bytes([n]), f"level-{n}.pdf")
          for n in range(6)),
        *(hostile_upload(name, note) for name, note in
          [("a%01.pdf", "jó"), ("b.pdf", "\x01"), ("c%0D%0A.pdf", "jó"), ("d.pdf", "\u202e")]),
    )
    assert [a.status_code for a in answers] == [201] * 6 + [422] * 4
    numbers = sorted(sequence_of(a.json()["registration_number"]) for a in answers[:6])
    assert numbers == [1, 2, 3, 4, 5, 6]


# --- HKP ------------------------------------------------------------------------------------

def _hkp_upload(sender: Account, *documents: str) -> bytes:
    return envelope("UjDokumentumokFeltolteseGepiInterfeszAltal", hkp_upload_form(*documents),
                    username=sender.username, password=sender.password)


async def _post(gw: Gateway, body: bytes) -> httpx.Response:
    return await gw.client.post("/hkp", content=body, headers={"Content-Type": "text/xml"})


@pytest.mark.parametrize(("element", "document"), [
    ("Megjegyzes", {"note": "vezérlő\u202ekarakter"}),
    ("Megjegyzes", {"note": "C1\u0085vezérlő"}),
    ("Megjegyzes", {"note": "magányos&#13;kocsivissza"}),
    ("FileNev", {"file_name": "hatarozat&#13;&#10;X-Injected: 1.pdf"}),
    ("FileNev", {"file_name": "le&#9;vel.pdf"}),
    ("HivatkozasiSzam", {"reference": "HIV\u200b/1"}),
])
async def test_hkp_batch_answers_the_hostile_item_alone(
    gw: Gateway, element: str, document: dict[str, Any]
) -> None:
    sender, office = await new_org(gw.ports), await new_org(gw.ports)
    answer = read_answer(await _post(gw, _hkp_upload(
        sender,
        document_xml(krid=office.krid, content=PDF, inline=True),
        document_xml(krid=office.krid, content=PDF + b"2", inline=True, **document),
        document_xml(krid=office.krid, content=PDF + b"3", inline=True),
    )))
    first, hostile, third = answer.form.findall("hkp:DokumentumTarolasEredmeny", NS)
    assert hostile.findtext("hkp:Hiba/hkp:HibaKod", namespaces=NS) == "20"
    assert element in (hostile.findtext("hkp:Hiba/hkp:HibaSzoveg", namespaces=NS) or "")
    assert hostile.find("hkp:ErkeztetesiSzam", NS) is None
    # The others are registered, numbered one after the other: nothing skipped.
    numbers = [item.findtext("hkp:ErkeztetesiSzam", namespaces=NS) or "" for item in
               (first, third)]
    assert [sequence_of(number) for number in numbers] == [1, 2]
    listed = (await gw.client.get("/api/v1/mailbox", auth=office.auth)).json()["items"]
    assert [item["registration_number"] for item in listed] == numbers


async def test_hkp_note_may_hold_line_breaks_and_tabs(gw: Gateway) -> None:
    sender, office = await new_org(gw.ports), await new_org(gw.ports)
    answer = read_answer(await _post(gw, _hkp_upload(sender, document_xml(
        krid=office.krid, content=PDF, inline=True, note="első&#13;&#10;második\tsor"))))
    number = answer.form.findtext("hkp:DokumentumTarolasEredmeny/hkp:ErkeztetesiSzam",
                                  namespaces=NS)
    assert number is not None, etree.tostring(answer.form)
    metadata = (await gw.client.get(f"/api/v1/documents/{number}", auth=office.auth)).json()
    assert metadata["note"] == "első\nmásodik\tsor"


@pytest.mark.parametrize(("service", "form", "element"), [
    ("DokumentumokLekerdezeseGepiInterfeszAltal2",
     "<hkp:DokumentumAdatokLetoltesKerdes><hkp:PostafiokAlapjan><hkp:DokumentumTipusAzonosito>"
     "LE\u200bVEL</hkp:DokumentumTipusAzonosito></hkp:PostafiokAlapjan>"
     "</hkp:DokumentumAdatokLetoltesKerdes>", "DokumentumTipusAzonosito"),
    ("GIPostaFiokLekerdezes",
     "<hkp:GIPostaFiokAdatokLekerdezeseKerdes><hkp:OlvasatlanUzenetekSzama>"
     "<hkp:DokumentumTipusAzonosito>LE&#13;VEL</hkp:DokumentumTipusAzonosito>"
     "</hkp:OlvasatlanUzenetekSzama></hkp:GIPostaFiokAdatokLekerdezeseKerdes>",
     "DokumentumTipusAzonosito"),
    ("HivatalokLekerdezese",
     "<hkp:GIHivatalokLekerdezeseKerdes><hkp:NevSzures>Hiva\u202etal</hkp:NevSzures>"
     "</hkp:GIHivatalokLekerdezeseKerdes>", "NevSzures"),
    ("HivatalokLekerdezese",
     "<hkp:GIHivatalokLekerdezeseKerdes><hkp:RovidNevSzures>T\ufeffESZT</hkp:RovidNevSzures>"
     "</hkp:GIHivatalokLekerdezeseKerdes>", "RovidNevSzures"),
])
async def test_hkp_queries_refuse_hostile_filters_with_20(
    gw: Gateway, service: str, form: str, element: str
) -> None:
    office = await new_org(gw.ports)
    answer = read_answer(await _post(gw, envelope(service, form, username=office.username,
                                                  password=office.password)))
    assert answer.status == 200
    assert answer.hiba is not None and answer.hiba[0] == 20, answer.hiba
    assert element in answer.hiba[1]


async def test_a_stored_row_with_control_characters_does_not_blind_the_mailbox(
    gw: Gateway,
) -> None:
    """Issue 26 item 3: a note with \\x01, stored before the doors refused it, made every
    listing of the office's mailbox answer Szam 50."""
    sender, office = await new_org(gw.ports), await new_org(gw.ports)
    numbers = [(await upload(gw.client, sender, office, PDF + bytes([n]))).json()[
        "registration_number"] for n in range(2)]
    async with gw.ports.write_uow() as uow:  # as an old row: the doors would refuse it now
        assert isinstance(uow, SqlUnitOfWork)
        await uow._connection.execute(  # type: ignore[union-attr]
            update(documents).where(documents.c.registration_number == numbers[0])
            .values(note="rossz\x01jegyzet\x1f", reference_number="HIV\x02/1",
                    doc_type_description="Le\x0bvél", file_name="level\x01.pdf"))
        await uow.commit()

    status = read_answer(await _post(gw, envelope(
        "DokumentumokAllapota2",
        "<hkp:DokumentumAllapotKerdes><hkp:ErkeztetesiSzamAlapjan><hkp:ErkeztetesiSzam>"
        f"{numbers[0]}</hkp:ErkeztetesiSzam></hkp:ErkeztetesiSzamAlapjan>"
        "</hkp:DokumentumAllapotKerdes>", username=office.username, password=office.password)))
    assert status.hiba is None, status.hiba
    shown = status.form.find("hkp:DokumentumAdatok", NS)
    assert shown is not None
    assert shown.findtext("hkp:Megjegyzes", namespaces=NS) == "rossz\ufffdjegyzet\ufffd"
    assert shown.findtext("hkp:HivatkozasiSzam", namespaces=NS) == "HIV\ufffd/1"
    assert shown.findtext("hkp:DokTipusLeiras", namespaces=NS) == "Le\ufffdvél"
    assert shown.findtext("hkp:FileNev", namespaces=NS) == "level\ufffd.pdf"

    listing = read_answer(await _post(gw, envelope(
        "DokumentumokLekerdezeseGepiInterfeszAltal2",
        "<hkp:DokumentumAdatokLetoltesKerdes><hkp:PostafiokAlapjan>"
        "<hkp:EredmenyekSzama>10</hkp:EredmenyekSzama></hkp:PostafiokAlapjan>"
        "</hkp:DokumentumAdatokLetoltesKerdes>",
        username=office.username, password=office.password)))
    assert listing.hiba is None, listing.hiba
    listed = listing.form.findall("hkp:DokumentumAdatok", NS)
    assert [d.findtext("hkp:ErkeztetesiSzam", namespaces=NS) for d in listed] == numbers
    assert listed[0].findtext("hkp:Megjegyzes", namespaces=NS) == "rossz\ufffdjegyzet\ufffd"
    assert set(listing.parts) == set(numbers)


# --- registration (the command line's services) ----------------------------------------------

async def test_registration_refuses_control_characters_in_names_and_addresses(
    gw: Gateway,
) -> None:
    attempts = {
        "name": lambda: register_organisation(gw.ports, krid=fresh_krid(),
                                              short_name=fresh_short_name(),
                                              name="Hivatal\u202eHamis"),
        "username": lambda: register_citizen(gw.ports, name="Teszt Polgár",
                                             email="p@example.hu", username="polgar\r\nx"),
        "email": lambda: register_citizen(gw.ports, name="Teszt Polgár",
                                          email="p\u200b@example.hu"),
    }
    for field, attempt in attempts.items():
        with pytest.raises(InvalidRequest) as refused:
            await attempt()
        assert refused.value.field == field
    citizen = await new_citizen(gw.ports)
    async with gw.ports.uow() as uow:
        person = await uow.parties.by_username(citizen.username)
    assert person is not None
    with pytest.raises(InvalidRequest) as refused:
        await set_email(gw.ports, person, "uj\x85@example.hu")
    assert refused.value.field == "email"
    found = (await gw.client.get("/api/v1/offices", auth=citizen.auth,
                                 params={"name": "Hamis"})).json()["items"]
    assert found == []


# --- the web pages --------------------------------------------------------------------------

async def _clerk(gw: Gateway) -> tuple[Account, Account]:
    office, person = await new_org(gw.ports), await new_citizen(gw.ports)
    await staff_service.grant_role(gw.ports, krid=office.krid or "", username=person.username,
                                   role=StaffRole.CLERK)
    await log_in(gw.client, person)
    return office, person


@pytest.mark.parametrize(("language", "sentence"), [
    ("hu", "vezérlőkaraktert vagy láthatatlan formázó karaktert tartalmaz"),
    ("en", "holds a control character or an invisible formatting character"),
])
async def test_web_send_refuses_hostile_text_with_a_sentence(
    gw: Gateway, language: str, sentence: str
) -> None:
    office, _clerk_person = await _clerk(gw)
    addressee, sender = await new_org(gw.ports), await new_org(gw.ports)
    page = await gw.client.get(f"/ui/send?box={office.krid}&lang={language}")
    fields = {**form_fields(page), "recipient_krid": addressee.krid or "",
              "doc_type_office": "TESZT", "doc_type_id": "LEVEL",
              "doc_type_description": "Levél"}
    label = {"hu": "Hivatkozási szám", "en": "Reference number"}[language]
    refused = await gw.client.post(f"/ui/send?box={office.krid}&lang={language}",
                                   data={**fields, "reference_number": "UGY\r\n1"},
                                   files={"file": ("a.pdf", PDF)})
    assert refused.status_code == 422
    assert sentence in refused.text and label in refused.text
    named = await gw.client.post(f"/ui/send?box={office.krid}&lang={language}", data=fields,
                                 files={"file": ("level\u202efdp.exe", PDF)})
    assert named.status_code == 422 and sentence in named.text
    # A multi-line note is the browser's text area: its CR LF line breaks are accepted.
    sent = await gw.client.post(f"/ui/send?box={office.krid}&lang={language}",
                                data={**fields, "note": "első\r\nmásodik"},
                                files={"file": ("a.pdf", PDF)})
    assert sequence_of(sent_number(sent)) == 1  # nothing consumed
    honest = await upload(gw.client, sender, addressee)
    assert sequence_of(honest.json()["registration_number"]) == 2


@pytest.mark.parametrize(("query", "field_text"), [
    ({"q": "level\x00"}, "control character"),
    ({"q": "level\x01"}, "control character"),
    ({"doc_type_id": "LE\x00VEL"}, "control character"),
    ({"doc_type_id": "LE\u202eVEL"}, "control character"),
    ({"q": "a" * 50_010}, "at most 200 characters"),
    ({"to": "9999-12-31"}, "out of range"),
    ({"from": "0001-01-01"}, "out of range"),
])
async def test_web_mailbox_refuses_filters_it_cannot_search_by(
    gw: Gateway, query: dict[str, str], field_text: str
) -> None:
    office, _person = await _clerk(gw)
    sender = await new_org(gw.ports)
    await upload(gw.client, sender, office)
    page = await gw.client.get(f"/ui/mailbox/{office.krid}", params={**query, "lang": "en"})
    assert page.status_code == 422, page.text[:300]
    assert field_text in page.text and "Nothing is listed" in page.text
    assert "/ui/documents/" not in page.text
    hungarian = await gw.client.get(f"/ui/mailbox/{office.krid}", params={**query, "lang": "hu"})
    assert hungarian.status_code == 422 and "szűrő nincs kijavítva" in hungarian.text


async def test_web_office_search_refuses_control_characters_with_a_sentence(gw: Gateway) -> None:
    office, _person = await _clerk(gw)
    page = await gw.client.get("/ui/send", params={"box": office.krid, "lang": "en",
                                                   "office_q": "Hiva\u202etal"})
    assert page.status_code == 422
    assert "holds a control character or an invisible formatting character" in page.text
    assert "Part of the addressee" in page.text
