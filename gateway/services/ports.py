"""The ports the services need; storage/ and app.py provide the concrete classes."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Awaitable, Callable, Collection, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from enum import StrEnum
from types import TracebackType
from typing import Any, Protocol

from gateway.domain.audit import AuditEvent, StoredEntry
from gateway.domain.calendar import WorkingCalendar
from gateway.domain.documents import Document, NewDocument, Numbering
from gateway.domain.outages import OutageStatement
from gateway.domain.parties import Party, PartyKind, StaffRole
from gateway.domain.receipts import ReceiptContent, ReceiptKind
from gateway.services.batching import GroupCommit
from gateway.services.forecast import NumberForecast


class Clock(Protocol):
    def now(self) -> datetime:
        """The current instant, timezone-aware."""
        ...


@dataclass(frozen=True)
class NewParty:
    kind: PartyKind
    name: str
    username: str
    password_hash: str
    krid: str | None = None
    short_name: str | None = None
    mak_code: str | None = None
    code: str | None = None
    email: str | None = None


@dataclass(frozen=True)
class NewMail:
    """An e-mail notice to queue: the message is built once, sent as these bytes."""

    party_id: int
    to_address: str
    kind: str  # arrival_notice, second_notice, mailbox_warning
    registration_number: str | None
    subject: str
    message: bytes
    created_at: datetime


@dataclass(frozen=True)
class LeasedMail:
    """A queued e-mail leased for one sending attempt."""

    id: int
    to_address: str
    message: bytes
    attempts: int


@dataclass(frozen=True)
class MailRecord:
    """A queued e-mail as the sandbox console lists it."""

    id: int
    to_address: str
    kind: str
    registration_number: str | None
    subject: str
    message: bytes
    created_at: datetime
    state: str  # pending, sent, dead
    attempts: int
    sent_at: datetime | None


@dataclass(frozen=True)
class OfficeWarnings:
    """An office's mailbox warnings: sent to its admins, their subject naming the office."""

    admin_ids: list[int]
    subject_start: str


class Deadline(StrEnum):
    WARNING = "warning"  # mailbox_warning to an organisation after 3 working days
    # a citizen's document after 5 working days: the second notice, the not_collected receipt
    NOT_COLLECTED = "not_collected"
    PRESUMPTION = "presumption"  # unopened 5 working days after the second notice
    EXPIRY = "expiry"  # valid_until passed before download


@dataclass(frozen=True)
class NewNotification:
    party_id: int
    kind: str
    payload: dict[str, object]
    created_at: datetime


@dataclass(frozen=True)
class Notification:
    id: int
    kind: str
    payload: dict[str, object]
    created_at: datetime
    state: str
    attempts: int


@dataclass(frozen=True)
class Delivery:
    """A notification leased for one delivery attempt."""

    id: int
    party_id: int
    url: str
    kind: str
    payload: dict[str, object]
    attempts: int


@dataclass(frozen=True)
class KeyRecord:
    """A party's encryption certificate on file."""

    certificate_der: bytes
    fingerprint_sha256: str
    not_after: datetime


@dataclass(frozen=True)
class ReceiptRecord:
    kind: ReceiptKind
    issued_at: datetime


@dataclass(frozen=True)
class MailboxQuery:
    recipient_id: int
    only_waiting: bool
    sender_kind: PartyKind | None = None
    doc_type_id: str | None = None
    after_id: int = 0
    limit: int = 50
    # The browser's mailbox page: newest first (``before_id`` pages back), a registration time
    # window, and text in the file name, reference number or sender's name (case-insensitive).
    newest_first: bool = False
    before_id: int | None = None
    since: datetime | None = None
    until: datetime | None = None
    text: str | None = None
    # The RFC 3161 token of each (a few KiB each): only HKP listings carry it (Idopecset).
    with_timestamp_tokens: bool = False


@dataclass(frozen=True)
class OfficeQuery:
    short_name: str | None = None
    name: str | None = None
    kind: PartyKind | None = None
    krid: str | None = None
    limit: int = 500


