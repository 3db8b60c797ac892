"""Operations: readiness probes, incidents and announced maintenance (kept at least 8 years).

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-21
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from gateway.storage.tables import UTCDateTime

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "probes",
        sa.Column("id", Id, primary_key=True, autoincrement=True),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.Column("ok", sa.Boolean, nullable=False),
        sa.Column("failures", sa.String(500)),
    )
    op.create_index("ix_probes_at", "probes", ["at"])
    op.create_table(
        "incidents",
        sa.Column("id", Id, primary_key=True, autoincrement=True),
        sa.Column("title", sa.String(255), nullable=False),
        sa.Column("outage", sa.Boolean, nullable=False),
        sa.Column("opened_at", UTCDateTime(), nullable=False),
        sa.Column("closed_at", UTCDateTime()),
    )
    op.create_table(
        "maintenance",
        sa.Column("id", Id, primary_key=True, autoincrement=True),
        sa.Column("start_at", UTCDateTime(), nullable=False),
        sa.Column("end_at", UTCDateTime(), nullable=False),
        sa.Column("reason", sa.String(500), nullable=False),
        sa.Column("announced_at", UTCDateTime(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("maintenance")
    op.drop_table("incidents")
    op.drop_index("ix_probes_at", "probes")
    op.drop_table("probes")
