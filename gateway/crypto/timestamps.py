"""RFC 3161 timestamps, issued by the gateway's own TSA.

No maintained Python library issues TimeStampTokens. The token is a CMS SignedData over a
TSTInfo, with the ESS signingCertificateV2 attribute that ``openssl ts -verify`` requires and
the TSA certificate inside, signed with RSA PKCS#1 v1.5 or ECDSA, SHA-256.

asn1crypto builds such a token in about 1.5 ms, most of an acceptance's cost. Everything in it
but the imprint, the serial number, the time, one digest and the signature is the same in every
token, so asn1crypto builds one reference token at start, and each token is framed from that
reference's encodings and the few new values (encoded by asn1crypto's own primitives) with the
TLV helper below: DER is tag, length, content, and a frame is nothing more. A unit test checks
that the framed token is byte for byte the one asn1crypto builds, and every token is verified
with ``openssl ts`` in the tests.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import xmlsec as _xmlsec_module
from asn1crypto import cms, core, tsp
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa

from gateway.crypto.keys import SigningKey

# Our policy OID, under the UUID arc (ITU-T X.667) that anyone may allocate from.
POLICY = "2.25.174512853941357432389226306815342613601"

_SEQUENCE, _SET, _OCTET_STRING, _CONTEXT_0 = 0x30, 0x31, 0x04, 0xA0
# xmlsec's bundled stubs do not declare the constants it has at run time (Transform.RSA_SHA256).
xmlsec: Any = _xmlsec_module


def _tlv(tag: int, content: bytes) -> bytes:
    """One DER element: tag, definite length, content."""
    length = len(content)
    if length < 0x80:
        return bytes([tag, length]) + content
    size = length.to_bytes((length.bit_length() + 7) // 8, "big")
    return bytes([tag, 0x80 | len(size)]) + size + content


def sign(key: SigningKey, data: bytes) -> bytes:
    """SHA-256 with the key's own scheme: RSA PKCS#1 v1.5, or ECDSA."""
    if isinstance(key, rsa.RSAPrivateKey):
        return key.sign(data, padding.PKCS1v15(), hashes.SHA256())
    return key.sign(data, ec.ECDSA(hashes.SHA256()))


def signing_function(key: SigningKey, *, release_gil: bool) -> Callable[[bytes], bytes]:
    """SHA-256 signatures with ``key`` (see :func:`sign`): RSA ones through xmlsec, which lets
    go of the GIL, when ``release_gil`` (for worker threads beside an event loop)."""
    if isinstance(key, rsa.RSAPrivateKey) and release_gil:
        return ReleasingSigner(key)
    return lambda data: sign(key, data)


def signature_algorithm(key: SigningKey) -> str:
    return "sha256_rsa" if isinstance(key, rsa.RSAPrivateKey) else "sha256_ecdsa"


class ReleasingSigner:
    """RSA PKCS#1 v1.5 SHA-256 signatures made by xmlsec (OpenSSL), which lets go of the GIL
    while it signs, so a token made in a worker thread leaves the event loop running.
    ``cryptography`` holds the GIL through an RSA signature (measured: two threads sign at
    0.91x the rate of one). The signature is the same bytes: PKCS#1 v1.5 is deterministic."""

    def __init__(self, key: rsa.RSAPrivateKey) -> None:
        self._key = xmlsec.Key.from_memory(
            key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                              serialization.NoEncryption()), xmlsec.KeyFormat.PEM)

    def __call__(self, data: bytes) -> bytes:
        context = xmlsec.SignatureContext()  # one use each: xmlsec's contexts are not reusable
        context.key = self._key
        signature: bytes = context.sign_binary(data, xmlsec.Transform.RSA_SHA256)
        return signature


