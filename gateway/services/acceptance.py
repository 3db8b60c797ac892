"""Taking a document in (befogadás): the rules an upload must meet (metadata, format, content,
hashes, addressee, encryption, idempotency, a kept copy), the moment of acceptance and its
timestamp, then registration by the registrar. Whatever is refused or fails leaves no bytes and
takes no number."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from types import TracebackType

from gateway.domain.audit import AuditAction, AuditEvent, acting_for, actor_of
from gateway.domain.calendar import due_times
from gateway.domain.documents import (
    Document,
    NewDocument,
    UploadRequest,
    check_addressee,
    check_not_empty,
    may_encrypt,
    numbering_krid,
    validate_upload,
)
from gateway.domain.formats import content_matches
from gateway.domain.parties import Party
from gateway.domain.receipts import ReceiptKind
from gateway.domain.rny import Agency
from gateway.errors import (
    Forbidden,
    FormatMismatch,
    GatewayError,
    HashMismatch,
    IdempotencyConflict,
    InvalidRequest,
    KeyNotFound,
    RecipientUnknown,
    Unavailable,
)
from gateway.services import mail
from gateway.services.acceptance_receipts import acceptance_evidence
from gateway.services.evidence import timestamp
from gateway.services.pending import Pending
from gateway.services.ports.slices import AcceptancePorts
from gateway.services.ports.storage import StagedContent, UnitOfWork
from gateway.services.public_notices import notice_registering
from gateway.services.registrar import (
    Registered,
    Registering,
    numbering_for,
    presigned,
    register,
    register_batch,
    register_named,
)
from gateway.services.storage_quota import reserve_copy
from gateway.services.system_messages import SystemMessage


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


def start_upload(ports: AcceptancePorts) -> StagedContent:
    """Open a staging area for one document's bytes, limited to the configured size."""
    return ports.blobs.stage(ports.max_document_bytes)


class StagedUpload:
    """One upload's bytes on their way in, for every door: ``content`` is filled by the door's
    parser; ``accept`` hands it to :func:`accept_document`, which then places or removes the
    bytes; leaving the block without handing them over (a refusal before acceptance, a broken
    body, a repeated form) removes them. So no door discards by hand, and nothing staged is
    left behind.

        async with StagedUpload(ports) as upload:
            form = await receive_form(..., upload.content)
            acceptance = await upload.accept(sender, request)
    """

    def __init__(self, ports: AcceptancePorts) -> None:
        self._ports = ports
        self.content = start_upload(ports)
        self._handed_over = False

    async def __aenter__(self) -> StagedUpload:
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None,
                        exc: BaseException | None, tb: TracebackType | None) -> None:
        if not self._handed_over:
            await self.content.discard()

    async def accept(self, sender: Party, request: UploadRequest,
                     idempotency_key: str | None = None, *,
                     person: str | None = None,
                     registering: Registering | None = None,
                     agency: Agency | None = None) -> Acceptance:
        """:func:`accept_document` of these bytes (once: they are then its to place or remove)."""
        if self._handed_over:
            raise RuntimeError("an upload's bytes are accepted once")
        self._handed_over = True
        return await accept_document(self._ports, sender, request, self.content,
                                     idempotency_key, person=person, registering=registering,
                                     agency=agency)

    @property
    def handed_over(self) -> bool:
        """Accepted: its bytes are acceptance's to place or remove, no longer the block's."""
        return self._handed_over


async def _recipient(ports: AcceptancePorts, uow: UnitOfWork, request: UploadRequest) -> Party:
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


async def _addressee(ports: AcceptancePorts, request: UploadRequest) -> Party:
    """``_recipient`` without a unit of work when the office is cached: opening one (a pool
    checkout and its reset) cost more per upload than the rest of the lookup."""
    if request.recipient_krid is not None:
        found = ports.offices.get(request.recipient_krid)
        if found is not None:
            return found
    async with ports.uow() as uow:
        return await _recipient(ports, uow, request)


