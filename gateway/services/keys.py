"""Public encryption keys of parties (kulcstár).

Keys are uploaded through the key store, which is not built yet (its own issue): until it is,
no party has a key on file, and a lookup of an existing party answers KeyNotFound.
"""

from __future__ import annotations

from dataclasses import dataclass

from gateway.domain.parties import Party
from gateway.errors import Forbidden, KeyNotFound, RecipientUnknown
from gateway.services.ports import Ports


@dataclass(frozen=True)
class PublicKey:
    certificate_der: bytes
    fingerprint_sha256: str


async def public_key(
    ports: Ports, asker: Party, *, krid: str | None = None, code: str | None = None
) -> PublicKey:
    """The encryption certificate of the party with ``krid`` or kapcsolati kód ``code``.
    Organisations may look up anyone; citizens only organisations."""
    async with ports.uow() as uow:
        party = await (uow.parties.by_krid(krid) if krid else uow.parties.by_code(code or ""))
    if party is None:
        raise RecipientUnknown("no party with that address", field="krid" if krid else "code")
    if not asker.is_organisation and not party.is_organisation:
        raise Forbidden("citizens may look up the keys of organisations only")
    raise KeyNotFound(f"{party.name} has no public key on file")
