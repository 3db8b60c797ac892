"""The statements that register documents: the daily counters, on PostgreSQL a document with
its receipt and audit entry in one statement, and a batch registered as its numbers were
forecast (counters, documents, receipts and audit entries) in one statement."""

from __future__ import annotations

import functools
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import (
    Column,
    Date,
    Integer,
    String,
    TextClause,
    bindparam,
    cast,
    func,
    insert,
    select,
    text,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import AsyncConnection

from gateway.domain.audit import AuditEvent
from gateway.domain.documents import DeliveryState, NewDocument
from gateway.domain.parties import PartyKind
from gateway.domain.receipts import ReceiptKind
from gateway.domain.registration import MAX_DAILY_SEQUENCE, SEQUENCE_DIGITS
from gateway.storage.tables import (
    acceptance_receipts_owed,
    audit_entries,
    documents,
    receipts,
    registration_counters,
)


def document_values(new: NewDocument) -> dict[str, Any]:
    return dict(
        registered_at=new.registered_at, valid_until=new.valid_until,
        sender_id=new.sender_id, recipient_id=new.recipient_id,
        sender_kind=new.sender_kind.value, reference_number=new.reference_number,
        doc_type_office=new.doc_type_office, doc_type_id=new.doc_type_id,
        doc_type_description=new.doc_type_description, note=new.note,
        file_name=new.file_name, size=new.size, sha256=new.sha256,
        reply_encryption=new.reply_encryption, return_receipt=new.return_receipt,
        system_message=new.system_message, delivery_state=DeliveryState.WAITING.value,
        timestamp_token=new.timestamp_token, submitted_sha256=new.submitted_sha256,
        warning_due_at=new.warning_due_at, not_collected_due_at=new.not_collected_due_at,
        agent_id=new.agent_id,
    )


def named_values(values: dict[str, Any]) -> dict[str, Any]:
    """A document's values as the named parameters of the statements built once below."""
    return {f"new_{name}": value for name, value in values.items()}


# The columns an upload writes besides its number, in document_values' order.
_DOCUMENT_VALUES = tuple(document_values(NewDocument(
    registered_at=datetime(2000, 1, 1, tzinfo=UTC), valid_until=datetime(2000, 1, 1, tzinfo=UTC),
    sender_id=0, recipient_id=0, sender_kind=PartyKind.SYSTEM, reference_number=None,
    doc_type_office="", doc_type_id="", doc_type_description="", note=None, file_name="",
    size=0, sha256="", reply_encryption=False, return_receipt=False)))


def _register_in_one_statement() -> Any:
    """PostgreSQL: the counter upsert and the document insert as one statement, built once
    with named parameters (building it per upload cost more than executing it)."""
    upsert = postgresql.insert(registration_counters).values(
        krid=bindparam("numbering_krid", type_=String), day=bindparam("numbering_day"),
        last_value=1,
    ).on_conflict_do_update(
        index_elements=[registration_counters.c.krid, registration_counters.c.day],
        set_={"last_value": registration_counters.c.last_value + 1},
    ).returning(registration_counters.c.last_value)
    sequence = upsert.cte("sequence")
    number = bindparam("numbering_prefix", type_=String) + func.lpad(
        cast(sequence.c.last_value, String), SEQUENCE_DIGITS, "0")
    selected = select(number, *(
        bindparam(f"new_{name}", type_=documents.c[name].type) for name in _DOCUMENT_VALUES
    )).where(sequence.c.last_value <= MAX_DAILY_SEQUENCE)
    return (
        insert(documents).from_select(["registration_number", *_DOCUMENT_VALUES], selected)
        .add_cte(sequence).returning(documents.c.id, documents.c.registration_number)
    )


REGISTER_IN_ONE_STATEMENT = _register_in_one_statement()


# Many documents in one INSERT … VALUES, their ids answered in the order of the rows given.
INSERT_DOCUMENTS_IN_ORDER = insert(documents).returning(
    documents.c.id, sort_by_parameter_order=True)


@functools.cache
def _counters_upsert(dialect: str, size: int) -> Any:
    """One atomic statement that takes the next numbers of ``size`` counters (KRID, day),
    each by its own count, and answers each one's last: built once per dialect and size with
    named parameters (building it per batch cost more than running it). The rows are locked
    until the surrounding transaction ends, so concurrent uploads for one KRID and day queue
    on them, and a rollback gives the numbers back; never read-then-write. ``take_many`` gives
    the counters in sorted order, and the rows are locked in that order: two hosts' batches
    never wait on each other in a circle."""
    upsert = (postgresql.insert if dialect == "postgresql" else sqlite.insert)(
        registration_counters).values([
            {"krid": bindparam(f"krid_{index}", type_=String),
             "day": bindparam(f"day_{index}", type_=Date),
             "last_value": bindparam(f"count_{index}", type_=Integer)}
            for index in range(size)])
    return upsert.on_conflict_do_update(
        index_elements=[registration_counters.c.krid, registration_counters.c.day],
        set_={"last_value": registration_counters.c.last_value + upsert.excluded.last_value},
    ).returning(registration_counters.c.krid, registration_counters.c.day,
                registration_counters.c.last_value)


class SqlCounter:
    def __init__(self, connection: AsyncConnection) -> None:
        self._connection = connection

    async def next(self, krid: str, day: date) -> int:
        return await self.take(krid, day, 1)

    async def take(self, krid: str, day: date, count: int) -> int:
        return (await self.take_many([(krid, day, count)]))[krid, day]

    async def last(self, krid: str, day: date) -> int:
        """The last number ``krid`` took on ``day`` (0 before its first)."""
        result = await self._connection.execute(
            select(registration_counters.c.last_value).where(
                registration_counters.c.krid == krid, registration_counters.c.day == day))
        return int(result.scalar_one_or_none() or 0)

    async def take_many(self, counts: list[tuple[str, date, int]]) -> dict[tuple[str, date], int]:
        """Each (KRID, day)'s next ``count`` numbers in one statement: the last one taken,
        per counter."""
        parameters: dict[str, Any] = {}
        for index, (krid, day, count) in enumerate(sorted(counts)):
            parameters |= {f"krid_{index}": krid, f"day_{index}": day, f"count_{index}": count}
        result = await self._connection.execute(
            _counters_upsert(self._connection.dialect.name, len(counts)), parameters)
        return {(row.krid, row.day): int(row.last_value) for row in result}


def receipt_values(document_id: int | None, kind: ReceiptKind, issued_at: datetime,
                    content: bytes) -> dict[str, Any]:
    """A receipt's named parameters (``document_id`` None where the statement takes it from
    the document it inserts)."""
    values: dict[str, Any] = {"receipt_kind": kind.value, "receipt_issued_at": issued_at,
                              "receipt_content": content}
    if document_id is not None:
        values["receipt_document_id"] = document_id
    return values


def entry_values(event: AuditEvent) -> dict[str, Any]:
    return {f"entry_{name}": value for name, value in (
        ("at", event.at), ("actor", event.actor), ("action", event.action.value),
        ("registration_number", event.registration_number), ("sha256", event.sha256),
        ("detail", event.detail), ("office_krid", event.office_krid))}


# Statements built once (building them per upload cost more than running them).
_ENTRY_COLUMNS = ("at", "actor", "action", "registration_number", "sha256", "detail",
                  "office_krid")


WRITE_UNLINKED_ENTRY = insert(audit_entries).values(**{
    name: bindparam(f"entry_{name}", type_=audit_entries.c[name].type)
    for name in _ENTRY_COLUMNS})


INSERT_RECEIPT_NAMED = insert(receipts).values(**{
    name: bindparam(f"receipt_{name}", type_=receipts.c[name].type)
    for name in ("document_id", "kind", "issued_at", "content")})


INSERT_RECEIPT_AND_ENTRY = WRITE_UNLINKED_ENTRY.add_cte(
    INSERT_RECEIPT_NAMED.cte("receipt"))


def _insert_accepted_document() -> Any:
    """PostgreSQL: a document, its receipt (naming the document's new id) and its audit
    entry in one statement, built once with named parameters."""
    document = insert(documents).values(**{
        name: bindparam(f"new_{name}", type_=documents.c[name].type)
        for name in ("registration_number", *_DOCUMENT_VALUES)},
    ).returning(documents.c.id).cte("document")
    receipt = insert(receipts).from_select(
        ["document_id", "kind", "issued_at", "content"],
        select(document.c.id, *(bindparam(f"receipt_{name}", type_=receipts.c[name].type)
                                for name in ("kind", "issued_at", "content"))),
    ).cte("receipt")
    return WRITE_UNLINKED_ENTRY.add_cte(document, receipt)


INSERT_ACCEPTED_DOCUMENT = _insert_accepted_document()


_POSTGRESQL: Dialect = postgresql.dialect()  # type: ignore[no-untyped-call]


def _array_type(column: Column[Any]) -> str:
    """The PostgreSQL array type a column's values are sent in. Strings go as text[]: a cast
    to varchar(n) would cut a value too long, where the insert refuses it."""
    if isinstance(column.type, String):
        return "text[]"
    return f"{column.type.compile(dialect=_POSTGRESQL)}[]"


def _unnest(parameters: list[tuple[str, Column[Any]]], alias: str) -> str:
    arrays = ", ".join(f"CAST(:{name} AS {_array_type(column)})" for name, column in parameters)
    return f"unnest({arrays}) AS {alias}({', '.join(name for name, _ in parameters)})"


def _register_as_forecast() -> TextClause:
    """PostgreSQL, in a statement that commits itself: each counter of a batch taken only if
    it gives the numbers forecast, and the documents of the counters taken inserted with their
    receipts and audit entries; it answers the counters taken. So the counters' rows are held
    for this one statement's run and its commit, and a counter that was not as forecast is
    left as it was (its documents are numbered after, in a transaction).

    A counter row that does not exist yet is made only when its forecast starts the day
    (last = count); otherwise it is not taken. Every value is sent as one array per column, so
    the statement is built and prepared once, whatever the batch's size (a statement per
    size, or per document, cost more than the counters' rows should be held). The counters
    are taken in sorted order, as everywhere else."""
    counter = [("counter_krid", registration_counters.c.krid),
               ("counter_day", registration_counters.c.day),
               ("counter_count", registration_counters.c.last_value),
               ("counter_last", registration_counters.c.last_value)]
    document_columns = ("registration_number", *_DOCUMENT_VALUES)
    accepted = [(f"new_{name}", documents.c[name]) for name in document_columns] + [
        ("numbering_krid", registration_counters.c.krid),
        ("numbering_day", registration_counters.c.day),
        ("receipt_content", receipts.c.content)] + [
        (f"entry_{name}", audit_entries.c[name]) for name in _ENTRY_COLUMNS]
    new = ", ".join(f"new_{name}" for name in document_columns)
    entries = ", ".join(f"entry_{name}" for name in _ENTRY_COLUMNS)
    # Written out: SQLAlchemy cannot build a CTE over unnest's column list. Only the schema's
    # own names are put into the text; every value is a bound parameter.
    return text(f"""
WITH expected AS (SELECT * FROM {_unnest(counter, "expected")}),
taken AS (
    INSERT INTO registration_counters AS counter (krid, day, last_value)
    SELECT counter_krid, counter_day, counter_last FROM expected
    WHERE counter_last = counter_count OR EXISTS (
        SELECT 1 FROM registration_counters AS existing
        WHERE existing.krid = counter_krid AND existing.day = counter_day)
    ORDER BY counter_krid, counter_day
    ON CONFLICT (krid, day) DO UPDATE SET last_value = excluded.last_value
    WHERE counter.last_value = excluded.last_value - (
        SELECT counter_count FROM expected
        WHERE counter_krid = excluded.krid AND counter_day = excluded.day)
    RETURNING counter.krid, counter.day),
accepted AS (
    SELECT {_unnested(accepted)} FROM {_unnest(accepted, "accepted")}
    JOIN taken ON taken.krid = numbering_krid AND taken.day = numbering_day),
document AS (
    INSERT INTO documents ({", ".join(document_columns)}) SELECT {new} FROM accepted
    RETURNING id, registration_number),
receipt AS (
    INSERT INTO receipts (document_id, kind, issued_at, content)
    SELECT document.id, :receipt_kind, new_registered_at, receipt_content
    FROM document JOIN accepted ON document.registration_number = new_registration_number),
entry AS (
    INSERT INTO audit_entries ({", ".join(_ENTRY_COLUMNS)}) SELECT {entries} FROM accepted)
SELECT krid, day FROM taken""")  # noqa: S608


def _unnested(parameters: list[tuple[str, Column[Any]]]) -> str:
    return ", ".join(name for name, _ in parameters)


REGISTER_AS_FORECAST = _register_as_forecast()


def _register_before_receipts() -> TextClause:
    """PostgreSQL, in a statement that commits itself: each counter of a batch taken by the
    number of its documents (whatever it stood at), and the documents numbered in the batch's
    order and inserted with their audit entries, naming their numbers; their receipts are
    written after the commit (services/statement_registration.py). So the counters' rows are
    held for this one statement's run and its commit, never while a receipt is signed. It
    answers each document's place in the batch, id and number; a document past its day's last
    number is not inserted. Each document is listed as owing its acceptance receipt until that
    is written. The counters are taken in sorted order, as everywhere else."""
    counter = [("counter_krid", registration_counters.c.krid),
               ("counter_day", registration_counters.c.day),
               ("counter_count", registration_counters.c.last_value)]
    entry_columns = [name for name in _ENTRY_COLUMNS if name != "registration_number"]
    accepted = [(f"new_{name}", documents.c[name]) for name in _DOCUMENT_VALUES] + [
        ("numbering_krid", registration_counters.c.krid),
        ("numbering_day", registration_counters.c.day),
        ("numbering_prefix", documents.c.registration_number),
        # Its place among its counter's documents (1, 2, …), and in the batch.
        ("numbering_place", registration_counters.c.last_value),
        ("batch_place", registration_counters.c.last_value)] + [
        (f"entry_{name}", audit_entries.c[name]) for name in entry_columns]
    new = ", ".join(f"new_{name}" for name in _DOCUMENT_VALUES)
    entries = ", ".join("registration_number" if name == "registration_number"
                        else f"entry_{name}" for name in _ENTRY_COLUMNS)
    # Written out, as REGISTER_AS_FORECAST is: only the schema's own names and constants are
    # put into the text; every value is a bound parameter.
    return text(f"""
WITH wanted AS (SELECT * FROM {_unnest(counter, "wanted")}),
taken AS (
    INSERT INTO registration_counters AS counter (krid, day, last_value)
    SELECT counter_krid, counter_day, counter_count FROM wanted
    ORDER BY counter_krid, counter_day
    ON CONFLICT (krid, day) DO UPDATE SET last_value = counter.last_value + excluded.last_value
    RETURNING counter.krid, counter.day, counter.last_value),
numbered AS (
    SELECT {_unnested(accepted)},
           taken.last_value - wanted.counter_count + numbering_place AS sequence
    FROM {_unnest(accepted, "accepted")}
    JOIN wanted ON counter_krid = numbering_krid AND counter_day = numbering_day
    JOIN taken ON taken.krid = numbering_krid AND taken.day = numbering_day),
accepted AS (
    SELECT *, numbering_prefix || lpad(CAST(sequence AS text), {SEQUENCE_DIGITS}, '0')
              AS registration_number
    FROM numbered WHERE sequence <= {MAX_DAILY_SEQUENCE}),
document AS (
    INSERT INTO documents (registration_number, {", ".join(_DOCUMENT_VALUES)})
    SELECT registration_number, {new} FROM accepted
    RETURNING id, registration_number),
entry AS (
    INSERT INTO audit_entries ({", ".join(_ENTRY_COLUMNS)}) SELECT {entries} FROM accepted),
owed AS (INSERT INTO acceptance_receipts_owed (document_id) SELECT id FROM document)
SELECT accepted.batch_place, document.id, document.registration_number
FROM document JOIN accepted ON accepted.registration_number = document.registration_number
""")  # noqa: S608


REGISTER_BEFORE_RECEIPTS = _register_before_receipts()


OWE_ACCEPTANCE_RECEIPT = insert(acceptance_receipts_owed)


def _write_owed_receipts() -> TextClause:
    """PostgreSQL: acceptance receipts written for documents that owed them, and the documents
    no longer listed as owing, in one statement (so in a unit of work whose statements commit
    themselves, one round trip). A receipt already written stays."""
    owed = [(f"receipt_{name}", receipts.c[name])
            for name in ("document_id", "issued_at", "content")]
    return text(f"""
WITH owed AS (SELECT * FROM {_unnest(owed, "owed")}),
settled AS (
    DELETE FROM acceptance_receipts_owed
    WHERE document_id IN (SELECT receipt_document_id FROM owed))
INSERT INTO receipts (document_id, kind, issued_at, content)
SELECT receipt_document_id, :receipt_kind, receipt_issued_at, receipt_content FROM owed
ON CONFLICT (document_id, kind) DO NOTHING""")  # noqa: S608


WRITE_OWED_RECEIPTS = _write_owed_receipts()
