"""Staff: persons' roles on organisations' mailboxes, and the office an audit entry was for.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from gateway.storage.tables import UTCDateTime

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "staff_roles",
        sa.Column("organisation_id", Id, sa.ForeignKey("parties.id"), primary_key=True),
        sa.Column("person_id", Id, sa.ForeignKey("parties.id"), primary_key=True),
        sa.Column("role", sa.String(8), nullable=False),
        sa.Column("granted_at", UTCDateTime(), nullable=False),
    )
    op.create_index("ix_staff_roles_person", "staff_roles", ["person_id"])
    # Nullable: entries written before this revision name no office, and their hashes stay.
    with op.batch_alter_table("audit_entries") as batch:
        batch.add_column(sa.Column("office_krid", sa.String(9)))
    op.create_index("ix_audit_entries_office", "audit_entries", ["office_krid", "sequence"])


def downgrade() -> None:
    op.drop_index("ix_audit_entries_office", "audit_entries")
    with op.batch_alter_table("audit_entries") as batch:
        batch.drop_column("office_krid")
    op.drop_index("ix_staff_roles_person", "staff_roles")
    op.drop_table("staff_roles")
