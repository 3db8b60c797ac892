"""E-mail notices and presumed delivery: the mail outbox, the presumption's due time.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from gateway.storage.tables import UTCDateTime

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    with op.batch_alter_table("documents") as batch:
        batch.add_column(sa.Column("presumption_due_at", UTCDateTime()))
        batch.add_column(sa.Column("presumed_at", UTCDateTime()))
    # As the other deadlines (0004): only documents still waiting for it are in the index.
    condition = sa.text("delivery_state = 'waiting' AND presumed_at IS NULL "
                        "AND presumption_due_at IS NOT NULL")
    op.create_index("ix_documents_presumption_due", "documents", ["presumption_due_at"],
                    postgresql_where=condition, sqlite_where=condition)
    # "presumed_delivery" is longer than the 16 characters kinds had.
    with op.batch_alter_table("receipts") as batch:
        batch.alter_column("kind", type_=sa.String(32), existing_type=sa.String(16),
                           existing_nullable=False)
    op.create_table(
        "mail_outbox",
        sa.Column("id", Id, primary_key=True, autoincrement=True),
        sa.Column("party_id", Id, sa.ForeignKey("parties.id"), nullable=False),
        sa.Column("to_address", sa.String(255), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("registration_number", sa.String(27)),
        sa.Column("subject", sa.String(255), nullable=False),
        sa.Column("message", sa.LargeBinary, nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
        sa.Column("next_attempt_at", UTCDateTime(), nullable=False),
        sa.Column("last_error", sa.String(500)),
        sa.Column("sent_at", UTCDateTime()),
    )
    op.create_index("ix_mail_outbox_due", "mail_outbox", ["state", "next_attempt_at"])
    op.create_index("ix_mail_outbox_party", "mail_outbox", ["party_id", "id"])


def downgrade() -> None:
    op.drop_index("ix_mail_outbox_party", "mail_outbox")
    op.drop_index("ix_mail_outbox_due", "mail_outbox")
    op.drop_table("mail_outbox")
    with op.batch_alter_table("receipts") as batch:
        batch.alter_column("kind", type_=sa.String(16), existing_type=sa.String(32),
                           existing_nullable=False)
    op.drop_index("ix_documents_presumption_due", "documents")
    with op.batch_alter_table("documents") as batch:
        batch.drop_column("presumed_at")
        batch.drop_column("presumption_due_at")
