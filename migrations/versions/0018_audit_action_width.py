"""Room for the longer audit actions: ``document_authenticated`` (AVDH and e-Papír) has 22
characters, and PostgreSQL refused it in the 16 the column had.

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # SQLite does not enforce a VARCHAR's length; rebuilding its table would gain nothing.
    if op.get_bind().dialect.name == "postgresql":
        op.alter_column("audit_entries", "action", type_=sa.String(32),
                        existing_type=sa.String(16), existing_nullable=False)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.alter_column("audit_entries", "action", type_=sa.String(16),
                        existing_type=sa.String(32), existing_nullable=False)
