"""Handing documents out: a download's bytes (recorded only once the door's answer is built),
the web's opening of a citizen's document (opening is receiving: ``domain/receiving.py``),
an HKP page of documents, and the addressee's acknowledgement with its download receipt."""

from __future__ import annotations

import logging
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable
from dataclasses import dataclass

from gateway.domain.audit import AuditAction, AuditEvent, acting_for, actor_of
from gateway.domain.documents import DeliveryState, Document
from gateway.domain.parties import Party
from gateway.domain.ranges import ByteRange, byte_range
from gateway.domain.receipts import ReceiptKind, ReceiptParty
from gateway.domain.receiving import received_by_opening, received_on_opening
from gateway.domain.rny import Agency
from gateway.errors import Expired, Forbidden, Unavailable
from gateway.services.ports.slices import DeliveryPorts
from gateway.services.ports.storage import StagedContent, UnitOfWork
from gateway.services.system_messages import SystemMessage, issue_receipt
from gateway.services.visibility import visible

log = logging.getLogger(__name__)


Record = Callable[[], Awaitable[None]]


@dataclass(frozen=True)
class Download:
    """A document's bytes, their first chunk already read, and ``record``: the door calls it
    once its answer is built (headers, envelope), just before it starts sending, so that
    nothing says "downloaded" of a document whose answer could not be built or read."""

    document: Document
    chunks: AsyncIterator[bytes]
    record: Record


async def open_content(
    ports: DeliveryPorts, party: Party, registration_number: str, *, person: str | None = None,
    range_header: str | None = None, agency: Agency | None = None,
) -> Download:
    """The document and a stream of its bytes (with the ``person`` who acted for the party,
    in the browser). With ``range_header`` (HTTP ``Range``) only the range's bytes
    (``byte_range`` of the header and the size); an unsatisfiable one raises
    RangeNotSatisfiable. Content that cannot be read raises Unavailable. Nothing is recorded
    until the door calls ``record``.

    ``record`` writes the download to the audit chain. An organisation's download does not
    acknowledge: its clerk or system confirms explicitly. In a citizen's own tárhely, opening
    is receiving (225/2009 Korm. r. 36. § (4)): the first download acknowledges, and the
    sender's download receipt is issued in the same transaction.

    ``agency``: an agent opens the principal's (``party``'s) document under a mandate
    (contract 25): only one within its scope; opening it is the principal's receiving, and
    the download receipt names the agent (Eljaro)."""
    if agency is not None:
        person = agency.agent.username
    async with ports.uow() as uow:
        document = await visible(uow, party, registration_number, agency)
        kept = await uow.kept.kept_at(party.id, document.id) is not None
    part = byte_range(range_header, document.size)
    chunks = await _content_of(ports, document, kept=kept, part=part)
    try:
        first = await _first_chunk(chunks, registration_number)
    except BaseException:
        await _close(chunks)
        raise

    async def record() -> None:
        try:
            async with SystemMessage() as message, ports.write_uow() as uow:
                await _audit_downloads(uow, ports, party, [document], person, agency)
                if received_on_opening(party, document):
                    message.staged = await acknowledged(uow, ports, party, document, person,
                                                        agency)
                await uow.commit()
        except BaseException:
            await _close(chunks)  # the answer will not be sent
            raise

    return Download(document, _resumed(first, chunks), record)


async def receive(ports: DeliveryPorts, party: Party, registration_number: str, *,
                  person: str | None = None, agency: Agency | None = None) -> None:
    """Open a document of a citizen's own tárhely without delivering its bytes: the web's
    opening form (a POST, never a GET a link scanner could follow) records the opening as
    ``open_content``'s ``record`` does (the acknowledgement and the sender's download receipt),
    once the content is known to be readable. Opening an opened document records nothing
    more; an office's document is refused (Forbidden: its clerk confirms the download).
    ``agency``: an agent receives it for the principal ``party`` (``open_content``)."""
    async with ports.uow() as uow:
        document = await visible(uow, party, registration_number, agency)
    if not received_by_opening(party, document):
        raise Forbidden("only a citizen's own document is received by opening it")
    if not document.unopened:
        return
    download = await open_content(ports, party, registration_number, person=person,
                                  agency=agency)
    try:
        await download.record()
    finally:
        await _close(download.chunks)


async def deliver(
    ports: DeliveryPorts, party: Party, documents: list[Document]
) -> tuple[list[AsyncIterator[bytes] | None], Record]:
    """For each document ``party`` may already see, a stream of its bytes, or None once it
    expired (its content is gone); and what records the downloads in the audit chain, in one
    transaction, for the door to call once its answer is built. Content that cannot be read
    raises Unavailable before anything is recorded."""
    live = [d for d in documents if d.delivery_state is not DeliveryState.EXPIRED]
    streams = {}
    for document in live:
        streams[document.id] = await _content_of(ports, document)
        # One byte read from each, not each's first chunk: a whole page of documents' first
        # chunks (a MiB each) would be held at once, while the answer streams them in turn.
        probe = ports.blobs.read(document.sha256, 0, 0)
        try:
            await _first_chunk(probe, document.registration_number)
        finally:
            await _close(probe)

    async def record() -> None:
        if live:
            async with ports.write_uow() as uow:
                await _audit_downloads(uow, ports, party, live)
                await uow.commit()

    return [streams.get(d.id) for d in documents], record


