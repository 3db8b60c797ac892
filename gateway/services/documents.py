"""Accepting, showing, handing out and acknowledging documents."""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from types import TracebackType

from gateway.domain.audit import AuditAction, AuditEvent
from gateway.domain.documents import (
    DeliveryState,
    Document,
    PartyRef,
    UploadRequest,
    check_not_empty,
    validate_upload,
)
from gateway.domain.formats import content_matches
from gateway.domain.parties import Party, PartyKind
from gateway.domain.ranges import ByteRange, byte_range
from gateway.domain.receipts import RECEIPT_TITLES, ReceiptContent, ReceiptKind, ReceiptParty
from gateway.domain.registration import (
    MAX_DAILY_SEQUENCE,
    is_registration_number,
    make_registration_number,
    registration_day,
    registration_prefix,
    sequence_of,
)
from gateway.errors import (
    DailySequenceExhausted,
    Expired,
    Forbidden,
    FormatMismatch,
    GatewayError,
    HashMismatch,
    IdempotencyConflict,
    InvalidRequest,
    KeyNotFound,
    NotFound,
    RecipientUnknown,
    Unavailable,
)
from gateway.services import mail
from gateway.services.forecast import CounterKey
from gateway.services.ports import (
    NewDocument,
    NewMail,
    Numbering,
    Ports,
    ReceiptRecord,
    StagedContent,
    UnitOfWork,
)
from gateway.services.storage_quota import reserve_copy

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Acceptance:
    """The answer to an accepted upload (befogadás)."""

    registration_number: str
    registered_at: datetime
    valid_until: datetime
    sha256: str
    size: int
    file_name: str

    @classmethod
    def of(cls, document: Document) -> Acceptance:
        return cls(
            document.registration_number, document.registered_at, document.valid_until,
            document.submitted_sha256 or document.sha256, document.size, document.file_name,
        )


def start_upload(ports: Ports) -> StagedContent:
    """Open a staging area for one document's bytes, limited to the configured size."""
    return ports.blobs.stage(ports.max_document_bytes)


async def _recipient(ports: Ports, uow: UnitOfWork, request: UploadRequest) -> Party:
    if request.recipient_krid is not None:
        found = ports.offices.get(request.recipient_krid)
        if found is None:
            found = await uow.parties.by_krid(request.recipient_krid)
            if found is not None:
                ports.offices.put(found)
        address = f"KRID {request.recipient_krid}"
    else:
        assert request.recipient_code is not None
        found = await uow.parties.by_code(request.recipient_code)
        address = "the given kapcsolati kód"
    if found is None:
        field = "recipient_krid" if request.recipient_krid else "recipient_code"
        raise RecipientUnknown(f"no addressee with {address}", field=field)
    return found


async def _addressee(ports: Ports, request: UploadRequest) -> Party:
    """``_recipient`` without a unit of work when the office is cached: opening one (a pool
    checkout and its reset) cost more per upload than the rest of the lookup."""
    if request.recipient_krid is not None:
        found = ports.offices.get(request.recipient_krid)
        if found is not None:
            return found
    async with ports.uow() as uow:
        return await _recipient(ports, uow, request)


async def accept_document(
    ports: Ports,
    sender: Party,
    request: UploadRequest,
    content: StagedContent,
    idempotency_key: str | None = None,
    *,
    person: str | None = None,
) -> Acceptance:
    """Register a document whose bytes are staged in ``content`` (all written, finished or
    not): check it, make its bytes durable, encrypt it for the addressee when that is due,
    give it the next registration number and its dates in one transaction, then move the
    bytes into the store. ``person``: who sent it for ``sender`` in the browser (the audit
    entry names them).

    Whatever is refused or fails, the staged bytes are removed and no number is consumed:
    the counter increment is part of the transaction that rolls back.
    """
    # The staged bytes this request must remove if it fails: once handed to a batch, the
    # batch places or removes them, even if this request is cancelled while it waits.
    owned = [content]
    try:
        content.seal()
        request = _checked(request, content)
        stamping = _stamped_soon(ports, sender, request, content)
        await content.finish()
        if request.sha1 is not None and request.sha1 != await content.sha1():
            raise HashMismatch("sha1 does not match the content", field="sha1")
        stored = await _encrypted_if_due(ports, sender, request, content)
        if stored is not content:
            owned.append(stored)
            await content.discard()  # the plaintext is never stored
        acceptance = await _accept(ports, sender, request, stored, content.sha256,
                                   idempotency_key, person, owned, stamping)
    except GatewayError as refusal:
        await _discard(*owned)
        ports.telemetry.refused(refusal.code)
        if ports.acceptance_evidence and not isinstance(refusal, Unavailable):
            await _audit_refusal(ports, sender, refusal, content, person)
        raise
    except BaseException:
        await _discard(*owned)
        raise
    if owned:
        await stored.place()
    ports.telemetry.accepted()
    return acceptance


