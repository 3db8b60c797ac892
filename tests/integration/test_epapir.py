"""e-Papír (contract 24) on both databases: a person writes to an office over REST and on the
web; the office receives one sealed PDF over REST and HKP; every refusal names its field and
leaves no number, no document, no blob and no authentication behind."""

from __future__ import annotations

import asyncio
import io
import re
import tempfile
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from lxml import etree
from PIL import Image
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import create_async_engine

from gateway.config import Settings
from gateway.domain.epapir import MAX_ATTACHMENTS, TEXT_MAX_CHARS
from gateway.domain.parties import PartyKind, StaffRole
from gateway.fonts import font_file
from gateway.services import staff as staff_service
from gateway.services.parties import DEMO_CITIZEN_NAME, DEMO_ORGANISATIONS, ensure_demo_parties
from gateway.services.ports.parties import Topic
from gateway.storage.tables import authentications, documents
from tests.conftest import FixedClock, fresh_krid
from tests.helpers import (
    PDF,
    Account,
    new_citizen,
    new_org,
    sequence_of,
    sha256,
    stored_files,
    temporary_files,
)
from tests.hkp_helpers import NS
from tests.integration.conftest import Gateway, _start
from tests.integration.test_hkp_real_clients import bundle_envelope, bundle_split, by_tag, post
from tests.integration.test_web import form_fields, log_in, sent_number
from tests.pdf_tools import nss_trusting, pdfdetach_all, pdfsig, pdftotext, signature_holds

# Small, so that a test can pass it; the sealed beadvány itself is a document under
# max_document_bytes.
EPAPIR_LIMIT = 64 * 1024
HUNGARIAN_TEXT = "Tisztelt Hivatal!\r\nKérem az őszi tűzifa-támogatás ügyében a döntés megküldését."
TOPICS = [Topic("TUZIFA", "Szociális tűzifa"), Topic("ADO", "Helyi adók")]


