"""Which addresses a webhook may reach, in every notation the C library accepts."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from gateway.config import Settings
from gateway.services.webhook_addresses import is_forbidden, literal_address

INSIDE = [
    "127.0.0.1", "127.1", "0x7f000001", "2130706433", "0177.0.0.1", "0x7f.0.0.1", "127.0.0.1.",
    "0.0.0.0", "0", "10.1.2.3", "172.16.0.1", "192.168.1.1", "169.254.169.254", "100.64.0.1",
    "224.0.0.1", "239.255.255.250", "255.255.255.255", "240.0.0.1", "198.18.0.1",
    "::1", "::", "fe80::1", "fc00::1", "fd12:3456::1", "ff02::1",
    "::ffff:127.0.0.1", "::ffff:7f00:1", "::ffff:169.254.169.254", "::ffff:10.0.0.1",
    "2002:7f00:1::", "64:ff9b::7f00:1", "64:ff9b::a9fe:a9fe",
]
OUTSIDE = ["93.184.215.14", "1.1.1.1", "8.8.8.8", "2606:4700:4700::1111", "::ffff:8.8.8.8"]


@pytest.mark.parametrize("host", INSIDE)
def test_inside_addresses_are_forbidden_in_any_notation(host: str) -> None:
    address = literal_address(host)
    assert address is not None, host
    assert is_forbidden(address), host


@pytest.mark.parametrize("host", OUTSIDE)
def test_public_addresses_are_allowed(host: str) -> None:
    address = literal_address(host)
    assert address is not None and not is_forbidden(address), host


@pytest.mark.parametrize("host", ["localhost", "example.hu", "kapu-hook.example"])
def test_names_are_no_literal_addresses(host: str) -> None:
    assert literal_address(host) is None


def test_production_refuses_private_webhooks() -> None:
    with pytest.raises(ValidationError, match="KAPU_WEBHOOK_ALLOW_PRIVATE"):
        Settings(environment="production", webhook_allow_private=True)