async def _stamped(ports: Ports, content: StagedContent) -> tuple[datetime, bytes | None]:
    """The moment of acceptance, and the TSA's token for it when evidence is on."""
    registered_at = ports.clock.now()
    if not ports.acceptance_evidence:
        return registered_at, None
    return registered_at, await _timestamp(ports, content.sha256, registered_at)


def _stamped_soon(ports: Ports, sender: Party, request: UploadRequest, content: StagedContent
                  ) -> asyncio.Future[tuple[datetime, bytes | None]] | None:
    """:func:`_stamped`, started as soon as the bytes' SHA-256 is known: the token is signed
    while the bytes are made durable, instead of after (measured on PostgreSQL, 16 clients:
    575 against 664 uploads/s). None when evidence is off, or when the bytes may yet be
    encrypted for the addressee (the stored bytes are then timestamped). A refused upload's
    token is never used."""
    if not ports.acceptance_evidence or _may_encrypt(sender, request):
        return None
    stamping = asyncio.ensure_future(_stamped(ports, content))
    # Read here, so asyncio does not report a token nobody waited for as a lost exception.
    stamping.add_done_callback(lambda done: done.cancelled() or done.exception())
    return stamping


def _may_encrypt(sender: Party, request: UploadRequest) -> bool:
    return sender.is_organisation and bool(request.encrypt or request.reference_number)


async def _discard(*staged: StagedContent) -> None:
    for item in staged:
        await item.discard()


def _checked(request: UploadRequest, content: StagedContent) -> UploadRequest:
    request = validate_upload(request)
    check_not_empty(request.file_name, content.size)
    if not content_matches(request.file_name, content.head):
        raise FormatMismatch(
            f"the content of {request.file_name!r} is not what its extension says",
            field="file",
        )
    if request.sha256 is not None and request.sha256 != content.sha256:
        raise HashMismatch(
            f"sha256 {request.sha256} does not match the content's {content.sha256}",
            field="sha256",
        )
    return request


async def _encrypted_if_due(
    ports: Ports, sender: Party, request: UploadRequest, content: StagedContent
) -> StagedContent:
    """The content as it will be stored: encrypted (CMS, file name + .p7m) for the addressee's
    certificate when an organisation sends with ``encrypt``, or replies to a document of the
    addressee that asked ``reply_encryption``; otherwise ``content`` itself."""
    if not _may_encrypt(sender, request):
        return content
    async with ports.uow() as uow:
        recipient = await _recipient(ports, uow, request)
        due = request.encrypt
        if not due and request.reference_number:
            original = await uow.documents.by_number(request.reference_number)
            due = (original is not None and original.sender_id == recipient.id
                   and original.recipient_id == sender.id and original.reply_encryption)
        key = await uow.keys.current(recipient.id) if due else None
    if key is None or key.not_after <= ports.clock.now():
        if request.require_encryption:
            raise KeyNotFound(f"{recipient.name} has no public key on file to encrypt for",
                              field="require_encryption")
        return content
    encrypted = ports.blobs.stage(
        ports.encryptor.enveloped_size(content.size, key.certificate_der))
    try:
        await asyncio.to_thread(ports.encryptor.envelope, content.chunks(), content.size,
                                key.certificate_der, encrypted.write)
        await encrypted.finish()
    except BaseException:
        await encrypted.discard()
        raise
    return encrypted


