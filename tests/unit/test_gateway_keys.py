"""The gateway's keys: created for development, loaded from named files in production."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from pydantic import ValidationError

from gateway.config import Settings
from gateway.crypto.keys import FILES, ensure_keys
from gateway.crypto.setup import gateway_keys
from tests.conftest import TEST_EPOCH


def test_created_once_and_reused(tmp_path: Path) -> None:
    first, created = ensure_keys(tmp_path / "keys")
    assert created
    assert {p.name for p in (tmp_path / "keys").iterdir()} >= set(FILES)
    assert oct((tmp_path / "keys" / "signing.key.pem").stat().st_mode & 0o777) == "0o600"
    again, created_again = ensure_keys(tmp_path / "keys")
    assert not created_again
    assert again.ca_cert == first.ca_cert
    usage = first.tsa_cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage)
    assert usage.critical and list(usage.value) == [ExtendedKeyUsageOID.TIME_STAMPING]
    assert first.signing_cert.issuer == first.ca_cert.subject
    assert first.avdh_cert.issuer == first.ca_cert.subject
    assert first.avdh_cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value \
        == "Kapu AVDH seal"
    usage = first.avdh_cert.extensions.get_extension_for_class(x509.KeyUsage).value
    assert usage.digital_signature and usage.content_commitment and not usage.key_cert_sign
    assert oct((tmp_path / "keys" / "avdh.key.pem").stat().st_mode & 0o777) == "0o600"
    # Receipts are RSA-SHA256 (the contract); a timestamp's key type is free, and ECDSA signs
    # a token for every upload at a tenth of RSA's cost.
    assert isinstance(first.signing_key, rsa.RSAPrivateKey)
    assert first.signing_key.key_size == 2048
    assert isinstance(first.avdh_key, rsa.RSAPrivateKey)
    assert isinstance(first.tsa_key, ec.EllipticCurvePrivateKey)
    assert first.tsa_key.curve.name == "secp256r1"


@pytest.mark.parametrize(("key_algorithm", "tsa_key_algorithm"),
                         [("rsa", "rsa"), ("ecdsa", "ecdsa"), ("ecdsa", "rsa")])
def test_development_keys_are_of_the_algorithms_settings_name(
    tmp_path: Path, key_algorithm: str, tsa_key_algorithm: str
) -> None:
    settings = Settings(data_dir=tmp_path / "data", key_algorithm=key_algorithm,
                        tsa_key_algorithm=tsa_key_algorithm)
    made = gateway_keys(settings, now=TEST_EPOCH)
    kinds = {"rsa": rsa.RSAPrivateKey, "ecdsa": ec.EllipticCurvePrivateKey}
    assert isinstance(made.signing_key, kinds[key_algorithm])
    assert isinstance(made.avdh_key, kinds[key_algorithm])
    assert isinstance(made.tsa_key, kinds[tsa_key_algorithm])
    # Keys already made stay as they are, whatever settings say later.
    later = gateway_keys(settings.model_copy(update={"tsa_key_algorithm": "ecdsa",
                                                     "key_algorithm": "ecdsa"}))
    assert later.tsa_cert == made.tsa_cert and later.signing_cert == made.signing_cert


def test_a_key_directory_from_before_the_avdh_seal_gets_one_from_its_own_ca(
    tmp_path: Path
) -> None:
    directory = tmp_path / "keys"
    old, _ = ensure_keys(directory, now=TEST_EPOCH)
    (directory / "avdh.pem").unlink()
    (directory / "avdh.key.pem").unlink()
    others = {name: (directory / name).read_bytes() for name in FILES
              if not name.startswith("avdh")}
    upgraded, created = ensure_keys(directory, now=TEST_EPOCH + timedelta(days=3))
    assert not created
    assert {name: (directory / name).read_bytes() for name in others} == others
    assert upgraded.ca_cert == old.ca_cert and upgraded.tsa_cert == old.tsa_cert
    assert upgraded.avdh_cert != old.avdh_cert
    assert upgraded.avdh_cert.issuer == old.ca_cert.subject
    assert upgraded.avdh_cert.not_valid_before_utc == \
        TEST_EPOCH + timedelta(days=3) - timedelta(minutes=5)
    upgraded.avdh_cert.verify_directly_issued_by(old.ca_cert)
    assert oct((directory / "avdh.key.pem").stat().st_mode & 0o777) == "0o600"


def test_production_refuses_to_start_without_keys() -> None:
    with pytest.raises(ValidationError) as refused:
        Settings(environment="production")
    message = str(refused.value)
    assert "KAPU_CA_CERT_FILE" in message and "KAPU_SIGNING_P12_FILE" in message
    assert "KAPU_AVDH_P12_FILE" in message
    with pytest.raises(ValidationError, match="KAPU_ACCEPTANCE_EVIDENCE"):
        Settings(environment="production", acceptance_evidence=False)


def test_production_loads_pem_and_pkcs12(tmp_path: Path, keys_dir: Path) -> None:
    source, _ = ensure_keys(keys_dir)
    bundle = pkcs12.serialize_key_and_certificates(
        b"tsa", source.tsa_key, source.tsa_cert, None,
        serialization.BestAvailableEncryption(b"titok"))
    (tmp_path / "tsa.p12").write_bytes(bundle)
    signing_key = source.signing_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(b"titok"))
    (tmp_path / "signing.key.pem").write_bytes(signing_key)
    (tmp_path / "avdh.key.pem").write_bytes(source.avdh_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(b"titok")))
    settings = Settings(
        environment="production", ca_cert_file=keys_dir / "ca.pem",
        signing_key_file=tmp_path / "signing.key.pem", signing_cert_file=keys_dir / "signing.pem",
        tsa_p12_file=tmp_path / "tsa.p12", key_password="titok", data_dir=tmp_path / "data",
        avdh_key_file=tmp_path / "avdh.key.pem", avdh_cert_file=keys_dir / "avdh.pem",
    )
    loaded = gateway_keys(settings)
    assert loaded.tsa_cert == source.tsa_cert
    assert loaded.avdh_cert == source.avdh_cert
    assert loaded.signing_cert == source.signing_cert
    assert not (tmp_path / "data" / "keys").exists()  # nothing was generated


def test_tsa_certificate_without_time_stamping_usage_is_refused(
    tmp_path: Path, keys_dir: Path
) -> None:
    settings = Settings(
        environment="production", ca_cert_file=keys_dir / "ca.pem",
        signing_key_file=keys_dir / "signing.key.pem", signing_cert_file=keys_dir / "signing.pem",
        tsa_key_file=keys_dir / "signing.key.pem", tsa_cert_file=keys_dir / "signing.pem",
        avdh_key_file=keys_dir / "avdh.key.pem", avdh_cert_file=keys_dir / "avdh.pem",
    )
    with pytest.raises(ValueError, match="timeStamping"):
        gateway_keys(settings)


def test_production_without_the_avdh_seal_refuses_to_start_naming_it(keys_dir: Path) -> None:
    with pytest.raises(ValidationError) as refused:
        Settings(environment="production", ca_cert_file=keys_dir / "ca.pem",
                 signing_key_file=keys_dir / "signing.key.pem",
                 signing_cert_file=keys_dir / "signing.pem",
                 tsa_key_file=keys_dir / "tsa.key.pem", tsa_cert_file=keys_dir / "tsa.pem")
    message = str(refused.value)
    assert "KAPU_AVDH_P12_FILE or KAPU_AVDH_KEY_FILE + KAPU_AVDH_CERT_FILE" in message
    assert "KAPU_SIGNING" not in message and "KAPU_TSA" not in message
