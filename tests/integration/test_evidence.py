"""Proof: timestamps verified by the real ``openssl``, receipts by the real ``xmlsec1``."""

from __future__ import annotations

import base64
import hashlib
import shutil
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from asn1crypto import cms
from lxml import etree

from gateway.config import Settings
from gateway.crypto.keys import ensure_keys
from tests.conftest import TEST_EPOCH, FixedClock
from tests.helpers import PDF, new_citizen, new_org, upload
from tests.hkp_helpers import NS, envelope, read_answer
from tests.integration.conftest import Gateway, _start

IGAZOLAS = {"i": "urn:kapu:igazolas:1"}


def _tool(name: str) -> str:
    path = shutil.which(name)
    assert path, f"{name} is needed (make test installs it: apt-get install {name})"
    return path


def openssl_ts_verify(
    token: bytes, digest: str, ca: bytes, workdir: Path, at: datetime
) -> bool:
    """``openssl ts -verify``, checking the certificates at the test clock's time ``at``."""
    (workdir / "token.der").write_bytes(token)
    (workdir / "ca.pem").write_bytes(ca)
    result = subprocess.run(
        [_tool("openssl"), "ts", "-verify", "-token_in", "-in", str(workdir / "token.der"),
         "-digest", digest, "-CAfile", str(workdir / "ca.pem"),
         "-attime", str(int(at.timestamp()))],
        capture_output=True, text=True, check=False,
    )
    return result.returncode == 0 and "Verification: OK" in result.stdout


def xmlsec_verify(receipt: bytes, ca: bytes, workdir: Path, at: datetime) -> bool:
    """``xmlsec1 --verify``, checking the certificates at the test clock's time ``at``."""
    (workdir / "receipt.xml").write_bytes(receipt)
    (workdir / "ca.pem").write_bytes(ca)
    result = subprocess.run(
        [_tool("xmlsec1"), "--verify", "--trusted-pem", str(workdir / "ca.pem"),
         "--verification-gmt-time", at.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S"),
         str(workdir / "receipt.xml")], capture_output=True, text=True, check=False,
    )
    return result.returncode == 0


async def test_timestamp_verifies_against_the_documents_digest_only(
    gw: Gateway, tmp_path: Path
) -> None:
    sender, office = await new_org(gw.ports), await new_org(gw.ports)
    number = (await upload(gw.client, sender, office)).json()["registration_number"]
    ca = (await gw.client.get("/api/v1/trust")).content
    assert ca.startswith(b"-----BEGIN CERTIFICATE-----")
    for who in (sender, office):
        token = await gw.client.get(f"/api/v1/documents/{number}/timestamp", auth=who.auth)
        assert token.status_code == 200
    now = gw.clock.now()
    assert openssl_ts_verify(token.content, hashlib.sha256(PDF).hexdigest(), ca, tmp_path, now)
    assert not openssl_ts_verify(token.content, hashlib.sha256(b"other").hexdigest(), ca,
                                 tmp_path, now)
    stranger = await new_org(gw.ports)
    refused = await gw.client.get(f"/api/v1/documents/{number}/timestamp", auth=stranger.auth)
    assert refused.status_code == 404