@dataclass(frozen=True)
class IdempotencyRecord:
    fingerprint: str
    document_id: int | None = field(default=None)


class PartyRepository(Protocol):
    async def add(self, new: NewParty) -> Party: ...
    async def credentials(self, username: str) -> tuple[Party, str] | None:
        """The party and its stored password hash."""
        ...
    async def by_krid(self, krid: str) -> Party | None: ...
    async def by_code(self, code: str) -> Party | None: ...
    async def by_username(self, username: str) -> Party | None: ...
    async def by_id(self, party_id: int) -> Party | None: ...
    async def set_webhook(self, party_id: int, url: str | None) -> None: ...
    async def set_email(self, party_id: int, email: str) -> None: ...
    async def system(self) -> Party:
        """The Központi Rendszer, sender of system messages."""
        ...
    async def taken(self, *, krid: str | None, short_name: str | None, username: str,
                    code: str | None = None) -> str | None:
        """The name of the first field whose value another party has (a kapcsolati kód also
        when it was given up once), else None."""
        ...
    async def swap_code(self, party_id: int, new_code: str, at: datetime) -> None:
        """Give the party ``new_code``; its old code is kept as retired."""
        ...
    async def offices(self, query: OfficeQuery) -> list[Party]: ...


class DocumentRepository(Protocol):
    async def register(self, new: NewDocument, numbering: Numbering) -> tuple[int, str] | None:
        """Take the next number of ``numbering`` and insert the document under it, atomically
        and in the unit of work's transaction (a rollback gives the number back). Returns the
        document's id and number, or None when the day's sequence is used up."""
        ...
    async def number_many(self, numberings: list[Numbering]) -> list[str | None]:
        """The next number of each of ``numberings``, in order, each counter taken once for
        all of its documents (in a fixed order of counters, so two batches never wait for
        each other in a circle); None for one whose day's sequence is used up. The counters'
        rows stay locked until the transaction ends (a rollback gives the numbers back)."""
        ...
    async def add_many(self, numbered: list[tuple[NewDocument, str]]) -> list[int]:
        """Insert documents under the numbers ``number_many`` gave them, in one statement;
        their ids, in order."""
        ...
    async def add_many_accepted(
        self, kind: ReceiptKind, accepted: list[tuple[NewDocument, str, bytes, AuditEvent]]
    ) -> None:
        """``add_many`` with each document's receipt of ``kind`` (issued at its
        registration) and audit entry: (document, number, receipt, audit event) each."""
        ...
    async def by_id(self, document_id: int) -> Document | None: ...
    async def by_number(self, registration_number: str) -> Document | None: ...
    async def sent_by(self, sender_id: int, before_id: int | None, limit: int) -> list[Document]:
        """What the party sent, newest first, before document ``before_id``."""
        ...
    async def claim_due(self, deadline: Deadline, now: datetime, limit: int) -> list[Document]:
        """Documents whose ``deadline`` has passed and is not yet dealt with, locked for this
        transaction; rows another transaction holds are skipped, never waited for."""
        ...
    async def mark(self, deadline: Deadline, document_ids: list[int], now: datetime) -> None:
        """Record the deadline as dealt with (for EXPIRY: the document expires)."""
        ...
    async def schedule_presumption(self, document_ids: list[int], due_at: datetime) -> None:
        """When the documents (just given their second notice) are presumed delivered."""
        ...
    async def content_needed(self, sha256: str) -> bool:
        """Whether a document that is not expired, or one kept in a tartós tár, refers to
        this content."""
        ...
    async def waiting_counts(
        self, recipient_id: int, doc_type_id: str | None = None
    ) -> dict[PartyKind, int]:
        """How many documents (of one type, if given) wait in the mailbox, by sender kind."""
        ...
    async def has_content(self, sha256: str) -> bool:
        """Whether any document row refers to this content."""
        ...
    async def mailbox(self, query: MailboxQuery) -> list[Document]: ...
    async def acknowledge(self, document_id: int, at: datetime) -> bool:
        """Mark as downloaded unless it already is (or expired); True when this call did."""
        ...


