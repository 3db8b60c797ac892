"""Hirdetmények: public notices, their versions, and their full-text search.

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import TSVECTOR

from gateway.storage.tables import UTCDateTime

revision = "0020"
down_revision = "0019"
branch_labels = None
depends_on = None

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _content() -> list[sa.Column[object]]:
    """The columns of a notice's content, on the notice (current) and on each version."""
    return [
        sa.Column("category", sa.String(255), nullable=False),
        sa.Column("subject", sa.String(1000), nullable=False),
        sa.Column("authority", sa.String(255), nullable=False),
        sa.Column("applicant", sa.String(255)),
        sa.Column("case_number", sa.String(255), nullable=False),
        sa.Column("settlement", sa.String(255)),
        sa.Column("case_worker", sa.String(255)),
        sa.Column("display_from", UTCDateTime(), nullable=False),
        sa.Column("display_until", UTCDateTime(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("attachments", sa.Text(), nullable=False),
    ]


def upgrade() -> None:
    postgresql = op.get_bind().dialect.name == "postgresql"
    op.create_table(
        "public_notices",
        sa.Column("id", Id, primary_key=True, autoincrement=True),
        sa.Column("office_id", Id, sa.ForeignKey("parties.id"), nullable=False),
        sa.Column("identifier", sa.String(255), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        *_content(),
        sa.Column("listed_at", UTCDateTime(), nullable=False),
        sa.Column("published_at", UTCDateTime(), nullable=False),
        sa.Column("modified_at", UTCDateTime()),
        sa.Column("keep_until", UTCDateTime(), nullable=False),
        sa.Column("search", TSVECTOR().with_variant(sa.Text(), "sqlite")),
        sa.UniqueConstraint("office_id", "identifier",
                            name="uq_public_notices_office_identifier"),
    )
    op.create_index("ix_public_notices_listed", "public_notices", ["listed_at", "id"])
    op.create_index("ix_public_notices_office", "public_notices",
                    ["office_id", "listed_at", "id"])
    # The notices still shown (display_until > now: a few percent of 8 years' notices): a
    # word's index entries are intersected with them before any notice is read, and a period
    # reaching into the future finds its few notices here.
    op.create_index("ix_public_notices_until", "public_notices", ["display_until"])
    op.create_table(
        "public_notice_versions",
        sa.Column("id", Id, primary_key=True, autoincrement=True),
        sa.Column("notice_id", Id, sa.ForeignKey("public_notices.id"), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("document_id", Id, sa.ForeignKey("documents.id"), nullable=False),
        sa.Column("received_at", UTCDateTime(), nullable=False),
        *_content(),
        sa.UniqueConstraint("notice_id", "number", name="uq_public_notice_versions_number"),
    )
    # Which notice a document published (the publish page's outcome).
    op.create_index("ix_public_notice_versions_document", "public_notice_versions",
                    ["document_id"])
    if postgresql:
        # The search terms are given whole (domain/public_notices.search_terms), never parsed
        # by a text-search configuration; a query's prefixes use the same index. Without
        # fastupdate: notices arrive a few hundred a day, and a pending list would be read
        # whole by every search until a vacuum merges it.
        op.create_index("ix_public_notices_search", "public_notices", ["search"],
                        postgresql_using="gin", postgresql_with={"fastupdate": "off"})
    else:
        # SQLite's full-text index of the same terms, by the notice's id as its rowid; '_' is
        # part of a term (a field's tag: subject_arviz).
        op.execute("CREATE VIRTUAL TABLE public_notices_fts USING fts5("
                   "terms, tokenize = \"unicode61 tokenchars '_'\")")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.drop_index("ix_public_notices_search", table_name="public_notices")
    else:
        op.execute("DROP TABLE public_notices_fts")
    op.drop_index("ix_public_notice_versions_document", table_name="public_notice_versions")
    op.drop_table("public_notice_versions")
    op.drop_index("ix_public_notices_until", table_name="public_notices")
    op.drop_index("ix_public_notices_office", table_name="public_notices")
    op.drop_index("ix_public_notices_listed", table_name="public_notices")
    op.drop_table("public_notices")
