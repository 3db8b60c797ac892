"""Repositories: all SQL of the gateway. Each works on the unit of work's connection."""

from __future__ import annotations

import json
from collections.abc import Collection, Mapping
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import (
    String,
    Table,
    and_,
    bindparam,
    cast,
    func,
    insert,
    literal,
    or_,
    select,
    type_coerce,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Result, RowMapping
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql import Select
from sqlalchemy.sql.sqltypes import NullType

from gateway.domain.audit import AuditAction, AuditEvent, StoredEntry
from gateway.domain.documents import DeliveryState, Document, PartyRef
from gateway.domain.parties import (
    ORGANISATION_KINDS,
    Party,
    PartyKind,
    StaffRole,
    fold_name,
)
from gateway.domain.receipts import ReceiptKind
from gateway.domain.registration import MAX_DAILY_SEQUENCE, SEQUENCE_DIGITS
from gateway.errors import Conflict
from gateway.services.ports import (
    AuditLink,
    Deadline,
    Delivery,
    IdempotencyRecord,
    Incident,
    KeptDocument,
    KeyRecord,
    LeasedMail,
    MailboxQuery,
    MailRecord,
    Maintenance,
    NewDocument,
    NewMail,
    NewNotification,
    NewParty,
    Notification,
    Numbering,
    OfficeQuery,
    OfficeWarnings,
    Probe,
    ReceiptRecord,
    StaffMember,
)
from gateway.storage.tables import (
    audit_entries,
    audit_head,
    documents,
    folded_name,
    form_submissions,
    gateway_keys,
    idempotency_keys,
    incidents,
    kept_documents,
    login_failures,
    mail_outbox,
    maintenance,
    notifications,
    parties,
    party_keys,
    probes,
    receipts,
    registration_counters,
    retired_codes,
    sandbox_clock,
    staff_roles,
    web_sessions,
)


def _upsert_for(connection: AsyncConnection) -> Any:
    """The dialect's INSERT that knows ON CONFLICT (both PostgreSQL and SQLite ≥ 3.35 do)."""
    return postgresql.insert if connection.dialect.name == "postgresql" else sqlite.insert


def _party(row: RowMapping) -> Party:
    return Party(
        id=row["id"], kind=PartyKind(row["kind"]), name=row["name"], username=row["username"],
        krid=row["krid"], short_name=row["short_name"], mak_code=row["mak_code"],
        code=row["code"], email=row["email"],
    )


_PARTY_COLUMNS = [c for c in parties.c if c.name not in ("password_hash", "name_folded")]


class SqlParties:
    def __init__(self, connection: AsyncConnection) -> None:
        self._connection = connection

    async def add(self, new: NewParty) -> Party:
        values = dict(
            kind=new.kind.value, name=new.name, name_folded=folded_name(new.name),
            username=new.username,
            password_hash=new.password_hash, krid=new.krid, short_name=new.short_name,
            mak_code=new.mak_code, code=new.code, email=new.email, created_at=datetime.now(UTC),
        )
        try:
            result = await self._connection.execute(
                insert(parties).values(**values).returning(*_PARTY_COLUMNS)
            )
        except IntegrityError as exc:
            # Lost a race with another registration of the same KRID, short name or username.
            raise Conflict("a party with the same KRID, short name or username exists") from exc
        return _party(result.mappings().one())

    async def _one(self, *conditions: Any) -> Party | None:
        result = await self._connection.execute(select(*_PARTY_COLUMNS).where(*conditions))
        row = result.mappings().first()
        return _party(row) if row else None

    async def credentials(self, username: str) -> tuple[Party, str] | None:
        result = await self._connection.execute(
            select(*_PARTY_COLUMNS, parties.c.password_hash).where(parties.c.username == username)
        )
        row = result.mappings().first()
        return (_party(row), row["password_hash"]) if row else None

    async def by_krid(self, krid: str) -> Party | None:
        return await self._one(parties.c.krid == krid)

    async def by_code(self, code: str) -> Party | None:
        return await self._one(parties.c.code == code)

    async def by_username(self, username: str) -> Party | None:
        return await self._one(parties.c.username == username)

    async def by_id(self, party_id: int) -> Party | None:
        return await self._one(parties.c.id == party_id)

    async def set_webhook(self, party_id: int, url: str | None) -> None:
        await self._connection.execute(
            update(parties).where(parties.c.id == party_id).values(webhook_url=url))

    async def set_email(self, party_id: int, email: str) -> None:
        await self._connection.execute(
            update(parties).where(parties.c.id == party_id).values(email=email))

    async def system(self) -> Party:
        found = await self._one(parties.c.kind == PartyKind.SYSTEM.value)
        if found is None:
            raise RuntimeError("the system party is missing: run the migrations")
        return found

    async def taken(
        self, *, krid: str | None, short_name: str | None, username: str,
        code: str | None = None,
    ) -> str | None:
        checks = [("krid", parties.c.krid, krid), ("short_name", parties.c.short_name, short_name),
                  ("username", parties.c.username, username), ("code", parties.c.code, code)]
        for field, column, value in checks:
            if value is not None and await self._one(column == value) is not None:
                return field
        if code is not None and await self._retired(code):
            return "code"
        return None

    async def _retired(self, code: str) -> bool:
        found = await self._connection.execute(
            select(retired_codes.c.code).where(retired_codes.c.code == code))
        return found.first() is not None

    async def swap_code(self, party_id: int, new_code: str, at: datetime) -> None:
        old = (await self._connection.execute(
            select(parties.c.code).where(parties.c.id == party_id))).scalar_one()
        if old is not None:
            await self._connection.execute(insert(retired_codes).values(
                code=old, party_id=party_id, retired_at=at))
        await self._connection.execute(
            update(parties).where(parties.c.id == party_id).values(code=new_code))

    async def offices(self, query: OfficeQuery) -> list[Party]:
        kinds = [query.kind.value] if query.kind else [k.value for k in ORGANISATION_KINDS]
        statement = select(*_PARTY_COLUMNS).where(parties.c.kind.in_(kinds))
        if query.short_name:
            statement = statement.where(parties.c.short_name == query.short_name.upper())
        if query.krid:
            statement = statement.where(parties.c.krid == query.krid)
        if query.name:
            needle = fold_name(query.name)
            for special in ("\\", "%", "_"):
                needle = needle.replace(special, "\\" + special)
            statement = statement.where(
                parties.c.name_folded.like(f"%{needle}%", escape="\\")
            )
        statement = statement.order_by(parties.c.short_name).limit(query.limit)
        result = await self._connection.execute(statement)
        return [_party(row) for row in result.mappings()]


_sender = parties.alias("sender")
_recipient = parties.alias("recipient")


_REF_FIELDS = ("kind", "name", "krid", "short_name", "code", "mak_code", "email")
_REF_KEYS = {prefix: tuple(f"{prefix}_party_{name}" for name in _REF_FIELDS)
             for prefix in ("sender", "recipient")}


def _ref(row: Mapping[str, Any], prefix: str,
         known: dict[int, PartyRef] | None = None) -> PartyRef:
    """The party named by the row's ``prefix`` columns. ``known``: the parties, by id, that
    rows of the same result have made already (one statement sees one version of a party; a
    mailbox page names the same few on every row, and PartyRef is frozen, so one object can
    stand in for each)."""
    party_id = row[f"{prefix}_id"]
    if known is not None and (ref := known.get(party_id)) is not None:
        return ref
    kind, name, krid, short_name, code, mak_code, email = (row[key] for key in _REF_KEYS[prefix])
    ref = PartyRef(kind=PartyKind(kind), name=name, krid=krid, short_name=short_name,
                   code=code, mak_code=mak_code, email=email)
    if known is not None:
        known[party_id] = ref
    return ref


def _build_document_select(*, with_timestamp_token: bool) -> Select[Any]:
    columns = (documents.c if with_timestamp_token else
               [column for column in documents.c if column.name != "timestamp_token"])
    return (
        select(
            *columns,
            *(_sender.c[name].label(f"sender_party_{name}") for name in _REF_FIELDS),
            *(_recipient.c[name].label(f"recipient_party_{name}") for name in _REF_FIELDS),
        )
        .join(_sender, _sender.c.id == documents.c.sender_id)
        .join(_recipient, _recipient.c.id == documents.c.recipient_id)
    )


# Built once: a select is immutable (each .where() makes a new one), and building its forty
# labelled columns on every listing was a measurable part of the listing's time.
_DOCUMENT_SELECTS = {flag: _build_document_select(with_timestamp_token=flag)
                     for flag in (True, False)}


def _document_select(*, with_timestamp_token: bool = True) -> Select[Any]:
    return _DOCUMENT_SELECTS[with_timestamp_token]


def _rows(result: Result[Any]) -> list[dict[str, Any]]:
    """The rows as plain dicts: a page of documents reads some forty values from each row,
    and a dict lookup costs a fraction of SQLAlchemy's RowMapping lookup (measured: turning
    50 rows into documents took a quarter of a listing's time)."""
    keys = tuple(result.keys())
    return [dict(zip(keys, row, strict=True)) for row in result]


def _document_values(new: NewDocument) -> dict[str, Any]:
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
    )