async def test_acceptance_and_download_receipts_verify_and_break_on_one_byte(
    gw: Gateway, tmp_path: Path
) -> None:
    sender, office = await new_org(gw.ports), await new_org(gw.ports)
    number = (await upload(gw.client, sender, office)).json()["registration_number"]
    ca = (await gw.client.get("/api/v1/trust")).content

    listed = (await gw.client.get(f"/api/v1/documents/{number}/receipts",
                                  auth=sender.auth)).json()["items"]
    assert [(r["kind"], r["url"]) for r in listed] == [
        ("acceptance", f"/api/v1/documents/{number}/receipts/acceptance")]
    assert listed[0]["issued_at"] == "2026-11-24T09:30:00+01:00"
    acceptance = await gw.client.get(listed[0]["url"], auth=sender.auth)
    assert acceptance.headers["content-type"] == "application/xml"
    root = etree.fromstring(acceptance.content)
    assert root.findtext("i:Fajta", namespaces=IGAZOLAS) == "acceptance"
    assert root.findtext("i:ErkeztetesiSzam", namespaces=IGAZOLAS) == number
    assert root.findtext("i:Felado/i:KRID", namespaces=IGAZOLAS) == sender.krid
    assert root.findtext("i:Cimzett/i:KRID", namespaces=IGAZOLAS) == office.krid
    assert root.findtext("i:Lenyomat", namespaces=IGAZOLAS) == hashlib.sha256(PDF).hexdigest()
    token = base64.b64decode(root.findtext("i:Idopecset", namespaces=IGAZOLAS) or "")
    assert openssl_ts_verify(token, hashlib.sha256(PDF).hexdigest(), ca, tmp_path,
                             gw.clock.now())
    assert xmlsec_verify(acceptance.content, ca, tmp_path, gw.clock.now())
    # One byte of the signed content changed: the signature no longer holds.
    tampered = acceptance.content.replace(number.encode(), number[:-1].encode() + b"9", 1)
    assert tampered != acceptance.content
    assert not xmlsec_verify(tampered, ca, tmp_path, gw.clock.now())

    # Only the sender gets receipts; the addressee is refused, a stranger sees nothing.
    assert (await gw.client.get(listed[0]["url"], auth=office.auth)).status_code == 403
    stranger = await new_org(gw.ports)
    assert (await gw.client.get(listed[0]["url"], auth=stranger.auth)).status_code == 404
    not_yet = await gw.client.get(f"/api/v1/documents/{number}/receipts/download",
                                  auth=sender.auth)
    assert not_yet.status_code == 404

    gw.clock.advance(hours=2)
    await gw.client.post(f"/api/v1/documents/{number}/ack", auth=office.auth)
    download = await gw.client.get(f"/api/v1/documents/{number}/receipts/download",
                                   auth=sender.auth)
    assert download.status_code == 200
    assert xmlsec_verify(download.content, ca, tmp_path, gw.clock.now())
    assert etree.fromstring(download.content).findtext("i:Idopont", namespaces=IGAZOLAS) == \
        "2026-11-24T11:30:00+01:00"
    kinds = [r["kind"] for r in (await gw.client.get(
        f"/api/v1/documents/{number}/receipts", auth=sender.auth)).json()["items"]]
    assert kinds == ["acceptance", "download"]
    # No ETertiveveny was asked: nothing arrives in the sender's mailbox.
    assert (await gw.client.get("/api/v1/mailbox", auth=sender.auth)).json()["items"] == []


async def test_return_receipt_arrives_as_a_system_message(gw: Gateway, tmp_path: Path) -> None:
    office = await new_org(gw.ports)
    citizen = await new_citizen(gw.ports)
    number = (await upload(gw.client, office, citizen, return_receipt="true")).json()[
        "registration_number"]
    await gw.client.post(f"/api/v1/documents/{number}/ack", auth=citizen.auth)
    await gw.client.post(f"/api/v1/documents/{number}/ack", auth=citizen.auth)  # harmless

    mailbox = (await gw.client.get("/api/v1/mailbox", auth=office.auth)).json()["items"]
    assert len(mailbox) == 1
    message = mailbox[0]
    assert message["system_message"] is True
    assert message["sender"]["kind"] == "system"
    assert message["reference_number"] == number
    assert message["file_name"] == f"download_igazolas_{number}.xml"
    assert message["registration_number"].startswith(office.krid)
    content = await gw.client.get(
        f"/api/v1/documents/{message['registration_number']}/content", auth=office.auth)
    receipt = await gw.client.get(f"/api/v1/documents/{number}/receipts/download",
                                  auth=office.auth)
    assert content.content == receipt.content
    ca = (await gw.client.get("/api/v1/trust")).content
    assert xmlsec_verify(content.content, ca, tmp_path, gw.clock.now())

    # Over HKP the system message has a RendszerFelado, Rendszeruzenet true, and an Idopecset.
    listed = read_answer(await gw.client.post("/hkp", headers={"Content-Type": "text/xml"},
                                              content=envelope(
        "DokumentumokLekerdezeseGepiInterfeszAltal2",
        "<hkp:DokumentumAdatokLetoltesKerdes><hkp:PostafiokAlapjan/>"
        "</hkp:DokumentumAdatokLetoltesKerdes>",
        username=office.username, password=office.password)))
    (item,) = listed.form.findall("hkp:DokumentumAdatok", NS)
    assert item.findtext("hkp:Felado/hkp:RendszerFelado/hkp:Nev", namespaces=NS) == \
        "Központi Rendszer"
    assert item.findtext("hkp:Rendszeruzenet", namespaces=NS) == "true"
    token = base64.b64decode(item.findtext("hkp:Idopecset", namespaces=NS) or "")
    assert openssl_ts_verify(token, hashlib.sha256(content.content).hexdigest(), ca, tmp_path,
                             gw.clock.now())


