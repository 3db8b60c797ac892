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
        self._certificate = asn1_x509.Certificate.load(der)
        self._certificate_hash = hashlib.sha256(der).digest()

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
        attributes = [
            cms.CMSAttribute({"type": "content_type", "values": ["tst_info"]}),
            cms.CMSAttribute({"type": "message_digest",
                              "values": [hashlib.sha256(content).digest()]}),
            cms.CMSAttribute({"type": "signing_certificate_v2", "values": [
                {"certs": [{"cert_hash": self._certificate_hash}]}]}),
        ]
        # DER orders a SET OF by encoding; verifiers re-encode the attributes before checking.
        signed_attributes = cms.CMSAttributes(sorted(attributes, key=lambda a: a.dump()))
        signature = self._key.sign(signed_attributes.dump(), padding.PKCS1v15(),
                                   hashes.SHA256())
        signer = cms.SignerInfo({
            "version": "v1",
            "sid": cms.SignerIdentifier({"issuer_and_serial_number": {
                "issuer": self._certificate.issuer,
                "serial_number": self._certificate.serial_number,
            }}),
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
            "certificates": [self._certificate],
            "signer_infos": [signer],
        })
        token: bytes = cms.ContentInfo({"content_type": "signed_data",
                                        "content": signed_data}).dump()
        return token