async def _audit_refusal(
    ports: Ports, sender: Party, refusal: GatewayError, content: StagedContent,
    person: str | None,
) -> None:
    """A refusal is recorded in its own transaction: the upload's own rolled back."""
    try:
        sha256: str | None = content.sha256
    except RuntimeError:  # refused before all bytes arrived
        sha256 = None
    actor, office_krid = _actor(sender, person)
    async with ports.write_uow() as uow:
        await uow.audit.append(AuditEvent(
            at=ports.clock.now(), actor=actor, office_krid=office_krid,
            action=AuditAction.REFUSED, sha256=sha256, detail=refusal.code))
        await uow.commit()


async def _accept(
    ports: Ports,
    sender: Party,
    request: UploadRequest,
    content: StagedContent,
    submitted_sha256: str,
    idempotency_key: str | None,
    person: str | None,
    owned: list[StagedContent],
    stamping: asyncio.Future[tuple[datetime, bytes | None]] | None,
) -> Acceptance:
    """``content`` is what is stored; ``submitted_sha256`` the SHA-256 of what was sent;
    ``stamping``: the moment and token asked for early, if any (for ``content``). An upload
    without an Idempotency-Key or a kept copy is registered in a batch, which then owns
    ``content`` (it is taken out of ``owned``) and places it in the store."""
    encrypted = content.sha256 != submitted_sha256
    file_name = f"{request.file_name}.p7m" if encrypted else request.file_name
    # The moment of acceptance, and the TSA's token for it, are fixed before the transaction:
    # no timestamping happens while the KRID's counter row is locked.
    registered_at, token = await (stamping or _stamped(ports, content))
    if idempotency_key is None and not request.keep_copy:
        recipient = await _addressee(ports, request)
        _check_addressee(sender, recipient)
        new = _new_document(ports, sender, recipient, request, content, submitted_sha256,
                            file_name, registered_at, token)
        numbering = _numbering(_numbering_krid(sender, recipient), registered_at)
        pending = _Pending(new=new, numbering=numbering, sender=sender, recipient=recipient,
                           person=person, content=content,
                           presigned=_presigned(ports, sender, recipient, new, numbering))
        owned.clear()
        # No await between the forecast and joining the queue: the queue's order is the
        # forecast's.
        number = await ports.registrations.submit(
            pending, lambda batch: _register_batch(ports, batch))
        return Acceptance(number, registered_at, pending.new.valid_until, submitted_sha256,
                          content.size, file_name)

    fingerprint = request.fingerprint(submitted_sha256)
    async with ports.write_uow() as uow:
        recipient = await _recipient(ports, uow, request)
        _check_addressee(sender, recipient)
        if idempotency_key is not None:
            if not 0 < len(idempotency_key) <= 255:
                raise InvalidRequest("Idempotency-Key must be 1 to 255 characters",
                                     field="Idempotency-Key")
            earlier = await uow.idempotency.claim(sender.id, idempotency_key, fingerprint)
            if earlier is not None:
                if earlier.fingerprint != fingerprint or earlier.document_id is None:
                    raise IdempotencyConflict(
                        "this Idempotency-Key was used for a different document"
                    )
                document = await uow.documents.by_id(earlier.document_id)
                assert document is not None
                return Acceptance.of(document)
        new = _new_document(ports, sender, recipient, request, content, submitted_sha256,
                            file_name, registered_at, token)
        if request.keep_copy:  # the party's row is locked before the counter's, as keeping does
            await reserve_copy(uow, ports, sender, content.size)
        document_id, number = await _register(
            uow, new, _numbering_krid(sender, recipient))
        await uow.mail.add_many(_arrival_notices(ports, sender, recipient, new, number))
        if request.keep_copy:
            await uow.kept.add(sender.id, document_id, registered_at)
        if idempotency_key is not None:
            await uow.idempotency.complete(sender.id, idempotency_key, document_id)
        if token is not None:
            # The KRID's counter row is locked from _register to the commit: one statement
            # writes the receipt and the audit entry (each await here waits for the event
            # loop's turn while every other upload to this KRID waits for the lock).
            [receipt], [event] = await _acceptance_evidence(
                ports, [(sender, recipient, new, number, person)])
            await uow.receipts.add_with_audit(
                document_id, ReceiptKind.ACCEPTANCE, registered_at, receipt, event)
        await uow.commit()
    return Acceptance(number, registered_at, new.valid_until, submitted_sha256, content.size,
                      file_name)


@dataclass(frozen=True)
class _Presigned:
    """An acceptance receipt being signed, while its upload waits, for the number forecast."""

    registration_number: str
    receipt: asyncio.Future[list[bytes]]


