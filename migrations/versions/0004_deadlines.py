"""Deadlines: due times and outcomes on documents, the notifications outbox, webhooks, the
sandbox clock.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-21
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from gateway.storage.tables import UTCDateTime

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _partial(name: str, column: str, done: str) -> None:
    # Only the documents still waiting for this deadline are in the index: a sweep reads the
    # due ones straight off it, however many documents have been dealt with.
    condition = sa.text(f"delivery_state = 'waiting' AND {done} IS NULL AND {column} IS NOT NULL")
    op.create_index(name, "documents", [column], postgresql_where=condition,
                    sqlite_where=condition)


def upgrade() -> None:
    with op.batch_alter_table("documents") as batch:
        batch.add_column(sa.Column("warning_due_at", UTCDateTime()))
        batch.add_column(sa.Column("warned_at", UTCDateTime()))
        batch.add_column(sa.Column("not_collected_due_at", UTCDateTime()))
        batch.add_column(sa.Column("not_collected_at", UTCDateTime()))
        batch.add_column(sa.Column("expired_at", UTCDateTime()))
    _partial("ix_documents_warning_due", "warning_due_at", "warned_at")
    _partial("ix_documents_not_collected_due", "not_collected_due_at", "not_collected_at")
    _partial("ix_documents_expiry_due", "valid_until", "expired_at")
    with op.batch_alter_table("parties") as batch:
        batch.add_column(sa.Column("webhook_url", sa.String(2048)))
    op.create_table(
        "notifications",
        sa.Column("id", Id, primary_key=True, autoincrement=True),
        sa.Column("party_id", Id, sa.ForeignKey("parties.id"), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("payload", sa.Text, nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
        sa.Column("next_attempt_at", UTCDateTime(), nullable=False),
        sa.Column("last_error", sa.String(500)),
        sa.Column("delivered_at", UTCDateTime()),
    )
    op.create_index("ix_notifications_party", "notifications", ["party_id", "id"])
    op.create_index("ix_notifications_due", "notifications", ["state", "next_attempt_at"])
    op.create_table(
        "sandbox_clock",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("offset_seconds", sa.Float, nullable=False),
    )
    clock = sa.table("sandbox_clock", sa.column("id"), sa.column("offset_seconds"))
    op.bulk_insert(clock, [{"id": 1, "offset_seconds": 0.0}])


def downgrade() -> None:
    op.drop_table("sandbox_clock")
    op.drop_index("ix_notifications_due", "notifications")
    op.drop_index("ix_notifications_party", "notifications")
    op.drop_table("notifications")
    with op.batch_alter_table("parties") as batch:
        batch.drop_column("webhook_url")
    for name in ("ix_documents_warning_due", "ix_documents_not_collected_due",
                 "ix_documents_expiry_due"):
        op.drop_index(name, "documents")
    with op.batch_alter_table("documents") as batch:
        for column in ("expired_at", "not_collected_at", "not_collected_due_at", "warned_at",
                       "warning_due_at"):
            batch.drop_column(column)
