"""Who may see a document: its sender and its addressee; anyone else is answered exactly as
for a document that does not exist."""

from __future__ import annotations

from gateway.domain.documents import Document
from gateway.domain.parties import Party
from gateway.domain.registration import is_registration_number
from gateway.errors import NotFound
from gateway.services.ports.slices import VisibilityPorts
from gateway.services.ports.storage import UnitOfWork


async def visible(uow: UnitOfWork, party: Party, registration_number: str) -> Document:
    # What is no registration number names no document (and is not worth a query).
    found = is_registration_number(registration_number)
    document = await uow.documents.by_number(registration_number) if found else None
    if document is None or party.id not in (document.sender_id, document.recipient_id):
        # Another party's document is answered exactly like a missing one.
        raise NotFound(f"no document {registration_number}")
    return document


async def get_document(ports: VisibilityPorts, party: Party, registration_number: str) -> Document:
    """Metadata of a document, for its sender or its addressee."""
    async with ports.uow() as uow:
        return await visible(uow, party, registration_number)
