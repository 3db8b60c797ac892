"""Ports of documents: the document, counter, idempotency and tartós tár repositories."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from enum import StrEnum
from typing import Protocol

from gateway.domain.audit import AuditEvent
from gateway.domain.documents import Document, NewDocument, Numbering
from gateway.domain.parties import PartyKind
from gateway.domain.receipts import ReceiptKind


class Deadline(StrEnum):
    WARNING = "warning"  # mailbox_warning to an organisation after 3 working days
    # a citizen's document after 5 working days: the second notice, the not_collected receipt
    NOT_COLLECTED = "not_collected"
    PRESUMPTION = "presumption"  # unopened 5 working days after the second notice
    EXPIRY = "expiry"  # valid_until passed before download


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
    # Only documents from senders with these KRIDs (an agent's scope, contract 25); None: any.
    sender_krids: frozenset[str] | None = None


@dataclass(frozen=True)
class IdempotencyRecord:
    fingerprint: str
    document_id: int | None = field(default=None)


class DocumentRepository(Protocol):
    async def register(self, new: NewDocument, numbering: Numbering) -> tuple[int, str] | None:
        """Take the next number of ``numbering`` and insert the document under it, atomically
        and in the unit of work's transaction (a rollback gives the number back). Returns the
        document's id and number, or None when the day's sequence is used up."""
        ...
    async def number_many(self, numberings: list[Numbering]) -> list[str | None]:
        """The next number of each of ``numberings``, in order: all counters taken in one
        statement, each once for all of its documents (in a fixed order of counters, so two
        batches never wait for each other in a circle); None for one whose day's sequence is
        used up. The counters' rows stay locked until the transaction ends (a rollback gives
        the numbers back)."""
        ...
    async def register_before_receipts(
        self, accepted: list[tuple[NewDocument, Numbering, AuditEvent]],
    ) -> list[tuple[int, str] | None]:
        """Documents numbered and inserted with their audit entries (each event's number is
        filled in with its document's), their acceptance receipts owed: on PostgreSQL in one
        statement, so in a unit of work whose statements commit themselves the counters' rows
        are held for that statement alone. Per document its id and number, in order; None for
        one past its day's last number (not inserted)."""
        ...
    async def owing_acceptance_receipts(self, before: datetime, limit: int) -> list[Document]:
        """Documents registered at or before ``before`` whose acceptance receipts are still owed,
        oldest first."""
        ...
    async def register_as_forecast(
        self, kind: ReceiptKind,
        forecast: list[tuple[NewDocument, Numbering, str, bytes, AuditEvent]],
    ) -> list[str | None]:
        """Documents whose receipts of ``kind`` were signed for the numbers forecast (each:
        the document, its numbering, the number forecast, the receipt, the audit entry): each
        counter is taken only when it gives its documents the numbers forecast, and those
        documents are inserted with their receipts and audit entries, as
        :meth:`add_many_accepted` does; a counter that would not is left as it was. On
        PostgreSQL it is one statement, meant for a unit of work whose statements commit
        themselves, so the counters' rows are held for its run alone. Per document, its
        number, or None where its counter was not as forecast (nothing of it was written)."""
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
    async def sent_by(self, sender_id: int, before_id: int | None, limit: int,
                      recipient_krids: frozenset[str] | None = None) -> list[Document]:
        """What the party sent, newest first, before document ``before_id``; only to
        addressees with ``recipient_krids`` when given (an agent's scope)."""
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
    async def last(self, krid: str, day: date) -> int:
        """The last number ``krid`` took on ``day`` (0 before its first)."""
        ...
    async def take_many(self, counts: list[tuple[str, date, int]]) -> dict[tuple[str, date], int]:
        """:meth:`take` for several (KRID, day, count) in one statement, the rows locked in
        a fixed order; the last number taken, per (KRID, day)."""
        ...


class IdempotencyRepository(Protocol):
    async def claim(self, party_id: int, key: str, fingerprint: str) -> IdempotencyRecord | None:
        """Claim ``key`` for this request; None when claimed, else the earlier record."""
        ...
    async def complete(self, party_id: int, key: str, document_id: int) -> None: ...


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
