"""Ports of storage: the unit of work (one transaction and its repositories), the blob store,
and the directories for AVDH's and e-Papír's temporary files."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Protocol

from gateway.services.ports.documents import (
    DocumentRepository,
    IdempotencyRepository,
    KeptRepository,
    RegistrationCounter,
)
from gateway.services.ports.evidence import (
    AuditLog,
    AuthenticationRepository,
    KeyRepository,
    ReceiptRepository,
)
from gateway.services.ports.operations import OperationsRepository, SandboxClockRepository
from gateway.services.ports.outbox import MailOutbox, NotificationRepository
from gateway.services.ports.parties import PartyRepository, StaffRepository, TopicRepository
from gateway.services.ports.people import (
    FormSubmissionRepository,
    LoginFailureRepository,
    WebSessionRepository,
)
from gateway.services.ports.public_notices import PublicNoticeRepository
from gateway.services.ports.rny import DispositionRepository, MandateRepository


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
    authentications: AuthenticationRepository
    topics: TopicRepository
    dispositions: DispositionRepository
    mandates: MandateRepository
    public_notices: PublicNoticeRepository

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
    def expect(self, sha256: str) -> None:
        """The client declared the content's SHA-256 before its bytes: a store may write
        them under their final name at once (completed only if they match). A hint only: it
        is checked against the bytes as before, and a store may ignore it."""
        ...
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


class TemporaryDirectories(Protocol):
    """Where AVDH (``avdh``) and e-Papír (``epapir``) put their temporary files: under the
    data directory, one directory per process (storage/scratch.py)."""

    def directory(self, purpose: str) -> Path: ...

    def sweep(self) -> int:
        """Remove what processes that ended left there (at start-up); how many left some."""
        ...


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
