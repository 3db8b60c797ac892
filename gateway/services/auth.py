"""Authentication of parties by username and password (REST Basic, SOAP UsernameToken, the
web login), and the one throttling rule every door applies to it.

The rule, per username *and* client address: after ``ATTEMPTS`` failures of one username from
one address, each within ``WINDOW`` of the last, that address is refused for that username
(``TooManyAttempts``) for ``WINDOW`` after the last failure, on the gateway's clock. An unknown
username is treated exactly the same, so the answers never tell which usernames exist. A
username is never refused from everywhere: the right password from another address still
logs in; past ``SLOW_AFTER`` failures of one username within ``WINDOW`` from every address
together, each attempt for it waits (``slow_down``), at most ``MAX_DELAY`` seconds.

The failures live in the database, so several hosts (or workers) share one count and an
attacker cannot multiply attempts by spreading them. A success writes nothing (unless the
address had failures to forget) and, while this process's own memory says the pair had none
in the last ``lookup_ttl`` seconds, reads nothing either.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import math
import secrets
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import TypeVar

from gateway.crypto.passwords import verify_password
from gateway.domain.limits import has_nul
from gateway.domain.parties import Party
from gateway.errors import TooManyAttempts, Unauthorized
from gateway.services.ports.slices import AuthPorts

ATTEMPTS = 5
WINDOW = timedelta(minutes=15)
SLOW_AFTER = 50
DELAY_STEP = 0.1  # seconds per failure past SLOW_AFTER
MAX_DELAY = 2.0
# The database's columns; a longer value (no party's username is) is cut, a NUL (which
# PostgreSQL cannot store) replaced: neither names a party, so conflating them costs nothing.
_KEY_LENGTH = 64
K = TypeVar("K")
V = TypeVar("V")


def refused_until(latest: list[datetime]) -> datetime | None:
    """When a refusal ends, given a username's latest failures from one address (newest
    first); None: not refused. The ``ATTEMPTS``-th failure within ``WINDOW`` starts one."""
    if len(latest) < ATTEMPTS or latest[0] - latest[ATTEMPTS - 1] >= WINDOW:
        return None
    return latest[0] + WINDOW


def slow_down(failures_everywhere: int) -> float:
    """Seconds every attempt for a username waits, given its failures from every address
    within ``WINDOW``: nothing up to ``SLOW_AFTER``, then growing, at most ``MAX_DELAY``."""
    if failures_everywhere <= SLOW_AFTER:
        return 0.0
    return min(MAX_DELAY, DELAY_STEP * (failures_everywhere - SLOW_AFTER))


def _key(username: str, address: str) -> tuple[str, str]:
    return (username.replace("\x00", "\ufffd")[:_KEY_LENGTH],
            address.replace("\x00", "\ufffd")[:_KEY_LENGTH])


class LoginThrottle:
    """What this process last saw of a (username, address) pair's failures: spares the
    database a read per request. A pair whose database read showed no failures is clear for
    ``clear_ttl`` seconds (another host's failures are seen within that long; this process's
    own at once); a refused pair is refused until its end without asking again."""

    def __init__(self, max_entries: int, clear_ttl: float) -> None:
        self._max_entries = max_entries
        self._clear_ttl = clear_ttl
        self._clear: dict[tuple[str, str], float] = {}
        self._refused: dict[tuple[str, str], datetime] = {}

    def refused(self, username: str, address: str, now: datetime) -> datetime | None:
        """The end of this pair's refusal as this process knows it, or None."""
        key = _key(username, address)
        until = self._refused.get(key)
        if until is not None and until <= now:
            del self._refused[key]
            return None
        return until

    def is_clear(self, key: tuple[str, str]) -> bool:
        expires = self._clear.get(key)
        return expires is not None and expires > time.monotonic()

    def note(self, key: tuple[str, str], *, refused: datetime | None) -> None:
        if refused is not None:
            _bounded_put(self._refused, key, refused, self._max_entries)
        else:
            _bounded_put(self._clear, key, time.monotonic() + self._clear_ttl,
                         self._max_entries)

    def forget(self, key: tuple[str, str]) -> None:
        self._clear.pop(key, None)