@dataclass(frozen=True)
class _Pending:
    """An upload waiting for its number in the next batch."""

    new: NewDocument
    numbering: Numbering
    sender: Party
    recipient: Party
    person: str | None
    content: StagedContent  # the batch places it once registered, or discards it
    presigned: _Presigned | None = None

    @property
    def counter(self) -> CounterKey:
        return _counter(self.numbering)


def _counter(numbering: Numbering) -> CounterKey:
    return numbering.krid, numbering.day


def _presigned(ports: Ports, sender: Party, recipient: Party, new: NewDocument,
               numbering: Numbering) -> _Presigned | None:
    """Join the forecast and start signing the receipt for the forecast number, if any."""
    sequence = ports.forecast.join(_counter(numbering))
    if new.timestamp_token is None or sequence is None or sequence > MAX_DAILY_SEQUENCE:
        return None
    number = make_registration_number(numbering.krid, new.registered_at, sequence)
    signing = asyncio.ensure_future(_signed(ports, [
        _acceptance_content(sender, recipient, new, number)]))
    # An unused or failed early signature is never read: read here, so asyncio does not
    # report a lost exception (the batch signs again).
    signing.add_done_callback(lambda done: done.cancelled() or done.exception())
    return _Presigned(number, signing)


async def _register_batch(ports: Ports, batch: list[_Pending]) -> list[str | BaseException]:
    """Register every upload of ``batch`` in one transaction (:func:`_register_together`).
    One upload's fault must not fail the others (a value the database or the receipt cannot
    hold, …): when the transaction fails, each upload is registered again in one of its own,
    and only the faulty one is answered with its error. Every failed transaction rolled back
    its counters, so no number is skipped. Then their bytes move into the store; a refused
    upload's bytes are discarded."""
    ports.forecast.leave([pending.counter for pending in batch])
    try:
        try:
            answers = await _register_together(ports, batch)
        except Exception as failure:
            ports.forecast.forget([pending.counter for pending in batch])
            # An outage fails each upload alike: trying them one by one would only wait again.
            if len(batch) == 1 or isinstance(failure, Unavailable):
                raise
            log.warning("a batch of %d uploads failed; registering each on its own",
                        len(batch), exc_info=True)
            answers = [await _register_alone(ports, pending) for pending in batch]
    except BaseException:
        await _discard(*(pending.content for pending in batch))
        raise
    # Side by side (an object store checks each object over the network); the next batch
    # waits for this.
    await asyncio.gather(*(
        pending.content.discard() if isinstance(answer, BaseException)
        else pending.content.place() for pending, answer in zip(batch, answers, strict=True)))
    return answers


async def _register_alone(ports: Ports, pending: _Pending) -> str | BaseException:
    """One upload of a failed batch in a transaction of its own: its number, or its error."""
    try:
        [answer] = await _register_together(ports, [pending])
    except Exception as failure:
        ports.forecast.forget([pending.counter])
        log.warning("upload to %s refused on its own", pending.numbering.krid, exc_info=True)
        return failure
    return answer


async def _register_together(ports: Ports, batch: list[_Pending]) -> list[str | BaseException]:
    """``batch`` in one transaction: each counter taken once, then the documents inserted with
    their receipts (most signed while they waited, for the number forecast) and audit entries,
    in one round trip on PostgreSQL. Per upload its number, or its refusal (the day's numbers
    ran out)."""
    answers: list[str | BaseException] = []
    async with ports.write_uow() as uow:
        numbers = await uow.documents.number_many([pending.numbering for pending in batch])
        early = _settle_forecast(ports, batch, numbers)
        plain: list[tuple[NewDocument, str]] = []
        to_sign: list[tuple[_Pending, str]] = []
        notices: list[NewMail] = []
        for pending, number in zip(batch, numbers, strict=True):
            if number is None:
                answers.append(_exhausted(pending.numbering.krid))
                continue
            answers.append(number)
            notices += _arrival_notices(ports, pending.sender, pending.recipient,
                                        pending.new, number)
            if pending.new.timestamp_token is not None:
                to_sign.append((pending, number))
            else:
                plain.append((pending.new, number))
        presigned = [pending.presigned.receipt if pending.presigned is not None
                     and pending.presigned.registration_number == number else None
                     for pending, number in to_sign]
        receipts, events = await _acceptance_evidence(ports, [
            (pending.sender, pending.recipient, pending.new, number, pending.person)
            for pending, number in to_sign], presigned)
        await uow.documents.add_many(plain)
        await uow.documents.add_many_accepted(ReceiptKind.ACCEPTANCE, [
            (pending.new, number, receipt, event) for (pending, number), receipt, event
            in zip(to_sign, receipts, events, strict=True)])
        await uow.mail.add_many(notices)
        await uow.commit()
    ports.telemetry.registered_batch(len(batch))
    ports.telemetry.signed_early(*early)
    return answers