@pytest.mark.parametrize("refused", ["acceptance", "download"])
async def test_receipt_kinds_are_validated(gw: Gateway, refused: str) -> None:
    sender, office = await new_org(gw.ports), await new_org(gw.ports)
    number = (await upload(gw.client, sender, office)).json()["registration_number"]
    bad = await gw.client.get(f"/api/v1/documents/{number}/receipts/{refused}x",
                              auth=sender.auth)
    assert bad.status_code == 422


@pytest.mark.parametrize(("key_algorithm", "tsa_key_algorithm"),
                         [("rsa", "ecdsa"), ("ecdsa", "ecdsa"), ("rsa", "rsa")])
async def test_key_algorithms_sign_receipts_and_timestamps_that_verify(
    settings: Settings, clock: FixedClock, tmp_path: Path, key_algorithm: str,
    tsa_key_algorithm: str
) -> None:
    """The default, RSA-SHA256 receipts (the contract) and ECDSA timestamps, and what an
    operator's key files may hold instead."""
    keys = tmp_path / "other-keys"
    ensure_keys(keys, now=TEST_EPOCH - timedelta(days=1), algorithm=key_algorithm,
                tsa_algorithm=tsa_key_algorithm)
    async for gw in _start(settings.model_copy(update={
            "keys_dir": keys, "key_algorithm": key_algorithm,
            "tsa_key_algorithm": tsa_key_algorithm}), clock):
        sender, office = await new_org(gw.ports), await new_org(gw.ports)
        number = (await upload(gw.client, sender, office)).json()["registration_number"]
        ca = (await gw.client.get("/api/v1/trust")).content
        receipt = (await gw.client.get(f"/api/v1/documents/{number}/receipts/acceptance",
                                       auth=sender.auth)).content
        assert (b"xmldsig-more#ecdsa-sha256" if key_algorithm == "ecdsa"
                else b"xmldsig-more#rsa-sha256") in receipt
        assert xmlsec_verify(receipt, ca, tmp_path, gw.clock.now())
        tampered = receipt.replace(number.encode(), number[:-1].encode() + b"9", 1)
        assert not xmlsec_verify(tampered, ca, tmp_path, gw.clock.now())
        token = (await gw.client.get(f"/api/v1/documents/{number}/timestamp",
                                     auth=sender.auth)).content
        signer = cms.ContentInfo.load(token)["content"]["signer_infos"][0]
        assert signer["signature_algorithm"]["algorithm"].native == f"sha256_{tsa_key_algorithm}"
        digest = hashlib.sha256(PDF).hexdigest()
        assert openssl_ts_verify(token, digest, ca, tmp_path, gw.clock.now())
        assert not openssl_ts_verify(token, hashlib.sha256(b"other").hexdigest(), ca, tmp_path,
                                     gw.clock.now())
