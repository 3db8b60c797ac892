"""An accepted document's evidence: its acceptance receipt's content, the receipts signed
(or taken from those signed early), and its audit entry. The registrar writes them in the
document's own statement or transaction."""

from __future__ import annotations

import asyncio
import logging

from gateway.domain.audit import AuditAction, AuditEvent, acting_for, actor_of
from gateway.domain.documents import Document, NewDocument, PartyRef
from gateway.domain.parties import Party
from gateway.domain.receipts import ReceiptContent, ReceiptKind
from gateway.services.evidence import receipt_party, signed
from gateway.services.ports.slices import RegistrarPorts, SigningPorts

log = logging.getLogger(__name__)


def acceptance_content(sender: Party | PartyRef, recipient: Party | PartyRef,
                       new: NewDocument | Document, number: str) -> ReceiptContent:
    """An acceptance receipt's content: from the upload, or from its document's row (a receipt
    owed since a stop), alike."""
    assert new.timestamp_token is not None
    return ReceiptContent(
        kind=ReceiptKind.ACCEPTANCE, registration_number=number,
        sender=receipt_party(sender), recipient=receipt_party(recipient),
        file_name=new.file_name, sha256=new.sha256, at=new.registered_at,
        timestamp_token=new.timestamp_token)


async def acceptance_evidence(
    ports: RegistrarPorts, accepted: list[tuple[Party, Party, NewDocument, str, str | None]],
    presigned: list[asyncio.Future[list[bytes]] | None] | None = None,
) -> tuple[list[bytes], list[AuditEvent]]:
    """The signed acceptance receipts and the audit entries of registered documents with
    timestamp tokens, in order (each: sender, addressee, document, number, the person who
    sent it). ``presigned``: per document, its receipt signed early for its number, or None;
    one that failed is signed again here."""
    receipts = await acceptance_receipts(ports, [
        acceptance_content(sender, recipient, new, number)
        for sender, recipient, new, number, _ in accepted], presigned)
    return receipts, [accepted_event(sender, new, number, person)
                      for sender, _, new, number, person in accepted]


async def acceptance_receipts(
    ports: SigningPorts, contents: list[ReceiptContent],
    presigned: list[asyncio.Future[list[bytes]] | None] | None = None,
) -> list[bytes]:
    """The receipts of ``contents`` signed, in order. ``presigned``: per content, its receipt
    signed early, or None; one that failed is signed again here."""
    early: list[bytes | None] = [None] * len(contents)
    for index, signing in enumerate(presigned or []):
        if signing is not None:
            try:
                [early[index]] = await signing
            except Exception:  # signed again below, where a lasting fault fails the batch
                log.warning("a receipt signed early failed; signing it again", exc_info=True)
    late = iter(await signed(ports, [content for content, receipt
                                      in zip(contents, early, strict=True) if receipt is None]))
    return [receipt if receipt is not None else next(late) for receipt in early]


def accepted_event(sender: Party, new: NewDocument, number: str | None,
                   person: str | None) -> AuditEvent:
    """The acceptance's audit entry (``number`` None: the registering statement names it)."""
    actor, office_krid = actor_of(sender.username, sender.krid, person)
    return AuditEvent(at=new.registered_at, actor=actor, office_krid=office_krid,
                      action=AuditAction.ACCEPTED, registration_number=number,
                      sha256=new.sha256,
                      # An agent sent it in the sender's name (contract 25).
                      detail=None if new.agent_id is None else acting_for(sender.username))