class RegistrationCounter(Protocol):
    async def next(self, krid: str, day: date) -> int:
        """Take the next sequence number of ``krid`` on ``day``, atomically; a rollback of
        the surrounding transaction gives it back."""
        ...
    async def take(self, krid: str, day: date, count: int) -> int:
        """Take the next ``count`` sequence numbers at once; the last of them."""
        ...


class IdempotencyRepository(Protocol):
    async def claim(self, party_id: int, key: str, fingerprint: str) -> IdempotencyRecord | None:
        """Claim ``key`` for this request; None when claimed, else the earlier record."""
        ...
    async def complete(self, party_id: int, key: str, document_id: int) -> None: ...


class KeyRepository(Protocol):
    async def current(self, party_id: int) -> KeyRecord | None: ...
    async def replace(self, party_id: int, record: KeyRecord, at: datetime) -> None:
        """File ``record`` as the party's key; an earlier one stays in the history."""
        ...
    async def remove(self, party_id: int, at: datetime) -> bool: ...


class ReceiptRepository(Protocol):
    async def add(self, document_id: int, kind: ReceiptKind, issued_at: datetime,
                  content: bytes) -> None: ...
    async def add_with_audit(self, document_id: int, kind: ReceiptKind, issued_at: datetime,
                             content: bytes, event: AuditEvent) -> None:
        """The receipt and the audit entry of one event, in one round trip where the
        database allows it."""
        ...
    async def of_document(self, document_id: int) -> list[ReceiptRecord]: ...
    async def of_documents(self, document_ids: list[int]) -> dict[int, list[ReceiptRecord]]:
        """The receipts of several documents at once, by document id."""
        ...
    async def content(self, document_id: int, kind: ReceiptKind) -> bytes | None: ...


@dataclass(frozen=True)
class AuditLink:
    """An entry's place in the chain, as the linker computed it."""

    id: int
    sequence: int
    previous_hash: str
    hash: str


class AuditLog(Protocol):
    async def lock_head(self) -> tuple[int, str]:
        """The head (last linked sequence and hash), locked until the transaction ends: one
        linker at a time."""
        ...
    async def unlinked(self, limit: int) -> list[tuple[int, AuditEvent]]:
        """Committed entries not linked yet, by id: (id, event)."""
        ...
    async def link(self, links: list[AuditLink], head_sequence: int, head_hash: str) -> None:
        ...
    async def oldest_unlinked(self) -> tuple[int, datetime | None]:
        """How many entries wait to be linked, and the oldest one's time."""
        ...
    async def append(self, event: AuditEvent) -> None:
        """Write ``event``, to be linked into the chain after its transaction commits."""
        ...
    async def head(self) -> tuple[int, str]: ...
    async def entries(self, after: int | None, limit: int) -> list[StoredEntry]:
        """Linked entries in sequence order after ``after`` (None: from the very first,
        whatever its sequence), values as stored."""
        ...
    async def of_office(self, krid: str, before: int | None, limit: int) -> list[StoredEntry]:
        """Entries that name the office, newest first (by id, linked or not), before id
        ``before``."""
        ...
    async def first_outside_chain(self) -> object | None:
        """The sequence of the first entry before 1 or past the chain's head, if any."""
        ...


@dataclass(frozen=True)
class StaffMember:
    person: Party
    role: StaffRole
    granted_at: datetime


class StaffRepository(Protocol):
    async def lock(self, organisation_id: int) -> None:
        """Hold the organisation's staff still until the transaction ends."""
        ...
    async def members(self, organisation_id: int) -> list[StaffMember]: ...
    async def role(self, organisation_id: int, person_id: int) -> StaffRole | None: ...
    async def set_role(self, organisation_id: int, person_id: int, role: StaffRole,
                       at: datetime) -> None: ...
    async def remove(self, organisation_id: int, person_id: int) -> None: ...
    async def offices_of(self, person_id: int) -> list[tuple[Party, StaffRole]]:
        """The organisations where the person holds a role, with the role."""
        ...


