"""The gateway's keys: created for development, loaded from named files in production."""

from __future__ import annotations

from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import ExtendedKeyUsageOID
from pydantic import ValidationError

from gateway.config import Settings
from gateway.crypto.keys import FILES, ensure_keys
from gateway.crypto.setup import gateway_keys


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


def test_production_refuses_to_start_without_keys() -> None:
    with pytest.raises(ValidationError) as refused:
        Settings(environment="production")
    message = str(refused.value)
    assert "KAPU_CA_CERT_FILE" in message and "KAPU_SIGNING_P12_FILE" in message
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
    settings = Settings(
        environment="production", ca_cert_file=keys_dir / "ca.pem",
        signing_key_file=tmp_path / "signing.key.pem", signing_cert_file=keys_dir / "signing.pem",
        tsa_p12_file=tmp_path / "tsa.p12", key_password="titok", data_dir=tmp_path / "data",
    )
    loaded = gateway_keys(settings)
    assert loaded.tsa_cert == source.tsa_cert
    assert loaded.signing_cert == source.signing_cert
    assert not (tmp_path / "data" / "keys").exists()  # nothing was generated


def test_tsa_certificate_without_time_stamping_usage_is_refused(
    tmp_path: Path, keys_dir: Path
) -> None:
    settings = Settings(
        environment="production", ca_cert_file=keys_dir / "ca.pem",
        signing_key_file=keys_dir / "signing.key.pem", signing_cert_file=keys_dir / "signing.pem",
        tsa_key_file=keys_dir / "signing.key.pem", tsa_cert_file=keys_dir / "signing.pem",
    )
    with pytest.raises(ValueError, match="timeStamping"):
        gateway_keys(settings)
