"""A citizen's tartós tár (permanent storage): the documents each party keeps.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from gateway.storage.tables import UTCDateTime

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "kept_documents",
        sa.Column("party_id", Id, sa.ForeignKey("parties.id"), primary_key=True),
        sa.Column("document_id", Id, sa.ForeignKey("documents.id"), primary_key=True),
        sa.Column("kept_at", UTCDateTime(), nullable=False),
    )
    # Expiry asks whether any kept item still needs a document's content.
    op.create_index("ix_kept_documents_document", "kept_documents", ["document_id"])


def downgrade() -> None:
    op.drop_index("ix_kept_documents_document", table_name="kept_documents")
    op.drop_table("kept_documents")
