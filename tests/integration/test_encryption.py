"""Encrypted replies (docs/rest-api.md), decrypted by the real ``openssl cms``."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from asn1crypto import cms

from tests.certificates import PartyCertificate, make_certificate
from tests.helpers import (
    Account,
    new_citizen,
    new_org,
    sequence_of,
    sha256,
    stored_files,
    upload,
)
from tests.hkp_helpers import NS, document_xml, envelope, read_answer, upload_form
from tests.integration.conftest import Gateway

REPLY = b"%PDF-1.7\nA kerelmet jovahagyjuk.\n%%EOF\n"


def openssl_decrypt(p7m: bytes, certificate: PartyCertificate, workdir: Path) -> bytes:
    openssl = shutil.which("openssl")
    assert openssl, "openssl is needed (make test installs it)"
    (workdir / "doc.p7m").write_bytes(p7m)
    (workdir / "cert.pem").write_bytes(certificate.pem)
    (workdir / "key.pem").write_bytes(certificate.key_pem)
    return subprocess.run(
        [openssl, "cms", "-decrypt", "-inform", "DER", "-in", str(workdir / "doc.p7m"),
         "-recip", str(workdir / "cert.pem"), "-inkey", str(workdir / "key.pem")],
        capture_output=True, check=True,
    ).stdout


async def _with_key(gw: Gateway, party: Account) -> PartyCertificate:
    certificate = make_certificate(gw.clock.now())
    filed = await gw.client.put("/api/v1/keys/me", content=certificate.pem, auth=party.auth)
    assert filed.status_code == 200
    return certificate


async def _timestamped_digest(gw: Gateway, party: Account, number: str) -> str:
    """The SHA-256 the document's timestamp token vouches for."""
    token = await gw.client.get(f"/api/v1/documents/{number}/timestamp", auth=party.auth)
    info = cms.ContentInfo.load(token.content)["content"]["encap_content_info"]["content"]
    digest: str = info.parsed["message_imprint"]["hashed_message"].native.hex()
    return digest


async def test_reply_to_a_request_that_asked_for_encryption(gw: Gateway, tmp_path: Path) -> None:
    citizen, office = await new_citizen(gw.ports), await new_org(gw.ports)
    certificate = await _with_key(gw, citizen)
    request = (await upload(gw.client, citizen, office, reply_encryption="true")).json()
    reply = await upload(gw.client, office, citizen, REPLY, "valasz.pdf",
                         reference_number=request["registration_number"])
    assert reply.status_code == 201, reply.text
    accepted = reply.json()
    assert accepted["file_name"] == "valasz.pdf.p7m"
    assert accepted["sha256"] == sha256(REPLY)  # what the office sent

    number = accepted["registration_number"]
    metadata = (await gw.client.get(f"/api/v1/documents/{number}", auth=citizen.auth)).json()
    assert metadata["file_name"] == "valasz.pdf.p7m"
    stored = await gw.client.get(f"/api/v1/documents/{number}/content", auth=citizen.auth)
    assert metadata["sha256"] == sha256(stored.content) != sha256(REPLY)
    assert REPLY not in stored.content
    assert openssl_decrypt(stored.content, certificate, tmp_path) == REPLY
    # The token is for the stored bytes (a plain upload's is asked for before they are
    # durable, an encrypted one's only once they are encrypted).
    assert await _timestamped_digest(gw, citizen, number) == metadata["sha256"]
    # Nothing of the plaintext is left in the blob store.
    for name in stored_files(gw.blob_root):
        assert (gw.blob_root / name).read_bytes() != REPLY


async def test_encrypt_on_request_and_plain_without_a_key(gw: Gateway, tmp_path: Path) -> None:
    office = await new_org(gw.ports)
    company = await new_org(gw.ports)
    keyless = await new_org(gw.ports)
    certificate = await _with_key(gw, company)
    asked = (await upload(gw.client, office, company, REPLY, "a.pdf", encrypt="true")).json()
    assert asked["file_name"] == "a.pdf.p7m"
    content = await gw.client.get(f"/api/v1/documents/{asked['registration_number']}/content",
                                  auth=company.auth)
    assert openssl_decrypt(content.content, certificate, tmp_path) == REPLY
    assert await _timestamped_digest(gw, company, asked["registration_number"]) == \
        sha256(content.content)
    # Not asked, and not a reply to an encrypted request: stored as sent.
    plain = (await upload(gw.client, office, company, REPLY, "b.pdf")).json()
    assert plain["file_name"] == "b.pdf"
    assert await _timestamped_digest(gw, company, plain["registration_number"]) == \
        sha256(REPLY)
    # Asked, but the addressee has no key: stored as sent.
    no_key = (await upload(gw.client, office, keyless, REPLY, "c.pdf", encrypt="true")).json()
    assert no_key["file_name"] == "c.pdf"


async def test_required_encryption_without_a_key_is_refused(gw: Gateway) -> None:
    office, keyless = await new_org(gw.ports), await new_org(gw.ports)
    first = await upload(gw.client, office, keyless)
    files = stored_files(gw.blob_root)
    refused = await upload(gw.client, office, keyless, REPLY, "d.pdf",
                           require_encryption="true")
    assert refused.status_code == 404
    assert refused.json()["code"] == "key_not_found"
    assert stored_files(gw.blob_root) == files
    after = await upload(gw.client, office, keyless, REPLY, "e.pdf")
    assert sequence_of(after.json()["registration_number"]) == \
        sequence_of(first.json()["registration_number"]) + 1


async def test_hkp_reply_is_encrypted_too(gw: Gateway, tmp_path: Path) -> None:
    citizen, office = await new_citizen(gw.ports), await new_org(gw.ports)
    certificate = await _with_key(gw, citizen)
    request = (await upload(gw.client, citizen, office, reply_encryption="true")).json()
    item = document_xml(code=citizen.code, content=REPLY, inline=True,
                        reference=request["registration_number"])
    answer = read_answer(await gw.client.post("/hkp", headers={"Content-Type": "text/xml"},
                                              content=envelope(
        "UjDokumentumokFeltolteseGepiInterfeszAltal", upload_form(item),
        username=office.username, password=office.password)))
    result = answer.form.find("hkp:DokumentumTarolasEredmeny", NS)
    assert result is not None
    assert result.findtext("hkp:Lenyomat", namespaces=NS) == sha256(REPLY)
    number = result.findtext("hkp:ErkeztetesiSzam", namespaces=NS)
    content = await gw.client.get(f"/api/v1/documents/{number}/content", auth=citizen.auth)
    assert openssl_decrypt(content.content, certificate, tmp_path) == REPLY