@pytest.fixture
def temporary(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Where e-Papír's temporary files go (the staged attachments, the beadvány before it is
    sealed): the data directory's tmp/epapir, where each test looks that nothing is left.
    Nothing may go to the system's temporary directory either (this test's own, meanwhile)."""
    # The cut fonts are written once per process (gateway/fonts), not per request: cut them
    # before, so that a test that happens to be its worker's first e-Papír finds none.
    font_file("")
    font_file("B")
    system = tmp_path / "system-tmp"
    system.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(system))
    yield tmp_path / "data" / "tmp" / "epapir"
    assert list(system.iterdir()) == []


@pytest.fixture
async def gw(database_url: str, tmp_path: Path, keys_dir: Path, clock: FixedClock,
             temporary: Path) -> AsyncIterator[Gateway]:
    settings = Settings(database_url=database_url, data_dir=tmp_path / "data",
                        keys_dir=keys_dir, background_jobs=False,
                        max_document_bytes=8 * 1024 * 1024, epapir_max_bytes=EPAPIR_LIMIT)
    async for gateway in _start(settings, clock):
        yield gateway


def png() -> bytes:
    image = Image.new("RGB", (24, 16), (200, 30, 30))
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


async def _with_topics(gw: Gateway, krid: str, topics: list[Topic]) -> None:
    async with gw.ports.write_uow() as uow:
        office = await uow.parties.by_krid(krid)
        assert office is not None
        await uow.topics.replace(office.id, topics)
        await uow.commit()


async def _demo(gw: Gateway) -> tuple[Account, Account]:
    """DEMOHIVATAL (with its topics) and the demo citizen."""
    shown = {each.username: each for each in await ensure_demo_parties(gw.ports)}
    hivatal = DEMO_ORGANISATIONS[0]
    await _with_topics(gw, hivatal.krid, TOPICS)
    citizen = shown["demopolgar"]
    return (Account(hivatal.short_name, hivatal.password, krid=hivatal.krid),
            Account(citizen.username, citizen.password, code=citizen.code))


def _form(office: Account, **overrides: str) -> dict[str, str]:
    return {"recipient_krid": office.krid or "", "topic": "ALTALANOS",
            "subject": "Kérelem", "text": "Kérem az ügyem intézését.", **overrides}


def _multipart(fields: dict[str, str], attachments: list[tuple[str, bytes]]
               ) -> list[tuple[str, tuple[str | None, bytes | str]]]:
    """A multipart/form-data body even without a file (httpx sends a form without files
    urlencoded)."""
    return ([(name, (None, value)) for name, value in fields.items()]
            + [("attachment", (name, content)) for name, content in attachments])


async def _count(gw: Gateway, table: object) -> int:
    engine = create_async_engine(str(gw.app.state.settings.database_url))
    try:
        async with engine.connect() as connection:
            return int((await connection.execute(
                select(func.count()).select_from(table))).scalar_one())  # type: ignore[arg-type]
    finally:
        await engine.dispose()


async def test_a_citizen_writes_to_an_office_which_receives_one_sealed_pdf(
        gw: Gateway, tmp_path: Path, temporary: Path) -> None:
    office, citizen = await _demo(gw)
    picture, letter = png(), "Mellékelt nyilatkozat: ő és ű betűkkel.\n".encode()
    answer = await gw.client.post("/api/v1/epapir", auth=citizen.auth, data=_form(
        office, topic="TUZIFA", subject="Tűzifa-támogatás kérése", text=HUNGARIAN_TEXT,
        reference_number="TF/2026/7", return_receipt="true"), files=[
        ("attachment", ("fenykep.png", picture, "image/png")),
        ("attachment", ("nyilatkozat.txt", letter, "text/plain"))])
    assert answer.status_code == 201, answer.text
    accepted = answer.json()
    number = accepted["registration_number"]
    assert accepted["file_name"] == f"epapir-{number}.pdf"
    assert number.startswith(office.krid or "")

    # The office's document-management system: REST metadata and bytes …
    meta = (await gw.client.get(f"/api/v1/documents/{number}", auth=office.auth)).json()
    assert (meta["doc_type_office"], meta["doc_type_id"], meta["doc_type_description"],
            meta["note"], meta["reference_number"], meta["return_receipt"]) == (
        "EPAPIR", "TUZIFA", "Szociális tűzifa", "Tűzifa-támogatás kérése", "TF/2026/7", True)
    assert meta["sender"]["kind"] == "citizen" and meta["sender"]["name"] == DEMO_CITIZEN_NAME
    pdf = (await gw.client.get(f"/api/v1/documents/{number}/content", auth=office.auth)).content
    assert pdf.startswith(b"%PDF") and sha256(pdf) == accepted["sha256"]
    assert len(pdf) == accepted["size"]

    # … and HKP, with the PHP bundle's bytes.
    raw = await post(gw, bundle_envelope(
        office, "DokumentumokLekerdezeseGepiInterfeszAltal2", "HivataliModule",
        "<hkp:DokumentumAdatokLetoltesKerdes><hkp:ErkeztetesiSzamAlapjan>"
        f"<hkp:ErkeztetesiSzam>{number}</hkp:ErkeztetesiSzam></hkp:ErkeztetesiSzamAlapjan>"
        "</hkp:DokumentumAdatokLetoltesKerdes>"))
    response, delivered = bundle_split(raw)
    [listed] = etree.fromstring(response).findall(".//hkp:DokumentumAdatok", NS)
    assert by_tag(listed, "DokTipusHivatal").text == "EPAPIR"
    assert by_tag(listed, "FileNev").text == f"epapir-{number}.pdf"
    assert delivered == {number: pdf + b"\r\n"}

    # The PDF: who, what, about what, in Hungarian; the attachments unchanged; sealed.
    received = tmp_path / "epapir.pdf"
    received.write_bytes(pdf)
    text = pdftotext(received)
    for expected in (DEMO_CITIZEN_NAME, "Szociális tűzifa", "Tűzifa-támogatás kérése",
                     "őszi", "tűzifa-támogatás"):
        assert expected in text, expected
    assert pdfdetach_all(received, tmp_path / "detached") == {
        "fenykep.png": picture, "nyilatkozat.txt": letter}
    assert signature_holds(pdfsig(received, nss_trusting(gw.ports.trust_pem, tmp_path / "nss")))
    assert gw.ports.authenticator is not None
    # Synchronous and CPU-bound, as the port says: a worker thread, as the services call it.
    verdict = await asyncio.to_thread(gw.ports.authenticator.verify, received, at=gw.clock.now())
    assert verdict.valid and verdict.reason is None
    async with gw.ports.uow() as uow:
        record = await uow.authentications.issued(accepted["sha256"])
        person = await uow.parties.by_username(citizen.username)
    assert record is not None and person is not None
    assert (record.person_id, record.office_id) == (person.id, None)
    assert verdict.original is not None and verdict.original.sha256 == record.original_sha256

    # The citizen finds it under "sent": the acceptance receipt now, the download receipt
    # once the office has acknowledged.
    await log_in(gw.client, citizen)
    sent = await gw.client.get(f"/ui/sent?box=me&sent={number}")
    assert sent.status_code == 200 and number in sent.text
    assert f"epapir-{number}.pdf" in sent.text
    assert temporary.is_dir() and temporary_files(temporary) == []
    assert f"/ui/documents/{number}/receipts/acceptance" in sent.text
    assert f"/ui/documents/{number}/receipts/download" not in sent.text
    acked = await gw.client.post(f"/api/v1/documents/{number}/ack", auth=office.auth)
    assert acked.status_code == 200
    sent = await gw.client.get("/ui/sent?box=me")
    assert f"/ui/documents/{number}/receipts/download" in sent.text


async def test_staff_write_for_their_company_on_the_web(gw: Gateway) -> None:
    office, _ = await _demo(gw)
    company = DEMO_ORGANISATIONS[1]
    assert company.kind is PartyKind.CEG
    clerk = await new_citizen(gw.ports, email="ugyintezo@example.hu")
    await staff_service.grant_role(gw.ports, krid=company.krid, username=clerk.username,
                                   role=StaffRole.CLERK)
    await log_in(gw.client, clerk)
    page = await gw.client.get(f"/ui/epapir?office={office.krid}")
    assert page.status_code == 200
    assert f'value="{company.krid}"' in page.text and "Szociális tűzifa" in page.text
    answer = await gw.client.post(f"/ui/epapir?office={office.krid}", files=_multipart({
        **form_fields(page), "as": company.krid, "topic": "ADO",
        "subject": "Iparűzési adó", "text": "Kérjük az adóegyenleg közlését."}, []))
    number = sent_number(answer)
    assert answer.headers["location"] == f"/ui/sent?box={company.krid}&sent={number}"
    meta = (await gw.client.get(f"/api/v1/documents/{number}", auth=office.auth)).json()
    assert meta["sender"]["krid"] == company.krid and meta["doc_type_id"] == "ADO"
    shown = await gw.client.get(answer.headers["location"])
    assert number in shown.text
    async with gw.ports.uow() as uow:
        entries = await uow.audit.of_office(company.krid, None, 20)
        person = await uow.parties.by_username(clerk.username)
        organisation = await uow.parties.by_krid(company.krid)
        record = await uow.authentications.issued(meta["sha256"])
    assert person is not None and organisation is not None and record is not None
    acted = {(entry.action, entry.actor) for entry in entries
             if entry.registration_number in (number, None)}
    assert ("accepted", clerk.username) in acted
    assert ("document_authenticated", clerk.username) in acted
    assert (record.person_id, record.office_id) == (person.id, organisation.id)


async def test_two_attachments_of_one_name_both_come_out_and_send_another_writes_again(
        gw: Gateway, tmp_path: Path) -> None:
    office, citizen = await _demo(gw)
    first, second = "Első levél: ő.\n".encode(), "Második levél: ű.\n".encode()
    await log_in(gw.client, citizen)
    page = await gw.client.get(f"/ui/epapir?office={office.krid}&lang=en")
    answer = await gw.client.post(f"/ui/epapir?office={office.krid}", files=_multipart({
        **form_fields(page), "topic": "ADO", "subject": "Két levél", "text": "Mellékelve."},
        [("level.txt", first), ("level.txt", second)]))
    number = sent_number(answer)
    pdf = tmp_path / "epapir.pdf"
    pdf.write_bytes((await gw.client.get(f"/api/v1/documents/{number}/content",
                                         auth=office.auth)).content)
    assert pdfdetach_all(pdf, tmp_path / "detached") == {
        "level.txt": first, "level (2).txt": second}
    listed = " ".join(pdftotext(pdf).split())
    assert "2. melléklet / attachment 2 level.txt Beágyazva mint / embedded as: " \
        "level (2).txt" in listed
    assert signature_holds(pdfsig(pdf, nss_trusting(gw.ports.trust_pem, tmp_path / "nss")))

    # The outcome's page offers another e-Papír to write, not a document to send …
    sent = await gw.client.get(answer.headers["location"] + "&lang=en")
    assert '<a href="/ui/epapir?box=me">Write another e-Papír</a>' in sent.text
    assert "/ui/send?box=me" not in sent.text and "Send another" not in sent.text
    hungarian = await gw.client.get(answer.headers["location"] + "&lang=hu")
    assert '<a href="/ui/epapir?box=me">Újabb e-Papír írása</a>' in hungarian.text
    # … and after a document sent with the send form, another document, as before.
    form = await gw.client.get("/ui/send?box=me")
    posted = await gw.client.post("/ui/send?box=me", data={
        **form_fields(form), "recipient_krid": office.krid or "", "doc_type_office": "KERELEM",
        "doc_type_id": "1", "doc_type_description": "Kérelem"},
        files={"file": ("level.txt", first)})
    plain = await gw.client.get(f"/ui/sent?box=me&sent={sent_number(posted)}&lang=en")
    assert '<a href="/ui/send?box=me">Send another</a>' in plain.text
    assert "Write another e-Papír" not in plain.text

    # One file authenticated on its own keeps its name: nothing to tell apart.
    page = await gw.client.get("/ui/authenticate?lang=en")
    hiteles = await gw.client.post("/ui/authenticate", data=form_fields(page),
                                   files={"file": ("level.txt", first)})
    assert hiteles.status_code == 200, hiteles.text
    (tmp_path / "hiteles.pdf").write_bytes(hiteles.content)
    assert pdfdetach_all(tmp_path / "hiteles.pdf", tmp_path / "alone") == {"level.txt": first}


async def test_a_resent_web_form_sends_one_epapir(gw: Gateway) -> None:
    office = await new_org(gw.ports, name="Érdi Járási Hivatal")
    citizen = await new_citizen(gw.ports)
    await log_in(gw.client, citizen)
    page = await gw.client.get(f"/ui/epapir?office={office.krid}")
    fields = {**form_fields(page), "topic": "ALTALANOS", "subject": "Kérelem", "text": "Szöveg"}
    files = [("attachment", ("kep.png", png(), "image/png"))]
    first = await gw.client.post(f"/ui/epapir?office={office.krid}", data=fields, files=files)
    again = await gw.client.post(f"/ui/epapir?office={office.krid}", data=fields, files=files)
    assert sent_number(first) == sent_number(again)
    listed = (await gw.client.get("/api/v1/mailbox", auth=office.auth)).json()["items"]
    assert [item["registration_number"] for item in listed] == [sent_number(first)]


async def test_the_office_step_lists_only_offices_found_without_accents(gw: Gateway) -> None:
    office = await new_org(gw.ports, name="Érdi Járási Hivatal")
    company = await new_org(gw.ports, PartyKind.CEG, name="Érdi Építő Kft.")
    citizen = await new_citizen(gw.ports)
    await log_in(gw.client, citizen)
    for language in ("en", "hu"):
        page = await gw.client.get(f"/ui/epapir?office_q=erdi&lang={language}")
        assert page.status_code == 200
        assert f"/ui/epapir?office={office.krid}" in page.text
        assert company.krid not in page.text
    # The form: the office's one topic, the limits from the settings the check uses.
    page = await gw.client.get(f"/ui/epapir?office={office.krid}&lang=en")
    assert '<option value="ALTALANOS"' in page.text and 'name="as"' not in page.text
    assert "64 KB" in page.text and "png" in page.text
    missing = await gw.client.get(f"/ui/epapir?office={company.krid}")
    assert missing.status_code == 404


async def test_a_refused_web_form_keeps_what_was_typed_and_marks_the_field(gw: Gateway) -> None:
    office = await new_org(gw.ports)
    citizen = await new_citizen(gw.ports)
    await log_in(gw.client, citizen)
    page = await gw.client.get(f"/ui/epapir?office={office.krid}&lang=hu")
    answer = await gw.client.post(f"/ui/epapir?office={office.krid}&lang=hu", files=_multipart({
        **form_fields(page), "topic": "NINCS", "subject": "Megőrzött tárgy",
        "text": "Megőrzött szöveg"}, []))
    assert answer.status_code == 422
    assert re.search(r'<select id="topic"[^>]*aria-invalid="true"[^>]*'
                     r'aria-describedby="epapir-error"', answer.text)
    assert 'value="Megőrzött tárgy"' in answer.text
    assert ">Megőrzött szöveg</textarea>" in answer.text
    assert 'id="epapir-error"' in answer.text and "mellékleteket" in answer.text
    assert (await gw.client.get("/api/v1/mailbox", auth=office.auth)).json()["items"] == []


REFUSALS = [
    # (name, form overrides, attachments, status, code, field)
    ("unknown office", {"recipient_krid": "unknown"}, [], 422, "recipient_unknown",
     "recipient_krid"),
    ("a company", {"recipient_krid": "company"}, [], 422, "recipient_unknown", "recipient_krid"),
    ("unknown topic", {"topic": "NINCS"}, [], 422, "invalid_request", "topic"),
    ("empty subject", {"subject": " "}, [], 422, "invalid_request", "subject"),
    ("long subject", {"subject": "x" * 201}, [], 422, "invalid_request", "subject"),
    ("subject with a line break", {"subject": "a\nb"}, [], 422, "invalid_request", "subject"),
    ("long text", {"text": "ő" * (TEXT_MAX_CHARS + 1)}, [], 422, "invalid_request", "text"),
    ("text with a direction mark", {"text": "exe.\u202epdf"}, [], 422, "invalid_request",
     "text"),
    ("nothing to say", {"text": ""}, [], 422, "invalid_request", "text"),
    ("eleventh attachment", {}, [("a.txt", b"x")] * (MAX_ATTACHMENTS + 1), 422,
     "invalid_request", "attachment"),
    ("exe", {}, [("program.exe", b"MZ\x90\x00")], 415, "format_not_allowed", "attachment"),
    ("empty file", {}, [("ures.txt", b"")], 422, "empty_content", "attachment"),
    ("attachment name too long", {}, [("n" * 252 + ".txt", b"x")], 422, "invalid_request",
     "attachment"),
    ("png that is not one", {}, [("kep.png", b"not a picture")], 415, "format_mismatch",
     "attachment"),
    ("over the limit", {}, [("a.txt", b"a" * (EPAPIR_LIMIT // 2)),
                            ("b.txt", b"b" * (EPAPIR_LIMIT // 2 + 1))], 413, "too_large",
     "attachment"),
    ("long reference number", {"reference_number": "R" * 51}, [], 422, "invalid_request",
     "reference_number"),
]


@pytest.mark.parametrize(("overrides", "attachments", "status", "code", "field"),
                         [case[1:] for case in REFUSALS], ids=[case[0] for case in REFUSALS])
async def test_a_refused_submission_names_its_field_and_leaves_nothing(
        gw: Gateway, temporary: Path, overrides: dict[str, str],
        attachments: list[tuple[str, bytes]], status: int, code: str, field: str) -> None:
    office = await new_org(gw.ports)
    company = await new_org(gw.ports, PartyKind.CEG)
    citizen = await new_citizen(gw.ports)
    krid = {"unknown": fresh_krid(), "company": company.krid}.get(
        overrides.get("recipient_krid", ""), office.krid)
    before = (stored_files(gw.blob_root), await _count(gw, documents),
              await _count(gw, authentications))
    answer = await gw.client.post("/api/v1/epapir", auth=citizen.auth, files=_multipart(
        _form(office, **{**overrides, "recipient_krid": krid or ""}), attachments))
    assert answer.status_code == status, answer.text
    problem = answer.json()
    assert (problem["code"], problem.get("field")) == (code, field)
    assert (stored_files(gw.blob_root), await _count(gw, documents),
            await _count(gw, authentications)) == before
    assert temporary.is_dir() and temporary_files(temporary) == []
    # No number was taken: the office's next document of the day is its first.
    sent = await gw.client.post("/api/v1/documents", auth=citizen.auth, data={
        "recipient_krid": office.krid, "doc_type_office": "T", "doc_type_id": "L",
        "doc_type_description": "Levél"}, files={"file": ("level.pdf", PDF)})
    assert sequence_of(sent.json()["registration_number"]) == 1


async def test_an_organisation_may_not_submit_epapir(gw: Gateway) -> None:
    office = await new_org(gw.ports)
    company = await new_org(gw.ports, PartyKind.CEG)
    for sender in (company, office):
        answer = await gw.client.post("/api/v1/epapir", auth=sender.auth,
                                      files=_multipart(_form(office), []))
        assert answer.status_code == 403 and answer.json()["code"] == "forbidden"
    assert (await gw.client.get("/api/v1/mailbox", auth=office.auth)).json()["items"] == []