def _named(values: dict[str, Any]) -> dict[str, Any]:
    """A document's values as the named parameters of the statements built once below."""
    return {f"new_{name}": value for name, value in values.items()}


# The columns an upload writes besides its number, in _document_values' order.
_DOCUMENT_VALUES = tuple(_document_values(NewDocument(
    registered_at=datetime(2000, 1, 1, tzinfo=UTC), valid_until=datetime(2000, 1, 1, tzinfo=UTC),
    sender_id=0, recipient_id=0, sender_kind=PartyKind.SYSTEM, reference_number=None,
    doc_type_office="", doc_type_id="", doc_type_description="", note=None, file_name="",
    size=0, sha256="", reply_encryption=False, return_receipt=False)))


def _documents(result: Result[Any]) -> list[Document]:
    known: dict[int, PartyRef] = {}
    return [_document(row, known) for row in _rows(result)]


def _document(row: Mapping[str, Any],
              known_parties: dict[int, PartyRef] | None = None) -> Document:
    return Document(
        id=row["id"], registration_number=row["registration_number"],
        registered_at=row["registered_at"], valid_until=row["valid_until"],
        sender_id=row["sender_id"], recipient_id=row["recipient_id"],
        sender=_ref(row, "sender", known_parties), recipient=_ref(row, "recipient", known_parties),
        reference_number=row["reference_number"], doc_type_office=row["doc_type_office"],
        doc_type_id=row["doc_type_id"], doc_type_description=row["doc_type_description"],
        note=row["note"], file_name=row["file_name"], size=row["size"], sha256=row["sha256"],
        reply_encryption=row["reply_encryption"], return_receipt=row["return_receipt"],
        system_message=row["system_message"],
        delivery_state=_delivery_state(row),
        acknowledged_at=row["acknowledged_at"],
        timestamp_token=row.get("timestamp_token"),
        submitted_sha256=row["submitted_sha256"],
        second_notice_at=row["not_collected_at"], presumed_at=row["presumed_at"],
    )


def _delivery_state(row: Mapping[str, Any]) -> DeliveryState:
    # A presumed delivery stays "waiting" in the table: every query about unopened documents
    # (listings, the other deadlines' partial indexes, acknowledgement) keeps holding for it.
    state = DeliveryState(row["delivery_state"])
    if state is DeliveryState.WAITING and row["presumed_at"] is not None:
        return DeliveryState.PRESUMED_DELIVERED
    return state