@dataclass(frozen=True)
class KeptDocument:
    """A document in a party's tartós tár, and since when it is kept there."""

    document: Document
    kept_at: datetime


class KeptRepository(Protocol):
    """The documents each party keeps in its tartós tár (permanent storage)."""

    async def lock(self, party_id: int, document_id: int | None = None) -> None:
        """Hold the party's tartós tár (and the document, if given) still until the
        transaction ends, so two keeps cannot both fit under the quota."""
        ...
    async def used_bytes(self, party_id: int) -> int: ...
    async def add(self, party_id: int, document_id: int, at: datetime) -> None: ...
    async def kept_at(self, party_id: int, document_id: int) -> datetime | None: ...
    async def of_party(self, party_id: int) -> list[KeptDocument]:
        """The party's kept documents, most recently kept first."""
        ...
    async def remove(self, party_id: int, document_id: int) -> bool: ...


class WebSessionRepository(Protocol):
    """Persons' browser sessions (by the SHA-256 of the cookie's token)."""

    async def add(self, token_sha256: str, person_id: int, at: datetime) -> None: ...
    async def find(self, token_sha256: str) -> tuple[Party, datetime, datetime] | None:
        """The session's person, when it was made and when it was last used."""
        ...
    async def touch(self, token_sha256: str, at: datetime) -> None: ...
    async def remove(self, token_sha256: str) -> None: ...


class FormSubmissionRepository(Protocol):
    """One-time keys of the web's forms, by person (services/forms.py)."""

    async def claim(self, person_id: int, form_key: str, at: datetime, *,
                    forget_before: datetime) -> tuple[bool, str | None]:
        """Claim the key: (True, None) when this call claimed it, else (False, the first
        POST's outcome, None while it is at work). The person's keys claimed before
        ``forget_before`` are dropped."""
        ...
    async def outcome(self, person_id: int, form_key: str) -> str | None: ...
    async def settle(self, person_id: int, form_key: str, outcome: str) -> None: ...
    async def release(self, person_id: int, form_key: str) -> None: ...


class LoginFailureRepository(Protocol):
    """Failed logins by username and client address (services/auth.py throttles by them)."""

    async def latest(self, username: str, address: str, since: datetime,
                     limit: int) -> list[datetime]:
        """When this username last failed from this address since ``since``, newest first."""
        ...
    async def count_since(self, username: str, since: datetime) -> int:
        """This username's failures from every address since ``since``."""
        ...
    async def add(self, username: str, address: str, at: datetime,
                  forget_before: datetime) -> None:
        """Record a failure; the username's failures before ``forget_before`` are dropped."""
        ...
    async def clear(self, username: str, address: str) -> None: ...


class NotificationRepository(Protocol):
    async def add_many(self, notifications: list[NewNotification]) -> None: ...
    async def of_party(self, party_id: int, after_id: int, limit: int) -> list[Notification]: ...
    async def lease_due(self, now: datetime, lease_until: datetime, limit: int, *,
                        skip_parties: Collection[int] = (),
                        party_id: int | None = None) -> list[Delivery]:
        """The oldest due notification of each of up to ``limit`` parties with a webhook (of
        ``party_id`` only, if given), none of ``skip_parties``, leased until ``lease_until``
        (rows another transaction holds are skipped)."""
        ...
    async def delivered(self, notification_id: int, at: datetime) -> None: ...
    async def failed(self, notification_id: int, attempts: int, error: str,
                     retry_at: datetime | None) -> None:
        """A failed attempt; ``retry_at=None`` gives up (dead letter)."""
        ...


@dataclass(frozen=True)
class Probe:
    at: datetime
    ok: bool


