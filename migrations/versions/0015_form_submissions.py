"""One-time keys of the web's forms: a second POST with a key shows the first's outcome.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from gateway.storage.tables import UTCDateTime

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "form_submissions",
        sa.Column("person_id", Id, sa.ForeignKey("parties.id"), primary_key=True),
        sa.Column("form_key", sa.String(64), primary_key=True),
        sa.Column("outcome", sa.String(2048)),
        sa.Column("claimed_at", UTCDateTime(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("form_submissions")