class SqlDocuments:
    def __init__(self, connection: AsyncConnection) -> None:
        self._connection = connection

    async def register(self, new: NewDocument, numbering: Numbering) -> tuple[int, str] | None:
        values = _document_values(new)
        if self._connection.dialect.name == "postgresql":
            return await self._register_in_one_statement(values, numbering)
        # SQLite: the write transaction (BEGIN IMMEDIATE) already serialises writers, so two
        # statements cost nothing in contention (and SQLite has no DML inside a CTE).
        sequence = await SqlCounter(self._connection).next(numbering.krid, numbering.day)
        if sequence > MAX_DAILY_SEQUENCE:
            return None
        number = f"{numbering.prefix}{sequence:0{SEQUENCE_DIGITS}d}"
        result = await self._connection.execute(
            insert(documents).values(registration_number=number, **values)
            .returning(documents.c.id)
        )
        return int(result.scalar_one()), number

    async def number_many(self, numberings: list[Numbering]) -> list[str | None]:
        numbers: list[str | None] = [None] * len(numberings)
        groups: dict[tuple[str, date], list[int]] = {}
        for index, numbering in enumerate(numberings):
            groups.setdefault((numbering.krid, numbering.day), []).append(index)
        counter = SqlCounter(self._connection)
        for (krid, day), indexes in sorted(groups.items()):
            first = await counter.take(krid, day, len(indexes)) - len(indexes) + 1
            for offset, index in enumerate(indexes):
                if first + offset <= MAX_DAILY_SEQUENCE:  # each its own minute's prefix
                    prefix = numberings[index].prefix
                    numbers[index] = f"{prefix}{first + offset:0{SEQUENCE_DIGITS}d}"
        return numbers

    async def add_many(self, numbered: list[tuple[NewDocument, str]]) -> list[int]:
        if not numbered:
            return []
        result = await self._connection.execute(_INSERT_DOCUMENTS_IN_ORDER, [
            {"registration_number": number, **_document_values(new)}
            for new, number in numbered])
        return [int(row.id) for row in result]

    async def add_many_accepted(
        self, kind: ReceiptKind, accepted: list[tuple[NewDocument, str, bytes, AuditEvent]]
    ) -> None:
        if not accepted:
            return
        if self._connection.dialect.name == "postgresql":
            # One statement per document (the document, its receipt and its audit entry,
            # the receipt naming the document's id through a CTE), all sent in one round
            # trip: the counter's row stays locked for one round trip fewer than with the
            # receipts written after the documents.
            await self._connection.execute(_INSERT_ACCEPTED_DOCUMENT, [
                _named(_document_values(new) | {"registration_number": number})
                | _receipt_values(None, kind, new.registered_at, receipt)
                | _entry_values(event) for new, number, receipt, event in accepted])
            return
        ids = await self.add_many([(new, number) for new, number, _, _ in accepted])
        rows = [_receipt_values(document_id, kind, new.registered_at, receipt)
                | _entry_values(event)
                for document_id, (new, _, receipt, event) in zip(ids, accepted, strict=True)]
        await self._connection.execute(_INSERT_RECEIPT_NAMED, rows)
        await self._connection.execute(_WRITE_UNLINKED_ENTRY, rows)

    async def _register_in_one_statement(
        self, values: dict[str, Any], numbering: Numbering
    ) -> tuple[int, str] | None:
        # The counter's row lock is held until COMMIT, and every upload for this KRID and day
        # queues on it: taking the number and inserting the row in one statement keeps that
        # lock for two round trips (statement, commit) instead of three.
        row = (await self._connection.execute(_REGISTER_IN_ONE_STATEMENT, {
            **_named(values), "numbering_krid": numbering.krid, "numbering_day": numbering.day,
            "numbering_prefix": numbering.prefix})).first()
        return (int(row.id), str(row.registration_number)) if row else None

    async def _one(self, condition: Any) -> Document | None:
        result = await self._connection.execute(_document_select().where(condition))
        row = result.mappings().first()
        return _document(row) if row else None

    async def by_id(self, document_id: int) -> Document | None:
        return await self._one(documents.c.id == document_id)

    async def by_number(self, registration_number: str) -> Document | None:
        return await self._one(documents.c.registration_number == registration_number)

    async def claim_due(self, deadline: Deadline, now: datetime, limit: int) -> list[Document]:
        due_column, done_column = _DEADLINE_COLUMNS[deadline]
        statement = (
            _document_select()
            .where(documents.c.delivery_state == DeliveryState.WAITING.value,
                   done_column.is_(None), due_column.is_not(None), due_column <= now)
            .order_by(due_column).limit(limit)
            # Several workers may sweep at once: each takes rows nobody holds (PostgreSQL;
            # SQLite's write transaction already admits one writer).
            .with_for_update(skip_locked=True, of=documents)
        )
        result = await self._connection.execute(statement)
        return _documents(result)

    async def mark(self, deadline: Deadline, document_ids: list[int], now: datetime) -> None:
        _, done_column = _DEADLINE_COLUMNS[deadline]
        values: dict[str, Any] = {done_column.name: now}
        if deadline is Deadline.EXPIRY:
            values["delivery_state"] = DeliveryState.EXPIRED.value
        await self._connection.execute(
            update(documents).where(documents.c.id.in_(document_ids)).values(**values))

    async def schedule_presumption(self, document_ids: list[int], due_at: datetime) -> None:
        await self._connection.execute(
            update(documents).where(documents.c.id.in_(document_ids))
            .values(presumption_due_at=due_at))

    async def content_needed(self, sha256: str) -> bool:
        kept = select(kept_documents.c.document_id).where(
            kept_documents.c.document_id == documents.c.id).exists()
        result = await self._connection.execute(
            select(documents.c.id).where(
                documents.c.sha256 == sha256,
                or_(documents.c.delivery_state != DeliveryState.EXPIRED.value, kept)).limit(1))
        return result.first() is not None

    async def waiting_counts(
        self, recipient_id: int, doc_type_id: str | None = None
    ) -> dict[PartyKind, int]:
        conditions = [documents.c.recipient_id == recipient_id,
                      documents.c.delivery_state == DeliveryState.WAITING.value]
        if doc_type_id is not None:
            conditions.append(documents.c.doc_type_id == doc_type_id)
        result = await self._connection.execute(
            select(documents.c.sender_kind, func.count())
            .where(*conditions).group_by(documents.c.sender_kind)
        )
        return {PartyKind(kind): int(count) for kind, count in result.all()}

    async def has_content(self, sha256: str) -> bool:
        result = await self._connection.execute(
            select(documents.c.id).where(documents.c.sha256 == sha256).limit(1)
        )
        return result.first() is not None

    async def mailbox(self, query: MailboxQuery) -> list[Document]:
        conditions = [documents.c.recipient_id == query.recipient_id,
                      documents.c.id > query.after_id]
        if query.only_waiting:
            conditions.append(documents.c.delivery_state == DeliveryState.WAITING.value)
        if query.sender_kind is not None:
            conditions.append(documents.c.sender_kind == query.sender_kind.value)
        if query.doc_type_id is not None:
            conditions.append(documents.c.doc_type_id == query.doc_type_id)
        if query.before_id is not None:
            conditions.append(documents.c.id < query.before_id)
        if query.since is not None:
            conditions.append(documents.c.registered_at >= query.since)
        if query.until is not None:
            conditions.append(documents.c.registered_at < query.until)
        if query.text:
            # Sender names are kept folded (name_folded, domain.parties.fold_name: no case, no
            # accents); SQLite's lower() folds ASCII only.
            folded = query.text.casefold()
            conditions.append(or_(
                func.lower(documents.c.file_name).contains(folded, autoescape=True),
                func.lower(documents.c.reference_number).contains(folded, autoescape=True),
                _sender.c.name_folded.contains(fold_name(query.text), autoescape=True),
            ))
        order = documents.c.id.desc() if query.newest_first else documents.c.id
        statement = (
            _document_select(with_timestamp_token=query.with_timestamp_tokens)
            .where(and_(*conditions)).order_by(order).limit(query.limit)
        )
        result = await self._connection.execute(statement)
        return _documents(result)

    async def sent_by(self, sender_id: int, before_id: int | None, limit: int) -> list[Document]:
        statement = _document_select().where(documents.c.sender_id == sender_id)
        if before_id is not None:
            statement = statement.where(documents.c.id < before_id)
        result = await self._connection.execute(
            statement.order_by(documents.c.id.desc()).limit(limit))
        return _documents(result)

    async def acknowledge(self, document_id: int, at: datetime) -> bool:
        # One statement decides between racing acknowledgements: PostgreSQL re-checks the
        # WHERE after the winner commits, so exactly one sees its row changed.
        result = await self._connection.execute(
            update(documents)
            .where(documents.c.id == document_id,
                   documents.c.delivery_state == DeliveryState.WAITING.value)
            .values(delivery_state=DeliveryState.DOWNLOADED.value, acknowledged_at=at)
            .returning(documents.c.id)
        )
        return result.first() is not None


