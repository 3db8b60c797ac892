"""The outboxes: webhook notifications and e-mail notices, leased by any number of workers."""

from __future__ import annotations

import json
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Row, Select, Table, and_, func, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from gateway.services.ports.outbox import (
    Delivery,
    LeasedMail,
    MailRecord,
    NewMail,
    NewNotification,
    Notification,
    OfficeWarnings,
)
from gateway.storage.tables import mail_outbox, notifications, parties


@dataclass(frozen=True)
class _Lease:
    """The lease both outboxes share: a row waits ``pending`` until ``next_attempt_at``; a
    worker claims due rows ``FOR UPDATE SKIP LOCKED`` and moves ``next_attempt_at`` to the
    lease's end, so other workers skip them and a crash mid-delivery only delays them; then
    it records the hand-over, or a failure with its back-off or (no retry) a dead letter."""

    table: Table
    done_state: str  # "delivered", "sent"
    done_at: str  # the column of the moment it was handed over

    def pending(self, created_at: datetime) -> dict[str, Any]:
        """A new row's lease columns: due at once."""
        return {"state": "pending", "attempts": 0, "next_attempt_at": created_at}

    def due(self, now: datetime) -> tuple[ColumnElement[bool], ...]:
        return (self.table.c.state == "pending", self.table.c.next_attempt_at <= now)

    async def claim(self, connection: AsyncConnection, query: Select[Any],
                    lease_until: datetime) -> list[Row[Any]]:
        """The rows of ``query`` (which selects ``id``) that no other worker holds, leased."""
        result = await connection.execute(
            query.with_for_update(skip_locked=True, of=self.table))
        rows = list(result)
        if rows:
            await connection.execute(
                update(self.table).where(self.table.c.id.in_([row.id for row in rows]))
                .values(next_attempt_at=lease_until))
        return rows

    async def done(self, connection: AsyncConnection, item_id: int, at: datetime) -> None:
        await connection.execute(
            update(self.table).where(self.table.c.id == item_id)
            .values(state=self.done_state, **{self.done_at: at},
                    attempts=self.table.c.attempts + 1))

    async def failed(self, connection: AsyncConnection, item_id: int, attempts: int,
                     error: str, retry_at: datetime | None) -> None:
        """A failed hand-over: try again at ``retry_at``, or (None) a dead letter."""
        values: dict[str, Any] = {"attempts": attempts, "last_error": error[:500]}
        if retry_at is None:
            values["state"] = "dead"
        else:
            values["next_attempt_at"] = retry_at
        await connection.execute(
            update(self.table).where(self.table.c.id == item_id).values(**values))


_NOTIFICATIONS = _Lease(notifications, "delivered", "delivered_at")
_MAIL = _Lease(mail_outbox, "sent", "sent_at")