def _settle_forecast(ports: Ports, batch: list[_Pending],
                     numbers: list[str | None]) -> tuple[int, int]:
    """Tell the forecast the last sequence each counter gave, and whether it was wrong.
    Returns how many early receipts name their document's number, and how many do not."""
    last: dict[CounterKey, int] = {}
    forecasts: Counter[CounterKey] = Counter()
    missed: Counter[CounterKey] = Counter()
    for pending, number in zip(batch, numbers, strict=True):
        if number is None:
            continue
        last[pending.counter] = max(last.get(pending.counter, 0), sequence_of(number))
        if pending.presigned is not None:
            forecasts[pending.counter] += 1
            missed[pending.counter] += pending.presigned.registration_number != number
    for key, sequence in last.items():
        ports.forecast.settle(key, sequence, forecasts[key], missed[key])
    ports.forecast.forget([pending.counter for pending in batch
                           if pending.counter not in last])
    return sum(forecasts.values()) - missed.total(), missed.total()


def _check_addressee(sender: Party, recipient: Party) -> None:
    if not sender.is_organisation and not recipient.is_organisation:
        raise Forbidden("a citizen can send only to organisations", field="recipient_code")


def _numbering_krid(sender: Party, recipient: Party) -> str:
    """The number carries the organisation's KRID: the addressee's, or else the sender's."""
    krid = recipient.krid if recipient.is_organisation else sender.krid
    assert krid is not None
    return krid


def _new_document(
    ports: Ports, sender: Party, recipient: Party, request: UploadRequest,
    content: StagedContent, submitted_sha256: str, file_name: str, registered_at: datetime,
    token: bytes | None,
) -> NewDocument:
    encrypted = content.sha256 != submitted_sha256
    warning_due_at, not_collected_due_at = _due_times(
        ports, recipient.is_organisation, registered_at)
    return NewDocument(
        registered_at=registered_at,
        valid_until=registered_at + timedelta(days=ports.retention_days),
        sender_id=sender.id, recipient_id=recipient.id, sender_kind=sender.kind,
        reference_number=request.reference_number, doc_type_office=request.doc_type_office,
        doc_type_id=request.doc_type_id, doc_type_description=request.doc_type_description,
        note=request.note, file_name=file_name, size=content.size,
        sha256=content.sha256, reply_encryption=request.reply_encryption,
        return_receipt=request.return_receipt, timestamp_token=token,
        submitted_sha256=submitted_sha256 if encrypted else None,
        warning_due_at=warning_due_at, not_collected_due_at=not_collected_due_at,
    )


def _arrival_notices(ports: Ports, sender: Party, recipient: Party, new: NewDocument,
                     number: str) -> list[NewMail]:
    """A citizen's first notice (225/2009 Korm. r. 35. § (1) c)), queued with the document."""
    if recipient.is_organisation:
        return []
    notice = mail.arrival(ports, recipient, sender.name, number, new.valid_until,
                          new.registered_at)
    return [notice] if notice is not None else []


def _acceptance_content(sender: Party, recipient: Party, new: NewDocument,
                        number: str) -> ReceiptContent:
    assert new.timestamp_token is not None
    return ReceiptContent(
        kind=ReceiptKind.ACCEPTANCE, registration_number=number,
        sender=_receipt_party(sender), recipient=_receipt_party(recipient),
        file_name=new.file_name, sha256=new.sha256, at=new.registered_at,
        timestamp_token=new.timestamp_token)


