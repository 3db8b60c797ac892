"""Table definitions (SQLAlchemy Core). The schema itself is made only by migrations/."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Date,
    DateTime,
    Dialect,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.dialects.postgresql import TSVECTOR

from gateway.domain.parties import fold_name


class UTCDateTime(TypeDecorator[datetime]):
    """Aware datetimes stored as UTC; SQLite keeps no offset, so it is put back on reading."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if not isinstance(value, datetime) or value.tzinfo is None:
            raise ValueError("only timezone-aware datetimes are stored")
        utc = value.astimezone(UTC)
        return utc.replace(tzinfo=None) if dialect.name == "sqlite" else utc

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        assert isinstance(value, datetime)
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


NAME_FOLDED_LENGTH = 255


def folded_name(name: str) -> str:
    """``parties.name_folded`` of ``name``: ``fold_name``, cut to the column's width (a
    compatibility decomposition can lengthen a name: "ﬁ" is two letters)."""
    return fold_name(name)[:NAME_FOLDED_LENGTH]


# SQLite autoincrements only "INTEGER PRIMARY KEY".
Id = BigInteger().with_variant(Integer(), "sqlite")
metadata = MetaData()

parties = Table(
    "parties", metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("kind", String(16), nullable=False),
    Column("name", String(255), nullable=False),
    # folded_name(name): SQLite's lower() and LIKE fold only ASCII, and Hungarian names are
    # not; and a search ignores accents.
    Column("name_folded", String(NAME_FOLDED_LENGTH), nullable=False),
    Column("username", String(64), nullable=False, unique=True),
    Column("password_hash", String(255), nullable=False),
    Column("krid", String(9), unique=True),
    Column("short_name", String(20), unique=True),
    Column("mak_code", String(9)),
    Column("code", String(64), unique=True),
    Column("email", String(255)),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("webhook_url", String(2048)),
)

documents = Table(
    "documents", metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("registration_number", String(27), nullable=False, unique=True),
    Column("registered_at", UTCDateTime(), nullable=False),
    Column("valid_until", UTCDateTime(), nullable=False),
    Column("sender_id", Id, ForeignKey("parties.id"), nullable=False),
    Column("recipient_id", Id, ForeignKey("parties.id"), nullable=False),
    Column("sender_kind", String(16), nullable=False),
    Column("reference_number", String(50)),
    Column("doc_type_office", String(255), nullable=False),
    Column("doc_type_id", String(255), nullable=False),
    Column("doc_type_description", String(255), nullable=False),
    Column("note", Text),
    Column("file_name", String(255), nullable=False),
    Column("size", BigInteger, nullable=False),
    Column("sha256", String(64), nullable=False),
    Column("reply_encryption", Boolean, nullable=False),
    Column("return_receipt", Boolean, nullable=False),
    Column("system_message", Boolean, nullable=False),
    Column("delivery_state", String(16), nullable=False),
    Column("acknowledged_at", UTCDateTime()),
    Column("timestamp_token", LargeBinary),
    Column("submitted_sha256", String(64)),
    Column("warning_due_at", UTCDateTime()),
    Column("warned_at", UTCDateTime()),
    Column("not_collected_due_at", UTCDateTime()),
    Column("not_collected_at", UTCDateTime()),
    Column("expired_at", UTCDateTime()),
    # A citizen's unopened document after its second notice (migration 0009).
    Column("presumption_due_at", UTCDateTime()),
    Column("presumed_at", UTCDateTime()),
    # The person who sent it acting for the sender under a mandate (contract 25, migration
    # 0019); None when the sender acted itself (or its staff, who act as the office).
    Column("agent_id", Id, ForeignKey("parties.id")),
    Index("ix_documents_mailbox", "recipient_id", "delivery_state", "id"),
    Index("ix_documents_sender", "sender_id", "id"),
    Index("ix_documents_sha256", "sha256"),
)

registration_counters = Table(
    "registration_counters", metadata,
    Column("krid", String(9), primary_key=True),
    Column("day", Date, primary_key=True),
    Column("last_value", Integer, nullable=False),
)

