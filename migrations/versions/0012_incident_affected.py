"""What an incident affected, as given at ``kapu incident open --affected``: the outage
certificate states it (Erintett).

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("incidents") as table:
        table.add_column(sa.Column("affected", sa.String(500)))


def downgrade() -> None:
    with op.batch_alter_table("incidents") as table:
        table.drop_column("affected")
