"""The mailbox's clock: warnings, non-collection and expiry, swept from state and due times.

A sweep takes due documents in batches, locked so that concurrent workers share the work and
never do one twice (``FOR UPDATE SKIP LOCKED`` on PostgreSQL), and records each outcome in the
same transaction as its side effects: notifications, receipts, system messages, audit entries.
Nothing is scheduled in memory, so a restart or downtime only delays what is due.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime

from gateway.domain.audit import AuditAction, AuditEvent
from gateway.domain.documents import Document
from gateway.domain.registration import budapest_local
from gateway.services.documents import issue_receipt
from gateway.services.ports import Deadline, NewNotification, Ports, StagedContent

log = logging.getLogger(__name__)
BATCH = 500
WARNING_WORKING_DAYS = 3
NOT_COLLECTED_WORKING_DAYS = 5


@dataclass
class SweepReport:
    warned: int = 0
    not_collected: int = 0
    expired: int = 0
    blobs_deleted: int = 0
    at: datetime | None = field(default=None)

    @property
    def total(self) -> int:
        return self.warned + self.not_collected + self.expired


def _payload(kind: str, document: Document, now: datetime) -> dict[str, object]:
    return {
        "kind": kind,
        "registration_number": document.registration_number,
        "file_name": document.file_name,
        "registered_at": budapest_local(document.registered_at).isoformat(),
        "valid_until": budapest_local(document.valid_until).isoformat(),
        "at": budapest_local(now).isoformat(),
    }


async def run_due(ports: Ports) -> SweepReport:
    """Deal with everything due at the clock's time; returns what was done."""
    now = ports.clock.now()
    report = SweepReport(at=now)
    while await _warn(ports, now, report):
        pass
    while await _not_collected(ports, now, report):
        pass
    while await _expire(ports, now, report):
        pass
    if report.total:
        log.info("deadline sweep: %d warnings, %d not collected, %d expired",
                 report.warned, report.not_collected, report.expired)
    return report


async def _warn(ports: Ports, now: datetime, report: SweepReport) -> bool:
    async with ports.write_uow() as uow:
        due = await uow.documents.claim_due(Deadline.WARNING, now, BATCH)
        if not due:
            return False
        await uow.documents.mark(Deadline.WARNING, [d.id for d in due], now)
        await uow.notifications.add_many([
            NewNotification(d.recipient_id, "mailbox_warning",
                            _payload("mailbox_warning", d, now), now) for d in due])
        await uow.commit()
    report.warned += len(due)
    return True


async def _not_collected(ports: Ports, now: datetime, report: SweepReport) -> bool:
    due = await _sweep_with_receipts(ports, now, Deadline.NOT_COLLECTED, "not_collected")
    report.not_collected += len(due)
    return bool(due)


async def _sweep_with_receipts(
    ports: Ports, now: datetime, deadline: Deadline, kind: str, *, audit: bool = False
) -> list[Document]:
    """One batch of ``deadline``: mark it, sign a ``kind`` receipt for each sender (and a
    system message where ETertiveveny was asked), notify the senders; returns the batch."""
    messages: list[StagedContent] = []
    try:
        async with ports.write_uow() as uow:
            due = await uow.documents.claim_due(deadline, now, BATCH)
            if not due:
                return []
            await uow.documents.mark(deadline, [d.id for d in due], now)
            for document in due:
                message = await issue_receipt(ports, uow, document, kind, now)
                if message is not None:
                    messages.append(message)
            await uow.notifications.add_many([
                NewNotification(d.sender_id, kind, _payload(kind, d, now), now) for d in due])
            if audit:
                for document in due:
                    await uow.audit.append(AuditEvent(
                        at=now, actor="system", action=AuditAction.EXPIRED,
                        registration_number=document.registration_number,
                        sha256=document.sha256))
            await uow.commit()
    except BaseException:
        for message in messages:
            await message.discard()
        raise
    for message in messages:
        await message.place()
    return due


async def _expire(ports: Ports, now: datetime, report: SweepReport) -> bool:
    due = await _sweep_with_receipts(ports, now, Deadline.EXPIRY, "expired", audit=True)
    if not due:
        return False
    # The content goes; the metadata, receipts and audit entries stay.
    for sha256 in {d.sha256 for d in due}:
        async def needed(sha256: str = sha256) -> bool:
            async with ports.uow() as uow:
                return await uow.documents.content_needed(sha256)

        if await ports.blobs.delete_unless(sha256, needed):
            report.blobs_deleted += 1
    report.expired += len(due)
    return True