idempotency_keys = Table(
    "idempotency_keys", metadata,
    Column("party_id", Id, ForeignKey("parties.id"), primary_key=True),
    Column("key", String(255), primary_key=True),
    Column("fingerprint", String(64), nullable=False),
    Column("document_id", Id, ForeignKey("documents.id")),
    Column("created_at", UTCDateTime(), nullable=False),
)

party_keys = Table(
    "party_keys", metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("party_id", Id, ForeignKey("parties.id"), nullable=False),
    Column("certificate_der", LargeBinary, nullable=False),
    Column("fingerprint_sha256", String(64), nullable=False),
    Column("not_after", UTCDateTime(), nullable=False),
    Column("added_at", UTCDateTime(), nullable=False),
    Column("removed_at", UTCDateTime()),
    Index("ix_party_keys_current", "party_id", "removed_at"),
)

receipts = Table(
    "receipts", metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("document_id", Id, ForeignKey("documents.id"), nullable=False),
    Column("kind", String(32), nullable=False),
    Column("issued_at", UTCDateTime(), nullable=False),
    Column("content", LargeBinary, nullable=False),
    UniqueConstraint("document_id", "kind", name="uq_receipts_document_kind"),
)

# A document registered before its acceptance receipt was signed (its batch's counters are
# not held while receipts are signed): the row goes when the receipt is written, by the upload
# itself just after its commit, or by the background jobs if that upload stopped first.
acceptance_receipts_owed = Table(
    "acceptance_receipts_owed", metadata,
    Column("document_id", Id, ForeignKey("documents.id"), primary_key=True,
           autoincrement=False),
)

# An entry is written with its id only (migration 0011); the linker gives it its place in the
# chain (sequence) and its hashes, in id order, within seconds.
audit_entries = Table(
    "audit_entries", metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("sequence", BigInteger),
    Column("at", UTCDateTime(), nullable=False),
    Column("actor", String(64), nullable=False),
    Column("action", String(32), nullable=False),
    Column("registration_number", String(27)),
    Column("sha256", String(64)),
    Column("detail", String(255)),
    Column("previous_hash", String(64)),
    Column("hash", String(64)),
    # The office a person acted for; its napló reads the entries by it.
    Column("office_krid", String(9)),
    Index("ux_audit_entries_sequence", "sequence", unique=True),
    Index("ix_audit_entries_office", "office_krid", "id"),
)

# One row: the last linked entry's sequence and hash. Locking it serialises linkers, so two
# (processes, hosts) can never both extend the same entry and fork the chain.
audit_head = Table(
    "audit_head", metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("sequence", BigInteger, nullable=False),
    Column("hash", String(64), nullable=False),
)

# A person's role on an organisation's mailbox: admin or clerk (migration 0006).
staff_roles = Table(
    "staff_roles", metadata,
    Column("organisation_id", Id, ForeignKey("parties.id"), primary_key=True),
    Column("person_id", Id, ForeignKey("parties.id"), primary_key=True),
    Column("role", String(8), nullable=False),
    Column("granted_at", UTCDateTime(), nullable=False),
    Index("ix_staff_roles_person", "person_id"),
)

# Kapcsolati kódok a citizen swapped away (migration 0008): no address now, never reissued.
retired_codes = Table(
    "retired_codes", metadata,
    Column("code", String(64), primary_key=True),
    Column("party_id", Id, ForeignKey("parties.id"), nullable=False),
    Column("retired_at", UTCDateTime(), nullable=False),
)

# The documents a citizen keeps in their tartós tár (migration 0010): never expire.
kept_documents = Table(
    "kept_documents", metadata,
    Column("party_id", Id, ForeignKey("parties.id"), primary_key=True),
    Column("document_id", Id, ForeignKey("documents.id"), primary_key=True),
    Column("kept_at", UTCDateTime(), nullable=False),
    Index("ix_kept_documents_document", "document_id"),
)