@dataclass(frozen=True)
class Incident:
    id: int
    title: str
    outage: bool
    opened_at: datetime
    closed_at: datetime | None
    affected: str | None = None  # None: recorded before incidents named what they affected


@dataclass(frozen=True)
class Maintenance:
    id: int
    start_at: datetime
    end_at: datetime
    reason: str
    announced_at: datetime


class OperationsRepository(Protocol):
    async def ping(self) -> None:
        """One round trip to the database."""
        ...
    async def add_probe(self, at: datetime, ok: bool, failures: str | None) -> None: ...
    async def probes(self, since: datetime, until: datetime) -> list[Probe]: ...
    async def open_incident(self, title: str, outage: bool, at: datetime,
                            affected: str) -> Incident: ...
    async def incident(self, incident_id: int) -> Incident | None: ...

    async def close_incident(self, incident_id: int, at: datetime) -> Incident | None: ...
    async def incidents(self, since: datetime) -> list[Incident]:
        """Incidents open now or closed after ``since``."""
        ...
    async def announce(self, start: datetime, end: datetime, reason: str,
                       at: datetime) -> Maintenance: ...
    async def maintenance(self, since: datetime) -> list[Maintenance]:
        """Windows ending after ``since``."""
        ...
    async def waiting_total(self) -> int: ...
    async def outbox_counts(self) -> dict[str, tuple[int, int]]:
        """Per channel (webhook, email): pending messages, and dead letters. A notification
        waits only for a party with a webhook; the others are read by polling."""
        ...
    async def record_ca(self, fingerprint: str, at: datetime) -> str:
        """Record the CA's fingerprint unless one is recorded; return the recorded one."""
        ...
    async def oldest_due(self, now: datetime) -> datetime | None:
        """The earliest deadline that has passed and is not yet dealt with."""
        ...


class MailOutbox(Protocol):
    async def add_many(self, mails: list[NewMail]) -> None: ...
    async def lease_due(self, now: datetime, lease_until: datetime,
                        limit: int) -> list[LeasedMail]:
        """Pending mails whose time has come, leased until ``lease_until`` (rows another
        transaction holds are skipped)."""
        ...
    async def delivered(self, mail_id: int, at: datetime) -> None:
        """Handed over: the message is ``sent``."""
        ...
    async def failed(self, mail_id: int, attempts: int, error: str,
                     retry_at: datetime | None) -> None:
        """Record a failed attempt: retry at ``retry_at``, or None: dead letter."""
        ...
    async def addressed_to(self, party_id: int, office_warnings: list[OfficeWarnings],
                           limit: int) -> list[MailRecord]:
        """The newest messages queued for the party, and the warnings that speak for each
        of ``office_warnings``' offices to its admins."""
        ...
    async def of_party(self, party_id: int, limit: int) -> list[MailRecord]: ...


class SandboxClockRepository(Protocol):
    async def offset(self) -> float: ...
    async def set_offset(self, seconds: float) -> None: ...


class UnitOfWork(Protocol):
    parties: PartyRepository
    documents: DocumentRepository
    counters: RegistrationCounter
    idempotency: IdempotencyRepository
    keys: KeyRepository
    receipts: ReceiptRepository
    audit: AuditLog
    staff: StaffRepository
    web_sessions: WebSessionRepository
    form_submissions: FormSubmissionRepository
    login_failures: LoginFailureRepository
    notifications: NotificationRepository
    mail: MailOutbox
    sandbox_clock: SandboxClockRepository
    operations: OperationsRepository
    kept: KeptRepository

    async def __aenter__(self) -> UnitOfWork: ...
    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...
    async def commit(self) -> None: ...


