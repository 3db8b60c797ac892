"""The gateway core: parties, documents, registration counters, idempotency keys.

Revision ID: 0001
Revises:
Create Date: 2026-11-21
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from gateway.storage.tables import UTCDateTime

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "parties",
        sa.Column("id", Id, primary_key=True, autoincrement=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("name_folded", sa.String(255), nullable=False),
        sa.Column("username", sa.String(64), nullable=False, unique=True),
        sa.Column("password_hash", sa.String(255), nullable=False),
        sa.Column("krid", sa.String(9), unique=True),
        sa.Column("short_name", sa.String(20), unique=True),
        sa.Column("mak_code", sa.String(9)),
        sa.Column("code", sa.String(64), unique=True),
        sa.Column("email", sa.String(255)),
        sa.Column("created_at", UTCDateTime(), nullable=False),
    )
    op.create_table(
        "documents",
        sa.Column("id", Id, primary_key=True, autoincrement=True),
        sa.Column("registration_number", sa.String(27), nullable=False, unique=True),
        sa.Column("registered_at", UTCDateTime(), nullable=False),
        sa.Column("valid_until", UTCDateTime(), nullable=False),
        sa.Column("sender_id", Id, sa.ForeignKey("parties.id"), nullable=False),
        sa.Column("recipient_id", Id, sa.ForeignKey("parties.id"), nullable=False),
        sa.Column("sender_kind", sa.String(16), nullable=False),
        sa.Column("reference_number", sa.String(50)),
        sa.Column("doc_type_office", sa.String(255), nullable=False),
        sa.Column("doc_type_id", sa.String(255), nullable=False),
        sa.Column("doc_type_description", sa.String(255), nullable=False),
        sa.Column("note", sa.Text),
        sa.Column("file_name", sa.String(255), nullable=False),
        sa.Column("size", sa.BigInteger, nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("reply_encryption", sa.Boolean, nullable=False),
        sa.Column("return_receipt", sa.Boolean, nullable=False),
        sa.Column("system_message", sa.Boolean, nullable=False),
        sa.Column("delivery_state", sa.String(16), nullable=False),
        sa.Column("acknowledged_at", UTCDateTime()),
    )
    op.create_index("ix_documents_mailbox", "documents", ["recipient_id", "delivery_state", "id"])
    op.create_index("ix_documents_sender", "documents", ["sender_id", "id"])
    op.create_index("ix_documents_sha256", "documents", ["sha256"])
    op.create_table(
        "registration_counters",
        sa.Column("krid", sa.String(9), primary_key=True),
        sa.Column("day", sa.Date, primary_key=True),
        sa.Column("last_value", sa.Integer, nullable=False),
    )
    op.create_table(
        "idempotency_keys",
        sa.Column("party_id", Id, sa.ForeignKey("parties.id"), primary_key=True),
        sa.Column("key", sa.String(255), primary_key=True),
        sa.Column("fingerprint", sa.String(64), nullable=False),
        sa.Column("document_id", Id, sa.ForeignKey("documents.id")),
        sa.Column("created_at", UTCDateTime(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("idempotency_keys")
    op.drop_table("registration_counters")
    op.drop_table("documents")
    op.drop_table("parties")