async def accept_document(
    ports: AcceptancePorts,
    sender: Party,
    request: UploadRequest,
    content: StagedContent,
    idempotency_key: str | None = None,
    *,
    person: str | None = None,
    registering: Registering | None = None,
    agency: Agency | None = None,
) -> Acceptance:
    """Register a document whose bytes are staged in ``content`` (all written, finished or
    not): check it, make its bytes durable, encrypt it for the addressee when that is due,
    give it the next registration number and its dates in one transaction, then move the
    bytes into the store. ``person``: who sent it for ``sender`` in the browser (the audit
    entry names them). ``registering``: its name from its number, and writes of the caller's
    in the same transaction (see :class:`Registering`).

    ``agency``: an agent sends in the name of ``sender``, its principal, under a mandate
    (contract 25): an addressee outside its scope is refused (Forbidden naming
    ``recipient_krid``); the document records the agent (``agent_id``) and the audit names
    both.

    Whatever is refused or fails, the staged bytes are removed and no number is consumed:
    the counter increment is part of the transaction that rolls back.
    """
    if agency is not None:
        assert sender.id == agency.principal.id, "an agent sends in its principal's name"
        person = agency.agent.username
    # The staged bytes this request must remove if it fails: once handed to a batch, the
    # batch places or removes them, even if this request is cancelled while it waits.
    owned = [content]
    try:
        content.seal()
        request = _checked(request, content)
        if agency is not None and request.keep_copy:  # the principal's tartós tár is theirs
            raise Forbidden("an agent cannot keep a copy in the principal's tartós tár",
                            field="keep_copy")
        stamping = _stamped_soon(ports, sender, request, content)
        await content.finish()
        if request.sha1 is not None and request.sha1 != await content.sha1():
            raise HashMismatch("sha1 does not match the content", field="sha1")
        registering = await notice_registering(ports, sender, request, content) or registering
        stored = await _encrypted_if_due(ports, sender, request, content)
        if stored is not content:
            owned.append(stored)
            await content.discard()  # the plaintext is never stored
        acceptance = await _accept(ports, sender, request, stored, content.sha256,
                                   idempotency_key, person, owned, stamping, registering,
                                   agency)
    except GatewayError as refusal:
        await _discard(*owned)
        ports.telemetry.refused(refusal.code)
        if ports.acceptance_evidence and not isinstance(refusal, Unavailable):
            await _audit_refusal(ports, sender, refusal, content, person, agency)
        raise
    except BaseException:
        await _discard(*owned)
        raise
    if owned:
        await stored.place()
    ports.telemetry.accepted()
    return acceptance


async def _stamped(ports: AcceptancePorts, content: StagedContent) -> tuple[datetime, bytes | None]:
    """The moment of acceptance, and the TSA's token for it when evidence is on."""
    registered_at = ports.clock.now()
    if not ports.acceptance_evidence:
        return registered_at, None
    return registered_at, await timestamp(ports, content.sha256, registered_at)


def _stamped_soon(ports: AcceptancePorts, sender: Party, request: UploadRequest,
                  content: StagedContent) -> asyncio.Future[tuple[datetime, bytes | None]] | None:
    """:func:`_stamped`, started as soon as the bytes' SHA-256 is known: the token is signed
    while the bytes are made durable, instead of after (measured on PostgreSQL, 16 clients:
    575 against 664 uploads/s). None when evidence is off, or when the bytes may yet be
    encrypted for the addressee (the stored bytes are then timestamped). A refused upload's
    token is never used."""
    if not ports.acceptance_evidence or may_encrypt(sender, request):
        return None
    stamping = asyncio.ensure_future(_stamped(ports, content))
    # Read here, so asyncio does not report a token nobody waited for as a lost exception.
    stamping.add_done_callback(lambda done: done.cancelled() or done.exception())
    return stamping


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
    ports: AcceptancePorts, sender: Party, request: UploadRequest, content: StagedContent
) -> StagedContent:
    """The content as it will be stored: encrypted (CMS, file name + .p7m) for the addressee's
    certificate when an organisation sends with ``encrypt``, or replies to a document of the
    addressee that asked ``reply_encryption``; otherwise ``content`` itself."""
    if not may_encrypt(sender, request):
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
    ports: AcceptancePorts, sender: Party, refusal: GatewayError, content: StagedContent,
    person: str | None, agency: Agency | None = None,
) -> None:
    """A refusal is recorded in its own transaction: the upload's own rolled back."""
    try:
        sha256: str | None = content.sha256
    except RuntimeError:  # refused before all bytes arrived
        sha256 = None
    actor, office_krid = actor_of(sender.username, sender.krid, person)
    async with ports.write_uow() as uow:
        await uow.audit.append(AuditEvent(
            at=ports.clock.now(), actor=actor, office_krid=office_krid,
            action=AuditAction.REFUSED, sha256=sha256,
            detail=refusal.code if agency is None
            else f"{refusal.code} {acting_for(sender.username)}"))
        await uow.commit()


