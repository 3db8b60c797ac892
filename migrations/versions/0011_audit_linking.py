"""The audit chain linked off the request path: an entry is written with an id and no link
(sequence, previous_hash and hash empty); the linker gives entries their chain position and
hashes in id order, moving the head. Existing entries keep their sequence as their id.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from gateway.storage.tables import UTCDateTime

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
COLUMNS = ("at, actor, action, registration_number, sha256, detail, previous_hash, hash, "
           "office_krid")


def _entries(name: str, *, linked: bool) -> None:
    op.create_table(
        name,
        *([sa.Column("id", Id, primary_key=True, autoincrement=True),
           sa.Column("sequence", sa.BigInteger)] if linked else
          [sa.Column("sequence", sa.BigInteger, primary_key=True, autoincrement=False)]),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.Column("actor", sa.String(64), nullable=False),
        sa.Column("action", sa.String(16), nullable=False),
        sa.Column("registration_number", sa.String(27)),
        sa.Column("sha256", sa.String(64)),
        sa.Column("detail", sa.String(255)),
        sa.Column("previous_hash", sa.String(64), nullable=linked),
        sa.Column("hash", sa.String(64), nullable=linked),
        sa.Column("office_krid", sa.String(9)),
    )


def upgrade() -> None:
    op.drop_index("ix_audit_entries_office", "audit_entries")
    _entries("audit_entries_linked", linked=True)
    op.execute(f"INSERT INTO audit_entries_linked (id, sequence, {COLUMNS}) "  # noqa: S608
               f"SELECT sequence, sequence, {COLUMNS} FROM audit_entries")  # (constants)
    op.drop_table("audit_entries")
    op.rename_table("audit_entries_linked", "audit_entries")
    if op.get_bind().dialect.name == "postgresql":
        op.execute("SELECT setval(pg_get_serial_sequence('audit_entries', 'id'), "
                   "COALESCE((SELECT max(id) FROM audit_entries), 0) + 1, false)")
    op.create_index("ux_audit_entries_sequence", "audit_entries", ["sequence"], unique=True)
    op.create_index("ix_audit_entries_office", "audit_entries", ["office_krid", "id"])
    # The linker reads the entries not yet linked, in id order, straight off this index.
    unlinked = sa.text("sequence IS NULL")
    op.create_index("ix_audit_entries_unlinked", "audit_entries", ["id"],
                    postgresql_where=unlinked, sqlite_where=unlinked)


def downgrade() -> None:
    # Entries not yet linked have no place in the old chain: link them first (kapu serve).
    for name in ("ix_audit_entries_unlinked", "ix_audit_entries_office",
                 "ux_audit_entries_sequence"):
        op.drop_index(name, "audit_entries")
    _entries("audit_entries_chained", linked=False)
    op.execute(f"INSERT INTO audit_entries_chained (sequence, {COLUMNS}) "  # noqa: S608
               f"SELECT sequence, {COLUMNS} FROM audit_entries WHERE sequence IS NOT NULL")
    op.drop_table("audit_entries")
    op.rename_table("audit_entries_chained", "audit_entries")
    op.create_index("ix_audit_entries_office", "audit_entries", ["office_krid", "sequence"])
