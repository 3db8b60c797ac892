"""What each slice of the services may touch: one protocol per slice, naming the part of
``Ports`` its functions use. A service function takes its slice's protocol, never ``Ports``;
``Ports`` satisfies every one of them structurally, so the doors pass it as it is (mypy checks
each call). A slice that calls another's functions inherits that slice's protocol, so its
bases say whom it builds on, and its own members what it touches itself."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any, Protocol

from gateway.domain.calendar import WorkingCalendar
from gateway.services.batching import GroupCommit
from gateway.services.forecast import NumberForecast
from gateway.services.ports.evidence import (
    Encryptor,
    EvidenceSigner,
    PdfAuthenticator,
    ReceiptSigner,
    SubmissionRenderer,
    Timestamper,
)
from gateway.services.ports.operations import Clock, SettableClock, Telemetry
from gateway.services.ports.outbox import MailTransport
from gateway.services.ports.parties import OfficeCache
from gateway.services.ports.storage import BlobStore, TemporaryDirectories, UnitOfWork

# ``uow`` and ``write_uow`` are read-only members: mypy takes ``Ports``' callable fields for
# read-only ones, and a plain protocol attribute asks for a settable one.

# The document path (docs/architecture.md, "Slices of the document path"), bottom up.


class TransactionPorts(Protocol):
    """Units of work, read and write, and the clock: what most slices open transactions with."""

    @property
    def uow(self) -> Callable[[], UnitOfWork]: ...
    @property
    def write_uow(self) -> Callable[[], UnitOfWork]: ...

    clock: Clock


class VisibilityPorts(Protocol):
    """services/visibility.py: who may see a document."""

    @property
    def uow(self) -> Callable[[], UnitOfWork]: ...


class SigningPorts(Protocol):
    """services/evidence.py, signing: the signing process, or else worker threads."""

    timestamper: Timestamper
    receipt_signer: ReceiptSigner
    evidence_signer: EvidenceSigner | None


class EvidencePorts(SigningPorts, VisibilityPorts, Protocol):
    """services/evidence.py: signing, and the evidence a sender reads back."""



class QuotaPorts(Protocol):
    """services/storage_quota.py: room in a citizen's tartós tár."""

    permanent_storage_bytes: int


class NoticePorts(Protocol):
    """services/mail.py, composing a notice: whom it is from, where its link points."""

    mail_from: str
    public_url: str


class RegistrarPorts(SigningPorts, NoticePorts, Protocol):
    """services/registrar.py: the group commit's transaction, the number forecast and its
    metrics; receipts signed, first notices composed."""

    @property
    def write_uow(self) -> Callable[[], UnitOfWork]: ...
    @property
    def statement_uow(self) -> Callable[[], UnitOfWork]: ...

    forecast: NumberForecast
    telemetry: Telemetry


class OwedReceiptPorts(TransactionPorts, SigningPorts, Protocol):
    """services/statement_registration.py's background job: acceptance receipts owed since a
    stop, signed from their documents' rows."""


class SystemMessagePorts(SigningPorts, Protocol):
    """services/system_messages.py: a receipt's or a system message's bytes and dates."""

    blobs: BlobStore
    calendar: WorkingCalendar
    retention_days: int
    second_notice_working_days: int


class DeliveryPorts(TransactionPorts, SystemMessagePorts, Protocol):
    """services/delivery.py: a document's bytes, the audit of downloads, acknowledgement and
    its download receipt."""




class PublicNoticePorts(DeliveryPorts, Protocol):
    """services/public_notices.py: the portal's address (created like any organisation),
    publishing in an acceptance's transaction and the portal's taking it (delivery), the
    public's reading."""

    portal_krid: str


class AcceptancePorts(RegistrarPorts, QuotaPorts, PublicNoticePorts, Protocol):
    """services/acceptance.py: staging, the addressee, encryption, the moment of acceptance
    and the document's dates, the group commit's queue; numbering by the registrar, a kept
    copy's room by the quota; a hirdetmény's publishing by its slice."""

    @property
    def uow(self) -> Callable[[], UnitOfWork]: ...

    blobs: BlobStore
    clock: Clock
    calendar: WorkingCalendar
    retention_days: int
    second_notice_working_days: int
    max_document_bytes: int
    acceptance_evidence: bool
    encryptor: Encryptor
    offices: OfficeCache
    registrations: GroupCommit[Any, str]