# A person's browser session: the SHA-256 of the cookie's token, never the token itself.
web_sessions = Table(
    "web_sessions", metadata,
    Column("token_sha256", String(64), primary_key=True),
    Column("person_id", Id, ForeignKey("parties.id"), nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("last_seen_at", UTCDateTime(), nullable=False),
    Index("ix_web_sessions_person", "person_id"),
)

# One-time keys of the web's forms (services/forms.py): the first POST with a key claims its
# row before it does anything; ``outcome`` (the page its answer redirected to) is empty while
# that POST is at work. The primary key lets only one claimer of a key through, on both databases.
form_submissions = Table(
    "form_submissions", metadata,
    Column("person_id", Id, ForeignKey("parties.id"), primary_key=True),
    Column("form_key", String(64), primary_key=True),
    Column("outcome", String(2048)),
    Column("claimed_at", UTCDateTime(), nullable=False),
)

# AVDH authentications (contract 23): who authenticated what and when, hashes only, so that
# a verification can say whether this gateway issued a PDF (services/authentication.py).
authentications = Table(
    "authentications", metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("person_id", Id, ForeignKey("parties.id"), nullable=False),
    Column("office_id", Id, ForeignKey("parties.id")),
    Column("authenticated_at", UTCDateTime(), nullable=False),
    Column("original_file_name", String(255), nullable=False),
    Column("original_size", BigInteger(), nullable=False),
    Column("original_sha256", String(64), nullable=False),
    Column("result_sha256", String(64), nullable=False),
    Index("ix_authentications_result", "result_sha256"),
)

# An office's e-Papír topics (contract 24), in the order its admin gave them.
office_topics = Table(
    "office_topics", metadata,
    Column("party_id", Id, ForeignKey("parties.id"), primary_key=True),
    Column("code", String(32), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("position", Integer(), nullable=False),
)

# The Rendelkezési Nyilvántartás (contract 25): each declaration of a citizen's disposition,
# never overwritten (the one in force at a moment is the latest before it) …
dispositions = Table(
    "dispositions", metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("party_id", Id, ForeignKey("parties.id"), nullable=False),
    Column("electronic_contact", Boolean, nullable=False),
    Column("official_address", String(16), nullable=False),
    Column("effective_at", UTCDateTime(), nullable=False),
    Index("ix_dispositions_party", "party_id", "effective_at"),
)

# … and mandates: a principal authorises an agent; ``scope_offices`` None is every office,
# else the KRIDs by commas (domain/rny.MandateScope.stored).
mandates = Table(
    "mandates", metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("principal_id", Id, ForeignKey("parties.id"), nullable=False),
    Column("agent_id", Id, ForeignKey("parties.id"), nullable=False),
    Column("scope_offices", Text),
    Column("valid_from", UTCDateTime(), nullable=False),
    Column("valid_until", UTCDateTime()),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("accepted_at", UTCDateTime()),
    Column("revoked_at", UTCDateTime()),
    Column("revoked_by_id", Id, ForeignKey("parties.id")),
    # When both sides were told it ran out (its valid_until passed); None: not yet.
    Column("expiry_noticed_at", UTCDateTime()),
    Index("ix_mandates_principal", "principal_id", "id"),
    Index("ix_mandates_agent", "agent_id", "id"),
)

def _notice_content() -> list[Column[Any]]:
    """A notice's content (its form's fields; attachments as JSON), on the notice as shown
    and on each version."""
    return [
        Column("category", String(255), nullable=False),
        Column("subject", String(1000), nullable=False),
        Column("authority", String(255), nullable=False),
        Column("applicant", String(255)),
        Column("case_number", String(255), nullable=False),
        Column("settlement", String(255)),
        Column("case_worker", String(255)),
        Column("display_from", UTCDateTime(), nullable=False),
        Column("display_until", UTCDateTime(), nullable=False),
        Column("text", Text, nullable=False),
        Column("attachments", Text, nullable=False),
    ]


# Hirdetmények (public notices): each office's notice by its own id (Azonosito), showing its
# current version; ``search`` holds its search terms as a tsvector on PostgreSQL (a GIN index,
# migration 0020), and SQLite keeps them in the FTS5 table public_notices_fts instead.
public_notices = Table(
    "public_notices", metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("office_id", Id, ForeignKey("parties.id"), nullable=False),
    Column("identifier", String(255), nullable=False),
    Column("version", Integer(), nullable=False),
    *_notice_content(),
    Column("listed_at", UTCDateTime(), nullable=False),
    Column("published_at", UTCDateTime(), nullable=False),
    Column("modified_at", UTCDateTime()),
    Column("keep_until", UTCDateTime(), nullable=False),
    Column("search", TSVECTOR().with_variant(Text(), "sqlite")),
    UniqueConstraint("office_id", "identifier", name="uq_public_notices_office_identifier"),
    Index("ix_public_notices_listed", "listed_at", "id"),
    Index("ix_public_notices_office", "office_id", "listed_at", "id"),
    Index("ix_public_notices_until", "display_until"),
)

# Every form a notice arrived as, the first publication and each correction (11. § (5)).
public_notice_versions = Table(
    "public_notice_versions", metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("notice_id", Id, ForeignKey("public_notices.id"), nullable=False),
    Column("number", Integer(), nullable=False),
    Column("document_id", Id, ForeignKey("documents.id"), nullable=False),
    Column("received_at", UTCDateTime(), nullable=False),
    *_notice_content(),
    UniqueConstraint("notice_id", "number", name="uq_public_notice_versions_number"),
    Index("ix_public_notice_versions_document", "document_id"),
)

# Failed logins on every door, for throttling by username and client address
# (services/auth.py).
login_failures = Table(
    "login_failures", metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("username", String(64), nullable=False),
    Column("address", String(64), nullable=False, server_default=""),
    Column("at", UTCDateTime(), nullable=False),
    Index("ix_login_failures_username", "username", "at"),
    Index("ix_login_failures_address", "username", "address", "at"),
)

notifications = Table(
    "notifications", metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("party_id", Id, ForeignKey("parties.id"), nullable=False),
    Column("kind", String(32), nullable=False),
    Column("payload", Text, nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("state", String(16), nullable=False),  # pending, delivered, dead
    Column("attempts", Integer, nullable=False, server_default="0"),
    Column("next_attempt_at", UTCDateTime(), nullable=False),
    Column("last_error", String(500)),
    Column("delivered_at", UTCDateTime()),
)

# E-mail notices waiting to be sent (migration 0009): built once, sent by whoever leases them.
mail_outbox = Table(
    "mail_outbox", metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("party_id", Id, ForeignKey("parties.id"), nullable=False),
    Column("to_address", String(255), nullable=False),
    Column("kind", String(32), nullable=False),
    Column("registration_number", String(27)),
    Column("subject", String(255), nullable=False),
    Column("message", LargeBinary, nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("state", String(16), nullable=False),  # pending, sent, dead
    Column("attempts", Integer, nullable=False, server_default="0"),
    Column("next_attempt_at", UTCDateTime(), nullable=False),
    Column("last_error", String(500)),
    Column("sent_at", UTCDateTime()),
)

sandbox_clock = Table(
    "sandbox_clock", metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("offset_seconds", Float, nullable=False),
)

probes = Table(
    "probes", metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("at", UTCDateTime(), nullable=False),
    Column("ok", Boolean, nullable=False),
    Column("failures", String(500)),
    Index("ix_probes_at", "at"),
)

incidents = Table(
    "incidents", metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("title", String(255), nullable=False),
    Column("outage", Boolean, nullable=False),  # counts against availability while open
    Column("opened_at", UTCDateTime(), nullable=False),
    Column("closed_at", UTCDateTime()),
    Column("affected", String(500)),  # what was affected: the outage certificate's Erintett
)

maintenance = Table(
    "maintenance", metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("start_at", UTCDateTime(), nullable=False),
    Column("end_at", UTCDateTime(), nullable=False),
    Column("reason", String(500), nullable=False),
    Column("announced_at", UTCDateTime(), nullable=False),
)

# The CA every host signs with (one row, id 1): recorded at the first start (section 21).
gateway_keys = Table(
    "gateway_keys", metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("ca_fingerprint", String(64), nullable=False),
    Column("recorded_at", UTCDateTime(), nullable=False),
)