def _bounded_put(entries: dict[K, V], key: K, value: V, max_entries: int) -> None:
    if key not in entries and len(entries) >= max_entries:
        entries.pop(next(iter(entries)))  # the oldest: dicts keep insertion order
    entries[key] = value


def too_many(until: datetime, now: datetime) -> TooManyAttempts:
    seconds = max(1, math.ceil((until - now).total_seconds()))
    return TooManyAttempts(
        f"too many failed logins for this username from this address; retry in {seconds} "
        f"seconds (after {until.isoformat(timespec='seconds')})", retry_after=seconds)


class CredentialCache:
    """Credentials this process has verified, kept as keyed MACs, never as passwords.

    argon2 is meant to cost ~50 ms of CPU per check; at hundreds of requests a second from
    one DMS that would be the whole machine. A hit is valid only while the party's stored
    hash is unchanged, so a password change invalidates it. Concurrent first requests with the
    same credentials share one verification (single flight).
    """

    def __init__(self, max_entries: int = 10_000, lookup_ttl: float = 5.0) -> None:
        self.throttle = LoginThrottle(max_entries, lookup_ttl)
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
        _bounded_put(self._lookups, username,
                     (time.monotonic() + self._lookup_ttl, party, stored_hash), self._max_entries)

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
            _bounded_put(self._verified, username, (stored_hash, mac), self._max_entries)
        return ok


async def authenticate(
    ports: AuthPorts, cache: CredentialCache, username: str, password: str, *, address: str,
    accept: Callable[[Party], bool] | None = None,
) -> Party:
    """The party whose credentials these are, asked from client ``address``; raises
    Unauthorized otherwise (also for a party ``accept`` refuses, such as an organisation on
    the web login), and TooManyAttempts while this address is refused for this username (the
    module's rule) — then before any argon2 work or database write.

    An unknown username costs the same argon2 work as a wrong password, so the answer's timing
    does not tell which usernames exist. Every Unauthorized counts as a failure.
    """
    had_failures = await _admit(ports, cache.throttle, username, address)
    try:
        party = await _verify(ports, cache, username, password)
        if accept is not None and not accept(party):
            raise Unauthorized("wrong username or password")
    except Unauthorized:
        await _record_failure(ports, cache.throttle, username, address)
        raise
    if had_failures:  # a success forgets this address's failures; otherwise writes nothing
        async with ports.write_uow() as uow:
            await uow.login_failures.clear(*_key(username, address))
            await uow.commit()
    return party


async def _record_failure(ports: AuthPorts, throttle: LoginThrottle, username: str,
                          address: str) -> None:
    key = _key(username, address)
    throttle.forget(key)
    now = ports.clock.now()
    async with ports.write_uow() as uow:
        await uow.login_failures.add(*key, now, forget_before=now - 2 * WINDOW)
        await uow.commit()


async def _admit(ports: AuthPorts, throttle: LoginThrottle, username: str, address: str) -> bool:
    """Refuse a throttled pair, slow a username under attack; True: the pair has failures."""
    now = ports.clock.now()
    until = throttle.refused(username, address, now)
    if until is not None:
        raise too_many(until, now)
    key = _key(username, address)
    if throttle.is_clear(key):
        return False
    async with ports.uow() as uow:
        latest = await uow.login_failures.latest(*key, now - 2 * WINDOW, ATTEMPTS)
        everywhere = await uow.login_failures.count_since(key[0], now - WINDOW)
    until = refused_until(latest)
    if until is not None and until > now:
        throttle.note(key, refused=until)
        raise too_many(until, now)
    if not latest and everywhere <= SLOW_AFTER:
        throttle.note(key, refused=None)
    delay = slow_down(everywhere)
    if delay:
        await asyncio.sleep(delay)
    return bool(latest)


async def _verify(ports: AuthPorts, cache: CredentialCache, username: str, password: str) -> Party:
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
