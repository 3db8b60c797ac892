"""The mailbox's clock: warnings, second notices, presumed delivery and expiry, swept from
state and due times.

A sweep takes due documents in batches, locked so that concurrent workers share the work and
never do one twice (``FOR UPDATE SKIP LOCKED`` on PostgreSQL), and records each outcome in the
same transaction as its side effects: notifications, e-mails, receipts, system messages, audit
entries. Nothing is scheduled in memory, so a restart or downtime only delays what is due.

A citizen's unopened document (contract section 17): the first notice goes at arrival; the
second when ``not_collected_due_at`` passes (with the sender's ``not_collected`` receipt),
which also fixes ``presumption_due_at``; when that passes it is presumed delivered.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime

from gateway.domain.audit import AuditAction, AuditEvent
from gateway.domain.documents import Document
from gateway.domain.notices import warning_text
from gateway.domain.parties import StaffRole
from gateway.domain.registration import budapest_local
from gateway.services import mail
from gateway.services.ports.documents import Deadline
from gateway.services.ports.outbox import NewMail, NewNotification
from gateway.services.ports.slices import DeadlinePorts
from gateway.services.ports.storage import StagedContent, UnitOfWork
from gateway.services.system_messages import issue_receipt, system_message

log = logging.getLogger(__name__)
BATCH = 500
WARNING_TITLE = "Figyelmeztetés: letöltetlen dokumentumok"


@dataclass
class SweepReport:
    warned: int = 0
    not_collected: int = 0
    presumed: int = 0
    expired: int = 0
    blobs_deleted: int = 0
    at: datetime | None = field(default=None)

    @property
    def total(self) -> int:
        return self.warned + self.not_collected + self.presumed + self.expired


def _payload(kind: str, document: Document, now: datetime) -> dict[str, object]:
    return {
        "kind": kind,
        "registration_number": document.registration_number,
        "file_name": document.file_name,
        "registered_at": budapest_local(document.registered_at).isoformat(),
        "valid_until": budapest_local(document.valid_until).isoformat(),
        "at": budapest_local(now).isoformat(),
    }


async def run_due(ports: DeadlinePorts) -> SweepReport:
    """Deal with everything due at the clock's time; returns what was done."""
    now = ports.clock.now()
    report = SweepReport(at=now)
    while await _warn(ports, now, report):
        pass
    while await _not_collected(ports, now, report):
        pass
    while await _presume(ports, now, report):
        pass
    while await _expire(ports, now, report):
        pass
    if report.total:
        log.info("deadline sweep: %d warnings, %d second notices, %d presumed delivered, "
                 "%d expired", report.warned, report.not_collected, report.presumed,
                 report.expired)
    return report


class _Staged:
    """System messages staged in a sweep's transaction: placed after the commit, discarded
    when it did not happen."""

    def __init__(self) -> None:
        self.items: list[StagedContent] = []

    async def place(self) -> None:
        for item in self.items:
            await item.place()

    async def discard(self) -> None:
        for item in self.items:
            await item.discard()


async def _warn(ports: DeadlinePorts, now: datetime, report: SweepReport) -> bool:
    staged = _Staged()
    try:
        async with ports.write_uow() as uow:
            due = await uow.documents.claim_due(Deadline.WARNING, now, BATCH)
            if not due:
                return False
            await uow.documents.mark(Deadline.WARNING, [d.id for d in due], now)
            await uow.notifications.add_many([
                NewNotification(d.recipient_id, "mailbox_warning",
                                _payload("mailbox_warning", d, now), now) for d in due])
            await _warn_admins(ports, uow, due, now, staged)
            await uow.commit()
    except BaseException:
        await staged.discard()
        raise
    await staged.place()
    report.warned += len(due)
    return True