class SqlNotifications:
    def __init__(self, connection: AsyncConnection) -> None:
        self._connection = connection

    async def add_many(self, new: list[NewNotification]) -> None:
        if not new:
            return
        await self._connection.execute(insert(notifications), [{
            "party_id": n.party_id, "kind": n.kind,
            "payload": json.dumps(n.payload, ensure_ascii=False),
            "created_at": n.created_at, **_NOTIFICATIONS.pending(n.created_at),
        } for n in new])

    async def of_party(self, party_id: int, after_id: int, limit: int) -> list[Notification]:
        result = await self._connection.execute(
            select(notifications).where(notifications.c.party_id == party_id,
                                        notifications.c.id > after_id)
            .order_by(notifications.c.id).limit(limit))
        return [Notification(row.id, row.kind, json.loads(row.payload), row.created_at,
                             row.state, row.attempts) for row in result]

    async def lease_due(self, now: datetime, lease_until: datetime, limit: int, *,
                        skip_parties: Collection[int] = (),
                        party_id: int | None = None) -> list[Delivery]:
        due = (*_NOTIFICATIONS.due(now), parties.c.webhook_url.is_not(None))
        # One per party, its oldest: a party's deliveries go one at a time, and a party with
        # a long backlog cannot crowd the others out of the batch.
        oldest = (select(func.min(notifications.c.id))
                  .join(parties, parties.c.id == notifications.c.party_id).where(*due)
                  .group_by(notifications.c.party_id)
                  .order_by(func.min(notifications.c.id)).limit(limit))
        if skip_parties:
            oldest = oldest.where(notifications.c.party_id.not_in(list(skip_parties)))
        if party_id is not None:
            oldest = oldest.where(notifications.c.party_id == party_id)
        ids = list((await self._connection.execute(oldest)).scalars())
        if not ids:
            return []
        # Due again under the lock: another worker may have leased one meanwhile.
        rows = await _NOTIFICATIONS.claim(self._connection, (
            select(notifications.c.id, notifications.c.party_id, notifications.c.kind,
                   notifications.c.payload, notifications.c.attempts, parties.c.webhook_url)
            .join(parties, parties.c.id == notifications.c.party_id)
            .where(notifications.c.id.in_(ids), *due)
            .order_by(notifications.c.id)), lease_until)
        return [Delivery(row.id, row.party_id, row.webhook_url, row.kind,
                         json.loads(row.payload), row.attempts) for row in rows]

    async def delivered(self, notification_id: int, at: datetime) -> None:
        await _NOTIFICATIONS.done(self._connection, notification_id, at)

    async def failed(self, notification_id: int, attempts: int, error: str,
                     retry_at: datetime | None) -> None:
        await _NOTIFICATIONS.failed(self._connection, notification_id, attempts, error,
                                    retry_at)


def _mail_record(row: Any) -> MailRecord:
    return MailRecord(row.id, row.to_address, row.kind, row.registration_number, row.subject,
                      row.message, row.created_at, row.state, row.attempts, row.sent_at)


class SqlMailOutbox:
    def __init__(self, connection: AsyncConnection) -> None:
        self._connection = connection

    async def add_many(self, mails: list[NewMail]) -> None:
        if not mails:
            return
        await self._connection.execute(insert(mail_outbox), [{
            "party_id": m.party_id, "to_address": m.to_address, "kind": m.kind,
            "registration_number": m.registration_number, "subject": m.subject[:255],
            "message": m.message, "created_at": m.created_at,
            **_MAIL.pending(m.created_at),
        } for m in mails])

    async def lease_due(self, now: datetime, lease_until: datetime,
                        limit: int) -> list[LeasedMail]:
        rows = await _MAIL.claim(self._connection, (
            select(mail_outbox.c.id, mail_outbox.c.to_address, mail_outbox.c.message,
                   mail_outbox.c.attempts)
            .where(*_MAIL.due(now))
            .order_by(mail_outbox.c.id).limit(limit)), lease_until)
        return [LeasedMail(row.id, row.to_address, row.message, row.attempts) for row in rows]

    async def delivered(self, mail_id: int, at: datetime) -> None:
        await _MAIL.done(self._connection, mail_id, at)

    async def failed(self, mail_id: int, attempts: int, error: str,
                     retry_at: datetime | None) -> None:
        await _MAIL.failed(self._connection, mail_id, attempts, error, retry_at)

    async def addressed_to(self, party_id: int, office_warnings: list[OfficeWarnings],
                           limit: int) -> list[MailRecord]:
        column = mail_outbox.c
        shown = [column.party_id == party_id, *(
            and_(column.kind == "mailbox_warning", column.party_id.in_(office.admin_ids),
                 column.subject.startswith(office.subject_start, autoescape=True))
            for office in office_warnings if office.admin_ids)]
        result = await self._connection.execute(
            select(mail_outbox).where(or_(*shown)).order_by(column.id.desc()).limit(limit))
        return [_mail_record(row) for row in result]

    async def of_party(self, party_id: int, limit: int) -> list[MailRecord]:
        result = await self._connection.execute(
            select(mail_outbox).where(mail_outbox.c.party_id == party_id)
            .order_by(mail_outbox.c.id.desc()).limit(limit))
        return [_mail_record(row) for row in result]
