"""Parties (organisations, citizens, the system) and the staff roles persons hold for offices."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import delete, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from gateway.domain.parties import ORGANISATION_KINDS, Party, PartyKind, StaffRole, fold_name
from gateway.errors import Conflict
from gateway.services.ports.parties import NewParty, OfficeQuery, StaffMember, Topic
from gateway.storage.repositories.rows import PARTY_COLUMNS, party_of_row
from gateway.storage.tables import (
    folded_name,
    office_topics,
    parties,
    retired_codes,
    staff_roles,
)


class SqlParties:
    def __init__(self, connection: AsyncConnection) -> None:
        self._connection = connection

    async def add(self, new: NewParty) -> Party:
        values = dict(
            kind=new.kind.value, name=new.name, name_folded=folded_name(new.name),
            username=new.username,
            password_hash=new.password_hash, krid=new.krid, short_name=new.short_name,
            mak_code=new.mak_code, code=new.code, email=new.email, created_at=datetime.now(UTC),
        )
        try:
            result = await self._connection.execute(
                insert(parties).values(**values).returning(*PARTY_COLUMNS)
            )
        except IntegrityError as exc:
            # Lost a race with another registration of the same KRID, short name or username.
            raise Conflict("a party with the same KRID, short name or username exists") from exc
        return party_of_row(result.mappings().one())

    async def _one(self, *conditions: Any) -> Party | None:
        result = await self._connection.execute(select(*PARTY_COLUMNS).where(*conditions))
        row = result.mappings().first()
        return party_of_row(row) if row else None

    async def credentials(self, username: str) -> tuple[Party, str] | None:
        result = await self._connection.execute(
            select(*PARTY_COLUMNS, parties.c.password_hash).where(parties.c.username == username)
        )
        row = result.mappings().first()
        return (party_of_row(row), row["password_hash"]) if row else None

    async def by_krid(self, krid: str) -> Party | None:
        return await self._one(parties.c.krid == krid)

    async def by_code(self, code: str) -> Party | None:
        return await self._one(parties.c.code == code)

    async def by_username(self, username: str) -> Party | None:
        return await self._one(parties.c.username == username)

    async def by_id(self, party_id: int) -> Party | None:
        return await self._one(parties.c.id == party_id)

    async def set_webhook(self, party_id: int, url: str | None) -> None:
        await self._connection.execute(
            update(parties).where(parties.c.id == party_id).values(webhook_url=url))

    async def set_email(self, party_id: int, email: str) -> None:
        await self._connection.execute(
            update(parties).where(parties.c.id == party_id).values(email=email))

    async def system(self) -> Party:
        found = await self._one(parties.c.kind == PartyKind.SYSTEM.value)
        if found is None:
            raise RuntimeError("the system party is missing: run the migrations")
        return found

    async def taken(
        self, *, krid: str | None, short_name: str | None, username: str,
        code: str | None = None,
    ) -> str | None:
        checks = [("krid", parties.c.krid, krid), ("short_name", parties.c.short_name, short_name),
                  ("username", parties.c.username, username), ("code", parties.c.code, code)]
        for field, column, value in checks:
            if value is not None and await self._one(column == value) is not None:
                return field
        if code is not None and await self._retired(code):
            return "code"
        return None

    async def _retired(self, code: str) -> bool:
        found = await self._connection.execute(
            select(retired_codes.c.code).where(retired_codes.c.code == code))
        return found.first() is not None

    async def swap_code(self, party_id: int, new_code: str, at: datetime) -> None:
        old = (await self._connection.execute(
            select(parties.c.code).where(parties.c.id == party_id))).scalar_one()
        if old is not None:
            await self._connection.execute(insert(retired_codes).values(
                code=old, party_id=party_id, retired_at=at))
        await self._connection.execute(
            update(parties).where(parties.c.id == party_id).values(code=new_code))

    async def offices(self, query: OfficeQuery) -> list[Party]:
        kinds = [query.kind.value] if query.kind else [k.value for k in ORGANISATION_KINDS]
        statement = select(*PARTY_COLUMNS).where(parties.c.kind.in_(kinds))
        if query.short_name:
            statement = statement.where(parties.c.short_name == query.short_name.upper())
        if query.krid:
            statement = statement.where(parties.c.krid == query.krid)
        if query.name:
            needle = fold_name(query.name)
            for special in ("\\", "%", "_"):
                needle = needle.replace(special, "\\" + special)
            statement = statement.where(
                parties.c.name_folded.like(f"%{needle}%", escape="\\")
            )
        statement = statement.order_by(parties.c.short_name).limit(query.limit)
        result = await self._connection.execute(statement)
        return [party_of_row(row) for row in result.mappings()]


class SqlStaff:
    def __init__(self, connection: AsyncConnection) -> None:
        self._connection = connection

    async def lock(self, organisation_id: int) -> None:
        # The organisation's row lock serialises staff changes (PostgreSQL; SQLite's write
        # transaction admits one writer anyway), so two grants cannot both be the sixth admin.
        await self._connection.execute(
            select(parties.c.id).where(parties.c.id == organisation_id).with_for_update())

    async def members(self, organisation_id: int) -> list[StaffMember]:
        result = await self._connection.execute(
            select(*PARTY_COLUMNS, staff_roles.c.role, staff_roles.c.granted_at)
            .join(staff_roles, staff_roles.c.person_id == parties.c.id)
            .where(staff_roles.c.organisation_id == organisation_id)
            .order_by(parties.c.username))
        return [StaffMember(party_of_row(row), StaffRole(row["role"]), row["granted_at"])
                for row in result.mappings()]

    async def role(self, organisation_id: int, person_id: int) -> StaffRole | None:
        found = (await self._connection.execute(
            select(staff_roles.c.role).where(staff_roles.c.organisation_id == organisation_id,
                                             staff_roles.c.person_id == person_id)
        )).scalar_one_or_none()
        return StaffRole(found) if found is not None else None

    async def set_role(self, organisation_id: int, person_id: int, role: StaffRole,
                       at: datetime) -> None:
        changed = await self._connection.execute(
            update(staff_roles).where(staff_roles.c.organisation_id == organisation_id,
                                      staff_roles.c.person_id == person_id)
            .values(role=role.value, granted_at=at))
        if changed.rowcount == 0:
            await self._connection.execute(insert(staff_roles).values(
                organisation_id=organisation_id, person_id=person_id, role=role.value,
                granted_at=at))

    async def remove(self, organisation_id: int, person_id: int) -> None:
        await self._connection.execute(
            staff_roles.delete().where(staff_roles.c.organisation_id == organisation_id,
                                       staff_roles.c.person_id == person_id))

    async def offices_of(self, person_id: int) -> list[tuple[Party, StaffRole]]:
        result = await self._connection.execute(
            select(*PARTY_COLUMNS, staff_roles.c.role)
            .join(staff_roles, staff_roles.c.organisation_id == parties.c.id)
            .where(staff_roles.c.person_id == person_id).order_by(parties.c.short_name))
        return [(party_of_row(row), StaffRole(row["role"])) for row in result.mappings()]


class SqlTopics:
    def __init__(self, connection: AsyncConnection) -> None:
        self._connection = connection

    async def of_office(self, party_id: int) -> list[Topic]:
        result = await self._connection.execute(
            select(office_topics.c.code, office_topics.c.name)
            .where(office_topics.c.party_id == party_id).order_by(office_topics.c.position))
        return [Topic(row.code, row.name) for row in result]

    async def replace(self, party_id: int, topics: list[Topic]) -> None:
        await self._connection.execute(
            delete(office_topics).where(office_topics.c.party_id == party_id))
        if topics:
            await self._connection.execute(insert(office_topics), [
                {"party_id": party_id, "code": topic.code, "name": topic.name,
                 "position": position} for position, topic in enumerate(topics)])
