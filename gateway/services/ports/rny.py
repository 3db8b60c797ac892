"""Ports of the Rendelkezési Nyilvántartás (contract 25): dispositions and mandates."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from gateway.domain.rny import Disposition, Mandate, MandateScope, OfficialAddressKind


@dataclass(frozen=True)
class NewMandate:
    principal_id: int
    agent_id: int
    scope: MandateScope
    valid_from: datetime
    valid_until: datetime | None
    created_at: datetime


class DispositionRepository(Protocol):
    async def add(self, party_id: int, electronic_contact: bool,
                  official_address: OfficialAddressKind, at: datetime) -> None:
        """Record a declaration in force from ``at`` (nothing earlier is changed)."""
        ...
    async def at(self, party_id: int, at: datetime) -> Disposition | None:
        """The latest declaration in force at ``at`` (effective at or before it), or None
        when the party had declared nothing by then."""
        ...
    async def history(self, party_id: int) -> list[Disposition]:
        """Every declaration, newest first."""
        ...


class MandateRepository(Protocol):
    async def lock(self, principal_id: int) -> None:
        """Serialise changes to one principal's mandates (the principal's row lock), so two
        overlapping offers cannot both pass the conflict check."""
        ...
    async def add(self, new: NewMandate) -> Mandate: ...
    async def by_id(self, mandate_id: int) -> Mandate | None: ...
    async def of_principal(self, principal_id: int) -> list[Mandate]:
        """The principal's mandates, every state, newest first."""
        ...
    async def of_agent(self, agent_id: int) -> list[Mandate]:
        """The mandates offered to the agent, every state, newest first."""
        ...
    async def between(self, principal_id: int, agent_id: int) -> list[Mandate]:
        """The mandates of this principal to this agent, every state, newest first."""
        ...
    async def accept(self, mandate_id: int, at: datetime) -> bool:
        """Mark it accepted, unless it was accepted or revoked already (False then)."""
        ...
    async def revoke(self, mandate_id: int, by_party_id: int, at: datetime) -> bool:
        """Mark it revoked, unless it was revoked already (False then)."""
        ...
    async def ran_out(self, at: datetime, limit: int) -> list[Mandate]:
        """Mandates whose ``valid_until`` passed by ``at``, neither revoked before it nor
        noticed yet, oldest first."""
        ...
    async def mark_noticed(self, mandate_id: int, at: datetime) -> None: ...
