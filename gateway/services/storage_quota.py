"""Room in a citizen's tartós tár: the quota check that keeping and ``keep_copy`` share.

It lives apart from services/permanent_storage.py because acceptance (services/acceptance.py)
needs it too, and permanent_storage builds on documents.
"""

from __future__ import annotations

from gateway.domain.parties import Party, PartyKind
from gateway.errors import Forbidden, QuotaExceeded
from gateway.services.ports.slices import QuotaPorts
from gateway.services.ports.storage import UnitOfWork


def require_citizen(party: Party, field: str | None = None) -> None:
    """Only citizens have a tartós tár; organisations keep their documents themselves."""
    if party.kind is not PartyKind.CITIZEN:
        raise Forbidden("only citizens have a tartós tár", field=field)


async def check_room(uow: UnitOfWork, ports: QuotaPorts, party_id: int, size: int) -> None:
    """Raise QuotaExceeded unless ``size`` more bytes fit (exactly full is allowed). Call it
    with the party's tartós tár locked (``uow.kept.lock``), so that two keeps cannot both fit."""
    used = await uow.kept.used_bytes(party_id)
    quota = ports.permanent_storage_bytes
    if used + size > quota:
        raise QuotaExceeded(
            f"the tartós tár holds {used} of {quota} bytes; {size} more do not fit")


async def reserve_copy(uow: UnitOfWork, ports: QuotaPorts, sender: Party, size: int) -> None:
    """Before a citizen's upload with ``keep_copy`` takes its number: lock the sender's
    tartós tár and check that the copy fits; the caller adds it once the document exists."""
    require_citizen(sender, "keep_copy")
    await uow.kept.lock(sender.id)
    await check_room(uow, ports, sender.id, size)
