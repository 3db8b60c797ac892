"""Ports of parties and staff: their repositories, and the per-process cache of offices."""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from gateway.domain.parties import Party, PartyKind, StaffRole


@dataclass(frozen=True)
class NewParty:
    kind: PartyKind
    name: str
    username: str
    password_hash: str
    krid: str | None = None
    short_name: str | None = None
    mak_code: str | None = None
    code: str | None = None
    email: str | None = None


@dataclass(frozen=True)
class OfficeQuery:
    short_name: str | None = None
    name: str | None = None
    kind: PartyKind | None = None
    krid: str | None = None
    limit: int = 500


class PartyRepository(Protocol):
    async def add(self, new: NewParty) -> Party: ...
    async def credentials(self, username: str) -> tuple[Party, str] | None:
        """The party and its stored password hash."""
        ...
    async def by_krid(self, krid: str) -> Party | None: ...
    async def by_code(self, code: str) -> Party | None: ...
    async def by_username(self, username: str) -> Party | None: ...
    async def by_id(self, party_id: int) -> Party | None: ...
    async def set_webhook(self, party_id: int, url: str | None) -> None: ...
    async def set_email(self, party_id: int, email: str) -> None: ...
    async def system(self) -> Party:
        """The Központi Rendszer, sender of system messages."""
        ...
    async def taken(self, *, krid: str | None, short_name: str | None, username: str,
                    code: str | None = None) -> str | None:
        """The name of the first field whose value another party has (a kapcsolati kód also
        when it was given up once), else None."""
        ...
    async def swap_code(self, party_id: int, new_code: str, at: datetime) -> None:
        """Give the party ``new_code``; its old code is kept as retired."""
        ...
    async def offices(self, query: OfficeQuery) -> list[Party]: ...


@dataclass(frozen=True)
class StaffMember:
    person: Party
    role: StaffRole
    granted_at: datetime


class StaffRepository(Protocol):
    async def lock(self, organisation_id: int) -> None:
        """Hold the organisation's staff still until the transaction ends."""
        ...
    async def members(self, organisation_id: int) -> list[StaffMember]: ...
    async def role(self, organisation_id: int, person_id: int) -> StaffRole | None: ...
    async def set_role(self, organisation_id: int, person_id: int, role: StaffRole,
                       at: datetime) -> None: ...
    async def remove(self, organisation_id: int, person_id: int) -> None: ...
    async def offices_of(self, person_id: int) -> list[tuple[Party, StaffRole]]:
        """The organisations where the person holds a role, with the role."""
        ...


class OfficeCache:
    """Organisations by KRID, as this process last read them, for a few seconds: every upload
    looks its addressee up, and a KRID never changes hands. Only organisations are kept (a
    citizen's kapcsolati kód can be swapped, and must stop being an address at once), and an
    unknown KRID is never remembered (an office added a moment ago is found at once)."""

    def __init__(self, ttl_seconds: float = 5.0, max_entries: int = 10_000) -> None:
        self._ttl = ttl_seconds
        self._max_entries = max_entries
        self._entries: dict[str, tuple[float, Party]] = {}

    def get(self, krid: str) -> Party | None:
        entry = self._entries.get(krid)
        if entry is None or entry[0] < time.monotonic():
            return None
        return entry[1]

    def put(self, party: Party) -> None:
        if party.krid is None or not party.is_organisation:
            return
        if len(self._entries) >= self._max_entries:
            self._entries.pop(next(iter(self._entries)))
        self._entries[party.krid] = (time.monotonic() + self._ttl, party)


@dataclass(frozen=True)
class Topic:
    """One of an office's e-Papír topics (témacsoport, contract 24)."""

    code: str
    name: str


class TopicRepository(Protocol):
    async def of_office(self, party_id: int) -> list[Topic]:
        """The office's topics in the order its admin gave them; empty when none were set."""
        ...
    async def replace(self, party_id: int, topics: list[Topic]) -> None: ...
