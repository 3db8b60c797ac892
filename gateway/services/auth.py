"""Authentication of parties by username and password (REST Basic, SOAP UsernameToken)."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import secrets
import time

from gateway.crypto.passwords import verify_password
from gateway.domain.limits import has_nul
from gateway.domain.parties import Party
from gateway.errors import Unauthorized
from gateway.services.ports import Ports


class CredentialCache:
    """Credentials this process has verified, kept as keyed MACs, never as passwords.

    argon2 is meant to cost ~50 ms of CPU per check; at hundreds of requests a second from
    one DMS that would be the whole machine. A hit is valid only while the party's stored
    hash is unchanged, so a password change invalidates it. Concurrent first requests with the
    same credentials share one verification (single flight).
    """

    def __init__(self, max_entries: int = 10_000, lookup_ttl: float = 5.0) -> None:
        self._key = secrets.token_bytes(32)
        self._lookup_ttl = lookup_ttl
        # username -> (expires at, party, stored hash): spares a database round trip per
        # request; a changed or removed party is seen within lookup_ttl seconds.
        self._lookups: dict[str, tuple[float, Party, str]] = {}
        self._max_entries = max_entries
        self._verified: dict[str, tuple[str, bytes]] = {}
        self._in_flight: dict[tuple[str, bytes], asyncio.Future[bool]] = {}

    def _mac(self, username: str, password: str) -> bytes:
        message = username.encode() + b"\x00" + password.encode()
        return hmac.new(self._key, message, hashlib.sha256).digest()

    def recall(self, username: str) -> tuple[Party, str] | None:
        entry = self._lookups.get(username)
        if entry is None or entry[0] < time.monotonic():
            return None
        return entry[1], entry[2]

    def remember(self, username: str, party: Party, stored_hash: str) -> None:
        if len(self._lookups) >= self._max_entries:
            self._lookups.pop(next(iter(self._lookups)))
        self._lookups[username] = (time.monotonic() + self._lookup_ttl, party, stored_hash)

    async def check(self, username: str, password: str, stored_hash: str) -> bool:
        mac = self._mac(username, password)
        known = self._verified.get(username)
        if known is not None and known[0] == stored_hash and hmac.compare_digest(known[1], mac):
            return True
        flight_key = (stored_hash, mac)
        pending = self._in_flight.get(flight_key)
        if pending is not None:
            return await asyncio.shield(pending)
        future: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self._in_flight[flight_key] = future
        try:
            ok = await asyncio.to_thread(verify_password, stored_hash, password)
            future.set_result(ok)
        except BaseException as exc:
            future.set_exception(exc)
            future.exception()  # mark retrieved: the raise below reports it
            raise
        finally:
            del self._in_flight[flight_key]
        if ok:
            if len(self._verified) >= self._max_entries:
                self._verified.pop(next(iter(self._verified)))
            self._verified[username] = (stored_hash, mac)
        return ok


async def authenticate(
    ports: Ports, cache: CredentialCache, username: str, password: str
) -> Party:
    """The party whose credentials these are; raises Unauthorized otherwise.

    An unknown username costs the same argon2 work as a wrong password, so the answer's timing
    does not tell which usernames exist.
    """
    found = cache.recall(username)
    fresh = found is None
    if found is None and not has_nul(username):  # a NUL names no party (nor can be queried)
        async with ports.uow() as uow:
            found = await uow.parties.credentials(username)
    if found is None:
        await asyncio.to_thread(verify_password, None, password)
        raise Unauthorized("wrong username or password")
    party, stored_hash = found
    if not await cache.check(username, password, stored_hash):
        raise Unauthorized("wrong username or password")
    if fresh:  # only a fresh read restarts the clock, or steady traffic would never re-read
        cache.remember(username, party, stored_hash)
    return party
