"""Dependencies shared by the routers: the wired ports and the authenticated party."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPBasic, HTTPBasicCredentials

from gateway.clients import client_address
from gateway.domain.parties import Party
from gateway.errors import Unauthorized
from gateway.services.auth import CredentialCache, authenticate
from gateway.services.ports import Ports

_basic = HTTPBasic(auto_error=False, realm="kapu")


def get_ports(request: Request) -> Ports:
    ports: Ports = request.app.state.ports
    return ports


async def _ports_dependency(request: Request) -> Ports:
    # async: FastAPI runs a plain function dependency in a worker thread, a thread hop on
    # every request for an attribute read.
    return get_ports(request)


async def current_party(
    request: Request,
    credentials: Annotated[HTTPBasicCredentials | None, Depends(_basic)],
) -> Party:
    """The party named by HTTP Basic credentials; 401 problem otherwise, 429
    ``too_many_attempts`` while the client's address is throttled for that username."""
    if credentials is None:
        raise Unauthorized("HTTP Basic credentials are required")
    cache: CredentialCache = request.app.state.credential_cache
    party = await authenticate(get_ports(request), cache, credentials.username,
                               credentials.password, address=client_address(request.scope))
    request.state.party = party.username  # for the request log line
    return party


PortsDep = Annotated[Ports, Depends(_ports_dependency)]
PartyDep = Annotated[Party, Depends(current_party)]
