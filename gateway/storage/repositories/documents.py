"""Documents: reading, listing, deadlines, acknowledgement; the tartós tár; idempotency keys."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import and_, func, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from gateway.domain.audit import AuditEvent
from gateway.domain.documents import DeliveryState, Document, NewDocument, Numbering
from gateway.domain.parties import PartyKind, fold_name
from gateway.domain.receipts import ReceiptKind
from gateway.domain.registration import MAX_DAILY_SEQUENCE, SEQUENCE_DIGITS, sequence_of
from gateway.services.ports.documents import Deadline, IdempotencyRecord, KeptDocument, MailboxQuery
from gateway.storage.repositories.registration import (
    INSERT_ACCEPTED_DOCUMENT,
    INSERT_DOCUMENTS_IN_ORDER,
    INSERT_RECEIPT_NAMED,
    OWE_ACCEPTANCE_RECEIPT,
    REGISTER_AS_FORECAST,
    REGISTER_BEFORE_RECEIPTS,
    REGISTER_IN_ONE_STATEMENT,
    WRITE_UNLINKED_ENTRY,
    SqlCounter,
    document_values,
    entry_values,
    named_values,
    receipt_values,
)
from gateway.storage.repositories.rows import (
    document_of_row,
    document_select,
    documents_of_result,
    recipient_alias,
    rows_of,
    sender_alias,
    upsert_for,
)
from gateway.storage.tables import (
    acceptance_receipts_owed,
    documents,
    idempotency_keys,
    kept_documents,
    parties,
)


class SqlDocuments:
    def __init__(self, connection: AsyncConnection) -> None:
        self._connection = connection

    async def register(self, new: NewDocument, numbering: Numbering) -> tuple[int, str] | None:
        values = document_values(new)
        if self._connection.dialect.name == "postgresql":
            return await self._register_in_one_statement(values, numbering)
        # SQLite: the write transaction (BEGIN IMMEDIATE) already serialises writers, so two
        # statements cost nothing in contention (and SQLite has no DML inside a CTE).
        sequence = await SqlCounter(self._connection).next(numbering.krid, numbering.day)
        if sequence > MAX_DAILY_SEQUENCE:
            return None
        number = _number(numbering.prefix, sequence)
        result = await self._connection.execute(
            insert(documents).values(registration_number=number, **values)
            .returning(documents.c.id)
        )
        return int(result.scalar_one()), number

    async def number_many(self, numberings: list[Numbering]) -> list[str | None]:
        groups = _counter_groups(numberings)
        last = await SqlCounter(self._connection).take_many([
            (krid, day, len(indexes)) for (krid, day), indexes in groups.items()])
        return _numbers(numberings, groups, last)

    async def register_as_forecast(
        self, kind: ReceiptKind,
        forecast: list[tuple[NewDocument, Numbering, str, bytes, AuditEvent]],
    ) -> list[str | None]:
        numberings = [numbering for _, numbering, _, _, _ in forecast]
        numbers = [number for _, _, number, _, _ in forecast]
        expected = _counters_as_forecast(numberings, numbers)
        if self._connection.dialect.name == "postgresql":
            taken = await self._taken_as_forecast(kind, forecast, expected)
        else:
            # SQLite's write transaction admits one writer: reading the counters before
            # taking them cannot race.
            taken = set()
            counter = SqlCounter(self._connection)
            for (krid, day), (count, last) in sorted(expected.items()):
                if await counter.last(krid, day) == last - count:
                    await counter.take(krid, day, count)
                    taken.add((krid, day))
            await self.add_many_accepted(kind, [
                (new, number, receipt, event) for new, numbering, number, receipt, event
                in forecast if (numbering.krid, numbering.day) in taken])
        return [number if (numbering.krid, numbering.day) in taken else None
                for _, numbering, number, _, _ in forecast]

    async def _taken_as_forecast(
        self, kind: ReceiptKind,
        forecast: list[tuple[NewDocument, Numbering, str, bytes, AuditEvent]],
        expected: dict[tuple[str, date], tuple[int, int]],
    ) -> set[tuple[str, date]]:
        rows: list[dict[str, Any]] = [
            named_values(document_values(new) | {"registration_number": number})
            | {"numbering_krid": numbering.krid, "numbering_day": numbering.day,
               "receipt_content": receipt} | entry_values(event)
            for new, numbering, number, receipt, event in forecast
            if (numbering.krid, numbering.day) in expected]
        if not rows:
            return set()
        counters = sorted(expected.items())
        result = await self._connection.execute(REGISTER_AS_FORECAST, {
            name: [row[name] for row in rows] for name in rows[0]} | {
            "receipt_kind": kind.value,
            "counter_krid": [krid for (krid, _), _ in counters],
            "counter_day": [day for (_, day), _ in counters],
            "counter_count": [count for _, (count, _) in counters],
            "counter_last": [last for _, (_, last) in counters]})
        return {(row.krid, row.day) for row in result}

    async def register_before_receipts(
        self, accepted: list[tuple[NewDocument, Numbering, AuditEvent]],
    ) -> list[tuple[int, str] | None]:
        numberings = [numbering for _, numbering, _ in accepted]
        groups = _counter_groups(numberings)
        if self._connection.dialect.name != "postgresql":
            # SQLite's write transaction admits one writer: the counters, the documents, their
            # entries and what they owe in four statements hold nobody up.
            numbers = await self.number_many(numberings)
            numbered = [(index, new, number, event) for index, ((new, _, event), number)
                        in enumerate(zip(accepted, numbers, strict=True)) if number is not None]
            ids = await self.add_many([(new, number) for _, new, number, _ in numbered])
            if numbered:
                await self._connection.execute(WRITE_UNLINKED_ENTRY, [
                    entry_values(replace(event, registration_number=number))
                    for _, _, number, event in numbered])
                await self._connection.execute(OWE_ACCEPTANCE_RECEIPT, [
                    {"document_id": document_id} for document_id in ids])
            answers: list[tuple[int, str] | None] = [None] * len(accepted)
            for document_id, (index, _, number, _) in zip(ids, numbered, strict=True):
                answers[index] = (document_id, number)
            return answers
        places = [0] * len(accepted)
        for indexes in groups.values():
            for place, index in enumerate(indexes, start=1):
                places[index] = place
        rows: list[dict[str, Any]] = [
            named_values(document_values(new))
            | {"numbering_krid": numbering.krid, "numbering_day": numbering.day,
               "numbering_prefix": numbering.prefix, "numbering_place": place,
               "batch_place": index}
            | {name: value for name, value in entry_values(event).items()
               if name != "entry_registration_number"}
            for index, ((new, numbering, event), place)
            in enumerate(zip(accepted, places, strict=True))]
        counters = sorted(groups.items())
        result = await self._connection.execute(REGISTER_BEFORE_RECEIPTS, {
            name: [row[name] for row in rows] for name in rows[0]} | {
            "counter_krid": [krid for (krid, _), _ in counters],
            "counter_day": [day for (_, day), _ in counters],
            "counter_count": [len(indexes) for _, indexes in counters]})
        registered: list[tuple[int, str] | None] = [None] * len(accepted)
        for row in result:
            registered[row.batch_place] = (int(row.id), str(row.registration_number))
        return registered

    async def owing_acceptance_receipts(self, before: datetime, limit: int) -> list[Document]:
        result = await self._connection.execute(
            document_select().join(
                acceptance_receipts_owed,
                acceptance_receipts_owed.c.document_id == documents.c.id)
            .where(documents.c.registered_at <= before)
            .order_by(documents.c.id).limit(limit))
        return documents_of_result(result)

    async def add_many(self, numbered: list[tuple[NewDocument, str]]) -> list[int]:
        if not numbered:
            return []
        result = await self._connection.execute(INSERT_DOCUMENTS_IN_ORDER, [
            {"registration_number": number, **document_values(new)}
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
            await self._connection.execute(INSERT_ACCEPTED_DOCUMENT, [
                named_values(document_values(new) | {"registration_number": number})
                | receipt_values(None, kind, new.registered_at, receipt)
                | entry_values(event) for new, number, receipt, event in accepted])
            return
        ids = await self.add_many([(new, number) for new, number, _, _ in accepted])
        rows = [receipt_values(document_id, kind, new.registered_at, receipt)
                | entry_values(event)
                for document_id, (new, _, receipt, event) in zip(ids, accepted, strict=True)]
        await self._connection.execute(INSERT_RECEIPT_NAMED, rows)
        await self._connection.execute(WRITE_UNLINKED_ENTRY, rows)

    async def _register_in_one_statement(
        self, values: dict[str, Any], numbering: Numbering
    ) -> tuple[int, str] | None:
        # The counter's row lock is held until COMMIT, and every upload for this KRID and day
        # queues on it: taking the number and inserting the row in one statement keeps that
        # lock for two round trips (statement, commit) instead of three.
        row = (await self._connection.execute(REGISTER_IN_ONE_STATEMENT, {
            **named_values(values), "numbering_krid": numbering.krid,
            "numbering_day": numbering.day, "numbering_prefix": numbering.prefix})).first()
        return (int(row.id), str(row.registration_number)) if row else None

    async def _one(self, condition: Any) -> Document | None:
        result = await self._connection.execute(document_select().where(condition))
        row = result.mappings().first()
        return document_of_row(row) if row else None

    async def by_id(self, document_id: int) -> Document | None:
        return await self._one(documents.c.id == document_id)

    async def by_number(self, registration_number: str) -> Document | None:
        return await self._one(documents.c.registration_number == registration_number)

    async def claim_due(self, deadline: Deadline, now: datetime, limit: int) -> list[Document]:
        due_column, done_column = DEADLINE_COLUMNS[deadline]
        statement = (
            document_select()
            .where(documents.c.delivery_state == DeliveryState.WAITING.value,
                   done_column.is_(None), due_column.is_not(None), due_column <= now)
            .order_by(due_column).limit(limit)
            # Several workers may sweep at once: each takes rows nobody holds (PostgreSQL;
            # SQLite's write transaction already admits one writer).
            .with_for_update(skip_locked=True, of=documents)
        )
        result = await self._connection.execute(statement)
        return documents_of_result(result)

    async def mark(self, deadline: Deadline, document_ids: list[int], now: datetime) -> None:
        _, done_column = DEADLINE_COLUMNS[deadline]
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
        if query.sender_krids is not None:
            # In SQL, not over a page afterwards: the page and its cursor stay right.
            conditions.append(sender_alias.c.krid.in_(sorted(query.sender_krids)))
        if query.text:
            # Sender names are kept folded (name_folded, domain.parties.fold_name: no case, no
            # accents); SQLite's lower() folds ASCII only.
            folded = query.text.casefold()
            conditions.append(or_(
                func.lower(documents.c.file_name).contains(folded, autoescape=True),
                func.lower(documents.c.reference_number).contains(folded, autoescape=True),
                sender_alias.c.name_folded.contains(fold_name(query.text), autoescape=True),
            ))
        order = documents.c.id.desc() if query.newest_first else documents.c.id
        statement = (
            document_select(with_timestamp_token=query.with_timestamp_tokens)
            .where(and_(*conditions)).order_by(order).limit(query.limit)
        )
        result = await self._connection.execute(statement)
        return documents_of_result(result)

    async def sent_by(self, sender_id: int, before_id: int | None, limit: int,
                      recipient_krids: frozenset[str] | None = None) -> list[Document]:
        statement = document_select().where(documents.c.sender_id == sender_id)
        if recipient_krids is not None:
            statement = statement.where(recipient_alias.c.krid.in_(sorted(recipient_krids)))
        if before_id is not None:
            statement = statement.where(documents.c.id < before_id)
        result = await self._connection.execute(
            statement.order_by(documents.c.id.desc()).limit(limit))
        return documents_of_result(result)

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
            document_select().add_columns(kept_documents.c.kept_at)
            .join(kept_documents, kept_documents.c.document_id == documents.c.id)
            .where(kept_documents.c.party_id == party_id)
            .order_by(kept_documents.c.kept_at.desc(), documents.c.id.desc()))
        result = await self._connection.execute(statement)
        return [KeptDocument(document_of_row(row), row["kept_at"]) for row in rows_of(result)]

    async def remove(self, party_id: int, document_id: int) -> bool:
        result = await self._connection.execute(
            kept_documents.delete().where(kept_documents.c.party_id == party_id,
                                          kept_documents.c.document_id == document_id))
        return bool(result.rowcount)


DEADLINE_COLUMNS = {
    Deadline.WARNING: (documents.c.warning_due_at, documents.c.warned_at),
    Deadline.NOT_COLLECTED: (documents.c.not_collected_due_at, documents.c.not_collected_at),
    Deadline.EXPIRY: (documents.c.valid_until, documents.c.expired_at),
    Deadline.PRESUMPTION: (documents.c.presumption_due_at, documents.c.presumed_at),
}


class SqlIdempotency:
    def __init__(self, connection: AsyncConnection) -> None:
        self._connection = connection

    async def claim(self, party_id: int, key: str, fingerprint: str) -> IdempotencyRecord | None:
        # ON CONFLICT DO NOTHING waits for a concurrent claimer of the same key to finish, so a
        # retry racing its original sees the original's outcome instead of a second document.
        claim = upsert_for(self._connection)(idempotency_keys).values(
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


def _counter_groups(numberings: list[Numbering]) -> dict[tuple[str, date], list[int]]:
    """The indexes of ``numberings`` per counter (KRID, day), in order."""
    groups: dict[tuple[str, date], list[int]] = {}
    for index, numbering in enumerate(numberings):
        groups.setdefault((numbering.krid, numbering.day), []).append(index)
    return groups


def _numbers(numberings: list[Numbering], groups: dict[tuple[str, date], list[int]],
             last: dict[tuple[str, date], int]) -> list[str | None]:
    """Each numbering's number, given the last number each counter gave: a counter's numbers
    go to its documents in order; None past the day's last."""
    numbers: list[str | None] = [None] * len(numberings)
    for key, indexes in groups.items():
        first = last[key] - len(indexes) + 1
        for offset, index in enumerate(indexes):
            if first + offset <= MAX_DAILY_SEQUENCE:  # each its own minute's prefix
                prefix = numberings[index].prefix
                numbers[index] = _number(prefix, first + offset)
    return numbers


def _number(prefix: str, sequence: int) -> str:
    return f"{prefix}{sequence:0{SEQUENCE_DIGITS}d}"


def _counters_as_forecast(numberings: list[Numbering],
                          numbers: list[str]) -> dict[tuple[str, date], tuple[int, int]]:
    """(count, last) of each counter whose documents are forecast the very numbers it would
    give them, in order; a counter forecast otherwise is not taken."""
    expected = {}
    for key, indexes in _counter_groups(numberings).items():
        last = sequence_of(numbers[indexes[-1]])
        first = last - len(indexes) + 1
        if all(numbers[index] == _number(numberings[index].prefix, first + offset)
               for offset, index in enumerate(indexes)):
            expected[key] = (len(indexes), last)
    return expected