class SqlKept:
    def __init__(self, connection: AsyncConnection) -> None:
        self._connection = connection

    async def lock(self, party_id: int, document_id: int | None = None) -> None:
        # Row locks (PostgreSQL; SQLite's write transaction admits one writer anyway), the
        # party before the document, as everywhere: keeps of one party queue on its row, and
        # the expiry sweep cannot take a document while it is being kept.
        await self._connection.execute(
            select(parties.c.id).where(parties.c.id == party_id).with_for_update())
        if document_id is not None:
            await self._connection.execute(
                select(documents.c.id).where(documents.c.id == document_id).with_for_update())

    async def used_bytes(self, party_id: int) -> int:
        result = await self._connection.execute(
            select(func.coalesce(func.sum(documents.c.size), 0))
            .select_from(kept_documents.join(documents,
                                             documents.c.id == kept_documents.c.document_id))
            .where(kept_documents.c.party_id == party_id))
        return int(result.scalar_one())

    async def add(self, party_id: int, document_id: int, at: datetime) -> None:
        await self._connection.execute(insert(kept_documents).values(
            party_id=party_id, document_id=document_id, kept_at=at))

    async def kept_at(self, party_id: int, document_id: int) -> datetime | None:
        result = await self._connection.execute(
            select(kept_documents.c.kept_at).where(kept_documents.c.party_id == party_id,
                                                   kept_documents.c.document_id == document_id))
        found: datetime | None = result.scalar_one_or_none()
        return found

    async def of_party(self, party_id: int) -> list[KeptDocument]:
        statement = (
            _document_select().add_columns(kept_documents.c.kept_at)
            .join(kept_documents, kept_documents.c.document_id == documents.c.id)
            .where(kept_documents.c.party_id == party_id)
            .order_by(kept_documents.c.kept_at.desc(), documents.c.id.desc()))
        result = await self._connection.execute(statement)
        return [KeptDocument(_document(row), row["kept_at"]) for row in _rows(result)]

    async def remove(self, party_id: int, document_id: int) -> bool:
        result = await self._connection.execute(
            kept_documents.delete().where(kept_documents.c.party_id == party_id,
                                          kept_documents.c.document_id == document_id))
        return bool(result.rowcount)


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


_REGISTER_IN_ONE_STATEMENT = _register_in_one_statement()
# Many documents in one INSERT … VALUES, their ids answered in the order of the rows given.
_INSERT_DOCUMENTS_IN_ORDER = insert(documents).returning(
    documents.c.id, sort_by_parameter_order=True)


def _counter_upsert(connection: AsyncConnection, numbering: Numbering, count: int = 1) -> Any:
    """One atomic statement that takes the next ``count`` sequence numbers: its row lock is
    held until the surrounding transaction ends, so concurrent uploads for one KRID and day
    queue on it, and a rollback gives the numbers back. Never read-then-write."""
    upsert = _upsert_for(connection)(registration_counters).values(
        krid=numbering.krid, day=numbering.day, last_value=count
    )
    return upsert.on_conflict_do_update(
        index_elements=[registration_counters.c.krid, registration_counters.c.day],
        set_={"last_value": registration_counters.c.last_value + count},
    ).returning(registration_counters.c.last_value)


