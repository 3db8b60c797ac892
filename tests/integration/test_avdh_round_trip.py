"""AVDH end to end over REST and the web with the real seal (crypto/avdh.AvdhSeal, wired as
``ports.authenticator``): authenticate, record, audit, verify, and what a changed, plain or
foreign PDF is told. On SQLite and PostgreSQL."""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from fpdf import FPDF

from gateway.config import Settings
from gateway.crypto.keys import ensure_keys
from gateway.domain.audit import AuditAction
from gateway.domain.parties import StaffRole
from gateway.domain.registration import budapest_local
from gateway.services import staff as staff_service
from gateway.services.audit import link_pending
from tests.conftest import TEST_EPOCH, FixedClock
from tests.helpers import Account, new_citizen, new_org, temporary_files
from tests.integration.conftest import Gateway, _start
from tests.integration.test_avdh_refusals import PNG, _nothing_recorded
from tests.integration.test_web import form_fields, log_in


def plain_pdf(password: str | None = None) -> bytes:
    pdf = FPDF()
    pdf.add_page()
    pdf.set_font("helvetica", size=12)
    pdf.cell(text="A plain PDF, signed by nobody.")
    if password is not None:
        pdf.set_encryption(owner_password=password, user_password=password)
    return bytes(pdf.output())


@pytest.fixture
async def elsewhere(database_url: str, tmp_path: Path,
                    clock: FixedClock) -> AsyncIterator[Gateway]:
    """Another gateway: its own CA and AVDH seal (another ``ensure_keys`` directory)."""
    keys = tmp_path / "other-keys"
    ensure_keys(keys, now=TEST_EPOCH)
    settings = Settings(database_url=database_url, data_dir=tmp_path / "other",
                        keys_dir=keys, background_jobs=False)
    async for gateway in _start(settings, clock):
        yield gateway


def _one_signed_byte_changed(pdf: bytes) -> bytearray:
    """``pdf`` with one byte inside the signed range changed (not in the signature's own
    padded /Contents, where a changed padding byte would change nothing signed)."""
    byte_range = re.search(rb"/ByteRange\s*\[\s*(\d+)\s+(\d+)", pdf)
    assert byte_range is not None
    changed = bytearray(pdf)
    inside = int(byte_range[1]) + int(byte_range[2]) // 2
    changed[inside] ^= 0x01
    return changed


async def _authenticated(gw: Gateway, person: Account, name: str, content: bytes) -> bytes:
    answer = await gw.client.post("/api/v1/authenticate", auth=person.auth,
                                  files={"file": (name, content)})
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"] == "application/pdf"
    return answer.content


async def _verified(gw: Gateway, content: bytes) -> dict[str, object]:
    answer = await gw.client.post("/api/v1/authenticate/verify",
                                  files={"file": ("checked.pdf", content)})
    assert answer.status_code == 200, answer.text
    body: dict[str, object] = answer.json()
    return body


async def test_a_citizen_authenticates_a_png_and_anyone_verifies_it(
        gw: Gateway, tmp_path: Path) -> None:
    person = await new_citizen(gw.ports)
    answer = await gw.client.post("/api/v1/authenticate", auth=person.auth,
                                  files={"file": ("kérelem.png", PNG)})
    assert answer.status_code == 200, answer.text
    assert "filename*=UTF-8''k%C3%A9relem-hiteles.pdf" in answer.headers["content-disposition"]
    result = answer.content
    digest = hashlib.sha256(result).digest()
    assert answer.headers["repr-digest"] == f"sha-256=:{base64.b64encode(digest).decode()}:"
    async with gw.ports.uow() as uow:
        record = await uow.authentications.issued(hashlib.sha256(result).hexdigest())
    assert record is not None and record.original_sha256 == hashlib.sha256(PNG).hexdigest()
    await link_pending(gw.ports)
    async with gw.ports.uow() as uow:
        entries = await uow.audit.entries(None, 1_000_000)
    (entry,) = [e for e in entries if e.actor == person.username]
    assert entry.action == AuditAction.DOCUMENT_AUTHENTICATED
    assert entry.sha256 == hashlib.sha256(result).hexdigest()

    found = await _verified(gw, result)
    assert found["valid"] is True and found["issued_here"] is True and found["reason"] is None
    assert found["original"] == {"file_name": "kérelem.png", "size": len(PNG),
                                 "sha256": hashlib.sha256(PNG).hexdigest()}
    assert found["authenticated_at"] == budapest_local(gw.clock.now()).isoformat()
    assert person.username in str(found["authenticated_by"])

    changed = _one_signed_byte_changed(result)
    tampered = await _verified(gw, bytes(changed))
    assert tampered["valid"] is False and tampered["issued_here"] is False
    assert tampered["reason"] == "changed after signing"
    assert tampered["reason_code"] == "changed_after_signing" and tampered["advice"]
    # The uploads and the streamed PDF left nothing where they waited.
    temporary = tmp_path / "data" / "tmp" / "avdh"
    assert temporary.is_dir() and temporary_files(temporary) == []


