"""Ports of evidence: the kulcstár, receipts, the audit chain, and who signs and encrypts."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import BinaryIO, Protocol

from gateway.domain.audit import AuditEvent, StoredEntry
from gateway.domain.authentication import Clause, Kind, Verdict
from gateway.domain.epapir import Submission, SubmissionAttachment
from gateway.domain.outages import OutageStatement
from gateway.domain.receipts import ReceiptContent, ReceiptKind


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
    async def add_owed(self, owed: list[tuple[int, datetime, bytes]]) -> None:
        """The acceptance receipts (document id, issued at, content) of documents registered
        before them: each document is no longer owed one, and a receipt already written
        stays. One statement on PostgreSQL."""
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


class Timestamper(Protocol):
    def timestamp(self, sha256_hex: str, at: datetime) -> bytes:
        """A DER RFC 3161 TimeStampToken over the digest, dated ``at``."""
        ...


class EvidenceSigner(Protocol):
    """Timestamps and receipts made away from the event loop (crypto/signing_process.py)."""

    async def timestamp(self, sha256_hex: str, at: datetime) -> bytes: ...
    async def sign(self, contents: list[ReceiptContent]) -> list[bytes]: ...
    async def close(self) -> None: ...


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


@dataclass(frozen=True)
class AuthenticationRecord:
    """One AVDH authentication as recorded (contract 23): hashes and sizes, no content."""

    person_id: int
    office_id: int | None  # the office staff acted for; None for a person for themselves
    authenticated_at: datetime
    original_file_name: str
    original_size: int
    original_sha256: str
    result_sha256: str


class AuthenticationRepository(Protocol):
    async def add(self, record: AuthenticationRecord) -> None: ...
    async def issued(self, result_sha256: str) -> AuthenticationRecord | None:
        """The record of the hitelesített PDF with this SHA-256, if this gateway made it."""
        ...


class PdfAuthenticator(Protocol):
    """AVDH (contract 23): makes and checks hitelesített PDFs (crypto/avdh.AvdhSeal).
    Synchronous and CPU-bound: services call it in a worker thread."""

    def authenticate(self, source: Path, clause: Clause, output: BinaryIO, *,
                     media_type: str) -> Kind: ...
    def seal(self, source: BinaryIO, clause: Clause, output: BinaryIO) -> None: ...
    def verify(self, source: Path, *, at: datetime) -> Verdict: ...


class SubmissionRenderer(Protocol):
    """e-Papír (contract 24): the beadvány PDF, attachments embedded (pdf/beadvany.py).
    Synchronous and CPU-bound: services call it in a worker thread."""

    def render(self, submission: Submission, attachments: list[SubmissionAttachment],
               output: BinaryIO) -> None: ...
