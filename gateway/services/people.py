"""Persons in the browser: logging in, sessions with an idle timeout.

A person is a citizen party: they log in as themselves, and work their own tárhely or the
mailboxes of the organisations where they hold a role (services/staff.py). The session token
lives only in the person's cookie; the database keeps its SHA-256, so a copy of the database
opens no session.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import timedelta

from gateway.domain.parties import Party, PartyKind
from gateway.services.auth import CredentialCache, authenticate
from gateway.services.ports.slices import PeoplePorts

# A session used within this long of its last use is kept fresh without a write per request.
_TOUCH_EVERY = timedelta(seconds=60)


@dataclass(frozen=True)
class PersonSession:
    token: str  # goes into the cookie; never stored
    person: Party


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


async def log_in(
    ports: PeoplePorts, cache: CredentialCache, username: str, password: str, *, address: str
) -> PersonSession:
    """A new session for the person with these credentials, asked from client ``address``.

    Every refusal is the same Unauthorized, whatever the reason: a wrong password, an unknown
    username, an organisation's machine account. Logins are throttled by the rule of every
    door (services/auth.py): TooManyAttempts while this address is refused for this username,
    whether or not the username exists."""
    # Organisations use the machine interface: their right password is a failure here.
    party = await authenticate(ports, cache, username, password, address=address,
                               accept=lambda found: found.kind is PartyKind.CITIZEN)
    token = secrets.token_urlsafe(32)
    now = ports.clock.now()
    async with ports.write_uow() as uow:
        await uow.web_sessions.add(_digest(token), party.id, now)
        await uow.commit()
    return PersonSession(token, party)


async def session_person(ports: PeoplePorts, token: str, idle: timedelta,
                         lifetime: timedelta) -> Party | None:
    """The person whose session this is, or None: unknown, logged out, idle longer than
    ``idle``, or made longer than ``lifetime`` ago however busy, on the gateway's clock (then
    the session is removed). The absolute bound limits what a stolen cookie is worth."""
    digest = _digest(token)
    now = ports.clock.now()
    async with ports.uow() as uow:
        found = await uow.web_sessions.find(digest)
    if found is None:
        return None
    person, created, last_seen = found
    if now - last_seen > idle or now - created > lifetime:
        await log_out(ports, token)
        return None
    if now - last_seen > _TOUCH_EVERY:
        async with ports.write_uow() as uow:
            await uow.web_sessions.touch(digest, now)
            await uow.commit()
    return person


async def log_out(ports: PeoplePorts, token: str) -> None:
    """End the session; the cookie's token opens nothing afterwards."""
    async with ports.write_uow() as uow:
        await uow.web_sessions.remove(_digest(token))
        await uow.commit()
