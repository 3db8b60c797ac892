"""Dependencies shared by the routers: the wired ports, the authenticated party, and the
party a request acts for (``on_behalf_of``: an agent under a mandate, contract 25)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Query, Request
from fastapi.security import HTTPBasic, HTTPBasicCredentials

from gateway.clients import client_address
from gateway.domain.parties import Party
from gateway.domain.rny import Agency
from gateway.errors import NotFound, Unauthorized
from gateway.services import mandates
from gateway.services.auth import CredentialCache, authenticate
from gateway.services.ports import Ports

# The query parameter by which an agent acts for a principal (their kapcsolati kód).
ON_BEHALF_OF = "on_behalf_of"

_basic = HTTPBasic(auto_error=False, realm="kapu")


def get_ports(request: Request) -> Ports:
    ports: Ports = request.app.state.ports
    return ports


async def _ports_dependency(request: Request) -> Ports:
    # async: FastAPI runs a plain function dependency in a worker thread, a thread hop on
    # every request for an attribute read.
    return get_ports(request)


async def _authenticated(
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


async def current_party(
    request: Request, party: Annotated[Party, Depends(_authenticated)]
) -> Party:
    """The authenticated party, acting as itself. A request that asks to act for someone
    else (``on_behalf_of``) on a route that does not take it is answered 404, as for a
    principal the agent has no mandate from: an agent never reaches a principal's storage,
    address, keys or disposition, whatever route is added later."""
    if ON_BEHALF_OF in request.query_params:
        raise NotFound(f"{request.url.path} is not available on behalf of another party")
    return party


@dataclass(frozen=True)
class Acting:
    """Whose documents a request works with: ``party``, the authenticated party itself or,
    with ``on_behalf_of``, the principal an agent acts for under ``agency``."""

    party: Party
    agency: Agency | None = None

    @property
    def person(self) -> Party:
        """Who is acting: the agent, or the party itself."""
        return self.agency.agent if self.agency is not None else self.party


async def acting_party(
    request: Request, party: Annotated[Party, Depends(_authenticated)],
    on_behalf_of: Annotated[str | None, Query(
        description="an agent acts for the citizen with this kapcsolati kód, under a "
                    "mandate in force (404 without one)")] = None,
) -> Acting:
    """The party a request acts for: itself, or the principal named by ``on_behalf_of``
    under a mandate in force now (NotFound otherwise, as for a mailbox that does not
    exist)."""
    if on_behalf_of is None:
        return Acting(party)
    agency = await mandates.agency(get_ports(request), party, on_behalf_of)
    return Acting(agency.principal, agency)


PortsDep = Annotated[Ports, Depends(_ports_dependency)]
PartyDep = Annotated[Party, Depends(current_party)]
ActingDep = Annotated[Acting, Depends(acting_party)]
