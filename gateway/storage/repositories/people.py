"""A person's web sessions, one-time form keys and failed logins."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from gateway.domain.parties import Party
from gateway.storage.repositories.rows import PARTY_COLUMNS, party_of_row, upsert_for
from gateway.storage.tables import form_submissions, login_failures, parties, web_sessions


class SqlWebSessions:
    def __init__(self, connection: AsyncConnection) -> None:
        self._connection = connection

    async def add(self, token_sha256: str, person_id: int, at: datetime) -> None:
        await self._connection.execute(insert(web_sessions).values(
            token_sha256=token_sha256, person_id=person_id, created_at=at, last_seen_at=at))

    async def find(self, token_sha256: str) -> tuple[Party, datetime, datetime] | None:
        """The session's person, when it was made and when it was last used."""
        row = (await self._connection.execute(
            select(*PARTY_COLUMNS, web_sessions.c.created_at.label("session_created_at"),
                   web_sessions.c.last_seen_at)
            .join(web_sessions, web_sessions.c.person_id == parties.c.id)
            .where(web_sessions.c.token_sha256 == token_sha256)
        )).mappings().one_or_none()
        if row is None:
            return None
        return party_of_row(row), row["session_created_at"], row["last_seen_at"]

    async def touch(self, token_sha256: str, at: datetime) -> None:
        await self._connection.execute(
            update(web_sessions).where(web_sessions.c.token_sha256 == token_sha256)
            .values(last_seen_at=at))

    async def remove(self, token_sha256: str) -> None:
        await self._connection.execute(
            web_sessions.delete().where(web_sessions.c.token_sha256 == token_sha256))


class SqlFormSubmissions:
    def __init__(self, connection: AsyncConnection) -> None:
        self._connection = connection

    async def claim(self, person_id: int, form_key: str, at: datetime, *,
                    forget_before: datetime) -> tuple[bool, str | None]:
        # ON CONFLICT DO NOTHING waits for a concurrent claimer of the same key to commit, so
        # of two POSTs racing with one key exactly one is told it claimed it.
        await self._connection.execute(form_submissions.delete().where(
            form_submissions.c.person_id == person_id,
            form_submissions.c.claimed_at < forget_before))
        claim = upsert_for(self._connection)(form_submissions).values(
            person_id=person_id, form_key=form_key, claimed_at=at,
        ).on_conflict_do_nothing(
            index_elements=[form_submissions.c.person_id, form_submissions.c.form_key],
        ).returning(form_submissions.c.person_id)
        if (await self._connection.execute(claim)).first() is not None:
            return True, None
        return False, await self.outcome(person_id, form_key)

    async def outcome(self, person_id: int, form_key: str) -> str | None:
        return (await self._connection.execute(select(form_submissions.c.outcome).where(
            form_submissions.c.person_id == person_id,
            form_submissions.c.form_key == form_key))).scalar_one_or_none()

    async def settle(self, person_id: int, form_key: str, outcome: str) -> None:
        await self._connection.execute(update(form_submissions).where(
            form_submissions.c.person_id == person_id,
            form_submissions.c.form_key == form_key).values(outcome=outcome))

    async def release(self, person_id: int, form_key: str) -> None:
        await self._connection.execute(form_submissions.delete().where(
            form_submissions.c.person_id == person_id,
            form_submissions.c.form_key == form_key))


class SqlLoginFailures:
    def __init__(self, connection: AsyncConnection) -> None:
        self._connection = connection

    async def latest(self, username: str, address: str, since: datetime,
                     limit: int) -> list[datetime]:
        result = await self._connection.execute(
            select(login_failures.c.at)
            .where(login_failures.c.username == username, login_failures.c.address == address,
                   login_failures.c.at > since)
            .order_by(login_failures.c.at.desc()).limit(limit))
        return list(result.scalars())

    async def count_since(self, username: str, since: datetime) -> int:
        result = await self._connection.execute(
            select(func.count()).select_from(login_failures)
            .where(login_failures.c.username == username, login_failures.c.at > since))
        return int(result.scalar_one())

    async def add(self, username: str, address: str, at: datetime, forget_before: datetime,
                  ) -> None:
        await self._connection.execute(
            login_failures.delete().where(login_failures.c.username == username,
                                          login_failures.c.at < forget_before))
        await self._connection.execute(
            insert(login_failures).values(username=username, address=address, at=at))

    async def clear(self, username: str, address: str) -> None:
        await self._connection.execute(
            login_failures.delete().where(login_failures.c.username == username,
                                          login_failures.c.address == address))
