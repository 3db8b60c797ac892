"""Evidence: parties' encryption keys (with history), timestamp tokens, receipts, the system
party that sends receipts as system messages.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-21
"""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

from gateway.storage.tables import UTCDateTime

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
SYSTEM_USERNAME = "__system__"


def upgrade() -> None:
    op.create_table(
        "party_keys",
        sa.Column("id", Id, primary_key=True, autoincrement=True),
        sa.Column("party_id", Id, sa.ForeignKey("parties.id"), nullable=False),
        sa.Column("certificate_der", sa.LargeBinary, nullable=False),
        sa.Column("fingerprint_sha256", sa.String(64), nullable=False),
        sa.Column("not_after", UTCDateTime(), nullable=False),
        sa.Column("added_at", UTCDateTime(), nullable=False),
        sa.Column("removed_at", UTCDateTime()),
    )
    op.create_index("ix_party_keys_current", "party_keys", ["party_id", "removed_at"])
    with op.batch_alter_table("documents") as batch:
        batch.add_column(sa.Column("timestamp_token", sa.LargeBinary))
        # When stored encrypted: the SHA-256 of what the sender sent (sha256 is the stored form).
        batch.add_column(sa.Column("submitted_sha256", sa.String(64)))
    op.create_table(
        "receipts",
        sa.Column("id", Id, primary_key=True, autoincrement=True),
        sa.Column("document_id", Id, sa.ForeignKey("documents.id"), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("issued_at", UTCDateTime(), nullable=False),
        sa.Column("content", sa.LargeBinary, nullable=False),
        sa.UniqueConstraint("document_id", "kind", name="uq_receipts_document_kind"),
    )
    parties = sa.table(
        "parties", sa.column("kind"), sa.column("name"), sa.column("name_folded"),
        sa.column("username"), sa.column("password_hash"), sa.column("created_at", UTCDateTime()),
    )
    # "!" is no argon2 hash: nobody can log in as the system.
    op.bulk_insert(parties, [{
        "kind": "system", "name": "Központi Rendszer", "name_folded": "központi rendszer",
        "username": SYSTEM_USERNAME, "password_hash": "!", "created_at": datetime.now(UTC),
    }])


def downgrade() -> None:
    op.execute(sa.text("DELETE FROM parties WHERE username = :u").bindparams(u=SYSTEM_USERNAME))
    op.drop_table("receipts")
    with op.batch_alter_table("documents") as batch:
        batch.drop_column("submitted_sha256")
        batch.drop_column("timestamp_token")
    op.drop_index("ix_party_keys_current", "party_keys")
    op.drop_table("party_keys")
