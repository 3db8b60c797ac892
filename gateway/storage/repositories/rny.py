"""Dispositions and mandates (contract 25)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql import Select

from gateway.domain.parties import Party, PartyKind
from gateway.domain.rny import Disposition, Mandate, MandateScope, OfficialAddressKind
from gateway.services.ports.rny import NewMandate
from gateway.storage.tables import dispositions, mandates, parties

_principal = parties.alias("principal")
_agent = parties.alias("agent")
_PARTY_FIELDS = ("id", "kind", "name", "username", "krid", "short_name", "mak_code", "code",
                 "email")


def _disposition(row: RowMapping) -> Disposition:
    return Disposition(bool(row["electronic_contact"]),
                       OfficialAddressKind(row["official_address"]), row["effective_at"])


class SqlDispositions:
    def __init__(self, connection: AsyncConnection) -> None:
        self._connection = connection

    async def add(self, party_id: int, electronic_contact: bool,
                  official_address: OfficialAddressKind, at: datetime) -> None:
        await self._connection.execute(insert(dispositions).values(
            party_id=party_id, electronic_contact=electronic_contact,
            official_address=official_address.value, effective_at=at))

    async def at(self, party_id: int, at: datetime) -> Disposition | None:
        result = await self._connection.execute(
            select(dispositions)
            .where(dispositions.c.party_id == party_id, dispositions.c.effective_at <= at)
            .order_by(dispositions.c.effective_at.desc(), dispositions.c.id.desc()).limit(1))
        row = result.mappings().first()
        return None if row is None else _disposition(row)

    async def history(self, party_id: int) -> list[Disposition]:
        result = await self._connection.execute(
            select(dispositions).where(dispositions.c.party_id == party_id)
            .order_by(dispositions.c.effective_at.desc(), dispositions.c.id.desc()))
        return [_disposition(row) for row in result.mappings()]


def _party(row: RowMapping, prefix: str) -> Party:
    values = {name: row[f"{prefix}_party_{name}"] for name in _PARTY_FIELDS}
    return Party(id=values["id"], kind=PartyKind(values["kind"]), name=values["name"],
                 username=values["username"], krid=values["krid"],
                 short_name=values["short_name"], mak_code=values["mak_code"],
                 code=values["code"], email=values["email"])


def _mandate(row: RowMapping) -> Mandate:
    return Mandate(
        id=row["id"], principal=_party(row, "principal"), agent=_party(row, "agent"),
        scope=MandateScope.from_stored(row["scope_offices"]), valid_from=row["valid_from"],
        valid_until=row["valid_until"], created_at=row["created_at"],
        accepted_at=row["accepted_at"], revoked_at=row["revoked_at"],
        revoked_by_id=row["revoked_by_id"])


_SELECT: Select[Any] = (
    select(mandates,
           *(_principal.c[name].label(f"principal_party_{name}") for name in _PARTY_FIELDS),
           *(_agent.c[name].label(f"agent_party_{name}") for name in _PARTY_FIELDS))
    .join(_principal, _principal.c.id == mandates.c.principal_id)
    .join(_agent, _agent.c.id == mandates.c.agent_id)
)


class SqlMandates:
    def __init__(self, connection: AsyncConnection) -> None:
        self._connection = connection

    async def _all(self, statement: Select[Any]) -> list[Mandate]:
        result = await self._connection.execute(statement)
        return [_mandate(row) for row in result.mappings()]

    async def lock(self, principal_id: int) -> None:
        await self._connection.execute(
            select(parties.c.id).where(parties.c.id == principal_id).with_for_update())

    async def add(self, new: NewMandate) -> Mandate:
        result = await self._connection.execute(insert(mandates).values(
            principal_id=new.principal_id, agent_id=new.agent_id,
            scope_offices=new.scope.stored(), valid_from=new.valid_from,
            valid_until=new.valid_until, created_at=new.created_at,
        ).returning(mandates.c.id))
        mandate = await self.by_id(result.scalar_one())
        assert mandate is not None
        return mandate

    async def by_id(self, mandate_id: int) -> Mandate | None:
        found = await self._all(_SELECT.where(mandates.c.id == mandate_id))
        return found[0] if found else None

    async def of_principal(self, principal_id: int) -> list[Mandate]:
        return await self._all(_SELECT.where(mandates.c.principal_id == principal_id)
                               .order_by(mandates.c.id.desc()))

    async def of_agent(self, agent_id: int) -> list[Mandate]:
        return await self._all(_SELECT.where(mandates.c.agent_id == agent_id)
                               .order_by(mandates.c.id.desc()))

    async def between(self, principal_id: int, agent_id: int) -> list[Mandate]:
        return await self._all(_SELECT.where(mandates.c.principal_id == principal_id,
                                             mandates.c.agent_id == agent_id)
                               .order_by(mandates.c.id.desc()))

    async def accept(self, mandate_id: int, at: datetime) -> bool:
        result = await self._connection.execute(
            update(mandates).where(mandates.c.id == mandate_id,
                                   mandates.c.accepted_at.is_(None),
                                   mandates.c.revoked_at.is_(None))
            .values(accepted_at=at))
        return bool(result.rowcount)

    async def revoke(self, mandate_id: int, by_party_id: int, at: datetime) -> bool:
        result = await self._connection.execute(
            update(mandates).where(mandates.c.id == mandate_id, mandates.c.revoked_at.is_(None))
            .values(revoked_at=at, revoked_by_id=by_party_id))
        return bool(result.rowcount)

    async def ran_out(self, at: datetime, limit: int) -> list[Mandate]:
        return await self._all(
            _SELECT.where(mandates.c.valid_until <= at, mandates.c.expiry_noticed_at.is_(None),
                          (mandates.c.revoked_at.is_(None))
                          | (mandates.c.revoked_at > mandates.c.valid_until))
            .order_by(mandates.c.valid_until, mandates.c.id).limit(limit))

    async def mark_noticed(self, mandate_id: int, at: datetime) -> None:
        await self._connection.execute(
            update(mandates).where(mandates.c.id == mandate_id).values(expiry_noticed_at=at))