async def _accept(
    ports: AcceptancePorts,
    sender: Party,
    request: UploadRequest,
    content: StagedContent,
    submitted_sha256: str,
    idempotency_key: str | None,
    person: str | None,
    owned: list[StagedContent],
    stamping: asyncio.Future[tuple[datetime, bytes | None]] | None,
    registering: Registering | None = None,
    agency: Agency | None = None,
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
    if idempotency_key is None and not request.keep_copy and registering is None:
        recipient = await _addressee(ports, request)
        check_addressee(sender, recipient)
        _check_scope(agency, recipient)
        new = _new_document(ports, sender, recipient, request, content, submitted_sha256,
                            file_name, registered_at, token, agency)
        numbering = numbering_for(numbering_krid(sender, recipient), registered_at)
        pending = Pending(new=new, numbering=numbering, sender=sender, recipient=recipient,
                           person=person, content=content,
                           presigned=presigned(ports, sender, recipient, new, numbering))
        owned.clear()
        # No await between the forecast and joining the queue: the queue's order is the
        # forecast's.
        number = await ports.registrations.submit(
            pending, lambda batch: register_batch(ports, batch))
        return Acceptance(number, registered_at, pending.new.valid_until, submitted_sha256,
                          content.size, file_name)

    fingerprint = request.fingerprint(submitted_sha256)
    async with SystemMessage() as message, ports.write_uow() as uow:
        recipient = await _recipient(ports, uow, request)
        check_addressee(sender, recipient)
        _check_scope(agency, recipient)
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
                            file_name, registered_at, token, agency,
                            registering.valid_until if registering else None)
        if request.keep_copy:  # the party's row is locked before the counter's, as keeping does
            await reserve_copy(uow, ports, sender, content.size)
        # The counter row is locked from here until the commit ends.
        counter_taken = time.perf_counter()
        if registering is None or registering.file_name is None:
            document_id, number = await register(
                uow, new, numbering_krid(sender, recipient))
        else:
            suffix = file_name[len(request.file_name):]  # ".p7m" when stored encrypted
            named = registering.file_name
            document_id, number, new = await register_named(
                uow, new, numbering_krid(sender, recipient),
                lambda number: named(number) + suffix)
        await uow.mail.add_many(mail.arrival_notices(ports, sender, recipient, new, number))
        if request.keep_copy:
            await uow.kept.add(sender.id, document_id, registered_at)
        if idempotency_key is not None:
            await uow.idempotency.complete(sender.id, idempotency_key, document_id)
        if token is not None:
            # The KRID's counter row is locked from register to the commit: one statement
            # writes the receipt and the audit entry (each await here waits for the event
            # loop's turn while every other upload to this KRID waits for the lock).
            [receipt], [event] = await acceptance_evidence(
                ports, [(sender, recipient, new, number, person)])
            await uow.receipts.add_with_audit(
                document_id, ReceiptKind.ACCEPTANCE, registered_at, receipt, event)
        if registering is not None and registering.also is not None:
            message.staged = await registering.also(uow, Registered(document_id, number, new))
        await uow.commit()
        ports.telemetry.counter_held(time.perf_counter() - counter_taken, 1)
    return Acceptance(number, registered_at, new.valid_until, submitted_sha256, content.size,
                      new.file_name)


def _check_scope(agency: Agency | None, recipient: Party) -> None:
    """An agent sends only to offices within the mandate's scope (contract 25)."""
    if agency is not None and not (recipient.is_organisation and agency.covers(recipient.krid)):
        raise Forbidden(f"the mandate does not reach {recipient.name}", field="recipient_krid")


def _new_document(
    ports: AcceptancePorts, sender: Party, recipient: Party, request: UploadRequest,
    content: StagedContent, submitted_sha256: str, file_name: str, registered_at: datetime,
    token: bytes | None, agency: Agency | None = None, valid_until: datetime | None = None,
) -> NewDocument:
    encrypted = content.sha256 != submitted_sha256
    warning_due_at, not_collected_due_at = due_times(
        ports.calendar, to_organisation=recipient.is_organisation, at=registered_at,
        second_notice_working_days=ports.second_notice_working_days)
    return NewDocument(
        registered_at=registered_at,
        valid_until=valid_until or registered_at + timedelta(days=ports.retention_days),
        sender_id=sender.id, recipient_id=recipient.id, sender_kind=sender.kind,
        reference_number=request.reference_number, doc_type_office=request.doc_type_office,
        doc_type_id=request.doc_type_id, doc_type_description=request.doc_type_description,
        note=request.note, file_name=file_name, size=content.size,
        sha256=content.sha256, reply_encryption=request.reply_encryption,
        return_receipt=request.return_receipt, timestamp_token=token,
        submitted_sha256=submitted_sha256 if encrypted else None,
        warning_due_at=warning_due_at, not_collected_due_at=not_collected_due_at,
        agent_id=agency.agent.id if agency is not None else None,
    )


async def recover_interrupted_uploads(ports: AcceptancePorts) -> int:
    """At start-up: move into place content whose row committed just before a crash."""

    async def committed(sha256: str) -> bool:
        async with ports.uow() as uow:
            return await uow.documents.has_content(sha256)

    return await ports.blobs.recover(committed)