class PermanentStoragePorts(DeliveryPorts, QuotaPorts, Protocol):
    """services/permanent_storage.py: a citizen's tartós tár; keeping an unopened document of
    their own acknowledges it (delivery), within the quota."""




class MailboxPorts(VisibilityPorts, Protocol):
    """services/mailbox.py: mailboxes, sent documents, offices, unread counts (reads only)."""



class BlobGcPorts(VisibilityPorts, Protocol):
    """services/blob_gc.py: the blob store, and which rows still need its bytes."""


    blobs: BlobStore


# The outboxes and the mailbox's clock.


class OutboxPorts(Protocol):
    """services/outbox.py: leases and outcomes, written at the clock's time."""

    @property
    def write_uow(self) -> Callable[[], UnitOfWork]: ...

    clock: Clock


class MailPorts(VisibilityPorts, NoticePorts, OutboxPorts, Protocol):
    """services/mail.py: sending the queued notices through the outbox, reading them back."""


    mail_transport: MailTransport | None
    mail_max_attempts: int
    mail_backoff_seconds: float


class NotificationPorts(VisibilityPorts, OutboxPorts, Protocol):
    """services/notifications.py: notifications, webhooks, delivering them by the outbox."""


    webhook_allow_private: bool


class DeadlinePorts(TransactionPorts, SystemMessagePorts, NoticePorts, Protocol):
    """services/deadlines.py: the sweeps on the working-day calendar, with their receipts,
    system messages and notices, and expired bytes deleted."""


    presumption_working_days: int


class SandboxPorts(DeadlinePorts, MailPorts, Protocol):
    """services/sandbox.py: the test clock and its shared offset; running the due jobs."""


    sandbox_clock: SettableClock | None


# Parties, persons, keys, the audit chain, operations.


class StaffPorts(TransactionPorts, Protocol):
    """services/staff.py: roles, and what a person may work as."""




class TopicPorts(TransactionPorts, Protocol):
    """services/topics.py: an office's e-Papír topics."""


class RnyPorts(TransactionPorts, NoticePorts, Protocol):
    """services/rny.py and services/mandates.py: dispositions and mandates, and the notices
    of a mandate's changes."""


class PartyPorts(StaffPorts, Protocol):
    """services/parties.py: registering parties and their addresses; the demo staff."""




class AuthPorts(TransactionPorts, Protocol):
    """services/auth.py: credentials and the login throttle's failures."""




class PeoplePorts(AuthPorts, Protocol):
    """services/people.py: persons' sessions; logging in."""




class FormPorts(Protocol):
    """services/forms.py: one-time form keys."""

    @property
    def write_uow(self) -> Callable[[], UnitOfWork]: ...

    clock: Clock


class KeyPorts(TransactionPorts, Protocol):
    """services/keys.py: the kulcstár's certificates, valid at the clock's time."""




class AuditPorts(TransactionPorts, Protocol):
    """services/audit.py: linking and verifying the audit chain, and how far linking lags."""




class OperationsPorts(TransactionPorts, Protocol):
    """services/operations.py: readiness, probes, availability, incidents, maintenance,
    outage certificates and the one set of keys."""


    blobs: BlobStore
    calendar: WorkingCalendar
    past_days: dict[date, float | None]
    sandbox_clock: SettableClock | None
    receipt_signer: ReceiptSigner
    trust_pem: bytes


class EpapirPorts(AcceptancePorts, StaffPorts, Protocol):
    """services/epapir.py: the sealed beadvány accepted as a document, for an organisation
    where the person holds a role; the renderer, the AVDH seal, the attachments' limit and
    where they and the beadvány wait meanwhile."""

    authenticator: PdfAuthenticator | None
    submission_renderer: SubmissionRenderer | None
    epapir_max_bytes: int
    temporary: TemporaryDirectories


class AuthenticationPorts(StaffPorts, Protocol):
    """services/authentication.py: AVDH (contract 23), the seal and its size limit, where the
    file and the hitelesített PDF wait meanwhile, where the záradék says to verify; the office
    a person acts for is staff's to check."""

    authenticator: PdfAuthenticator | None
    avdh_max_bytes: int
    temporary: TemporaryDirectories
    public_url: str