class TimestampAuthority:
    """Thread-safe: tokens may be made in worker threads (RSA signing releases the GIL, unless
    ``release_gil`` is off: then ``cryptography`` signs, holding it, with less work a token)."""

    def __init__(self, key: SigningKey, certificate: x509.Certificate, *,
                 release_gil: bool = True) -> None:
        self._key = key
        self._sign = signing_function(key, release_gil=release_gil)
        der = certificate.public_bytes(serialization.Encoding.DER)
        parsed = asn1_x509.Certificate.load(der)
        self._signer_id = cms.SignerIdentifier({"issuer_and_serial_number": {
            "issuer": parsed.issuer, "serial_number": parsed.serial_number,
        }})
        self._certificates = cms.CertificateSet([parsed])
        self._constant_attributes = [
            cms.CMSAttribute({"type": "content_type", "values": ["tst_info"]}).dump(),
            cms.CMSAttribute({"type": "signing_certificate_v2", "values": [
                {"certs": [{"cert_hash": hashlib.sha256(der).digest()}]}]}).dump(),
        ]
        # The message digest attribute is its type and framing, then the 32 bytes.
        empty = hashlib.sha256(b"").digest()
        self._digest_attribute_head = _message_digest_attribute(empty)[:-len(empty)]
        self._frame = _Frame(self.built_with_asn1crypto(
            "00" * 32, 1, datetime(2000, 1, 1, tzinfo=UTC)))

    def timestamp(self, sha256_hex: str, at: datetime) -> bytes:
        """A DER TimeStampToken saying that the data with this SHA-256 existed at ``at``."""
        return self.framed(sha256_hex, _serial_number(), at)

    def framed(self, sha256_hex: str, serial_number: int, at: datetime) -> bytes:
        frame = self._frame
        tst_info = _tlv(_SEQUENCE, b"".join((
            frame.version_and_policy,
            _tlv(_SEQUENCE, frame.imprint_algorithm
                 + _tlv(_OCTET_STRING, bytes.fromhex(sha256_hex))),
            core.Integer(serial_number).dump(),
            core.GeneralizedTime(at.astimezone(UTC)).dump(),
            frame.after_time,
        )))
        attributes = self._signed_attributes(
            self._digest_attribute_head + hashlib.sha256(tst_info).digest())
        signer_info = _tlv(_SEQUENCE, b"".join((
            frame.signer_head,
            # The signed attributes are signed as a SET and carried as [0] IMPLICIT.
            bytes([_CONTEXT_0]) + attributes[1:],
            frame.signature_algorithm,
            _tlv(_OCTET_STRING, self._sign(attributes)),
        )))
        signed_data = _tlv(_SEQUENCE, b"".join((
            frame.signed_data_head,
            _tlv(_SEQUENCE, frame.content_type + _tlv(_CONTEXT_0, _tlv(_OCTET_STRING,
                                                                           tst_info))),
            frame.certificates,
            _tlv(_SET, signer_info),
        )))
        return _tlv(_SEQUENCE, frame.content_info_type + _tlv(_CONTEXT_0, signed_data))

    def _signed_attributes(self, message_digest: bytes) -> bytes:
        # DER orders a SET OF by the members' encodings (verifiers re-encode before checking).
        return _tlv(_SET, b"".join(sorted([*self._constant_attributes, message_digest])))

    def built_with_asn1crypto(self, sha256_hex: str, serial_number: int,
                              at: datetime) -> bytes:
        """The same token built by asn1crypto alone: the reference the frame is cut from."""
        tst_info = tsp.TSTInfo({
            "version": "v1",
            "policy": POLICY,
            "message_imprint": {
                "hash_algorithm": {"algorithm": "sha256"},
                "hashed_message": bytes.fromhex(sha256_hex),
            },
            "serial_number": serial_number,
            "gen_time": at.astimezone(UTC),
            "accuracy": {"seconds": 1},
            "ordering": False,
        })
        content = tst_info.dump()
        attributes = self._signed_attributes(
            _message_digest_attribute(hashlib.sha256(content).digest()))
        signer = cms.SignerInfo({
            "version": "v1",
            "sid": self._signer_id,
            "digest_algorithm": {"algorithm": "sha256"},
            "signed_attrs": cms.CMSAttributes.load(attributes),
            "signature_algorithm": {"algorithm": signature_algorithm(self._key)},
            "signature": sign(self._key, attributes),
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


class _Frame:
    """The encodings every token repeats, cut from a reference token."""

    def __init__(self, reference: bytes) -> None:
        info = cms.ContentInfo.load(reference)
        signed_data = info["content"]
        tst_info = signed_data["encap_content_info"]["content"].parsed
        signer = signed_data["signer_infos"][0]
        self.content_info_type = info["content_type"].dump()
        self.signed_data_head = (signed_data["version"].dump()
                                 + signed_data["digest_algorithms"].dump())
        self.content_type = signed_data["encap_content_info"]["content_type"].dump()
        self.certificates = signed_data["certificates"].dump()
        self.signer_head = (signer["version"].dump() + signer["sid"].dump()
                            + signer["digest_algorithm"].dump())
        self.signature_algorithm = signer["signature_algorithm"].dump()
        self.version_and_policy = tst_info["version"].dump() + tst_info["policy"].dump()
        self.imprint_algorithm = tst_info["message_imprint"]["hash_algorithm"].dump()
        # What follows the time (accuracy; ordering is left out at its DEFAULT), as encoded.
        head = sum(len(tst_info[name].dump()) for name in
                   ("version", "policy", "message_imprint", "serial_number", "gen_time"))
        self.after_time = tst_info.contents[head:]


def _message_digest_attribute(digest: bytes) -> bytes:
    attribute: bytes = cms.CMSAttribute({"type": "message_digest", "values": [digest]}).dump()
    return attribute


def _serial_number() -> int:
    # 127 random bits: unique without coordination between processes and hosts.
    return secrets.randbits(127) | 1 << 126
