"""Failed logins by username and client address: every door throttles per username and
address (a username is never refused from everywhere).

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("login_failures") as batch:
        batch.add_column(sa.Column("address", sa.String(64), nullable=False, server_default=""))
    op.create_index("ix_login_failures_address", "login_failures",
                    ["username", "address", "at"])


def downgrade() -> None:
    op.drop_index("ix_login_failures_address", "login_failures")
    with op.batch_alter_table("login_failures") as batch:
        batch.drop_column("address")
