"""Signed receipts (igazolások): XML in ``urn:kapu:igazolas:1`` with an enveloped XML-DSig
signature (RSA-SHA256, or ECDSA-SHA256 with an ECDSA key; exclusive canonicalisation,
X509Data), made with xmlsec.

``xmlsec1 --verify --trusted-pem ca.pem receipt.xml`` succeeds, and fails once any byte of the
signed content changes.

xmlsec builds and signs a receipt in about 0.35 ms, of which the RSA signature is 0.22; the
rest is the signature's template, the key's certificate and a signing context, the same for
every receipt. So xmlsec signs one reference receipt at start, and each receipt's signature is
framed from that reference (:class:`_SignatureFrame`): every byte of the ``Signature`` element
but the digest and the signature value is the reference's, the digest is SHA-256 over lxml's
exclusive canonical form of the receipt, and the signature is over the reference's canonical
``SignedInfo`` with the new digest. A unit test checks that a framed receipt is byte for byte
the one xmlsec signs (RSA PKCS#1 v1.5 is deterministic), and the tests verify receipts with
``xmlsec1``.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import xmlsec as _xmlsec_module
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from lxml import etree

from gateway.crypto.keys import SigningKey
from gateway.crypto.timestamps import signing_function
from gateway.domain.limits import xml_safe
from gateway.domain.outages import OutageStatement
from gateway.domain.receipts import ReceiptContent, ReceiptKind, ReceiptParty
from gateway.domain.registration import budapest_local

NAMESPACE = "urn:kapu:igazolas:1"
DSIG = "http://www.w3.org/2000/09/xmldsig#"
OUTAGE_KIND = "uzemzavar"
# xmlsec's bundled stubs do not declare the constants it has at run time (Transform.ENVELOPED…).
xmlsec: Any = _xmlsec_module


# What XML 1.0 cannot hold (its Char production): C0 controls but tab, CR and LF, lone
# surrogates, U+FFFE and U+FFFF.
def iso_duration(span: timedelta) -> str:
    """An ISO 8601 duration in hours, minutes and seconds (PT2H, PT30M, PT26H5S). By hand:
    the standard library prints no ISO durations and this is the only one Kapu writes."""
    total = int(span.total_seconds())
    hours, rest = divmod(total, 3600)
    minutes, seconds = divmod(rest, 60)
    parts = [f"{value}{unit}" for value, unit in ((hours, "H"), (minutes, "M"), (seconds, "S"))
             if value]
    return "PT" + ("".join(parts) or "0S")


def _party(tag: str, party: ReceiptParty) -> etree._Element:
    element = etree.Element(f"{{{NAMESPACE}}}{tag}")
    etree.SubElement(element, f"{{{NAMESPACE}}}Nev").text = xml_safe(party.name)
    if party.krid:
        etree.SubElement(element, f"{{{NAMESPACE}}}KRID").text = party.krid
    if party.code:
        etree.SubElement(element, f"{{{NAMESPACE}}}KapcsolatiKod").text = party.code
    return element


class ReceiptSigner:
    """Thread-safe: receipts may be signed in worker threads (an RSA signature releases the
    GIL there, unless ``release_gil`` is off: then ``cryptography`` signs, holding it, with
    less work a receipt)."""

    def __init__(self, key: SigningKey, certificate: x509.Certificate, *,
                 release_gil: bool = True) -> None:
        self._method = (xmlsec.Transform.RSA_SHA256 if isinstance(key, rsa.RSAPrivateKey)
                        else xmlsec.Transform.ECDSA_SHA256)
        key_pem = key.private_bytes(serialization.Encoding.PEM,
                                    serialization.PrivateFormat.PKCS8,
                                    serialization.NoEncryption())
        self._key = xmlsec.Key.from_memory(key_pem, xmlsec.KeyFormat.PEM)
        self._key.load_cert_from_memory(certificate.public_bytes(serialization.Encoding.PEM),
                                        xmlsec.KeyFormat.PEM)
        signing = signing_function(key, release_gil=release_gil)
        self._sign = signing
        if not isinstance(key, rsa.RSAPrivateKey):
            # XML-DSig carries an ECDSA signature as r and s side by side, not in DER.
            size = (key.curve.key_size + 7) // 8
            self._sign = lambda data: b"".join(
                number.to_bytes(size, "big") for number in decode_dss_signature(signing(data)))
        self._frame = _SignatureFrame(self.signed_with_xmlsec(_reference_root()))

    def sign(self, content: ReceiptContent) -> bytes:
        """The receipt as signed XML bytes."""
        return self._frame.signed(_receipt_root(content), self._sign)

    def sign_outage(self, statement: OutageStatement) -> bytes:
        """An outage certificate (Fajta ``uzemzavar``) as signed XML bytes."""
        return self._frame.signed(_outage_root(statement), self._sign)

    def signed_with_xmlsec(self, root: etree._Element) -> bytes:
        """``root`` with an enveloped signature made by xmlsec alone, serialised: the
        reference the frame is cut from."""
        signature = xmlsec.template.create(root, xmlsec.Transform.EXCL_C14N, self._method)
        root.append(signature)
        reference = xmlsec.template.add_reference(signature, xmlsec.Transform.SHA256, uri="")
        xmlsec.template.add_transform(reference, xmlsec.Transform.ENVELOPED)
        xmlsec.template.add_transform(reference, xmlsec.Transform.EXCL_C14N)
        key_info = xmlsec.template.ensure_key_info(signature)
        xmlsec.template.x509_data_add_certificate(xmlsec.template.add_x509_data(key_info))
        context = xmlsec.SignatureContext()
        context.key = self._key
        context.sign(signature)
        signed: bytes = etree.tostring(root, xml_declaration=True, encoding="UTF-8")
        return signed


def _receipt_root(content: ReceiptContent) -> etree._Element:
    root = etree.Element(f"{{{NAMESPACE}}}Igazolas", nsmap={None: NAMESPACE})  # type: ignore[dict-item]
    for tag, text in (("Fajta", content.kind.value),
                      ("ErkeztetesiSzam", content.registration_number)):
        etree.SubElement(root, f"{{{NAMESPACE}}}{tag}").text = text
    root.append(_party("Felado", content.sender))
    root.append(_party("Cimzett", content.recipient))
    if content.acting is not None:
        root.append(_party("Eljaro", content.acting))
    for tag, text in (
        ("FileNev", xml_safe(content.file_name)),
        ("Lenyomat", content.sha256),
        ("Idopont", budapest_local(content.at).isoformat()),
        ("Idopecset", base64.b64encode(content.timestamp_token).decode()),
    ):
        etree.SubElement(root, f"{{{NAMESPACE}}}{tag}").text = text
    if content.notices is not None:
        for tag, at in zip(("ElsoErtesites", "MasodikErtesites", "VelelmezettKezbesites"),
                           content.notices, strict=True):
            etree.SubElement(root, f"{{{NAMESPACE}}}{tag}").text = budapest_local(at).isoformat()
    return root


def _outage_root(statement: OutageStatement) -> etree._Element:
    root = etree.Element(f"{{{NAMESPACE}}}Igazolas", nsmap={None: NAMESPACE})  # type: ignore[dict-item]
    texts = [
        ("Fajta", OUTAGE_KIND),
        ("Azonosito", str(statement.incident_id)),
        ("Kezdet", budapest_local(statement.start).isoformat()),
        ("Vege", budapest_local(statement.end).isoformat()),
        ("Idotartam", iso_duration(statement.end - statement.start)),
        ("Erintett", xml_safe(statement.affected)),
    ]
    if statement.deadline_extension is not None:
        texts.append(("HataridoHosszabbitas", statement.deadline_extension.isoformat()))
    texts.append(("Idopont", budapest_local(statement.issued_at).isoformat()))
    for tag, text in texts:
        etree.SubElement(root, f"{{{NAMESPACE}}}{tag}").text = text
    return root


def _reference_root() -> etree._Element:
    party = ReceiptParty("Referencia", "100000001")
    return _receipt_root(ReceiptContent(
        kind=ReceiptKind.ACCEPTANCE, registration_number="1" * 27, sender=party,
        recipient=party, file_name="referencia.pdf", sha256="0" * 64,
        at=datetime(2000, 1, 1, tzinfo=UTC), timestamp_token=b"\0"))


class _SignatureFrame:
    """The bytes of an enveloped ``Signature`` that every receipt repeats, cut from a
    reference receipt xmlsec signed: the element around its digest and signature value, the
    canonical ``SignedInfo`` around its digest, and the base64 line length xmlsec wraps at."""

    def __init__(self, reference: bytes) -> None:
        root = etree.fromstring(reference)
        signed_info = root.find(f"{{{DSIG}}}Signature/{{{DSIG}}}SignedInfo")
        digest = root.findtext(f".//{{{DSIG}}}DigestValue")
        value = root.findtext(f"{{{DSIG}}}Signature/{{{DSIG}}}SignatureValue")
        assert signed_info is not None and digest and value, "xmlsec signed no receipt"
        self.signed_info_head, _, self.signed_info_tail = etree.tostring(
            signed_info, method="c14n", exclusive=True).partition(digest.encode())
        signature = reference[reference.index(b"<Signature"):reference.rindex(b"</")]
        # The digest is the first base64 in the element, the signature value the next.
        self.head, _, rest = signature.partition(digest.encode())
        self.middle, _, self.tail = rest.partition(value.encode())
        lines = value.split("\n")
        self.line = len(lines[0]) if len(lines) > 1 else 0  # 0: not wrapped

    def signed(self, root: etree._Element, sign: Callable[[bytes], bytes]) -> bytes:
        """``root``, which must have children, serialised with its enveloped signature."""
        digest = base64.b64encode(hashlib.sha256(
            etree.tostring(root, method="c14n", exclusive=True)).digest())
        value = base64.b64encode(sign(self.signed_info_head + digest + self.signed_info_tail))
        if self.line:
            value = b"\n".join(value[start:start + self.line]
                               for start in range(0, len(value), self.line))
        serialised: bytes = etree.tostring(root, xml_declaration=True, encoding="UTF-8")
        end = serialised.rindex(b"</")  # the root's closing tag
        return b"".join((serialised[:end], self.head, digest, self.middle, value, self.tail,
                         serialised[end:]))
