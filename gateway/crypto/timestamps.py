"""RFC 3161 timestamps, issued by the gateway's own TSA.

No maintained Python library issues TimeStampTokens, so the token is assembled here from
asn1crypto's ``tsp``/``cms`` structures and signed with ``cryptography``: a CMS SignedData over a
TSTInfo, with the ESS signingCertificateV2 attribute that ``openssl ts -verify`` requires and the
TSA certificate inside.
"""

from __future__ import annotations

import hashlib
import uuid
from datetime import UTC, datetime

from asn1crypto import cms, core, tsp
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

# Our policy OID, under the UUID arc (ITU-T X.667) that anyone may allocate from.
POLICY = "2.25.174512853941357432389226306815342613601"


class TimestampAuthority:
    def __init__(self, key: rsa.RSAPrivateKey, certificate: x509.Certificate) -> None:
        self._key = key
        der = certificate.public_bytes(serialization.Encoding.DER)
        parsed = asn1_x509.Certificate.load(der)
        self._certificate_hash = hashlib.sha256(der).digest()
        # What every token repeats is built once: asn1crypto re-encodes nested structures on
        # each assignment, which made these two the bulk of a token's cost.
        self._certificates = cms.CertificateSet([parsed])
        self._signer_id = cms.SignerIdentifier({"issuer_and_serial_number": {
            "issuer": parsed.issuer, "serial_number": parsed.serial_number,
        }})
        self._certificates.dump()
        self._signer_id.dump()
        self._constant_attributes = [
            cms.CMSAttribute({"type": "content_type", "values": ["tst_info"]}).dump(),
            cms.CMSAttribute({"type": "signing_certificate_v2", "values": [
                {"certs": [{"cert_hash": self._certificate_hash}]}]}).dump(),
        ]

    def timestamp(self, sha256_hex: str, at: datetime) -> bytes:
        """A DER TimeStampToken saying that the data with this SHA-256 existed at ``at``."""
        tst_info = tsp.TSTInfo({
            "version": "v1",
            "policy": POLICY,
            "message_imprint": {
                "hash_algorithm": {"algorithm": "sha256"},
                "hashed_message": bytes.fromhex(sha256_hex),
            },
            "serial_number": uuid.uuid4().int,
            "gen_time": at.astimezone(UTC),
            "accuracy": {"seconds": 1},
            "ordering": False,
        })
        content = tst_info.dump()
        digest = cms.CMSAttribute({"type": "message_digest",
                                   "values": [hashlib.sha256(content).digest()]}).dump()
        # DER orders a SET OF by encoding (verifiers re-encode the attributes before checking
        # the signature). asn1crypto takes milliseconds to build this set, so the SET is framed
        # here from the attributes' own encodings.
        members = b"".join(sorted([*self._constant_attributes, digest]))
        encoded = _der_set(members)
        signed_attributes = cms.CMSAttributes.load(encoded)
        signature = self._key.sign(encoded, padding.PKCS1v15(), hashes.SHA256())
        signer = cms.SignerInfo({
            "version": "v1",
            "sid": self._signer_id,
            "digest_algorithm": {"algorithm": "sha256"},
            "signed_attrs": signed_attributes,
            "signature_algorithm": {"algorithm": "sha256_rsa"},
            "signature": signature,
        })
        signed_data = cms.SignedData({
            "version": "v3",
            "digest_algorithms": [{"algorithm": "sha256"}],
            "encap_content_info": {
                "content_type": "tst_info",
                "content": core.ParsableOctetString(content),
            },
            "certificates": self._certificates,
            "signer_infos": [signer],
        })
        token: bytes = cms.ContentInfo({"content_type": "signed_data",
                                        "content": signed_data}).dump()
        return token


def _der_set(members: bytes) -> bytes:
    length = len(members)
    if length < 0x80:
        return bytes([0x31, length]) + members
    size = length.to_bytes((length.bit_length() + 7) // 8, "big")
    return bytes([0x31, 0x80 | len(size)]) + size + members
