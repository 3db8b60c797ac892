"""Shared pieces of the repositories: how a party's and a document's rows are read."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Result, RowMapping
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql import Select

from gateway.domain.documents import ActingPerson, DeliveryState, Document, PartyRef
from gateway.domain.parties import Party, PartyKind
from gateway.storage.tables import documents, parties


def upsert_for(connection: AsyncConnection) -> Any:
    """The dialect's INSERT that knows ON CONFLICT (both PostgreSQL and SQLite ≥ 3.35 do)."""
    return postgresql.insert if connection.dialect.name == "postgresql" else sqlite.insert


def party_of_row(row: RowMapping) -> Party:
    return Party(
        id=row["id"], kind=PartyKind(row["kind"]), name=row["name"], username=row["username"],
        krid=row["krid"], short_name=row["short_name"], mak_code=row["mak_code"],
        code=row["code"], email=row["email"],
    )


PARTY_COLUMNS = [c for c in parties.c if c.name not in ("password_hash", "name_folded")]


sender_alias = parties.alias("sender")


recipient_alias = parties.alias("recipient")
_recipient = recipient_alias


# The agent who sent a document in its sender's name (contract 25), when one did.
_agent = parties.alias("agent")


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
            *(sender_alias.c[name].label(f"sender_party_{name}") for name in _REF_FIELDS),
            *(_recipient.c[name].label(f"recipient_party_{name}") for name in _REF_FIELDS),
            _agent.c.name.label("agent_party_name"), _agent.c.code.label("agent_party_code"),
        )
        .join(sender_alias, sender_alias.c.id == documents.c.sender_id)
        .join(_recipient, _recipient.c.id == documents.c.recipient_id)
        .outerjoin(_agent, _agent.c.id == documents.c.agent_id)
    )


# Built once: a select is immutable (each .where() makes a new one), and building its forty
# labelled columns on every listing was a measurable part of the listing's time.
_DOCUMENT_SELECTS = {flag: _build_document_select(with_timestamp_token=flag)
                     for flag in (True, False)}


def document_select(*, with_timestamp_token: bool = True) -> Select[Any]:
    return _DOCUMENT_SELECTS[with_timestamp_token]


def rows_of(result: Result[Any]) -> list[dict[str, Any]]:
    """The rows as plain dicts: a page of documents reads some forty values from each row,
    and a dict lookup costs a fraction of SQLAlchemy's RowMapping lookup (measured: turning
    50 rows into documents took a quarter of a listing's time)."""
    keys = tuple(result.keys())
    return [dict(zip(keys, row, strict=True)) for row in result]


def documents_of_result(result: Result[Any]) -> list[Document]:
    known: dict[int, PartyRef] = {}
    return [document_of_row(row, known) for row in rows_of(result)]


def document_of_row(row: Mapping[str, Any],
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
        acting_person=None if row["agent_id"] is None
        else ActingPerson(row["agent_party_name"], row["agent_party_code"]),
    )


def _delivery_state(row: Mapping[str, Any]) -> DeliveryState:
    # A presumed delivery stays "waiting" in the table: every query about unopened documents
    # (listings, the other deadlines' partial indexes, acknowledgement) keeps holding for it.
    state = DeliveryState(row["delivery_state"])
    if state is DeliveryState.WAITING and row["presumed_at"] is not None:
        return DeliveryState.PRESUMED_DELIVERED
    return state