async def _first_chunk(chunks: AsyncIterator[bytes], registration_number: str) -> bytes:
    """The first chunk of ``chunks``: a store that cannot read the content fails here, before
    the download is recorded, not in the middle of the answer."""
    try:
        return await anext(chunks)
    except StopAsyncIteration:
        return b""
    except OSError as exc:
        log.error("content of %s cannot be read: %s", registration_number, exc)
        raise Unavailable("the document's content cannot be read right now") from exc


async def _resumed(first: bytes, rest: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
    """``rest`` with the ``first`` chunk read from it before."""
    try:
        if first:
            yield first
        async for chunk in rest:
            yield chunk
    finally:
        await _close(rest)


async def _close(chunks: AsyncIterator[bytes]) -> None:
    """Close a stream that may not be read to its end (its file or connection)."""
    if isinstance(chunks, AsyncGenerator):
        await chunks.aclose()


async def _audit_downloads(
    uow: UnitOfWork, ports: DeliveryPorts, party: Party, documents: list[Document],
    person: str | None = None, agency: Agency | None = None,
) -> None:
    now = ports.clock.now()
    actor, office_krid = actor_of(party.username, party.krid, person)
    for document in documents:
        await uow.audit.append(AuditEvent(
            at=now, actor=actor, office_krid=office_krid, action=AuditAction.DOWNLOADED,
            registration_number=document.registration_number, sha256=document.sha256,
            detail=_detail(agency)))


def _detail(agency: Agency | None) -> str | None:
    """An agent's entries name the principal too (the actor is the agent)."""
    return None if agency is None else acting_for(agency.principal.username)


async def _content_of(
    ports: DeliveryPorts, document: Document, *, kept: bool = False, part: ByteRange | None = None
) -> AsyncIterator[bytes]:
    """``kept``: the party keeps it in its tartós tár, whose copy outlives the expiry."""
    registration_number = document.registration_number
    if document.delivery_state is DeliveryState.EXPIRED and not kept:
        raise Expired(f"document {registration_number} expired and its content was deleted")
    if not await ports.blobs.exists(document.sha256):
        log.error("blob %s of %s is missing", document.sha256, registration_number)
        raise Unavailable("the document's content cannot be read right now")
    if part is not None:
        return ports.blobs.read(document.sha256, part.start, part.end)
    return ports.blobs.read(document.sha256)


async def acknowledge(
    ports: DeliveryPorts, party: Party, registration_number: str, *, person: str | None = None,
    agency: Agency | None = None,
) -> Document:
    """The addressee confirms it has the document; repeating it changes nothing.

    The first acknowledgement issues the download receipt (letöltési igazolás) and, when the
    sender asked for one (ETertiveveny), delivers it to the sender's mailbox as a system
    message, all in the same transaction."""
    if agency is not None:
        person = agency.agent.username
    async with SystemMessage() as message, ports.write_uow() as uow:
        document = await visible(uow, party, registration_number, agency)
        if document.recipient_id != party.id:
            raise Forbidden("only the addressee acknowledges a document")
        if document.delivery_state is DeliveryState.EXPIRED:
            raise Expired(f"document {registration_number} expired before it was downloaded")
        if document.unopened:
            message.staged = await acknowledged(uow, ports, party, document, person, agency)
            document = await visible(uow, party, registration_number)
            await uow.commit()
    return document


async def acknowledged(
    uow: UnitOfWork, ports: DeliveryPorts, party: Party, document: Document, person: str | None,
    agency: Agency | None = None,
) -> StagedContent | None:
    """Mark a waiting document downloaded, issue the download receipt (and the sender's system
    message, staged, when it asked for one) and audit it, in the caller's transaction. When a
    concurrent acknowledgement got there first, it issued all of that: nothing more here.
    ``agency``: the agent who received it for the principal, named by the receipt."""
    now = ports.clock.now()
    if not await uow.documents.acknowledge(document.id, now):
        return None
    acting = None if agency is None else ReceiptParty(agency.agent.name,
                                                      code=agency.agent.code)
    message = await issue_receipt(ports, uow, document, ReceiptKind.DOWNLOAD, now,
                                  acting=acting)
    actor, office_krid = actor_of(party.username, party.krid, person)
    await uow.audit.append(AuditEvent(
        at=now, actor=actor, office_krid=office_krid, action=AuditAction.ACKNOWLEDGED,
        registration_number=document.registration_number, sha256=document.sha256,
        detail=_detail(agency)))
    return message
