"""Signed receipts (igazolások): XML in ``urn:kapu:igazolas:1`` with an enveloped XML-DSig
signature (RSA-SHA256, or ECDSA-SHA256 with an ECDSA key; exclusive canonicalisation,
X509Data), made with xmlsec.

``xmlsec1 --verify --trusted-pem ca.pem receipt.xml`` succeeds, and fails once any byte of the
signed content changes.
"""

from __future__ import annotations

import base64
from typing import Any

import xmlsec as _xmlsec_module
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from lxml import etree

from gateway.crypto.keys import SigningKey
from gateway.domain.receipts import ReceiptContent, ReceiptParty
from gateway.domain.registration import budapest_local

NAMESPACE = "urn:kapu:igazolas:1"
# xmlsec's bundled stubs do not declare the constants it has at run time (Transform.ENVELOPED…).
xmlsec: Any = _xmlsec_module


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