class StagedContent(Protocol):
    """Bytes of one upload on their way into the blob store."""

    @property
    def size(self) -> int: ...
    @property
    def sha256(self) -> str: ...
    @property
    def head(self) -> bytes: ...
    def write(self, chunk: bytes | memoryview) -> None:
        """Append bytes; raises TooLarge past the limit."""
        ...
    def seal(self) -> str:
        """All bytes are in: their SHA-256 (``sha256`` from now on), before they are
        durable."""
        ...
    async def finish(self) -> None:
        """All bytes are in: seal and make them durable (again: nothing happens)."""
        ...
    async def sha1(self) -> str: ...
    def chunks(self) -> Iterator[bytes]:
        """The finished bytes, read in chunks (blocking: use from a worker thread)."""
        ...
    async def place(self) -> None:
        """Move into the store; call only after the database row has committed."""
        ...
    async def discard(self) -> None: ...


@dataclass(frozen=True)
class BlobGcReport:
    """What one ``kapu blobs gc`` pass did (files older than the grace period only)."""

    examined: int  # files (objects) old enough to be looked at
    removed: int  # blobs and staged files that no row needs, deleted
    placed: int  # staged files whose row committed before a crash, moved into place
    aborted_uploads: int = 0  # unfinished multipart uploads of an S3 store, aborted


class BlobStore(Protocol):
    def stage(self, max_bytes: int) -> StagedContent: ...
    def read(self, sha256: str, start: int = 0, end: int | None = None
             ) -> AsyncIterator[bytes]:
        """The content, or bytes ``start`` to ``end`` (inclusive) of it, streamed."""
        ...
    async def exists(self, sha256: str) -> bool:
        """Whether a committed row's content can be read (placing it if its upload has not
        yet)."""
        ...
    async def recover(self, committed: Callable[[str], Awaitable[bool]]) -> int: ...
    async def check(self) -> None:
        """Raise OSError unless the store can be written (readiness)."""
        ...
    async def close(self) -> None:
        """Release connections (the process is stopping)."""
        ...
    async def delete_unless(self, sha256: str, needed: Callable[[], Awaitable[bool]]) -> bool:
        """Delete stored content unless ``needed()`` says a document still refers to it."""
        ...
    async def collect_garbage(
        self, needed: Callable[[str], Awaitable[bool]], grace_seconds: float,
        progress: Callable[[BlobGcReport], None] | None = None,
    ) -> BlobGcReport:
        """Remove stored and staged content older than ``grace_seconds`` that ``needed(sha256)``
        says no row needs; place staged content a committed row needs."""
        ...


class Timestamper(Protocol):
    def timestamp(self, sha256_hex: str, at: datetime) -> bytes:
        """A DER RFC 3161 TimeStampToken over the digest, dated ``at``."""
        ...


class EvidenceSigner(Protocol):
    """Timestamps and receipts made away from the event loop (crypto/signing_process.py)."""

    async def timestamp(self, sha256_hex: str, at: datetime) -> bytes: ...
    async def sign(self, contents: list[ReceiptContent]) -> list[bytes]: ...
    async def close(self) -> None: ...


class SettableClock(Protocol):
    """The sandbox's test clock: system time plus an offset shared through the database."""

    offset: timedelta

    def now(self) -> datetime: ...


class WebhookPoster(Protocol):
    async def post(self, url: str, body: dict[str, object]) -> None:
        """Deliver; raise on any failure (network, timeout, non-2xx)."""
        ...


class MailTransport(Protocol):
    async def send(self, message: bytes, mail_from: str, to: str) -> None:
        """Hand one message over (SMTP, or a file in the embedded default); raises on
        failure."""
        ...


class Telemetry(Protocol):
    """Counts what the services decide (metrics); the default counts nothing."""

    def accepted(self) -> None: ...
    def refused(self, code: str) -> None: ...
    def registered_batch(self, size: int) -> None:
        """One transaction registered ``size`` uploads together."""
        ...
    def signed_early(self, used: int, signed_again: int) -> None:
        """A batch used ``used`` receipts signed early and signed ``signed_again`` anew
        (their number forecast was wrong)."""
        ...


class NoTelemetry:
    def accepted(self) -> None:
        pass

    def refused(self, code: str) -> None:
        pass

    def registered_batch(self, size: int) -> None:
        pass

    def signed_early(self, used: int, signed_again: int) -> None:
        pass


