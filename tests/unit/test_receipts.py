"""A receipt whose signature is framed from the reference is, byte for byte, the receipt
xmlsec signs alone (RSA PKCS#1 v1.5 is deterministic), and verifies with the xmlsec library;
an ECDSA receipt (its signature differs each time) verifies too. One changed byte fails."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import xmlsec as _xmlsec_module
from cryptography.hazmat.primitives.asymmetric import rsa
from lxml import etree

from gateway.crypto.keys import GatewayKeys, ensure_keys
from gateway.crypto.receipts import ReceiptSigner, _outage_root, _receipt_root
from gateway.crypto.timestamps import ReleasingSigner
from gateway.domain.limits import xml_safe
from gateway.domain.outages import OutageStatement
from gateway.domain.receipts import ReceiptContent, ReceiptKind, ReceiptParty
from tests.conftest import TEST_EPOCH

xmlsec: Any = _xmlsec_module

CONTENTS = [
    ReceiptContent(
        kind=ReceiptKind.ACCEPTANCE, registration_number="100000002202611240000000001",
        sender=ReceiptParty("Demo Hivatal", "100000001"),
        recipient=ReceiptParty("Kovács Éva", code="ABCD1234"), file_name="kérelem.pdf",
        sha256="ab" * 32, at=TEST_EPOCH, timestamp_token=b"\x30\x03\x02\x01\x01"),
    # What XML escapes, a carriage return (serialised and canonicalised differently), an
    # empty name, a time with microseconds.
    ReceiptContent(
        kind=ReceiptKind.DOWNLOAD, registration_number="100000002202611240000000002",
        sender=ReceiptParty("A & B <Kft.> \"'", "100000001"),
        recipient=ReceiptParty("", "100000002"), file_name="sor\r\nvég\t.txt",
        sha256="cd" * 32, at=TEST_EPOCH + timedelta(microseconds=123_456),
        timestamp_token=bytes(range(256)) * 7),
    ReceiptContent(
        kind=ReceiptKind.PRESUMED_DELIVERY, registration_number="100000002202611240000000003",
        sender=ReceiptParty("Demo Hivatal", "100000001"),
        recipient=ReceiptParty("Kovács Éva", code="ABCD1234"), file_name="határozat.pdf",
        sha256="ef" * 32, at=TEST_EPOCH, timestamp_token=b"\x00",
        notices=(TEST_EPOCH, TEST_EPOCH + timedelta(days=5), TEST_EPOCH + timedelta(days=10))),
    # An agent received it for the addressee under a mandate (contract 25): Eljaro.
    ReceiptContent(
        kind=ReceiptKind.DOWNLOAD, registration_number="100000002202611240000000004",
        sender=ReceiptParty("Demo Hivatal", "100000001"),
        recipient=ReceiptParty("Kovács Éva", code="ABCD1234"), file_name="határozat.pdf",
        sha256="12" * 32, at=TEST_EPOCH, timestamp_token=b"\x00",
        acting=ReceiptParty("Nagy Péter <meghatalmazott>", code="EFGH5678")),
]


@pytest.fixture(scope="module", params=["rsa", "ecdsa"])
def keys(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
         ) -> GatewayKeys:
    made, _ = ensure_keys(Path(tmp_path_factory.mktemp("keys")), now=TEST_EPOCH,
                          algorithm=request.param)
    return made


def _verified(receipt: bytes, keys: GatewayKeys) -> bool:
    manager = xmlsec.KeysManager()
    manager.load_cert_from_memory(keys.ca_pem, xmlsec.KeyFormat.PEM,
                                  xmlsec.KeyDataType.TRUSTED)
    root = etree.fromstring(receipt)
    try:
        xmlsec.SignatureContext(manager).verify(
            xmlsec.tree.find_node(root, xmlsec.constants.NodeSignature))
    except xmlsec.Error:
        return False
    return True


@pytest.mark.parametrize("release_gil", [True, False])
@pytest.mark.parametrize("content", CONTENTS, ids=["acceptance", "escaped", "notices", "agent"])
def test_a_framed_receipt_is_xmlsecs_own(keys: GatewayKeys, content: ReceiptContent,
                                         release_gil: bool) -> None:
    signer = ReceiptSigner(keys.signing_key, keys.signing_cert, release_gil=release_gil)
    framed = signer.sign(content)
    reference = signer.signed_with_xmlsec(_receipt_root(content))
    assert _verified(framed, keys) and _verified(reference, keys)
    if isinstance(keys.signing_key, rsa.RSAPrivateKey):
        assert framed == reference
    else:  # ECDSA signs with a fresh random number: all but the signature value is the same
        assert _without_signature_value(framed) == _without_signature_value(reference)


def test_an_outage_certificate_is_framed_too(keys: GatewayKeys) -> None:
    signer = ReceiptSigner(keys.signing_key, keys.signing_cert)
    statement = OutageStatement(incident_id=7, start=TEST_EPOCH,
                                end=TEST_EPOCH + timedelta(hours=2, seconds=5),
                                affected="feltöltés & letöltés", deadline_extension=None,
                                issued_at=TEST_EPOCH + timedelta(hours=3))
    framed = signer.sign_outage(statement)
    assert _verified(framed, keys)
    assert b"<Idotartam>PT2H5S</Idotartam>" in framed
    if isinstance(keys.signing_key, rsa.RSAPrivateKey):
        assert framed == signer.signed_with_xmlsec(_outage_root(statement))


@pytest.mark.parametrize("change", [
    (b"<Lenyomat>ab", b"<Lenyomat>ac"),  # the signed content
    (b"<DigestValue>", b"<DigestValue>A"),  # the digest
    (b"<SignatureValue>", b"<SignatureValue>A"),  # the signature
])
def test_one_changed_byte_fails(keys: GatewayKeys, change: tuple[bytes, bytes]) -> None:
    receipt = ReceiptSigner(keys.signing_key, keys.signing_cert,
                            release_gil=False).sign(CONTENTS[0])
    assert _verified(receipt, keys)
    assert not _verified(receipt.replace(*change, 1), keys)


def test_the_child_signs_without_xmlsec_for_rsa(keys: GatewayKeys) -> None:
    """Threads sign through xmlsec (it lets go of the GIL); the signing child, alone in its
    process, with ``cryptography``."""
    releasing = ReceiptSigner(keys.signing_key, keys.signing_cert)
    holding = ReceiptSigner(keys.signing_key, keys.signing_cert, release_gil=False)
    rsa_key = isinstance(keys.signing_key, rsa.RSAPrivateKey)
    assert isinstance(releasing._sign, ReleasingSigner) == rsa_key
    assert not isinstance(holding._sign, ReleasingSigner)


def _without_signature_value(receipt: bytes) -> bytes:
    head, _, rest = receipt.partition(b"<SignatureValue>")
    return head + rest[rest.index(b"</SignatureValue>"):]


def test_text_xml_cannot_hold_is_replaced_and_the_receipt_still_signs(keys: GatewayKeys
                                                                       ) -> None:
    """A row stored with such a name (below the doors' checks) still gets its receipt: a
    batch must not fail on it. Text XML can hold is kept as it is (the receipts above)."""
    hostile = ReceiptContent(
        kind=ReceiptKind.ACCEPTANCE, registration_number="100000002202611240000000004",
        sender=ReceiptParty("Rossz\x01 Kft.\x0b", "100000001"),
        recipient=ReceiptParty("Kovács Éva", code="ABCD1234"),
        file_name="level\x01\ud800\ufffe.pdf", sha256="ab" * 32, at=TEST_EPOCH,
        timestamp_token=b"\x00")
    signer = ReceiptSigner(keys.signing_key, keys.signing_cert)
    receipt = signer.sign(hostile)
    assert _verified(receipt, keys)
    root = etree.fromstring(receipt)
    names = {"i": "urn:kapu:igazolas:1"}
    assert root.findtext("i:FileNev", namespaces=names) == "level\ufffd\ufffd\ufffd.pdf"
    assert root.findtext("i:Felado/i:Nev", namespaces=names) == "Rossz\ufffd Kft.\ufffd"
    for content in CONTENTS:
        assert xml_safe(content.file_name) == content.file_name
        assert xml_safe(content.sender.name) == content.sender.name


def test_eljaro_only_when_an_agent_acted() -> None:
    """The acting person follows the addressee; a receipt without one has no Eljaro at all."""
    with_agent = _receipt_root(CONTENTS[3])
    names = [etree.QName(child).localname for child in with_agent]
    assert names[names.index("Cimzett") + 1] == "Eljaro"
    eljaro = with_agent.find("{urn:kapu:igazolas:1}Eljaro")
    assert eljaro is not None
    assert [(etree.QName(child).localname, child.text) for child in eljaro] == [
        ("Nev", "Nagy Péter <meghatalmazott>"), ("KapcsolatiKod", "EFGH5678")]
    for content in CONTENTS[:3]:
        assert _receipt_root(content).find("{urn:kapu:igazolas:1}Eljaro") is None
