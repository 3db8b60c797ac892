"""Reading parties' encryption certificates (PEM or DER X.509) with ``cryptography``."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa


@dataclass(frozen=True)
class CertificateFacts:
    der: bytes
    fingerprint_sha256: str
    not_before: datetime
    not_after: datetime
    rsa_bits: int | None  # None: not an RSA key


def read_certificate(data: bytes) -> CertificateFacts:
    """Facts about one certificate; ValueError if ``data`` is not one."""
    text = data.strip()
    certificate = (x509.load_pem_x509_certificate(text) if text.startswith(b"-----BEGIN")
                   else x509.load_der_x509_certificate(text))
    der = certificate.public_bytes(serialization.Encoding.DER)
    key = certificate.public_key()
    return CertificateFacts(
        der=der, fingerprint_sha256=hashlib.sha256(der).hexdigest(),
        not_before=certificate.not_valid_before_utc, not_after=certificate.not_valid_after_utc,
        rsa_bits=key.key_size if isinstance(key, rsa.RSAPublicKey) else None,
    )


def to_pem(der: bytes) -> str:
    certificate = x509.load_der_x509_certificate(der)
    return certificate.public_bytes(serialization.Encoding.PEM).decode()