class Encryptor(Protocol):
    def enveloped_size(self, size: int, certificate_der: bytes) -> int: ...
    def envelope(self, chunks: Iterable[bytes], size: int, certificate_der: bytes,
                 write: Callable[[bytes], None]) -> None:
        """Write the content encrypted for the certificate's holder (blocking)."""
        ...


class ReceiptSigner(Protocol):
    def sign(self, content: ReceiptContent) -> bytes:
        """The receipt as signed XML."""
        ...
    def sign_outage(self, statement: OutageStatement) -> bytes:
        """An outage certificate as signed XML."""
        ...


class OfficeCache:
    """Organisations by KRID, as this process last read them, for a few seconds: every upload
    looks its addressee up, and a KRID never changes hands. Only organisations are kept (a
    citizen's kapcsolati kód can be swapped, and must stop being an address at once), and an
    unknown KRID is never remembered (an office added a moment ago is found at once)."""

    def __init__(self, ttl_seconds: float = 5.0, max_entries: int = 10_000) -> None:
        self._ttl = ttl_seconds
        self._max_entries = max_entries
        self._entries: dict[str, tuple[float, Party]] = {}

    def get(self, krid: str) -> Party | None:
        entry = self._entries.get(krid)
        if entry is None or entry[0] < time.monotonic():
            return None
        return entry[1]

    def put(self, party: Party) -> None:
        if party.krid is None or not party.is_organisation:
            return
        if len(self._entries) >= self._max_entries:
            self._entries.pop(next(iter(self._entries)))
        self._entries[party.krid] = (time.monotonic() + self._ttl, party)


@dataclass
class Ports:
    """Everything a service may touch, wired once by app.py."""

    uow: Callable[[], UnitOfWork]
    # Takes the database's write lock at BEGIN (SQLite), so two writers never deadlock.
    write_uow: Callable[[], UnitOfWork]
    blobs: BlobStore
    clock: Clock
    retention_days: int
    max_document_bytes: int
    timestamper: Timestamper
    receipt_signer: ReceiptSigner
    encryptor: Encryptor
    trust_pem: bytes  # the gateway's CA certificate
    calendar: WorkingCalendar = field(default_factory=WorkingCalendar)
    # False only in benchmarks: acceptance without timestamp, receipt and audit entry.
    acceptance_evidence: bool = True
    sandbox_clock: SettableClock | None = None  # set when KAPU_SANDBOX=1
    # E-mail notices and the two-notice presumption (contract sections 16 and 17).
    mail_transport: MailTransport | None = None  # None: mails wait in the outbox
    mail_from: str = "kapu@localhost"
    public_url: str = "http://127.0.0.1:8080"  # where the links in notices point
    second_notice_working_days: int = 5
    presumption_working_days: int = 5
    mail_max_attempts: int = 10
    mail_backoff_seconds: float = 5.0
    offices: OfficeCache = field(default_factory=OfficeCache)
    # Uploads that queue while one is registered are registered together (group commit).
    registrations: GroupCommit[Any, str] = field(default_factory=GroupCommit)
    # The numbers those uploads will get, so that their receipts are signed while they wait.
    forecast: NumberForecast = field(default_factory=NumberForecast)
    # None: timestamps and receipts are signed in worker threads (the command line).
    evidence_signer: EvidenceSigner | None = None
    # The status page's figures of whole Budapest days gone by, which no longer change: probes
    # and incidents are recorded at the clock's now, maintenance 3 days ahead. Kept per
    # process so a page view reads only today's probes (not with a test clock, which may
    # move back).
    past_days: dict[date, float | None] = field(default_factory=dict)
    telemetry: Telemetry = field(default_factory=NoTelemetry)
    permanent_storage_bytes: int = 31_457_280  # each citizen's tartós tár quota
    # Webhooks may point at loopback and private addresses (development and tests only).
    webhook_allow_private: bool = False
