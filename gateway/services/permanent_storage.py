"""A citizen's tartós tár (permanent storage, 225/2009 Korm. r. 36. § (1), 38. § (1)).

A citizen keeps documents of their tárhely, or documents they sent, where they never expire,
up to ``Ports.permanent_storage_bytes``. Keeping an unopened document of their own tárhely
opens it (36. § (4)): it is acknowledged and the sender's download receipt is issued in the same
transaction, as a download does (services/delivery.py). The kept content outlives the
original's expiry: ``content_needed`` counts kept items, so expiry leaves their bytes alone.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from gateway.domain.documents import DeliveryState, Document
from gateway.domain.parties import Party, PartyKind
from gateway.domain.registration import is_registration_number
from gateway.errors import Expired, NotFound
from gateway.services.delivery import acknowledged
from gateway.services.ports.documents import KeptDocument
from gateway.services.ports.slices import PermanentStoragePorts
from gateway.services.storage_quota import check_room, require_citizen
from gateway.services.system_messages import SystemMessage
from gateway.services.visibility import visible


@dataclass(frozen=True)
class Storage:
    """What a citizen keeps, and how much of the quota it takes."""

    items: list[KeptDocument]
    used_bytes: int
    quota_bytes: int


async def contents(ports: PermanentStoragePorts, party: Party) -> Storage:
    """The party's own tartós tár, most recently kept first, with its usage."""
    require_citizen(party)
    async with ports.uow() as uow:
        items = await uow.kept.of_party(party.id)
    return Storage(items, sum(item.document.size for item in items),
                   ports.permanent_storage_bytes)


async def keep(ports: PermanentStoragePorts, party: Party,
               registration_number: str) -> KeptDocument:
    """Keep a document the citizen may see (addressed to or sent by them) in their tartós tár.

    Keeping twice answers the same item. Over the quota: QuotaExceeded and nothing changes.
    An unopened document of their own tárhely is acknowledged at once and its sender's
    download receipt issued, in the same transaction; an expired one cannot be kept."""
    require_citizen(party)
    async with SystemMessage() as message, ports.write_uow() as uow:
        document = await visible(uow, party, registration_number)
        await uow.kept.lock(party.id, document.id)
        document = await visible(uow, party, registration_number)  # as it is, locked
        kept_at = await uow.kept.kept_at(party.id, document.id)
        if kept_at is not None:
            return KeptDocument(document, kept_at)
        if document.delivery_state is DeliveryState.EXPIRED:
            raise Expired(f"document {registration_number} expired and its content was deleted")
        await check_room(uow, ports, party.id, document.size)
        now = ports.clock.now()
        await uow.kept.add(party.id, document.id, now)
        if _unopened_in_own_tarhely(party, document):
            message.staged = await acknowledged(uow, ports, party, document, None)
            document = await visible(uow, party, registration_number)
        await uow.commit()
    return KeptDocument(document, now)


def _unopened_in_own_tarhely(party: Party, document: Document) -> bool:
    return (party.kind is PartyKind.CITIZEN and document.recipient_id == party.id
            and document.unopened)


async def discard(ports: PermanentStoragePorts, party: Party, registration_number: str) -> None:
    """Take a document out of the citizen's tartós tár, freeing its room; NotFound when it is
    not kept there. When the original already expired and nothing else needs the bytes, they
    are deleted."""
    require_citizen(party)
    async with ports.write_uow() as uow:
        document = await uow.documents.by_number(registration_number) \
            if is_registration_number(registration_number) else None
        if document is None or not await uow.kept.remove(party.id, document.id):
            raise NotFound(f"{registration_number} is not in the tartós tár")
        await uow.commit()
    if document.delivery_state is not DeliveryState.EXPIRED:
        return
    sha256 = document.sha256

    async def needed() -> bool:
        async with ports.uow() as uow:
            return await uow.documents.content_needed(sha256)

    await ports.blobs.delete_unless(sha256, needed)


async def kept_since(ports: PermanentStoragePorts, party: Party,
                     document: Document) -> datetime | None:
    """When the party put ``document`` into its tartós tár, or None."""
    if party.kind is not PartyKind.CITIZEN:
        return None
    async with ports.uow() as uow:
        return await uow.kept.kept_at(party.id, document.id)
