"""Receipts issued after acceptance (download, not_collected, presumed delivery, expiry), and
system messages: documents the Központi Rendszer itself puts in a mailbox, such as a receipt the
sender asked to get back (ETertiveveny)."""

from __future__ import annotations

from datetime import datetime, timedelta
from types import TracebackType

from gateway.domain.calendar import due_times
from gateway.domain.documents import Document, NewDocument
from gateway.domain.parties import Party, PartyKind
from gateway.domain.receipts import RECEIPT_TITLES, ReceiptContent, ReceiptKind, ReceiptParty
from gateway.services.evidence import receipt_party, signed, timestamp
from gateway.services.ports.slices import SystemMessagePorts
from gateway.services.ports.storage import StagedContent, UnitOfWork
from gateway.services.registrar import register


class SystemMessage:
    """The bytes of a receipt's system message, staged inside a transaction: placed in the
    store once that transaction committed, discarded when it did not. Enter it before the
    unit of work, so that it leaves after the commit or the rollback."""

    def __init__(self) -> None:
        self.staged: StagedContent | None = None

    async def __aenter__(self) -> SystemMessage:
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        if self.staged is None:
            return
        if exc_type is None:
            await self.staged.place()
        else:
            await self.staged.discard()


async def issue_receipt(
    ports: SystemMessagePorts, uow: UnitOfWork, document: Document, kind: ReceiptKind | str,
    now: datetime, *, acting: ReceiptParty | None = None,
) -> StagedContent | None:
    """Sign a receipt of ``kind`` about ``document`` (with its own timestamp) for the sender;
    when the sender asked ETertiveveny, also deliver it as a system message, whose staged bytes
    are returned to be placed once the transaction commits. ``acting``: the agent who acted
    for the addressee (the receipt's Eljaro)."""
    kind = ReceiptKind(kind)
    [receipt] = await signed(ports, [ReceiptContent(
        kind=kind, registration_number=document.registration_number,
        sender=receipt_party(document.sender), recipient=receipt_party(document.recipient),
        file_name=document.file_name, sha256=document.sha256, at=now,
        timestamp_token=await timestamp(ports, document.sha256, now),
        notices=_notices(document, now) if kind is ReceiptKind.PRESUMED_DELIVERY else None,
        acting=acting,
    )])
    await uow.receipts.add(document.id, kind, now, receipt)
    if not document.return_receipt:
        return None
    sender = await uow.parties.by_id(document.sender_id)
    assert sender is not None
    # A citizen addressee has no KRID: the number keeps the original document's organisation.
    return await system_message(
        ports, uow, sender, numbering_krid=sender.krid or document.registration_number[:9],
        reference_number=document.registration_number, doc_type_id="IGAZOLAS",
        title=RECEIPT_TITLES[kind],
        file_name=f"{kind.value}_igazolas_{document.registration_number}.xml",
        content=receipt, now=now)


def _notices(document: Document, presumed_at: datetime) -> tuple[datetime, datetime, datetime]:
    """The presumption's three moments: the first notice (at arrival), the second, and now."""
    assert document.second_notice_at is not None, "presumed before its second notice"
    return document.registered_at, document.second_notice_at, presumed_at


async def system_message(
    ports: SystemMessagePorts, uow: UnitOfWork, recipient: Party, *, numbering_krid: str,
    reference_number: str | None, doc_type_id: str, title: str, file_name: str,
    content: bytes, now: datetime,
) -> StagedContent:
    """Register ``content`` as a system message (sender: the Központi Rendszer) in
    ``recipient``'s mailbox, in the caller's transaction; returns its staged bytes, to be
    placed once the transaction commits."""
    staged = ports.blobs.stage(len(content))
    staged.write(content)
    await staged.finish()
    system = await uow.parties.system()
    # An office is warned of an unread system message like of any document; a person's is a
    # notice itself and starts no second notice or presumption.
    warning_due_at = (due_times(ports.calendar, to_organisation=True, at=now,
                                second_notice_working_days=ports.second_notice_working_days)[0]
                      if recipient.is_organisation else None)
    await register(uow, NewDocument(
        registered_at=now, valid_until=now + timedelta(days=ports.retention_days),
        sender_id=system.id, recipient_id=recipient.id, sender_kind=PartyKind.SYSTEM,
        reference_number=reference_number, doc_type_office="KR",
        doc_type_id=doc_type_id, doc_type_description=title, note=None,
        file_name=file_name, size=staged.size, sha256=staged.sha256, reply_encryption=False,
        return_receipt=False, system_message=True,
        timestamp_token=await timestamp(ports, staged.sha256, now),
        warning_due_at=warning_due_at,
    ), numbering_krid)
    return staged
