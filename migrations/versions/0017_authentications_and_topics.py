"""AVDH authentications (hashes only) and the offices' e-Papír topics.

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from gateway.storage.tables import UTCDateTime

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "authentications",
        sa.Column("id", Id, primary_key=True, autoincrement=True),
        sa.Column("person_id", Id, sa.ForeignKey("parties.id"), nullable=False),
        sa.Column("office_id", Id, sa.ForeignKey("parties.id")),
        sa.Column("authenticated_at", UTCDateTime(), nullable=False),
        sa.Column("original_file_name", sa.String(255), nullable=False),
        sa.Column("original_size", sa.BigInteger(), nullable=False),
        sa.Column("original_sha256", sa.String(64), nullable=False),
        sa.Column("result_sha256", sa.String(64), nullable=False),
    )
    op.create_index("ix_authentications_result", "authentications", ["result_sha256"])
    op.create_table(
        "office_topics",
        sa.Column("party_id", Id, sa.ForeignKey("parties.id"), primary_key=True),
        sa.Column("code", sa.String(32), primary_key=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("office_topics")
    op.drop_index("ix_authentications_result", table_name="authentications")
    op.drop_table("authentications")
