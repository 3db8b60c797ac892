"""Encrypting a document for its addressee: CMS EnvelopedData (RFC 5652), AES-256-CBC content
encryption, RSA (PKCS #1 v1.5) key transport — what ``openssl cms -decrypt`` reads.

Streamed: cryptography's PKCS7EnvelopeBuilder takes the whole content in memory, and documents
may be hundreds of megabytes. The ciphertext's length is known before encrypting (CBC with
PKCS #7 padding: the next multiple of 16 above the size), so the definite-length DER framing is
written first and the ciphertext streamed after it. asn1crypto encodes every inner structure;
only the four enclosing tag-and-length headers are written here.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable

from asn1crypto import algos, cms, core
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import padding as symmetric_padding
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

BLOCK = 16


def ciphertext_size(size: int) -> int:
    return (size // BLOCK + 1) * BLOCK


def _header(tag: int, length: int) -> bytes:
    """A DER tag and definite length."""
    if length < 0x80:
        return bytes([tag, length])
    encoded = length.to_bytes((length.bit_length() + 7) // 8, "big")
    return bytes([tag, 0x80 | len(encoded)]) + encoded


def enveloped_size(size: int, certificate_der: bytes) -> int:
    """How long the EnvelopedData for ``size`` bytes of content will be."""
    return len(_prefix(certificate_der, size, bytes(32), bytes(BLOCK))) + ciphertext_size(size)


def _prefix(certificate_der: bytes, size: int, key: bytes, iv: bytes) -> bytes:
    certificate = x509.load_der_x509_certificate(certificate_der)
    public_key = certificate.public_key()
    if not isinstance(public_key, rsa.RSAPublicKey):
        raise ValueError("only RSA certificates can receive encrypted documents")
    parsed = asn1_x509.Certificate.load(certificate_der)
    recipient = cms.RecipientInfo({"ktri": cms.KeyTransRecipientInfo({
        "version": "v0",
        "rid": cms.RecipientIdentifier({"issuer_and_serial_number": {
            "issuer": parsed.issuer, "serial_number": parsed.serial_number}}),
        "key_encryption_algorithm": {"algorithm": "rsaes_pkcs1v15"},
        "encrypted_key": public_key.encrypt(key, padding.PKCS1v15()),
    })})
    # asn1crypto is untyped: its encodings are bytes.
    version: bytes = core.Integer(0).dump()
    recipients: bytes = cms.RecipientInfos([recipient]).dump()
    content_type: bytes = cms.ContentType("data").dump()
    algorithm: bytes = algos.EncryptionAlgorithm({
        "algorithm": "aes256_cbc", "parameters": core.OctetString(iv)}).dump()
    encrypted_length = ciphertext_size(size)
    encrypted_header = _header(0x80, encrypted_length)  # [0] IMPLICIT OCTET STRING
    content_info_body = content_type + algorithm + encrypted_header
    encrypted_content_info = _header(0x30, len(content_info_body) + encrypted_length) \
        + content_info_body
    enveloped_length = len(version) + len(recipients) + len(encrypted_content_info) \
        + encrypted_length
    enveloped = _header(0x30, enveloped_length) + version + recipients + encrypted_content_info
    outer_type: bytes = cms.ContentType("enveloped_data").dump()
    explicit = _header(0xA0, len(enveloped) + encrypted_length)  # [0] EXPLICIT
    body_length = len(outer_type) + len(explicit) + len(enveloped) + encrypted_length
    return _header(0x30, body_length) + outer_type + explicit + enveloped


def envelope(
    chunks: Iterable[bytes], size: int, certificate_der: bytes,
    write: Callable[[bytes], None],
) -> None:
    """Write the EnvelopedData of the ``size`` bytes that ``chunks`` yields, for the holder of
    ``certificate_der``. Blocking: run it in a worker thread."""
    key, iv = os.urandom(32), os.urandom(BLOCK)
    write(_prefix(certificate_der, size, key, iv))
    encryptor = Cipher(algorithms.AES256(key), modes.CBC(iv)).encryptor()
    padder = symmetric_padding.PKCS7(BLOCK * 8).padder()
    seen = 0
    for chunk in chunks:
        seen += len(chunk)
        write(encryptor.update(padder.update(chunk)))
    if seen != size:
        raise ValueError(f"expected {size} bytes of content, read {seen}")
    write(encryptor.update(padder.finalize()) + encryptor.finalize())


class CmsEncryptor:
    """The Encryptor port."""

    def enveloped_size(self, size: int, certificate_der: bytes) -> int:
        return enveloped_size(size, certificate_der)

    def envelope(self, chunks: Iterable[bytes], size: int, certificate_der: bytes,
                 write: Callable[[bytes], None]) -> None:
        envelope(chunks, size, certificate_der, write)
