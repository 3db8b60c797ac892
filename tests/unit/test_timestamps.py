"""The framed TimeStampToken is, byte for byte, the token asn1crypto builds from the same
values (RSA PKCS#1 v1.5 signatures are deterministic: the frame is signed by xmlsec, the
reference by cryptography), and parses back with every value. With an ECDSA key (the
default TSA key), whose signatures are random, every byte but the signature's is the same and
the signature verifies."""

from __future__ import annotations

import hashlib
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, timedelta
from pathlib import Path

import pytest
from asn1crypto import cms
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec

from gateway.crypto.keys import ensure_keys
from gateway.crypto.timestamps import ReleasingSigner, TimestampAuthority
from tests.conftest import TEST_EPOCH


@pytest.fixture(scope="module")
def authority(tmp_path_factory: pytest.TempPathFactory) -> TimestampAuthority:
    keys, _ = ensure_keys(Path(tmp_path_factory.mktemp("keys")), now=TEST_EPOCH,
                          tsa_algorithm="rsa")
    return TimestampAuthority(keys.tsa_key, keys.tsa_cert)


@pytest.mark.parametrize("microseconds", [0, 1, 120_000, 999_999])
@pytest.mark.parametrize("serial_number", [1, 2**63, 2**126 + 12345, 2**127 - 1])
def test_framed_token_is_the_asn1crypto_token(authority: TimestampAuthority,
                                              microseconds: int, serial_number: int) -> None:
    at = (TEST_EPOCH + timedelta(hours=3)).replace(microsecond=microseconds)
    digest = hashlib.sha256(str((microseconds, serial_number)).encode()).hexdigest()
    assert authority.framed(digest, serial_number, at) == \
        authority.built_with_asn1crypto(digest, serial_number, at)


def test_a_token_parses_back_with_its_values(authority: TimestampAuthority) -> None:
    at = TEST_EPOCH.replace(microsecond=250_000)
    digest = hashlib.sha256(b"dokumentum").hexdigest()
    first, second = authority.timestamp(digest, at), authority.timestamp(digest, at)
    info = cms.ContentInfo.load(first)["content"]["encap_content_info"]["content"].parsed
    assert info["message_imprint"]["hashed_message"].native.hex() == digest
    assert info["gen_time"].native == at.astimezone(UTC)
    other = cms.ContentInfo.load(second)["content"]["encap_content_info"]["content"].parsed
    assert info["serial_number"].native != other["serial_number"].native


def test_tokens_made_in_threads_at_once_are_each_the_asn1crypto_token(
        authority: TimestampAuthority) -> None:
    """Uploads timestamp in worker threads (RSA signing lets go of the GIL there): tokens made
    by eight threads at once are each, byte for byte, the one made alone."""
    at = TEST_EPOCH + timedelta(minutes=7)
    cases = [(hashlib.sha256(str(i).encode()).hexdigest(), 2**100 + i) for i in range(64)]
    with ThreadPoolExecutor(max_workers=8) as pool:
        tokens = list(pool.map(lambda case: authority.framed(case[0], case[1], at), cases))
    assert tokens == [authority.built_with_asn1crypto(digest, serial, at)
                      for digest, serial in cases]


def test_a_token_signed_holding_the_gil_is_the_same_token(
        tmp_path_factory: pytest.TempPathFactory) -> None:
    """The signing child signs with ``cryptography`` directly (``release_gil=False``): the
    same bytes as the xmlsec signature the server's threads make."""
    keys, _ = ensure_keys(Path(tmp_path_factory.mktemp("keys")), now=TEST_EPOCH,
                          tsa_algorithm="rsa")
    releasing = TimestampAuthority(keys.tsa_key, keys.tsa_cert)
    holding = TimestampAuthority(keys.tsa_key, keys.tsa_cert, release_gil=False)
    assert isinstance(releasing._sign, ReleasingSigner)
    assert not isinstance(holding._sign, ReleasingSigner)
    at = TEST_EPOCH + timedelta(minutes=11, microseconds=5)
    digest = hashlib.sha256(b"gyermek folyamat").hexdigest()
    assert holding.framed(digest, 2**126 + 7, at) == releasing.framed(digest, 2**126 + 7, at) \
        == holding.built_with_asn1crypto(digest, 2**126 + 7, at)


@pytest.mark.parametrize("release_gil", [True, False])
def test_an_ecdsa_token_is_the_asn1crypto_token_but_for_its_verifying_signature(
        tmp_path_factory: pytest.TempPathFactory, release_gil: bool) -> None:
    keys, _ = ensure_keys(Path(tmp_path_factory.mktemp("keys")), now=TEST_EPOCH)
    assert isinstance(keys.tsa_key, ec.EllipticCurvePrivateKey)  # the default TSA key
    authority = TimestampAuthority(keys.tsa_key, keys.tsa_cert, release_gil=release_gil)
    at = TEST_EPOCH + timedelta(minutes=3, microseconds=40)
    digest = hashlib.sha256(b"ecdsa").hexdigest()
    framed = cms.ContentInfo.load(authority.framed(digest, 2**126 + 3, at))
    built = cms.ContentInfo.load(authority.built_with_asn1crypto(digest, 2**126 + 3, at))
    signatures = []
    for token in (framed, built):
        signer = token["content"]["signer_infos"][0]
        assert signer["signature_algorithm"]["algorithm"].native == "sha256_ecdsa"
        signatures.append(signer["signature"].native)
        # What is signed: the attributes as a SET (carried as [0] IMPLICIT).
        keys.tsa_key.public_key().verify(
            signer["signature"].native, b"\x31" + signer["signed_attrs"].dump()[1:],
            ec.ECDSA(hashes.SHA256()))
        signer["signature"] = b""
    assert signatures[0] != signatures[1]  # random k: no two ECDSA signatures alike
    assert framed.dump(force=True) == built.dump(force=True)
