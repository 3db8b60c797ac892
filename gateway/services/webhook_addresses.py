"""Where a webhook may point: public addresses only (server-side request forgery).

A party chooses its webhook URL and the gateway POSTs to it, so without this check any party
could make the gateway reach inside its own network: the loopback (the database on
``[::1]:5432``), the cloud metadata service (``169.254.169.254``), private networks. Every host
is judged by the addresses it stands for, however written: ``0x7f000001``, ``127.1``,
``2130706433`` and ``0177.0.0.1`` are all 127.0.0.1 to the C library that connects, and
``::ffff:127.0.0.1`` is 127.0.0.1 too. The URL is checked when it is set, and the addresses are
checked again when connecting (``gateway/webhook_client.py``), since a name may resolve
elsewhere later (DNS rebinding).
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Callable
from ipaddress import IPv4Address, IPv4Network, IPv6Address, ip_address
from urllib.parse import urlsplit

from gateway.domain.limits import MAX_WEBHOOK_URL, has_nul
from gateway.errors import InvalidRequest

# A name that takes longer than this to resolve when it is set is taken as it is; the
# connection checks it again anyway.
RESOLVE_SECONDS = 3.0
# NAT64 (RFC 6052): the gateway's router would carry these to the IPv4 address inside.
_NAT64 = IPv6Address("64:ff9b::").packed[:12]
_THIS_NETWORK = IPv4Network("0.0.0.0/8")

IPAddress = IPv4Address | IPv6Address


class ForbiddenAddress(Exception):
    """A webhook host that is, or resolves to, an address inside (loopback, private, …)."""


def is_forbidden(address: IPAddress) -> bool:
    """Whether a webhook may not reach ``address``: loopback, link-local, private, shared,
    unspecified, multicast or reserved, also as the IPv4 address inside an IPv6 one."""
    if isinstance(address, IPv6Address):
        if address.ipv4_mapped is not None:  # the IPv4 address itself, on a dual-stack socket
            return is_forbidden(address.ipv4_mapped)
        inner = address.sixtofour
        if inner is None and address.packed[:12] == _NAT64:
            inner = IPv4Address(address.packed[12:])
        if inner is not None and is_forbidden(inner):
            return True
    return (not address.is_global or address.is_multicast or address.is_reserved
            or address.is_private or address.is_loopback or address.is_link_local
            or address.is_unspecified or (isinstance(address, IPv4Address)
                                          and address in _THIS_NETWORK))


def literal_address(host: str) -> IPAddress | None:
    """``host`` as an IP address if it is one in any notation the C library accepts
    (``inet_aton``: hex, octal, decimal and short forms), else None (a name)."""
    bare = host.rstrip(".")  # "127.0.0.1." is the same address
    try:
        return ip_address(bare)
    except ValueError:
        pass
    try:
        return IPv4Address(socket.inet_aton(bare))
    except OSError:
        return None


async def resolve(host: str, port: int) -> list[str]:
    """Every address ``host`` stands for now (the connection's own resolution)."""
    found = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(sockaddr[0]) for *_, sockaddr in found))


def without_zone(address: str) -> IPAddress:
    """An address from getaddrinfo or a socket, which may carry its zone ("fe80::1%eth0")."""
    return ip_address(address.split("%", 1)[0])


async def public_addresses(host: str, port: int,
                           forbidden: Callable[[IPAddress], bool] = is_forbidden) -> list[str]:
    """Resolve ``host`` and return its addresses, none of them ``forbidden``; raises
    ``ForbiddenAddress`` if any is (a name pointing both out and in is refused)."""
    literal = literal_address(host)
    addresses = [str(literal)] if literal is not None else await resolve(host, port)
    for address in addresses:
        if forbidden(without_zone(address)):
            raise ForbiddenAddress(f"{host} is {address}, not a public address")
    return addresses


async def check_webhook_url(url: str, allow_private: bool) -> None:
    """Refuse (``InvalidRequest`` on ``url``) a webhook URL that is not plain http(s) to a
    public host: no user or password, no host that is or resolves to an address inside,
    unless ``allow_private`` (development and tests). A name that does not resolve now is
    accepted; every connection checks its addresses again."""
    if len(url) > MAX_WEBHOOK_URL or has_nul(url):
        raise InvalidRequest(f"the webhook URL must be at most {MAX_WEBHOOK_URL} "
                             "characters, none of them NUL", field="url")
    try:
        parts = urlsplit(url)
        hostname, port = parts.hostname, parts.port
    except ValueError as exc:  # "http://[x": an unclosed IPv6 address; a port out of range
        raise InvalidRequest(f"the webhook URL cannot be read: {exc}", field="url") from exc
    if parts.scheme not in ("http", "https") or not hostname:
        raise InvalidRequest("the webhook must be an http or https URL with a host",
                             field="url")
    if "@" in parts.netloc:
        raise InvalidRequest("the webhook URL may not hold a user or password", field="url")
    if allow_private:
        return
    try:
        async with asyncio.timeout(RESOLVE_SECONDS):
            await public_addresses(hostname, port or (443 if parts.scheme == "https" else 80))
    except ForbiddenAddress as exc:
        raise InvalidRequest(f"the webhook must reach a public address: {exc}",
                             field="url") from exc
    except (OSError, TimeoutError, UnicodeError):
        pass  # does not resolve now: checked again at every connection
