"""Evidence: the kulcstár, receipts and the audit chain."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import bindparam, case, delete, func, insert, or_, select, type_coerce, update
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql import Select
from sqlalchemy.sql.sqltypes import NullType

from gateway.domain.audit import AuditAction, AuditEvent, StoredEntry
from gateway.domain.receipts import ReceiptKind
from gateway.services.ports.evidence import (
    AuditLink,
    AuthenticationRecord,
    KeyRecord,
    ReceiptRecord,
)
from gateway.storage.repositories.registration import (
    INSERT_RECEIPT_AND_ENTRY,
    INSERT_RECEIPT_NAMED,
    WRITE_OWED_RECEIPTS,
    WRITE_UNLINKED_ENTRY,
    entry_values,
    receipt_values,
)
from gateway.storage.repositories.rows import upsert_for
from gateway.storage.tables import (
    acceptance_receipts_owed,
    audit_entries,
    audit_head,
    authentications,
    party_keys,
    receipts,
)


class SqlKeys:
    def __init__(self, connection: AsyncConnection) -> None:
        self._connection = connection

    async def current(self, party_id: int) -> KeyRecord | None:
        result = await self._connection.execute(
            select(party_keys.c.certificate_der, party_keys.c.fingerprint_sha256,
                   party_keys.c.not_after)
            .where(party_keys.c.party_id == party_id, party_keys.c.removed_at.is_(None))
            .order_by(party_keys.c.id.desc()).limit(1)
        )
        row = result.first()
        return KeyRecord(row.certificate_der, row.fingerprint_sha256, row.not_after) \
            if row else None

    async def replace(self, party_id: int, record: KeyRecord, at: datetime) -> None:
        await self.remove(party_id, at)
        await self._connection.execute(insert(party_keys).values(
            party_id=party_id, certificate_der=record.certificate_der,
            fingerprint_sha256=record.fingerprint_sha256, not_after=record.not_after,
            added_at=at,
        ))

    async def remove(self, party_id: int, at: datetime) -> bool:
        result = await self._connection.execute(
            update(party_keys)
            .where(party_keys.c.party_id == party_id, party_keys.c.removed_at.is_(None))
            .values(removed_at=at)
        )
        return bool(result.rowcount)


class SqlReceipts:
    def __init__(self, connection: AsyncConnection) -> None:
        self._connection = connection

    async def add(self, document_id: int, kind: ReceiptKind, issued_at: datetime,
                  content: bytes) -> None:
        await self._connection.execute(_INSERT_RECEIPT, {
            "document_id": document_id, "kind": kind.value, "issued_at": issued_at,
            "content": content})

    async def add_with_audit(self, document_id: int, kind: ReceiptKind, issued_at: datetime,
                             content: bytes, event: AuditEvent) -> None:
        receipt = receipt_values(document_id, kind, issued_at, content)
        entry = entry_values(event)
        if self._connection.dialect.name == "postgresql":
            await self._connection.execute(INSERT_RECEIPT_AND_ENTRY, receipt | entry)
            return
        await self._connection.execute(INSERT_RECEIPT_NAMED, receipt)
        await self._connection.execute(WRITE_UNLINKED_ENTRY, entry)

    async def add_owed(self, owed: list[tuple[int, datetime, bytes]]) -> None:
        if not owed:
            return
        # The upload and the background jobs may both write one: the first stays (an RSA
        # signature over the same content is the same bytes anyway).
        if self._connection.dialect.name == "postgresql":
            await self._connection.execute(WRITE_OWED_RECEIPTS, {
                "receipt_kind": ReceiptKind.ACCEPTANCE.value,
                "receipt_document_id": [document_id for document_id, _, _ in owed],
                "receipt_issued_at": [issued_at for _, issued_at, _ in owed],
                "receipt_content": [content for _, _, content in owed]})
            return
        await self._connection.execute(
            upsert_for(self._connection)(receipts).on_conflict_do_nothing(
                index_elements=[receipts.c.document_id, receipts.c.kind]),
            [{"document_id": document_id, "kind": ReceiptKind.ACCEPTANCE.value,
              "issued_at": issued_at, "content": content}
             for document_id, issued_at, content in owed])
        await self._connection.execute(delete(acceptance_receipts_owed).where(
            acceptance_receipts_owed.c.document_id.in_(
                [document_id for document_id, _, _ in owed])))

    async def of_document(self, document_id: int) -> list[ReceiptRecord]:
        result = await self._connection.execute(
            select(receipts.c.kind, receipts.c.issued_at)
            .where(receipts.c.document_id == document_id).order_by(*_IN_ORDER_ATTESTED)
        )
        return [ReceiptRecord(ReceiptKind(row.kind), row.issued_at) for row in result]

    async def of_documents(self, document_ids: list[int]) -> dict[int, list[ReceiptRecord]]:
        found: dict[int, list[ReceiptRecord]] = {document_id: [] for document_id in document_ids}
        if document_ids:
            result = await self._connection.execute(
                select(receipts.c.document_id, receipts.c.kind, receipts.c.issued_at)
                .where(receipts.c.document_id.in_(document_ids)).order_by(*_IN_ORDER_ATTESTED))
            for row in result:
                found[row.document_id].append(ReceiptRecord(ReceiptKind(row.kind),
                                                            row.issued_at))
        return found

    async def content(self, document_id: int, kind: ReceiptKind) -> bytes | None:
        result = await self._connection.execute(
            select(receipts.c.content)
            .where(receipts.c.document_id == document_id, receipts.c.kind == kind.value)
        )
        found = result.scalar_one_or_none()
        return bytes(found) if found is not None else None


class SqlAudit:
    def __init__(self, connection: AsyncConnection) -> None:
        self._connection = connection

    async def append(self, event: AuditEvent) -> None:
        # Written unlinked, without taking the chain's head: no lock on the request's path.
        await self._connection.execute(WRITE_UNLINKED_ENTRY, entry_values(event))

    async def lock_head(self) -> tuple[int, str]:
        statement = select(audit_head.c.sequence, audit_head.c.hash).where(
            audit_head.c.id == 1)
        if self._connection.dialect.name == "postgresql":
            statement = statement.with_for_update()  # SQLite: the write transaction is one
        row = (await self._connection.execute(statement)).one()
        return int(row.sequence), str(row.hash)

    async def unlinked(self, limit: int) -> list[tuple[int, AuditEvent]]:
        result = await self._connection.execute(
            select(audit_entries).where(audit_entries.c.sequence.is_(None))
            .order_by(audit_entries.c.id).limit(limit))
        return [(row.id, AuditEvent(
            at=row.at, actor=row.actor, action=AuditAction(row.action),
            registration_number=row.registration_number, sha256=row.sha256,
            detail=row.detail, office_krid=row.office_krid)) for row in result]

    async def link(self, links: list[AuditLink], head_sequence: int, head_hash: str) -> None:
        await self._connection.execute(_LINK_AUDIT_ENTRY, [
            {"entry_id": link.id, "linked_sequence": link.sequence,
             "linked_previous_hash": link.previous_hash, "linked_hash": link.hash}
            for link in links])
        await self._connection.execute(
            update(audit_head).where(audit_head.c.id == 1)
            .values(sequence=head_sequence, hash=head_hash))

    async def oldest_unlinked(self) -> tuple[int, datetime | None]:
        row = (await self._connection.execute(
            select(func.count(), func.min(audit_entries.c.at))
            .where(audit_entries.c.sequence.is_(None)))).one()
        oldest = row[1]
        if isinstance(oldest, datetime) and oldest.tzinfo is None:
            oldest = oldest.replace(tzinfo=UTC)  # SQLite's min() hands over naive text/UTC
        elif isinstance(oldest, str):
            oldest = datetime.fromisoformat(oldest).replace(tzinfo=UTC)
        return int(row[0]), oldest

    async def head(self) -> tuple[int, str]:
        row = (await self._connection.execute(
            select(audit_head.c.sequence, audit_head.c.hash).where(audit_head.c.id == 1)
        )).one()
        return int(row.sequence), str(row.hash)

    async def entries(self, after: int | None, limit: int) -> list[StoredEntry]:
        statement = (_raw_entries().where(audit_entries.c.sequence.is_not(None))
                     .order_by(audit_entries.c.sequence).limit(limit))
        if after is not None:
            statement = statement.where(audit_entries.c.sequence > after)
        return [_stored_entry(row) for row in await self._connection.execute(statement)]

    async def of_office(self, krid: str, before: int | None, limit: int) -> list[StoredEntry]:
        # By id, newest first: an entry shows at once, linked into the chain or not yet.
        statement = _raw_entries().where(audit_entries.c.office_krid == krid)
        if before is not None:
            statement = statement.where(audit_entries.c.id < before)
        result = await self._connection.execute(
            statement.order_by(audit_entries.c.id.desc()).limit(limit))
        return [_stored_entry(row) for row in result]

    async def first_outside_chain(self) -> object | None:
        # One statement, so the head it compares with is the one committed with the entries.
        head = select(audit_head.c.sequence).where(audit_head.c.id == 1).scalar_subquery()
        sequence = audit_entries.c.sequence
        outside = select(type_coerce(sequence, NullType())).where(
            or_(sequence < 1, sequence > head)).order_by(sequence).limit(1)
        return (await self._connection.execute(outside)).scalar_one_or_none()


_LINK_AUDIT_ENTRY = (update(audit_entries)
                     .where(audit_entries.c.id == bindparam("entry_id"))
                     .values(sequence=bindparam("linked_sequence"),
                             previous_hash=bindparam("linked_previous_hash"),
                             hash=bindparam("linked_hash")))


_INSERT_RECEIPT = insert(receipts)
# Receipts in the order of what they attest: the acceptance first, as every other receipt
# attests to what followed it, then as written. The acceptance receipt alone may be written
# late (just after its batch's commit, or at the next start after a crash), after a quick
# addressee's download receipt, and bearing the same time where the clock did not move.
_IN_ORDER_ATTESTED = (case((receipts.c.kind == ReceiptKind.ACCEPTANCE.value, 0), else_=1),
                      receipts.c.id)


def _raw_entries() -> Select[Any]:
    # Every column read as the driver hands it over, past our own types, so an altered value
    # reaches the verifier as it is instead of failing here (see StoredEntry).
    columns: list[Any] = [type_coerce(column, NullType()).label(column.name)
                          for column in audit_entries.c]
    return select(*columns)


def _stored_entry(row: Any) -> StoredEntry:
    return StoredEntry(
        id=row.id,
        sequence=row.sequence, at=_stored_time(row.at), actor=row.actor, action=row.action,
        registration_number=row.registration_number, sha256=row.sha256, detail=row.detail,
        previous_hash=row.previous_hash, hash=row.hash, office_krid=row.office_krid,
    )


def _stored_time(value: object) -> object:
    """A stored time as an aware datetime where it can be read (SQLite hands over text in UTC
    without an offset), else the value as it is."""
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            return value
    if isinstance(value, datetime) and value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value


class SqlAuthentications:
    def __init__(self, connection: AsyncConnection) -> None:
        self._connection = connection

    async def add(self, record: AuthenticationRecord) -> None:
        await self._connection.execute(insert(authentications).values(
            person_id=record.person_id, office_id=record.office_id,
            authenticated_at=record.authenticated_at,
            original_file_name=record.original_file_name, original_size=record.original_size,
            original_sha256=record.original_sha256, result_sha256=record.result_sha256,
        ))

    async def issued(self, result_sha256: str) -> AuthenticationRecord | None:
        row = (await self._connection.execute(
            select(authentications).where(authentications.c.result_sha256 == result_sha256)
            .order_by(authentications.c.id).limit(1)
        )).first()
        if row is None:
            return None
        return AuthenticationRecord(
            row.person_id, row.office_id, row.authenticated_at, row.original_file_name,
            row.original_size, row.original_sha256, row.result_sha256)
