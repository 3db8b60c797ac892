"""Password hashing with argon2id (argon2-cffi's RFC 9106 low-memory profile).

A verification costs tens of milliseconds of CPU by design, so callers run it in a worker
thread and cache what they verified (see services/auth.py).
"""

from __future__ import annotations

import secrets

from argon2 import Parameters, PasswordHasher, profiles
from argon2.exceptions import InvalidHashError, VerificationError

_hasher = PasswordHasher.from_parameters(profiles.RFC_9106_LOW_MEMORY)
# Verified against when a username is unknown, so that answer takes as long as a wrong password
# (made at first use: every command-line process would otherwise spend 150 ms on it).
_DUMMY_HASH: str | None = None


def _dummy_hash() -> str:
    global _DUMMY_HASH
    if _DUMMY_HASH is None:
        _DUMMY_HASH = _hasher.hash(secrets.token_urlsafe(16))
    return _DUMMY_HASH


def use_parameters(parameters: Parameters) -> None:
    """Hash new passwords with other argon2 parameters. The test suite alone uses it, with
    argon2-cffi's own ``profiles.CHEAPEST`` (its hundreds of parties would otherwise spend
    minutes in argon2); stored hashes carry their parameters and verify either way."""
    global _hasher, _DUMMY_HASH
    _hasher = PasswordHasher.from_parameters(parameters)
    _DUMMY_HASH = None


def hash_password(password: str) -> str:
    return _hasher.hash(password)


_PUBLISHED = PasswordHasher.from_parameters(profiles.CHEAPEST)


def hash_published_password(password: str) -> str:
    """A password published on purpose (the demo parties', in the README): hashed with
    argon2-cffi's cheapest parameters, since a costly hash of it keeps nothing from anyone.
    Every ``kapu serve --demo`` on a new database hashes five, and each server process
    verifies those it is asked for: 0.26 s of CPU each at the usual parameters here."""
    return _PUBLISHED.hash(password)


def verify_password(stored_hash: str | None, password: str) -> bool:
    """True when ``password`` matches; with ``stored_hash=None`` spends the same time, False."""
    try:
        ok = _hasher.verify(stored_hash or _dummy_hash(), password)
    except (VerificationError, InvalidHashError):
        return False
    return bool(ok) and stored_hash is not None


def new_password() -> str:
    """A generated password: 144 random bits, URL-safe so it pastes into curl -u."""
    return secrets.token_urlsafe(18)
