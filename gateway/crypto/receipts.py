"""Signed receipts (igazolások): XML in ``urn:kapu:igazolas:1`` with an enveloped XML-DSig
signature (RSA-SHA256, or ECDSA-SHA256 with an ECDSA key; exclusive canonicalisation,
X509Data), made with xmlsec.

``xmlsec1 --verify --trusted-pem ca.pem receipt.xml`` succeeds, and fails once any byte of the
signed content changes.
"""

from __future__ import annotations

import base64
from datetime import timedelta
from typing import Any

import xmlsec as _xmlsec_module
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from lxml import etree

from gateway.crypto.keys import SigningKey
from gateway.domain.outages import OutageStatement
from gateway.domain.receipts import ReceiptContent, ReceiptParty
from gateway.domain.registration import budapest_local

NAMESPACE = "urn:kapu:igazolas:1"
OUTAGE_KIND = "uzemzavar"
# xmlsec's bundled stubs do not declare the constants it has at run time (Transform.ENVELOPED…).
xmlsec: Any = _xmlsec_module


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
    etree.SubElement(element, f"{{{NAMESPACE}}}Nev").text = party.name
    if party.krid:
        etree.SubElement(element, f"{{{NAMESPACE}}}KRID").text = party.krid
    if party.code:
        etree.SubElement(element, f"{{{NAMESPACE}}}KapcsolatiKod").text = party.code
    return element


class ReceiptSigner:
    def __init__(self, key: SigningKey, certificate: x509.Certificate) -> None:
        self._method = (xmlsec.Transform.RSA_SHA256 if isinstance(key, rsa.RSAPrivateKey)
                        else xmlsec.Transform.ECDSA_SHA256)
        key_pem = key.private_bytes(serialization.Encoding.PEM,
                                    serialization.PrivateFormat.PKCS8,
                                    serialization.NoEncryption())
        self._key = xmlsec.Key.from_memory(key_pem, xmlsec.KeyFormat.PEM)
        self._key.load_cert_from_memory(certificate.public_bytes(serialization.Encoding.PEM),
                                        xmlsec.KeyFormat.PEM)

    def sign(self, content: ReceiptContent) -> bytes:
        """The receipt as signed XML bytes."""
        root = etree.Element(f"{{{NAMESPACE}}}Igazolas", nsmap={None: NAMESPACE})  # type: ignore[dict-item]
        for tag, text in (("Fajta", content.kind.value),
                          ("ErkeztetesiSzam", content.registration_number)):
            etree.SubElement(root, f"{{{NAMESPACE}}}{tag}").text = text
        root.append(_party("Felado", content.sender))
        root.append(_party("Cimzett", content.recipient))
        for tag, text in (
            ("FileNev", content.file_name),
            ("Lenyomat", content.sha256),
            ("Idopont", budapest_local(content.at).isoformat()),
            ("Idopecset", base64.b64encode(content.timestamp_token).decode()),
        ):
            etree.SubElement(root, f"{{{NAMESPACE}}}{tag}").text = text
        if content.notices is not None:
            for tag, at in zip(("ElsoErtesites", "MasodikErtesites", "VelelmezettKezbesites"),
                               content.notices, strict=True):
                etree.SubElement(root, f"{{{NAMESPACE}}}{tag}").text = (
                    budapest_local(at).isoformat())
        return self._signed(root)

    def sign_outage(self, statement: OutageStatement) -> bytes:
        """An outage certificate (Fajta ``uzemzavar``) as signed XML bytes."""
        root = etree.Element(f"{{{NAMESPACE}}}Igazolas", nsmap={None: NAMESPACE})  # type: ignore[dict-item]
        texts = [
            ("Fajta", OUTAGE_KIND),
            ("Azonosito", str(statement.incident_id)),
            ("Kezdet", budapest_local(statement.start).isoformat()),
            ("Vege", budapest_local(statement.end).isoformat()),
            ("Idotartam", iso_duration(statement.end - statement.start)),
            ("Erintett", statement.affected),
        ]
        if statement.deadline_extension is not None:
            texts.append(("HataridoHosszabbitas", statement.deadline_extension.isoformat()))
        texts.append(("Idopont", budapest_local(statement.issued_at).isoformat()))
        for tag, text in texts:
            etree.SubElement(root, f"{{{NAMESPACE}}}{tag}").text = text
        return self._signed(root)

    def _signed(self, root: etree._Element) -> bytes:
        """``root`` with an enveloped signature, serialised."""
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
