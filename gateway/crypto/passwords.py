"""Password hashing with argon2id (argon2-cffi's RFC 9106 low-memory profile).

A verification costs tens of milliseconds of CPU by design, so callers run it in a worker
thread and cache what they verified (see services/auth.py).
"""

from __future__ import annotations

import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

_hasher = PasswordHasher()
# Verified against when a username is unknown, so that answer takes as long as a wrong password.
_DUMMY_HASH = _hasher.hash(secrets.token_urlsafe(16))


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(stored_hash: str | None, password: str) -> bool:
    """True when ``password`` matches; with ``stored_hash=None`` spends the same time, False."""
    try:
        ok = _hasher.verify(stored_hash or _DUMMY_HASH, password)
    except (VerificationError, InvalidHashError):
        return False
    return bool(ok) and stored_hash is not None


def new_password() -> str:
    """A generated password: 144 random bits, URL-safe so it pastes into curl -u."""
    return secrets.token_urlsafe(18)
