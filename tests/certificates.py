"""Parties' encryption certificates for tests, made with cryptography."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID


@dataclass(frozen=True)
class PartyCertificate:
    pem: bytes
    key_pem: bytes


def make_certificate(now: dt.datetime, *, bits: int = 2048, days: int = 365,
                     expired: bool = False, elliptic: bool = False) -> PartyCertificate:
    """A self-signed certificate valid around ``now``: the test's clock, never the machine's."""
    key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey = (
        ec.generate_private_key(ec.SECP256R1()) if elliptic
        else rsa.generate_private_key(public_exponent=65537, key_size=bits))
    start, end = (now - dt.timedelta(days=30), now - dt.timedelta(days=1)) if expired \
        else (now - dt.timedelta(minutes=5), now + dt.timedelta(days=days))
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Teszt Polgár titkosító")])
    certificate = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name)
        .public_key(key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(start).not_valid_after(end)
        .sign(key, hashes.SHA256())
    )
    return PartyCertificate(
        certificate.public_bytes(serialization.Encoding.PEM),
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                          serialization.NoEncryption()),
    )
