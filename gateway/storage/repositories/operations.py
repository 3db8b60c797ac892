"""Operations: the sandbox clock, incidents, maintenance windows and readiness probes."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import func, insert, literal, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from gateway.domain.documents import DeliveryState
from gateway.domain.outages import Incident, Maintenance, Probe
from gateway.storage.repositories.documents import DEADLINE_COLUMNS
from gateway.storage.repositories.rows import upsert_for
from gateway.storage.tables import (
    acceptance_receipts_owed,
    documents,
    gateway_keys,
    incidents,
    mail_outbox,
    maintenance,
    notifications,
    parties,
    probes,
    sandbox_clock,
)


class SqlSandboxClock:
    def __init__(self, connection: AsyncConnection) -> None:
        self._connection = connection

    async def offset(self) -> float:
        result = await self._connection.execute(
            select(sandbox_clock.c.offset_seconds).where(sandbox_clock.c.id == 1))
        return float(result.scalar_one())

    async def set_offset(self, seconds: float) -> None:
        await self._connection.execute(
            update(sandbox_clock).where(sandbox_clock.c.id == 1).values(offset_seconds=seconds))


def _incident(row: Any) -> Incident:
    return Incident(row.id, row.title, row.outage, row.opened_at, row.closed_at, row.affected)


def _maintenance(row: Any) -> Maintenance:
    return Maintenance(row.id, row.start_at, row.end_at, row.reason, row.announced_at)


class SqlOperations:
    def __init__(self, connection: AsyncConnection) -> None:
        self._connection = connection

    async def record_ca(self, fingerprint: str, at: datetime) -> str:
        # Two hosts starting at once: one row wins, the other reads it.
        await self._connection.execute(
            upsert_for(self._connection)(gateway_keys)
            .values(id=1, ca_fingerprint=fingerprint, recorded_at=at)
            .on_conflict_do_nothing(index_elements=[gateway_keys.c.id]))
        result = await self._connection.execute(
            select(gateway_keys.c.ca_fingerprint).where(gateway_keys.c.id == 1))
        return str(result.scalar_one())

    async def ping(self) -> None:
        await self._connection.execute(select(literal(1)))

    async def add_probe(self, at: datetime, ok: bool, failures: str | None) -> None:
        await self._connection.execute(
            insert(probes).values(at=at, ok=ok, failures=failures[:500] if failures else None))

    async def probes(self, since: datetime, until: datetime) -> list[Probe]:
        result = await self._connection.execute(
            select(probes.c.at, probes.c.ok).where(probes.c.at >= since, probes.c.at < until)
            .order_by(probes.c.at))
        return [Probe(row.at, row.ok) for row in result]

    async def open_incident(self, title: str, outage: bool, at: datetime,
                            affected: str) -> Incident:
        result = await self._connection.execute(
            insert(incidents).values(title=title, outage=outage, opened_at=at, affected=affected)
            .returning(*incidents.c))
        return _incident(result.one())

    async def incident(self, incident_id: int) -> Incident | None:
        result = await self._connection.execute(
            select(incidents).where(incidents.c.id == incident_id))
        row = result.first()
        return _incident(row) if row else None

    async def close_incident(self, incident_id: int, at: datetime) -> Incident | None:
        result = await self._connection.execute(
            update(incidents).where(incidents.c.id == incident_id, incidents.c.closed_at.is_(None))
            .values(closed_at=at).returning(*incidents.c))
        row = result.first()
        return _incident(row) if row else None

    async def incidents(self, since: datetime) -> list[Incident]:
        result = await self._connection.execute(
            select(incidents).where(
                (incidents.c.closed_at.is_(None)) | (incidents.c.closed_at > since))
            .order_by(incidents.c.opened_at))
        return [_incident(row) for row in result]

    async def announce(self, start: datetime, end: datetime, reason: str,
                       at: datetime) -> Maintenance:
        result = await self._connection.execute(
            insert(maintenance).values(start_at=start, end_at=end, reason=reason,
                                       announced_at=at).returning(*maintenance.c))
        return _maintenance(result.one())

    async def maintenance(self, since: datetime) -> list[Maintenance]:
        result = await self._connection.execute(
            select(maintenance).where(maintenance.c.end_at > since)
            .order_by(maintenance.c.start_at))
        return [_maintenance(row) for row in result]

    async def outbox_counts(self) -> dict[str, tuple[int, int]]:
        webhook_waiting = await self._connection.execute(
            select(func.count()).select_from(notifications)
            .join(parties, parties.c.id == notifications.c.party_id)
            .where(notifications.c.state == "pending", parties.c.webhook_url.is_not(None)))
        webhook_dead = await self._connection.execute(
            select(func.count()).select_from(notifications)
            .where(notifications.c.state == "dead"))
        mail = await self._connection.execute(
            select(mail_outbox.c.state, func.count()).where(
                mail_outbox.c.state.in_(("pending", "dead"))).group_by(mail_outbox.c.state))
        mails: dict[str, int] = {row[0]: int(row[1]) for row in mail}
        return {"webhook": (int(webhook_waiting.scalar_one()), int(webhook_dead.scalar_one())),
                "email": (int(mails.get("pending", 0)), int(mails.get("dead", 0)))}

    async def waiting_total(self) -> int:
        result = await self._connection.execute(
            select(func.count()).select_from(documents)
            .where(documents.c.delivery_state == DeliveryState.WAITING.value))
        return int(result.scalar_one())

    async def acceptance_receipts_owed(self) -> int:
        result = await self._connection.execute(
            select(func.count()).select_from(acceptance_receipts_owed))
        return int(result.scalar_one())

    async def oldest_due(self, now: datetime) -> datetime | None:
        oldest: datetime | None = None
        for due_column, done_column in DEADLINE_COLUMNS.values():
            result = await self._connection.execute(
                select(func.min(due_column)).where(
                    documents.c.delivery_state == DeliveryState.WAITING.value,
                    done_column.is_(None), due_column.is_not(None), due_column <= now))
            # min() keeps the column's type, so the value comes back as an aware datetime.
            found: datetime | None = result.scalar_one()
            if found is not None and (oldest is None or found < oldest):
                oldest = found
        return oldest