async def _acceptance_evidence(
    ports: Ports, accepted: list[tuple[Party, Party, NewDocument, str, str | None]],
    presigned: list[asyncio.Future[list[bytes]] | None] | None = None,
) -> tuple[list[bytes], list[AuditEvent]]:
    """The signed acceptance receipts and the audit entries of registered documents with
    timestamp tokens, in order (each: sender, addressee, document, number, the person who
    sent it). ``presigned``: per document, its receipt signed early for its number, or None;
    one that failed is signed again here."""
    contents = [_acceptance_content(sender, recipient, new, number)
                for sender, recipient, new, number, _ in accepted]
    early: list[bytes | None] = [None] * len(contents)
    for index, signing in enumerate(presigned or []):
        if signing is not None:
            try:
                [early[index]] = await signing
            except Exception:  # signed again below, where a lasting fault fails the batch
                log.warning("a receipt signed early failed; signing it again", exc_info=True)
    late = iter(await _signed(ports, [content for content, receipt
                                      in zip(contents, early, strict=True) if receipt is None]))
    receipts = [receipt if receipt is not None else next(late) for receipt in early]
    events = []
    for sender, _, new, number, person in accepted:
        actor, office_krid = _actor(sender, person)
        events.append(AuditEvent(at=new.registered_at, actor=actor, office_krid=office_krid,
                                 action=AuditAction.ACCEPTED, registration_number=number,
                                 sha256=new.sha256))
    return receipts, events


# Signing runs in worker threads: xmlsec lets go of the GIL while it canonicalises and signs,
# so the event loop keeps reading the next uploads on the other core meanwhile. Two threads:
# a batch's receipts are split between them (this gateway's reference machine has two cores).
SIGNING_THREADS = 2


async def _timestamp(ports: Ports, sha256_hex: str, at: datetime) -> bytes:
    if ports.evidence_signer is not None:
        return await ports.evidence_signer.timestamp(sha256_hex, at)
    return await asyncio.to_thread(ports.timestamper.timestamp, sha256_hex, at)


async def _signed(ports: Ports, contents: list[ReceiptContent]) -> list[bytes]:
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


def _numbering(krid: str, registered_at: datetime) -> Numbering:
    return Numbering(krid=krid, day=registration_day(registered_at),
                     prefix=registration_prefix(krid, registered_at))


def _exhausted(krid: str) -> DailySequenceExhausted:
    return DailySequenceExhausted(
        f"KRID {krid} has used all {MAX_DAILY_SEQUENCE} numbers of today")


async def _register(uow: UnitOfWork, new: NewDocument, numbering_krid: str) -> tuple[int, str]:
    registered = await uow.documents.register(new, _numbering(numbering_krid, new.registered_at))
    if registered is None:
        raise _exhausted(numbering_krid)
    return registered


WARNING_WORKING_DAYS = 3


def _due_times(
    ports: Ports, to_organisation: bool, at: datetime
) -> tuple[datetime | None, datetime | None]:
    """(warning_due_at, not_collected_due_at): an organisation is warned after 3 working
    days; a citizen's unopened document gets its second notice (and the sender its
    not_collected receipt) after ``second_notice_working_days`` (5)."""
    if to_organisation:
        return ports.calendar.deadline(at, WARNING_WORKING_DAYS), None
    return None, ports.calendar.deadline(at, ports.second_notice_working_days)


def _receipt_party(party: Party | PartyRef) -> ReceiptParty:
    return ReceiptParty(name=party.name, krid=party.krid, code=party.code)


async def _visible(uow: UnitOfWork, party: Party, registration_number: str) -> Document:
    # What is no registration number names no document (and is not worth a query).
    found = is_registration_number(registration_number)
    document = await uow.documents.by_number(registration_number) if found else None
    if document is None or party.id not in (document.sender_id, document.recipient_id):
        # Another party's document is answered exactly like a missing one.
        raise NotFound(f"no document {registration_number}")
    return document


