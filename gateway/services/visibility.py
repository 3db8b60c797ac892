"""Who may see a document: its sender and its addressee, and an agent acting for one of them
within the mandate's scope (contract 25); anyone else is answered exactly as for a document
that does not exist."""

from __future__ import annotations

from gateway.domain.documents import Document
from gateway.domain.parties import Party
from gateway.domain.registration import is_registration_number
from gateway.domain.rny import Agency
from gateway.errors import NotFound
from gateway.services.ports.slices import VisibilityPorts
from gateway.services.ports.storage import UnitOfWork


async def visible(uow: UnitOfWork, party: Party, registration_number: str,
                  agency: Agency | None = None) -> Document:
    """The document for ``party``; with ``agency`` (whose principal is ``party``) only one
    within the mandate's scope. NotFound otherwise, exactly like a missing one."""
    # What is no registration number names no document (and is not worth a query).
    found = is_registration_number(registration_number)
    document = await uow.documents.by_number(registration_number) if found else None
    if document is None or party.id not in (document.sender_id, document.recipient_id) or (
            agency is not None and not in_scope(agency, document)):
        # Another party's document is answered exactly like a missing one.
        raise NotFound(f"no document {registration_number}")
    return document


def in_scope(agency: Agency, document: Document) -> bool:
    """Whether the document exists for the agent: the principal's, from or to an office
    within the scope."""
    return agency.sees(document.sender_id, document.sender.krid, document.recipient_id,
                       document.recipient.krid)


async def get_document(ports: VisibilityPorts, party: Party, registration_number: str,
                       agency: Agency | None = None) -> Document:
    """Metadata of a document, for its sender or its addressee (or their agent, in scope)."""
    async with ports.uow() as uow:
        return await visible(uow, party, registration_number, agency)