async def _warn_admins(ports: DeadlinePorts, uow: UnitOfWork, due: list[Document], now: datetime,
                       staged: _Staged) -> None:
    """Each office's admins (hivatali kapu megbízottak) get the warning by e-mail and as a
    system message in their own tárhely (225/2009 Korm. r. 35. § (3) b)): one per office per
    sweep, naming every document."""
    by_office: dict[int, list[str]] = {}
    for document in due:
        by_office.setdefault(document.recipient_id, []).append(document.registration_number)
    mails: list[NewMail] = []
    for office_id, numbers in by_office.items():
        office = await uow.parties.by_id(office_id)
        if office is None or office.krid is None:
            continue
        text = warning_text(office.name, numbers, now)
        stamp = budapest_local(now).strftime("%Y%m%d%H%M")
        for member in await uow.staff.members(office_id):
            if member.role is not StaffRole.ADMIN:
                continue
            staged.items.append(await system_message(
                ports, uow, member.person, numbering_krid=office.krid, reference_number=None,
                doc_type_id="FIGYELMEZTETES", title=WARNING_TITLE,
                file_name=f"figyelmeztetes_{office.krid}_{stamp}.txt", content=text, now=now))
            notice = mail.warning(ports, member.person, office, numbers, now)
            if notice is not None:
                mails.append(notice)
    await uow.mail.add_many(mails)


async def _not_collected(ports: DeadlinePorts, now: datetime, report: SweepReport) -> bool:
    """The second notice, and the sender's not_collected receipt (35. § (3) c))."""
    presumption_at = ports.calendar.working_day_start(now, ports.presumption_working_days)

    async def second_notices(uow: UnitOfWork, due: list[Document]) -> None:
        await uow.documents.schedule_presumption([d.id for d in due], presumption_at)
        notices = [mail.second(ports, d, presumption_at, now) for d in due]
        await uow.mail.add_many([n for n in notices if n is not None])

    due = await _sweep_with_receipts(ports, now, Deadline.NOT_COLLECTED, "not_collected",
                                     then=second_notices)
    report.not_collected += len(due)
    return bool(due)


async def _presume(ports: DeadlinePorts, now: datetime, report: SweepReport) -> bool:
    """Presumed delivery (E-ügyintézési tv. 14. § (4) c)): the sender's signed receipt names
    both notices and this moment; the document stays downloadable until valid_until."""
    due = await _sweep_with_receipts(ports, now, Deadline.PRESUMPTION, "presumed_delivery",
                                     audit=AuditAction.PRESUMED)
    report.presumed += len(due)
    return bool(due)


async def _sweep_with_receipts(
    ports: DeadlinePorts, now: datetime, deadline: Deadline, kind: str, *,
    audit: AuditAction | None = None,
    then: Callable[[UnitOfWork, list[Document]], Awaitable[None]] | None = None,
) -> list[Document]:
    """One batch of ``deadline``: mark it, sign a ``kind`` receipt for each sender (and a
    system message where ETertiveveny was asked), notify the senders, and ``then`` whatever
    else belongs in the transaction; returns the batch."""
    staged = _Staged()
    try:
        async with ports.write_uow() as uow:
            due = await uow.documents.claim_due(deadline, now, BATCH)
            if not due:
                return []
            await uow.documents.mark(deadline, [d.id for d in due], now)
            for document in due:
                message = await issue_receipt(ports, uow, document, kind, now)
                if message is not None:
                    staged.items.append(message)
            await uow.notifications.add_many([
                NewNotification(d.sender_id, kind, _payload(kind, d, now), now) for d in due])
            if audit is not None:
                for document in due:
                    await uow.audit.append(AuditEvent(
                        at=now, actor="system", action=audit,
                        registration_number=document.registration_number,
                        sha256=document.sha256))
            if then is not None:
                await then(uow, due)
            await uow.commit()
    except BaseException:
        await staged.discard()
        raise
    await staged.place()
    return due


async def _expire(ports: DeadlinePorts, now: datetime, report: SweepReport) -> bool:
    due = await _sweep_with_receipts(ports, now, Deadline.EXPIRY, "expired",
                                     audit=AuditAction.EXPIRED)
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