async def get_document(ports: Ports, party: Party, registration_number: str) -> Document:
    """Metadata of a document, for its sender or its addressee."""
    async with ports.uow() as uow:
        return await _visible(uow, party, registration_number)


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
    ports: Ports, party: Party, registration_number: str, *, person: str | None = None,
    range_header: str | None = None,
) -> Download:
    """The document and a stream of its bytes (with the ``person`` who acted for the party,
    in the browser). With ``range_header`` (HTTP ``Range``) only the range's bytes
    (``byte_range`` of the header and the size); an unsatisfiable one raises
    RangeNotSatisfiable. Content that cannot be read raises Unavailable. Nothing is recorded
    until the door calls ``record``.

    ``record`` writes the download to the audit chain. An organisation's download does not
    acknowledge: its clerk or system confirms explicitly. In a citizen's own tárhely, opening
    is receiving (225/2009 Korm. r. 36. § (4)): the first download acknowledges, and the
    sender's download receipt is issued in the same transaction."""
    async with ports.uow() as uow:
        document = await _visible(uow, party, registration_number)
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
            async with _SystemMessage() as message, ports.write_uow() as uow:
                await _audit_downloads(uow, ports, party, [document], person)
                if received_on_opening(party, document):
                    message.staged = await _acknowledged(uow, ports, party, document, person)
                await uow.commit()
        except BaseException:
            await _close(chunks)  # the answer will not be sent
            raise

    return Download(document, _resumed(first, chunks), record)


def received_on_opening(party: Party, document: Document) -> bool:
    """Whether ``party`` opening ``document`` now would be receiving it: a citizen's own
    unopened document (225/2009 Korm. r. 36. § (4)); an office confirms explicitly."""
    return (party.kind is PartyKind.CITIZEN and document.recipient_id == party.id
            and document.unopened)


async def receive(ports: Ports, party: Party, registration_number: str, *,
                  person: str | None = None) -> None:
    """Open a document of a citizen's own tárhely without delivering its bytes: the web's
    opening form (a POST, never a GET a link scanner could follow) records the opening as
    ``open_content``'s ``record`` does (the acknowledgement and the sender's download receipt),
    once the content is known to be readable. Opening an opened document records nothing
    more; an office's document is refused (Forbidden: its clerk confirms the download)."""
    async with ports.uow() as uow:
        document = await _visible(uow, party, registration_number)
    if not (party.kind is PartyKind.CITIZEN and document.recipient_id == party.id):
        raise Forbidden("only a citizen's own document is received by opening it")
    if not document.unopened:
        return
    download = await open_content(ports, party, registration_number, person=person)
    try:
        await download.record()
    finally:
        await _close(download.chunks)


