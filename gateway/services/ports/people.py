"""Ports of a person's web sessions, one-time form keys and failed logins."""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from gateway.domain.parties import Party


class WebSessionRepository(Protocol):
    """Persons' browser sessions (by the SHA-256 of the cookie's token)."""

    async def add(self, token_sha256: str, person_id: int, at: datetime) -> None: ...
    async def find(self, token_sha256: str) -> tuple[Party, datetime, datetime] | None:
        """The session's person, when it was made and when it was last used."""
        ...
    async def touch(self, token_sha256: str, at: datetime) -> None: ...
    async def remove(self, token_sha256: str) -> None: ...


class FormSubmissionRepository(Protocol):
    """One-time keys of the web's forms, by person (services/forms.py)."""

    async def claim(self, person_id: int, form_key: str, at: datetime, *,
                    forget_before: datetime) -> tuple[bool, str | None]:
        """Claim the key: (True, None) when this call claimed it, else (False, the first
        POST's outcome, None while it is at work). The person's keys claimed before
        ``forget_before`` are dropped."""
        ...
    async def outcome(self, person_id: int, form_key: str) -> str | None: ...
    async def settle(self, person_id: int, form_key: str, outcome: str) -> None: ...
    async def release(self, person_id: int, form_key: str) -> None: ...


class LoginFailureRepository(Protocol):
    """Failed logins by username and client address (services/auth.py throttles by them)."""

    async def latest(self, username: str, address: str, since: datetime,
                     limit: int) -> list[datetime]:
        """When this username last failed from this address since ``since``, newest first."""
        ...
    async def count_since(self, username: str, since: datetime) -> int:
        """This username's failures from every address since ``since``."""
        ...
    async def add(self, username: str, address: str, at: datetime,
                  forget_before: datetime) -> None:
        """Record a failure; the username's failures before ``forget_before`` are dropped."""
        ...
    async def clear(self, username: str, address: str) -> None: ...
