"""The webhook POSTs: an httpx client that connects to public addresses only.

Hand-written on httpcore's documented extension point (a network backend) rather than a
library: the check must hold where the socket is opened, on the address actually connected,
and the few SSRF wrappers for httpx are young and rewrite the request's URL instead. The
backend resolves the host once, refuses it if any address is inside
(``services/webhook_addresses.py``), connects to the checked address itself (so a second,
different resolution cannot slip in: DNS rebinding), and checks the peer of the connection it
got. TLS still verifies the certificate for the URL's host name (httpcore passes it as SNI).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable

import httpcore
import httpx

from gateway.services.webhook_addresses import (
    ForbiddenAddress,
    IPAddress,
    is_forbidden,
    public_addresses,
    without_zone,
)

SocketOption = (tuple[int, int, int] | tuple[int, int, bytes | bytearray]
                | tuple[int, int, None, int])


def _nothing_forbidden(_address: IPAddress) -> bool:
    return False


class CheckedBackend(httpcore.AsyncNetworkBackend):
    """Opens TCP connections to addresses that are not ``forbidden`` only (see the module's
    docstring); with ``KAPU_WEBHOOK_ALLOW_PRIVATE`` nothing is, and the same path runs."""

    def __init__(self, forbidden: Callable[[IPAddress], bool]) -> None:
        self._inner = httpcore.AnyIOBackend()
        self._forbidden = forbidden

    # The signatures are httpcore's (its timeout parameters included).
    async def connect_tcp(self, host: str, port: int,
                          timeout: float | None = None,  # noqa: ASYNC109
                          local_address: str | None = None,
                          socket_options: Iterable[SocketOption] | None = None,
                          ) -> httpcore.AsyncNetworkStream:
        try:
            addresses = await public_addresses(host, port, self._forbidden)
        except ForbiddenAddress as exc:
            raise httpcore.ConnectError(f"refused: {exc}") from exc
        except (OSError, UnicodeError) as exc:
            raise httpcore.ConnectError(f"{host} does not resolve: {exc}") from exc
        failure: httpcore.ConnectError | httpcore.ConnectTimeout | None = None
        for address in addresses:
            try:
                stream = await self._inner.connect_tcp(address, port, timeout, local_address,
                                                       socket_options)
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                failure = exc
                continue
            peer = stream.get_extra_info("server_addr")
            if peer is None or self._forbidden(without_zone(str(peer[0]))):
                await stream.aclose()
                raise httpcore.ConnectError(f"refused: {host} connected to {peer}")
            return stream
        assert failure is not None  # public_addresses never returns an empty list
        raise failure

    async def connect_unix_socket(self, path: str,
                                  timeout: float | None = None,  # noqa: ASYNC109
                                  socket_options: Iterable[SocketOption] | None = None,
                                  ) -> httpcore.AsyncNetworkStream:
        raise httpcore.ConnectError("webhooks never use a Unix socket")

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


def _checked_transport(forbidden: Callable[[IPAddress], bool]) -> httpx.AsyncHTTPTransport:
    transport = httpx.AsyncHTTPTransport()
    # httpx's transport takes no network backend, so its pool is replaced by one that does
    # (the same settings as the default pool, without proxies: a proxy would connect for us).
    transport._pool = httpcore.AsyncConnectionPool(
        ssl_context=httpx.create_ssl_context(), max_connections=100,
        max_keepalive_connections=20, keepalive_expiry=5.0,
        network_backend=CheckedBackend(forbidden))
    return transport


class HttpxPoster:
    """Webhook deliveries as JSON POSTs; any non-2xx answer is a failure, and so is one that
    takes longer than ``timeout`` seconds in all (a slow trickle included). Only public
    addresses unless ``allow_private`` (development and tests)."""

    def __init__(self, timeout: float, *, allow_private: bool = False) -> None:
        self._timeout = timeout
        self._allow_private = allow_private
        # Made at the first delivery: its TLS context costs a few milliseconds to load, and
        # most processes deliver no webhook.
        self._client: httpx.AsyncClient | None = None

    async def post(self, url: str, body: dict[str, object]) -> None:
        if self._client is None:
            transport = _checked_transport(
                _nothing_forbidden if self._allow_private else is_forbidden)
            # trust_env off: no proxy from the environment, which would connect in our place.
            self._client = httpx.AsyncClient(timeout=self._timeout, follow_redirects=False,
                                             transport=transport, trust_env=False)
        async with asyncio.timeout(self._timeout):
            response = await self._client.post(url, json=body,
                                               headers={"User-Agent": "Kapu-webhook/1"})
        response.raise_for_status()

    async def close(self) -> None:
        if self._client is not None:
            await self._client.aclose()
