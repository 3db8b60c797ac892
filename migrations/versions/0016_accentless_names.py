"""Office name search ignores accents: ``parties.name_folded`` is recomputed with
``domain.parties.fold_name`` (case-folded, accents dropped), so ``tura`` finds "Túra Hivatal".

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-12
"""

from __future__ import annotations

from collections.abc import Callable

import sqlalchemy as sa
from alembic import op

from gateway.storage.tables import NAME_FOLDED_LENGTH, folded_name

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None

_parties = sa.table("parties", sa.column("id", sa.BigInteger()), sa.column("name", sa.String()),
                    sa.column("name_folded", sa.String()))
# Rows are read and written in batches: an installation may hold millions of citizens.
_BATCH = 1000


def _refold(fold: Callable[[str], str]) -> None:
    """Recompute every party's ``name_folded`` with ``fold``, in Python (SQL has no portable
    way to drop accents; SQLite's lower() folds ASCII only)."""
    connection = op.get_bind()
    last = None
    while True:
        query = sa.select(_parties.c.id, _parties.c.name).order_by(_parties.c.id).limit(_BATCH)
        if last is not None:
            query = query.where(_parties.c.id > last)
        rows = connection.execute(query).all()
        if not rows:
            return
        connection.execute(
            sa.update(_parties).where(_parties.c.id == sa.bindparam("party_id"))
            .values(name_folded=sa.bindparam("folded")),
            [{"party_id": row.id, "folded": fold(row.name)} for row in rows])
        last = rows[-1].id


def upgrade() -> None:
    _refold(folded_name)


def downgrade() -> None:
    # As 0001–0015 wrote it: case-folded only, accents kept.
    _refold(lambda name: name.casefold()[:NAME_FOLDED_LENGTH])