async def test_a_plain_pdf_is_not_signed(gw: Gateway) -> None:
    found = await _verified(gw, plain_pdf())
    assert found["valid"] is False and found["reason"] == "not signed"


async def test_a_pdf_of_another_gateway_is_signed_by_someone_else(
        gw: Gateway, elsewhere: Gateway) -> None:
    person = await new_citizen(elsewhere.ports)
    foreign = await _authenticated(elsewhere, person, "level.txt", b"Tisztelt Hivatal!\n")
    found = await _verified(gw, foreign)
    assert found["valid"] is False and found["issued_here"] is False
    assert found["reason"] == "signed by someone else"


async def test_an_encrypted_pdf_is_refused_naming_why(gw: Gateway) -> None:
    person = await new_citizen(gw.ports)
    answer = await gw.client.post("/api/v1/authenticate", auth=person.auth,
                                  files={"file": ("titkos.pdf", plain_pdf("titok"))})
    assert answer.status_code == 422, answer.text
    assert answer.json()["code"] == "invalid_request" and answer.json()["field"] == "file"
    assert "encrypt" in answer.json()["detail"].lower()
    await _nothing_recorded(gw, person)


async def test_on_the_web_for_an_office_once_per_form(gw: Gateway) -> None:
    office = await new_org(gw.ports, name="Kapuvári Hivatal")
    clerk = await new_citizen(gw.ports)
    await staff_service.grant_role(gw.ports, krid=office.krid or "", username=clerk.username,
                                   role=StaffRole.CLERK)
    await log_in(gw.client, clerk)
    page = await gw.client.get("/ui/authenticate?lang=en")
    fields = {**form_fields(page), "office": office.krid or ""}
    answer = await gw.client.post("/ui/authenticate", data=fields,
                                  files={"file": ("level.txt", b"Tisztelt Hivatal!\n")})
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"] == "application/pdf"
    sha256 = hashlib.sha256(answer.content).hexdigest()
    async with gw.ports.uow() as uow:
        record = await uow.authentications.issued(sha256)
        by_office = await uow.parties.by_krid(office.krid or "")
    assert record is not None and by_office is not None and record.office_id == by_office.id
    found = await _verified(gw, answer.content)
    assert "Kapuvári Hivatal" in str(found["authenticated_by"])

    again = await gw.client.post("/ui/authenticate", data=fields,
                                 files={"file": ("level.txt", b"Tisztelt Hivatal!\n")})
    assert again.status_code == 303 and again.headers["location"] == "/ui/authenticate/done"
    done = await gw.client.get(again.headers["location"] + "?lang=en")
    assert "Nothing was authenticated again" in done.text
    await link_pending(gw.ports)
    async with gw.ports.uow() as uow:
        entries = await uow.audit.entries(None, 1_000_000)
    assert len([e for e in entries if e.actor == clerk.username
                and e.action == AuditAction.DOCUMENT_AUTHENTICATED]) == 1

    verify_page = await gw.client.get("/ui/verify?lang=en")
    result = await gw.client.post("/ui/verify?lang=en", data=form_fields(verify_page),
                                  files={"file": ("x.pdf", answer.content)})
    assert "Valid: this PDF is authenticated" in result.text
    assert "level.txt" in result.text and "Kapuvári Hivatal" in result.text
    assert budapest_local(gw.clock.now()).strftime("%Y-%m-%d %H:%M") in result.text
    changed = _one_signed_byte_changed(answer.content)
    invalid = await gw.client.post("/ui/verify?lang=en", data=form_fields(verify_page),
                                   files={"file": ("x.pdf", bytes(changed))})
    assert "Not valid." in invalid.text and "changed after it was signed" in invalid.text
