"""Evidence: timestamps and signed receipts (made through the signing process, which signs
ECDSA timestamps in the server itself; or in threads), and the evidence a sender reads back:
receipts and the acceptance timestamp."""

from __future__ import annotations

import asyncio
from datetime import datetime

from gateway.domain.documents import Document, PartyRef
from gateway.domain.parties import Party
from gateway.domain.receipts import ReceiptContent, ReceiptKind, ReceiptParty
from gateway.errors import Forbidden, NotFound
from gateway.services.ports.evidence import ReceiptRecord
from gateway.services.ports.slices import EvidencePorts, SigningPorts
from gateway.services.ports.storage import UnitOfWork
from gateway.services.visibility import get_document, visible

SIGNING_THREADS = 2


async def timestamp(ports: SigningPorts, sha256_hex: str, at: datetime) -> bytes:
    if ports.evidence_signer is not None:
        return await ports.evidence_signer.timestamp(sha256_hex, at)
    return await asyncio.to_thread(ports.timestamper.timestamp, sha256_hex, at)


async def signed(ports: SigningPorts, contents: list[ReceiptContent]) -> list[bytes]:
    """The receipts of ``contents`` signed, in order: by the signing process, or split over
    the signing threads."""
    if not contents:
        return []
    if ports.evidence_signer is not None:
        return await ports.evidence_signer.sign(contents)
    sign = ports.receipt_signer.sign
    share = -(-len(contents) // SIGNING_THREADS) or 1
    parts = await asyncio.gather(*(
        asyncio.to_thread(lambda part: [sign(content) for content in part],
                          contents[start:start + share])
        for start in range(0, len(contents), share)))
    return [receipt for part in parts for receipt in part]


def receipt_party(party: Party | PartyRef) -> ReceiptParty:
    return ReceiptParty(name=party.name, krid=party.krid, code=party.code)


async def receipts_of(
    ports: EvidencePorts, party: Party, registration_number: str
) -> tuple[Document, list[ReceiptRecord]]:
    """The receipts issued for a document, for its sender."""
    async with ports.uow() as uow:
        document = await _sent_by(uow, party, registration_number)
        return document, await uow.receipts.of_document(document.id)


async def receipt(
    ports: EvidencePorts, party: Party, registration_number: str, kind: ReceiptKind
) -> bytes:
    async with ports.uow() as uow:
        document = await _sent_by(uow, party, registration_number)
        content = await uow.receipts.content(document.id, kind)
    if content is None:
        raise NotFound(f"no {kind.value} receipt for {registration_number} (yet)")
    return content


async def _sent_by(uow: UnitOfWork, party: Party, registration_number: str) -> Document:
    document = await visible(uow, party, registration_number)
    if document.sender_id != party.id:
        raise Forbidden("receipts are the sender's")
    return document


async def timestamp_token(ports: EvidencePorts, party: Party, registration_number: str) -> bytes:
    """The RFC 3161 token issued at acceptance over the document's SHA-256."""
    document = await get_document(ports, party, registration_number)
    if document.timestamp_token is None:
        raise NotFound(f"document {registration_number} was accepted before timestamps")
    return document.timestamp_token
