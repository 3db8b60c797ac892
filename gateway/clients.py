"""Who is asking: the client's address as the server saw it, shared by every door (logins are
throttled by it) and by admission (which refuses a throttled client before it takes a slot)."""

from __future__ import annotations

from starlette.types import Scope


def client_address(scope: Scope) -> str:
    """The client's address as the server saw it, what logins are throttled by. uvicorn puts
    X-Forwarded-For's address here only for the proxies in ``--forwarded-allow-ips`` (by
    default 127.0.0.1), so a client elsewhere cannot choose its own."""
    client = scope.get("client")
    return str(client[0]) if client else ""