async def deliver(
    ports: Ports, party: Party, documents: list[Document]
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


def _actor(party: Party, person: str | None) -> tuple[str, str | None]:
    """Who the audit entry names, and for which office: the party itself, or the person acting
    for it (an office's staff in the browser), so that the office's log shows who did it."""
    return (party.username, None) if person is None else (person, party.krid)


async def _audit_downloads(
    uow: UnitOfWork, ports: Ports, party: Party, documents: list[Document],
    person: str | None = None,
) -> None:
    now = ports.clock.now()
    actor, office_krid = _actor(party, person)
    for document in documents:
        await uow.audit.append(AuditEvent(
            at=now, actor=actor, office_krid=office_krid, action=AuditAction.DOWNLOADED,
            registration_number=document.registration_number, sha256=document.sha256))


async def _content_of(
    ports: Ports, document: Document, *, kept: bool = False, part: ByteRange | None = None
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
    ports: Ports, party: Party, registration_number: str, *, person: str | None = None
) -> Document:
    """The addressee confirms it has the document; repeating it changes nothing.

    The first acknowledgement issues the download receipt (letöltési igazolás) and, when the
    sender asked for one (ETertiveveny), delivers it to the sender's mailbox as a system
    message, all in the same transaction."""
    async with _SystemMessage() as message, ports.write_uow() as uow:
        document = await _visible(uow, party, registration_number)
        if document.recipient_id != party.id:
            raise Forbidden("only the addressee acknowledges a document")
        if document.delivery_state is DeliveryState.EXPIRED:
            raise Expired(f"document {registration_number} expired before it was downloaded")
        if document.unopened:
            message.staged = await _acknowledged(uow, ports, party, document, person)
            document = await _visible(uow, party, registration_number)
            await uow.commit()
    return document


class _SystemMessage:
    """The bytes of a receipt's system message, staged inside a transaction: placed in the
    store once that transaction committed, discarded when it did not. Enter it before the
    unit of work, so that it leaves after the commit or the rollback."""

    def __init__(self) -> None:
        self.staged: StagedContent | None = None

    async def __aenter__(self) -> _SystemMessage:
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        if self.staged is None:
            return
        if exc_type is None:
            await self.staged.place()
        else:
            await self.staged.discard()


async def _acknowledged(
    uow: UnitOfWork, ports: Ports, party: Party, document: Document, person: str | None
) -> StagedContent | None:
    """Mark a waiting document downloaded, issue the download receipt (and the sender's system
    message, staged, when it asked for one) and audit it, in the caller's transaction. When a
    concurrent acknowledgement got there first, it issued all of that: nothing more here."""
    now = ports.clock.now()
    if not await uow.documents.acknowledge(document.id, now):
        return None
    message = await issue_receipt(ports, uow, document, ReceiptKind.DOWNLOAD, now)
    actor, office_krid = _actor(party, person)
    await uow.audit.append(AuditEvent(
        at=now, actor=actor, office_krid=office_krid, action=AuditAction.ACKNOWLEDGED,
        registration_number=document.registration_number, sha256=document.sha256))
    return message


async def issue_receipt(
    ports: Ports, uow: UnitOfWork, document: Document, kind: ReceiptKind | str, now: datetime,
) -> StagedContent | None:
    """Sign a receipt of ``kind`` about ``document`` (with its own timestamp) for the sender;
    when the sender asked ETertiveveny, also deliver it as a system message, whose staged bytes
    are returned to be placed once the transaction commits."""
    kind = ReceiptKind(kind)
    [receipt] = await _signed(ports, [ReceiptContent(
        kind=kind, registration_number=document.registration_number,
        sender=_receipt_party(document.sender), recipient=_receipt_party(document.recipient),
        file_name=document.file_name, sha256=document.sha256, at=now,
        timestamp_token=await _timestamp(ports, document.sha256, now),
        notices=_notices(document, now) if kind is ReceiptKind.PRESUMED_DELIVERY else None,
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
    ports: Ports, uow: UnitOfWork, recipient: Party, *, numbering_krid: str,
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
    warning_due_at = (_due_times(ports, True, now)[0] if recipient.is_organisation else None)
    await _register(uow, NewDocument(
        registered_at=now, valid_until=now + timedelta(days=ports.retention_days),
        sender_id=system.id, recipient_id=recipient.id, sender_kind=PartyKind.SYSTEM,
        reference_number=reference_number, doc_type_office="KR",
        doc_type_id=doc_type_id, doc_type_description=title, note=None,
        file_name=file_name, size=staged.size, sha256=staged.sha256, reply_encryption=False,
        return_receipt=False, system_message=True,
        timestamp_token=await _timestamp(ports, staged.sha256, now),
        warning_due_at=warning_due_at,
    ), numbering_krid)
    return staged


async def receipts_of(
    ports: Ports, party: Party, registration_number: str
) -> tuple[Document, list[ReceiptRecord]]:
    """The receipts issued for a document, for its sender."""
    async with ports.uow() as uow:
        document = await _sent_by(uow, party, registration_number)
        return document, await uow.receipts.of_document(document.id)


async def receipt(
    ports: Ports, party: Party, registration_number: str, kind: ReceiptKind
) -> bytes:
    async with ports.uow() as uow:
        document = await _sent_by(uow, party, registration_number)
        content = await uow.receipts.content(document.id, kind)
    if content is None:
        raise NotFound(f"no {kind.value} receipt for {registration_number} (yet)")
    return content


async def _sent_by(uow: UnitOfWork, party: Party, registration_number: str) -> Document:
    document = await _visible(uow, party, registration_number)
    if document.sender_id != party.id:
        raise Forbidden("receipts are the sender's")
    return document


async def timestamp_token(ports: Ports, party: Party, registration_number: str) -> bytes:
    """The RFC 3161 token issued at acceptance over the document's SHA-256."""
    document = await get_document(ports, party, registration_number)
    if document.timestamp_token is None:
        raise NotFound(f"document {registration_number} was accepted before timestamps")
    return document.timestamp_token


async def recover_interrupted_uploads(ports: Ports) -> int:
    """At start-up: move into place content whose row committed just before a crash."""

    async def committed(sha256: str) -> bool:
        async with ports.uow() as uow:
            return await uow.documents.has_content(sha256)

    return await ports.blobs.recover(committed)
