"""The ports the services need, one module per slice; storage/ and app.py provide the concrete
classes. ``Ports`` is what app.py wires once and the doors pass on; each service function takes
only its slice's part of it (``slices.py``), which ``Ports`` satisfies."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from typing import Any

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
from gateway.services.ports.operations import Clock, NoTelemetry, SettableClock, Telemetry
from gateway.services.ports.outbox import MailTransport
from gateway.services.ports.parties import OfficeCache
from gateway.services.ports.storage import BlobStore, TemporaryDirectories, UnitOfWork


@dataclass
class Ports:
    """Everything the services may touch, wired once by app.py."""

    uow: Callable[[], UnitOfWork]
    # Takes the database's write lock at BEGIN (SQLite), so two writers never deadlock.
    write_uow: Callable[[], UnitOfWork]
    # write_uow whose statements each commit themselves on PostgreSQL (its commit() then
    # does nothing); on SQLite it is write_uow.
    statement_uow: Callable[[], UnitOfWork]
    blobs: BlobStore
    clock: Clock
    retention_days: int
    max_document_bytes: int
    timestamper: Timestamper
    receipt_signer: ReceiptSigner
    encryptor: Encryptor
    trust_pem: bytes  # the gateway's CA certificate
    # AVDH's and e-Papír's temporary files, under the data directory (KAPU_DATA_DIR/tmp).
    temporary: TemporaryDirectories
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
    # AVDH (contract 23) with the seal key; None only where no keys are loaded.
    authenticator: PdfAuthenticator | None = None
    avdh_max_bytes: int = 50 * 1024 * 1024
    # e-Papír (contract 24): the attachments of one submission together.
    epapir_max_bytes: int = 20 * 1024 * 1024
    submission_renderer: SubmissionRenderer | None = None
    # Hirdetmények: the portal's KRID (a notice is a HIRDETMENY document sent to it).
    portal_krid: str = "100000000"
