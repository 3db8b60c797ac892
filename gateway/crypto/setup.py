"""Which gateway keys a configuration means: created in development, named in production."""

from __future__ import annotations

from datetime import datetime

from gateway.config import Settings
from gateway.crypto.keys import GatewayKeys, KeySource, ensure_keys, load_keys


def gateway_keys(settings: Settings, *, now: datetime | None = None) -> GatewayKeys:
    """Keys created in development are valid from ``now`` (the gateway's clock)."""
    if settings.environment != "production":
        keys, _ = ensure_keys(settings.key_directory, now=now,
                              algorithm=settings.key_algorithm,
                              tsa_algorithm=settings.tsa_key_algorithm)
        return keys
    assert settings.ca_cert_file is not None  # Settings refuses production without it
    password = settings.key_password.get_secret_value().encode() if settings.key_password \
        else None
    return load_keys(
        settings.ca_cert_file,
        KeySource(settings.signing_p12_file, settings.signing_key_file,
                  settings.signing_cert_file),
        KeySource(settings.tsa_p12_file, settings.tsa_key_file, settings.tsa_cert_file),
        KeySource(settings.avdh_p12_file, settings.avdh_key_file, settings.avdh_cert_file),
        password,
    )
