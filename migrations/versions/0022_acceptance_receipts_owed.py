"""Acceptance receipts owed: a batch of uploads that could not be registered as forecast is
registered in one statement without its receipts, which are signed and written after the commit,
so the office's counter row is not held while they are signed. Each such document is listed here
until its receipt is written (by its upload; after a crash, by the next server to start or by
the background jobs).

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0022"
down_revision = "0021"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "acceptance_receipts_owed",
        sa.Column("document_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
                  sa.ForeignKey("documents.id"), primary_key=True, autoincrement=False),
    )


def downgrade() -> None:
    op.drop_table("acceptance_receipts_owed")
