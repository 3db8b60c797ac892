"""The Rendelkezési Nyilvántartás: dispositions, mandates, and the agent who sent a document.

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from gateway.storage.tables import UTCDateTime

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "dispositions",
        sa.Column("id", Id, primary_key=True, autoincrement=True),
        sa.Column("party_id", Id, sa.ForeignKey("parties.id"), nullable=False),
        sa.Column("electronic_contact", sa.Boolean(), nullable=False),
        sa.Column("official_address", sa.String(16), nullable=False),
        sa.Column("effective_at", UTCDateTime(), nullable=False),
    )
    op.create_index("ix_dispositions_party", "dispositions", ["party_id", "effective_at"])
    op.create_table(
        "mandates",
        sa.Column("id", Id, primary_key=True, autoincrement=True),
        sa.Column("principal_id", Id, sa.ForeignKey("parties.id"), nullable=False),
        sa.Column("agent_id", Id, sa.ForeignKey("parties.id"), nullable=False),
        sa.Column("scope_offices", sa.Text()),
        sa.Column("valid_from", UTCDateTime(), nullable=False),
        sa.Column("valid_until", UTCDateTime()),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("accepted_at", UTCDateTime()),
        sa.Column("revoked_at", UTCDateTime()),
        sa.Column("revoked_by_id", Id, sa.ForeignKey("parties.id")),
        sa.Column("expiry_noticed_at", UTCDateTime()),
    )
    op.create_index("ix_mandates_principal", "mandates", ["principal_id", "id"])
    op.create_index("ix_mandates_agent", "mandates", ["agent_id", "id"])
    # A plain ADD COLUMN: a batch would copy the whole documents table on SQLite.
    op.add_column("documents", sa.Column("agent_id", Id))
    if op.get_bind().dialect.name != "sqlite":
        op.create_foreign_key("fk_documents_agent_id", "documents", "parties",
                              ["agent_id"], ["id"])


def downgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        op.drop_constraint("fk_documents_agent_id", "documents", type_="foreignkey")
    with op.batch_alter_table("documents") as batch:
        batch.drop_column("agent_id")
    op.drop_index("ix_mandates_agent", table_name="mandates")
    op.drop_index("ix_mandates_principal", table_name="mandates")
    op.drop_table("mandates")
    op.drop_index("ix_dispositions_party", table_name="dispositions")
    op.drop_table("dispositions")
