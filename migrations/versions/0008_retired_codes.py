"""Kapcsolati kódok a citizen gave up: never issued again.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from gateway.storage.tables import UTCDateTime

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "retired_codes",
        sa.Column("code", sa.String(64), primary_key=True),
        sa.Column("party_id", Id, sa.ForeignKey("parties.id"), nullable=False),
        sa.Column("retired_at", UTCDateTime(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("retired_codes")