_DEADLINE_COLUMNS = {
    Deadline.WARNING: (documents.c.warning_due_at, documents.c.warned_at),
    Deadline.NOT_COLLECTED: (documents.c.not_collected_due_at, documents.c.not_collected_at),
    Deadline.EXPIRY: (documents.c.valid_until, documents.c.expired_at),
    Deadline.PRESUMPTION: (documents.c.presumption_due_at, documents.c.presumed_at),
}


class SqlCounter:
    def __init__(self, connection: AsyncConnection) -> None:
        self._connection = connection

    async def next(self, krid: str, day: date) -> int:
        return await self.take(krid, day, 1)

    async def take(self, krid: str, day: date, count: int) -> int:
        numbering = Numbering(krid=krid, day=day, prefix="")
        result = await self._connection.execute(
            _counter_upsert(self._connection, numbering, count))
        return int(result.scalar_one())


class SqlIdempotency:
    def __init__(self, connection: AsyncConnection) -> None:
        self._connection = connection

    async def claim(self, party_id: int, key: str, fingerprint: str) -> IdempotencyRecord | None:
        # ON CONFLICT DO NOTHING waits for a concurrent claimer of the same key to finish, so a
        # retry racing its original sees the original's outcome instead of a second document.
        claim = _upsert_for(self._connection)(idempotency_keys).values(
            party_id=party_id, key=key, fingerprint=fingerprint, created_at=datetime.now(UTC)
        ).on_conflict_do_nothing(
            index_elements=[idempotency_keys.c.party_id, idempotency_keys.c.key]
        ).returning(idempotency_keys.c.party_id)
        if (await self._connection.execute(claim)).first() is not None:
            return None
        result = await self._connection.execute(
            select(idempotency_keys.c.fingerprint, idempotency_keys.c.document_id).where(
                idempotency_keys.c.party_id == party_id, idempotency_keys.c.key == key
            )
        )
        row = result.one()
        return IdempotencyRecord(fingerprint=row.fingerprint, document_id=row.document_id)

    async def complete(self, party_id: int, key: str, document_id: int) -> None:
        await self._connection.execute(
            update(idempotency_keys)
            .where(idempotency_keys.c.party_id == party_id, idempotency_keys.c.key == key)
            .values(document_id=document_id)
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
        receipt = _receipt_values(document_id, kind, issued_at, content)
        entry = _entry_values(event)
        if self._connection.dialect.name == "postgresql":
            await self._connection.execute(_INSERT_RECEIPT_AND_ENTRY, receipt | entry)
            return
        await self._connection.execute(_INSERT_RECEIPT_NAMED, receipt)
        await self._connection.execute(_WRITE_UNLINKED_ENTRY, entry)

    async def of_document(self, document_id: int) -> list[ReceiptRecord]:
        result = await self._connection.execute(
            select(receipts.c.kind, receipts.c.issued_at)
            .where(receipts.c.document_id == document_id).order_by(receipts.c.id)
        )
        return [ReceiptRecord(ReceiptKind(row.kind), row.issued_at) for row in result]

    async def of_documents(self, document_ids: list[int]) -> dict[int, list[ReceiptRecord]]:
        found: dict[int, list[ReceiptRecord]] = {document_id: [] for document_id in document_ids}
        if document_ids:
            result = await self._connection.execute(
                select(receipts.c.document_id, receipts.c.kind, receipts.c.issued_at)
                .where(receipts.c.document_id.in_(document_ids)).order_by(receipts.c.id))
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
        await self._connection.execute(_WRITE_UNLINKED_ENTRY, _entry_values(event))

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


def _receipt_values(document_id: int | None, kind: ReceiptKind, issued_at: datetime,
                    content: bytes) -> dict[str, Any]:
    """A receipt's named parameters (``document_id`` None where the statement takes it from
    the document it inserts)."""
    values: dict[str, Any] = {"receipt_kind": kind.value, "receipt_issued_at": issued_at,
                              "receipt_content": content}
    if document_id is not None:
        values["receipt_document_id"] = document_id
    return values


def _entry_values(event: AuditEvent) -> dict[str, Any]:
    return {f"entry_{name}": value for name, value in (
        ("at", event.at), ("actor", event.actor), ("action", event.action.value),
        ("registration_number", event.registration_number), ("sha256", event.sha256),
        ("detail", event.detail), ("office_krid", event.office_krid))}


# Statements built once (building them per upload cost more than running them).
_ENTRY_COLUMNS = ("at", "actor", "action", "registration_number", "sha256", "detail",
                  "office_krid")
_WRITE_UNLINKED_ENTRY = insert(audit_entries).values(**{
    name: bindparam(f"entry_{name}", type_=audit_entries.c[name].type)
    for name in _ENTRY_COLUMNS})
_INSERT_RECEIPT_NAMED = insert(receipts).values(**{
    name: bindparam(f"receipt_{name}", type_=receipts.c[name].type)
    for name in ("document_id", "kind", "issued_at", "content")})
_INSERT_RECEIPT_AND_ENTRY = _WRITE_UNLINKED_ENTRY.add_cte(
    _INSERT_RECEIPT_NAMED.cte("receipt"))


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
    return _WRITE_UNLINKED_ENTRY.add_cte(document, receipt)


_INSERT_ACCEPTED_DOCUMENT = _insert_accepted_document()
_LINK_AUDIT_ENTRY = (update(audit_entries)
                     .where(audit_entries.c.id == bindparam("entry_id"))
                     .values(sequence=bindparam("linked_sequence"),
                             previous_hash=bindparam("linked_previous_hash"),
                             hash=bindparam("linked_hash")))
_INSERT_RECEIPT = insert(receipts)


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


class SqlStaff:
    def __init__(self, connection: AsyncConnection) -> None:
        self._connection = connection

    async def lock(self, organisation_id: int) -> None:
        # The organisation's row lock serialises staff changes (PostgreSQL; SQLite's write
        # transaction admits one writer anyway), so two grants cannot both be the sixth admin.
        await self._connection.execute(
            select(parties.c.id).where(parties.c.id == organisation_id).with_for_update())

    async def members(self, organisation_id: int) -> list[StaffMember]:
        result = await self._connection.execute(
            select(*_PARTY_COLUMNS, staff_roles.c.role, staff_roles.c.granted_at)
            .join(staff_roles, staff_roles.c.person_id == parties.c.id)
            .where(staff_roles.c.organisation_id == organisation_id)
            .order_by(parties.c.username))
        return [StaffMember(_party(row), StaffRole(row["role"]), row["granted_at"])
                for row in result.mappings()]

    async def role(self, organisation_id: int, person_id: int) -> StaffRole | None:
        found = (await self._connection.execute(
            select(staff_roles.c.role).where(staff_roles.c.organisation_id == organisation_id,
                                             staff_roles.c.person_id == person_id)
        )).scalar_one_or_none()
        return StaffRole(found) if found is not None else None

    async def set_role(self, organisation_id: int, person_id: int, role: StaffRole,
                       at: datetime) -> None:
        changed = await self._connection.execute(
            update(staff_roles).where(staff_roles.c.organisation_id == organisation_id,
                                      staff_roles.c.person_id == person_id)
            .values(role=role.value, granted_at=at))
        if changed.rowcount == 0:
            await self._connection.execute(insert(staff_roles).values(
                organisation_id=organisation_id, person_id=person_id, role=role.value,
                granted_at=at))

    async def remove(self, organisation_id: int, person_id: int) -> None:
        await self._connection.execute(
            staff_roles.delete().where(staff_roles.c.organisation_id == organisation_id,
                                       staff_roles.c.person_id == person_id))

    async def offices_of(self, person_id: int) -> list[tuple[Party, StaffRole]]:
        result = await self._connection.execute(
            select(*_PARTY_COLUMNS, staff_roles.c.role)
            .join(staff_roles, staff_roles.c.organisation_id == parties.c.id)
            .where(staff_roles.c.person_id == person_id).order_by(parties.c.short_name))
        return [(_party(row), StaffRole(row["role"])) for row in result.mappings()]


class SqlWebSessions:
    def __init__(self, connection: AsyncConnection) -> None:
        self._connection = connection

    async def add(self, token_sha256: str, person_id: int, at: datetime) -> None:
        await self._connection.execute(insert(web_sessions).values(
            token_sha256=token_sha256, person_id=person_id, created_at=at, last_seen_at=at))

    async def find(self, token_sha256: str) -> tuple[Party, datetime, datetime] | None:
        """The session's person, when it was made and when it was last used."""
        row = (await self._connection.execute(
            select(*_PARTY_COLUMNS, web_sessions.c.created_at.label("session_created_at"),
                   web_sessions.c.last_seen_at)
            .join(web_sessions, web_sessions.c.person_id == parties.c.id)
            .where(web_sessions.c.token_sha256 == token_sha256)
        )).mappings().one_or_none()
        if row is None:
            return None
        return _party(row), row["session_created_at"], row["last_seen_at"]

    async def touch(self, token_sha256: str, at: datetime) -> None:
        await self._connection.execute(
            update(web_sessions).where(web_sessions.c.token_sha256 == token_sha256)
            .values(last_seen_at=at))

    async def remove(self, token_sha256: str) -> None:
        await self._connection.execute(
            web_sessions.delete().where(web_sessions.c.token_sha256 == token_sha256))



class SqlFormSubmissions:
    def __init__(self, connection: AsyncConnection) -> None:
        self._connection = connection

    async def claim(self, person_id: int, form_key: str, at: datetime, *,
                    forget_before: datetime) -> tuple[bool, str | None]:
        # ON CONFLICT DO NOTHING waits for a concurrent claimer of the same key to commit, so
        # of two POSTs racing with one key exactly one is told it claimed it.
        await self._connection.execute(form_submissions.delete().where(
            form_submissions.c.person_id == person_id,
            form_submissions.c.claimed_at < forget_before))
        claim = _upsert_for(self._connection)(form_submissions).values(
            person_id=person_id, form_key=form_key, claimed_at=at,
        ).on_conflict_do_nothing(
            index_elements=[form_submissions.c.person_id, form_submissions.c.form_key],
        ).returning(form_submissions.c.person_id)
        if (await self._connection.execute(claim)).first() is not None:
            return True, None
        return False, await self.outcome(person_id, form_key)

    async def outcome(self, person_id: int, form_key: str) -> str | None:
        return (await self._connection.execute(select(form_submissions.c.outcome).where(
            form_submissions.c.person_id == person_id,
            form_submissions.c.form_key == form_key))).scalar_one_or_none()

    async def settle(self, person_id: int, form_key: str, outcome: str) -> None:
        await self._connection.execute(update(form_submissions).where(
            form_submissions.c.person_id == person_id,
            form_submissions.c.form_key == form_key).values(outcome=outcome))

    async def release(self, person_id: int, form_key: str) -> None:
        await self._connection.execute(form_submissions.delete().where(
            form_submissions.c.person_id == person_id,
            form_submissions.c.form_key == form_key))


class SqlLoginFailures:
    def __init__(self, connection: AsyncConnection) -> None:
        self._connection = connection

    async def latest(self, username: str, address: str, since: datetime,
                     limit: int) -> list[datetime]:
        result = await self._connection.execute(
            select(login_failures.c.at)
            .where(login_failures.c.username == username, login_failures.c.address == address,
                   login_failures.c.at > since)
            .order_by(login_failures.c.at.desc()).limit(limit))
        return list(result.scalars())

    async def count_since(self, username: str, since: datetime) -> int:
        result = await self._connection.execute(
            select(func.count()).select_from(login_failures)
            .where(login_failures.c.username == username, login_failures.c.at > since))
        return int(result.scalar_one())

    async def add(self, username: str, address: str, at: datetime, forget_before: datetime,
                  ) -> None:
        await self._connection.execute(
            login_failures.delete().where(login_failures.c.username == username,
                                          login_failures.c.at < forget_before))
        await self._connection.execute(
            insert(login_failures).values(username=username, address=address, at=at))

    async def clear(self, username: str, address: str) -> None:
        await self._connection.execute(
            login_failures.delete().where(login_failures.c.username == username,
                                          login_failures.c.address == address))


class SqlNotifications:
    def __init__(self, connection: AsyncConnection) -> None:
        self._connection = connection

    async def add_many(self, new: list[NewNotification]) -> None:
        if not new:
            return
        await self._connection.execute(insert(notifications), [{
            "party_id": n.party_id, "kind": n.kind,
            "payload": json.dumps(n.payload, ensure_ascii=False),
            "created_at": n.created_at, "state": "pending", "attempts": 0,
            "next_attempt_at": n.created_at,
        } for n in new])

    async def of_party(self, party_id: int, after_id: int, limit: int) -> list[Notification]:
        result = await self._connection.execute(
            select(notifications).where(notifications.c.party_id == party_id,
                                        notifications.c.id > after_id)
            .order_by(notifications.c.id).limit(limit))
        return [Notification(row.id, row.kind, json.loads(row.payload), row.created_at,
                             row.state, row.attempts) for row in result]

    async def lease_due(self, now: datetime, lease_until: datetime, limit: int, *,
                        skip_parties: Collection[int] = (),
                        party_id: int | None = None) -> list[Delivery]:
        due = (notifications.c.state == "pending", notifications.c.next_attempt_at <= now,
               parties.c.webhook_url.is_not(None))
        # One per party, its oldest: a party's deliveries go one at a time, and a party with
        # a long backlog cannot crowd the others out of the batch.
        oldest = (select(func.min(notifications.c.id))
                  .join(parties, parties.c.id == notifications.c.party_id).where(*due)
                  .group_by(notifications.c.party_id)
                  .order_by(func.min(notifications.c.id)).limit(limit))
        if skip_parties:
            oldest = oldest.where(notifications.c.party_id.not_in(list(skip_parties)))
        if party_id is not None:
            oldest = oldest.where(notifications.c.party_id == party_id)
        ids = list((await self._connection.execute(oldest)).scalars())
        if not ids:
            return []
        # Due again under the lock: another worker may have leased one meanwhile.
        result = await self._connection.execute(
            select(notifications.c.id, notifications.c.party_id, notifications.c.kind,
                   notifications.c.payload, notifications.c.attempts, parties.c.webhook_url)
            .join(parties, parties.c.id == notifications.c.party_id)
            .where(notifications.c.id.in_(ids), *due)
            .order_by(notifications.c.id)
            .with_for_update(skip_locked=True, of=notifications))
        leased = [Delivery(row.id, row.party_id, row.webhook_url, row.kind,
                           json.loads(row.payload), row.attempts) for row in result]
        if leased:
            # Leased until then: another worker skips it; a crash mid-delivery only delays it.
            await self._connection.execute(
                update(notifications).where(notifications.c.id.in_([d.id for d in leased]))
                .values(next_attempt_at=lease_until))
        return leased

    async def delivered(self, notification_id: int, at: datetime) -> None:
        await self._connection.execute(
            update(notifications).where(notifications.c.id == notification_id)
            .values(state="delivered", delivered_at=at, attempts=notifications.c.attempts + 1))

    async def failed(self, notification_id: int, attempts: int, error: str,
                     retry_at: datetime | None) -> None:
        await _record_failure(self._connection, notifications, notification_id, attempts,
                              error, retry_at)


async def _record_failure(connection: AsyncConnection, outbox: Table, item_id: int,
                          attempts: int, error: str, retry_at: datetime | None) -> None:
    """A failed hand-over from an outbox: try again at ``retry_at``, or (None) a dead letter."""
    values: dict[str, Any] = {"attempts": attempts, "last_error": error[:500]}
    if retry_at is None:
        values["state"] = "dead"
    else:
        values["next_attempt_at"] = retry_at
    await connection.execute(update(outbox).where(outbox.c.id == item_id).values(**values))


def _mail_record(row: Any) -> MailRecord:
    return MailRecord(row.id, row.to_address, row.kind, row.registration_number, row.subject,
                      row.message, row.created_at, row.state, row.attempts, row.sent_at)


class SqlMailOutbox:
    def __init__(self, connection: AsyncConnection) -> None:
        self._connection = connection

    async def add_many(self, mails: list[NewMail]) -> None:
        if not mails:
            return
        await self._connection.execute(insert(mail_outbox), [{
            "party_id": m.party_id, "to_address": m.to_address, "kind": m.kind,
            "registration_number": m.registration_number, "subject": m.subject[:255],
            "message": m.message, "created_at": m.created_at, "state": "pending",
            "attempts": 0, "next_attempt_at": m.created_at,
        } for m in mails])

    async def lease_due(self, now: datetime, lease_until: datetime,
                        limit: int) -> list[LeasedMail]:
        result = await self._connection.execute(
            select(mail_outbox.c.id, mail_outbox.c.to_address, mail_outbox.c.message,
                   mail_outbox.c.attempts)
            .where(mail_outbox.c.state == "pending", mail_outbox.c.next_attempt_at <= now)
            .order_by(mail_outbox.c.id).limit(limit)
            .with_for_update(skip_locked=True, of=mail_outbox))
        leased = [LeasedMail(row.id, row.to_address, row.message, row.attempts)
                  for row in result]
        if leased:
            # Leased until then: another worker skips it; a crash mid-send only delays it.
            await self._connection.execute(
                update(mail_outbox).where(mail_outbox.c.id.in_([m.id for m in leased]))
                .values(next_attempt_at=lease_until))
        return leased

    async def delivered(self, mail_id: int, at: datetime) -> None:
        await self._connection.execute(
            update(mail_outbox).where(mail_outbox.c.id == mail_id)
            .values(state="sent", sent_at=at, attempts=mail_outbox.c.attempts + 1))

    async def failed(self, mail_id: int, attempts: int, error: str,
                     retry_at: datetime | None) -> None:
        await _record_failure(self._connection, mail_outbox, mail_id, attempts, error,
                              retry_at)

    async def addressed_to(self, party_id: int, office_warnings: list[OfficeWarnings],
                           limit: int) -> list[MailRecord]:
        column = mail_outbox.c
        shown = [column.party_id == party_id, *(
            and_(column.kind == "mailbox_warning", column.party_id.in_(office.admin_ids),
                 column.subject.startswith(office.subject_start, autoescape=True))
            for office in office_warnings if office.admin_ids)]
        result = await self._connection.execute(
            select(mail_outbox).where(or_(*shown)).order_by(column.id.desc()).limit(limit))
        return [_mail_record(row) for row in result]

    async def of_party(self, party_id: int, limit: int) -> list[MailRecord]:
        result = await self._connection.execute(
            select(mail_outbox).where(mail_outbox.c.party_id == party_id)
            .order_by(mail_outbox.c.id.desc()).limit(limit))
        return [_mail_record(row) for row in result]


class SqlSandboxClock:
    def __init__(self, connection: AsyncConnection) -> None:
        self._connection = connection

    async def offset(self) -> float:
        result = await self._connection.execute(
            select(sandbox_clock.c.offset_seconds).where(sandbox_clock.c.id == 1))
        return float(result.scalar_one())

    async def set_offset(self, seconds: float) -> None:
        await self._connection.execute(
            update(sandbox_clock).where(sandbox_clock.c.id == 1).values(offset_seconds=seconds))


def _incident(row: Any) -> Incident:
    return Incident(row.id, row.title, row.outage, row.opened_at, row.closed_at, row.affected)


def _maintenance(row: Any) -> Maintenance:
    return Maintenance(row.id, row.start_at, row.end_at, row.reason, row.announced_at)


class SqlOperations:
    def __init__(self, connection: AsyncConnection) -> None:
        self._connection = connection

    async def record_ca(self, fingerprint: str, at: datetime) -> str:
        # Two hosts starting at once: one row wins, the other reads it.
        await self._connection.execute(
            _upsert_for(self._connection)(gateway_keys)
            .values(id=1, ca_fingerprint=fingerprint, recorded_at=at)
            .on_conflict_do_nothing(index_elements=[gateway_keys.c.id]))
        result = await self._connection.execute(
            select(gateway_keys.c.ca_fingerprint).where(gateway_keys.c.id == 1))
        return str(result.scalar_one())

    async def ping(self) -> None:
        await self._connection.execute(select(literal(1)))

    async def add_probe(self, at: datetime, ok: bool, failures: str | None) -> None:
        await self._connection.execute(
            insert(probes).values(at=at, ok=ok, failures=failures[:500] if failures else None))

    async def probes(self, since: datetime, until: datetime) -> list[Probe]:
        result = await self._connection.execute(
            select(probes.c.at, probes.c.ok).where(probes.c.at >= since, probes.c.at < until)
            .order_by(probes.c.at))
        return [Probe(row.at, row.ok) for row in result]

    async def open_incident(self, title: str, outage: bool, at: datetime,
                            affected: str) -> Incident:
        result = await self._connection.execute(
            insert(incidents).values(title=title, outage=outage, opened_at=at, affected=affected)
            .returning(*incidents.c))
        return _incident(result.one())

    async def incident(self, incident_id: int) -> Incident | None:
        result = await self._connection.execute(
            select(incidents).where(incidents.c.id == incident_id))
        row = result.first()
        return _incident(row) if row else None

    async def close_incident(self, incident_id: int, at: datetime) -> Incident | None:
        result = await self._connection.execute(
            update(incidents).where(incidents.c.id == incident_id, incidents.c.closed_at.is_(None))
            .values(closed_at=at).returning(*incidents.c))
        row = result.first()
        return _incident(row) if row else None

    async def incidents(self, since: datetime) -> list[Incident]:
        result = await self._connection.execute(
            select(incidents).where(
                (incidents.c.closed_at.is_(None)) | (incidents.c.closed_at > since))
            .order_by(incidents.c.opened_at))
        return [_incident(row) for row in result]

    async def announce(self, start: datetime, end: datetime, reason: str,
                       at: datetime) -> Maintenance:
        result = await self._connection.execute(
            insert(maintenance).values(start_at=start, end_at=end, reason=reason,
                                       announced_at=at).returning(*maintenance.c))
        return _maintenance(result.one())

    async def maintenance(self, since: datetime) -> list[Maintenance]:
        result = await self._connection.execute(
            select(maintenance).where(maintenance.c.end_at > since)
            .order_by(maintenance.c.start_at))
        return [_maintenance(row) for row in result]

    async def outbox_counts(self) -> dict[str, tuple[int, int]]:
        webhook_waiting = await self._connection.execute(
            select(func.count()).select_from(notifications)
            .join(parties, parties.c.id == notifications.c.party_id)
            .where(notifications.c.state == "pending", parties.c.webhook_url.is_not(None)))
        webhook_dead = await self._connection.execute(
            select(func.count()).select_from(notifications)
            .where(notifications.c.state == "dead"))
        mail = await self._connection.execute(
            select(mail_outbox.c.state, func.count()).where(
                mail_outbox.c.state.in_(("pending", "dead"))).group_by(mail_outbox.c.state))
        mails: dict[str, int] = {row[0]: int(row[1]) for row in mail}
        return {"webhook": (int(webhook_waiting.scalar_one()), int(webhook_dead.scalar_one())),
                "email": (int(mails.get("pending", 0)), int(mails.get("dead", 0)))}

    async def waiting_total(self) -> int:
        result = await self._connection.execute(
            select(func.count()).select_from(documents)
            .where(documents.c.delivery_state == DeliveryState.WAITING.value))
        return int(result.scalar_one())

    async def oldest_due(self, now: datetime) -> datetime | None:
        oldest: datetime | None = None
        for due_column, done_column in _DEADLINE_COLUMNS.values():
            result = await self._connection.execute(
                select(func.min(due_column)).where(
                    documents.c.delivery_state == DeliveryState.WAITING.value,
                    done_column.is_(None), due_column.is_not(None), due_column <= now))
            # min() keeps the column's type, so the value comes back as an aware datetime.
            found: datetime | None = result.scalar_one()
            if found is not None and (oldest is None or found < oldest):
                oldest = found
        return oldest
