"""Hirdetmények (public notices, 225/2009 Korm. r. 11. §): an office publishes a notice by
sending a HIRDETMENY form to the portal's system address through its own gateway door. The
document is accepted like any other (number, timestamp, acceptance receipt), the form is read
and published in the same transaction, and the portal takes it at once: the office gets its
download receipt then, so no deadline ever runs on the portal's mailbox. A refused form takes
no number and publishes nothing.

Anyone reads the notices: the lists show those within their display period, newest first; a
notice's own page answers from its start until 8 years after its end."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator

from gateway.domain.documents import UploadRequest
from gateway.domain.parties import Party, PartyKind
from gateway.domain.public_notices import (
    NOTICE_DOC_TYPE,
    NoticeForm,
    NoticePage,
    NoticeQuery,
    PublicNotice,
    kept_until,
    listed_from,
    publishes_notices,
    search_terms,
)
from gateway.errors import Conflict, Forbidden, InvalidRequest, NotFound, RecipientUnknown
from gateway.notice_form import AttachmentReader, read_form
from gateway.services.delivery import acknowledged
from gateway.services.ports.parties import NewParty
from gateway.services.ports.public_notices import NoticeArrival
from gateway.services.ports.slices import PublicNoticePorts
from gateway.services.ports.storage import StagedContent, UnitOfWork
from gateway.services.registrar import Registered, Registering

PORTAL_SHORT_NAME = "HIRDETMENYPORTAL"
# The largest id a notice can have (the databases' 64-bit integer).
LARGEST_ID = 2**63 - 1
PORTAL_NAME = "Hirdetmények portálja"
# Not an argon2 hash: verify_password answers False for it, whatever is tried.
NO_PASSWORD = "!"  # noqa: S105 - no password at all, not a secret


async def ensure_portal(ports: PublicNoticePorts) -> Party:
    """The portal's system address (``KAPU_PORTAL_KRID``), a hivatali organisation created
    at start where missing. Nobody logs in as it: it has no password (no hash verifies), which
    also spares every start an argon2 hash. Two hosts starting together create it once."""
    portal = await _portal(ports)
    if portal is not None:
        return portal
    async with ports.write_uow() as uow:
        taken = await uow.parties.taken(krid=ports.portal_krid, short_name=PORTAL_SHORT_NAME,
                                        username=PORTAL_SHORT_NAME)
        if taken is None:
            try:
                await uow.parties.add(NewParty(
                    kind=PartyKind.HIVATALI, name=PORTAL_NAME, username=PORTAL_SHORT_NAME,
                    password_hash=NO_PASSWORD, krid=ports.portal_krid,
                    short_name=PORTAL_SHORT_NAME))
                await uow.commit()
            except Conflict:
                pass  # another host (or worker) made it first: it is found below
    portal = await _portal(ports)
    if portal is None:
        raise RuntimeError(f"the portal's KRID {ports.portal_krid} cannot be registered: its"
                           f" short name {PORTAL_SHORT_NAME} is taken by another party")
    return portal


async def _portal(ports: PublicNoticePorts) -> Party | None:
    async with ports.uow() as uow:
        return await uow.parties.by_krid(ports.portal_krid)


async def notice_registering(ports: PublicNoticePorts, sender: Party, request: UploadRequest,
                             content: StagedContent) -> Registering | None:
    """For a document to the portal: its form read and checked (InvalidRequest naming the
    element), and what its acceptance adds (publishing, the portal's taking it, keeping it as
    long as the notice). None for any other document. Called once the content is complete,
    before anything is stored or numbered."""
    if request.recipient_krid != ports.portal_krid:
        return None
    if request.doc_type_id != NOTICE_DOC_TYPE:
        raise RecipientUnknown(
            f"the portal (KRID {ports.portal_krid}) takes only {NOTICE_DOC_TYPE} documents",
            field="recipient_krid")
    if not publishes_notices(sender):
        raise Forbidden("only an office publishes public notices", field="recipient_krid")
    form = await asyncio.to_thread(read_form, content.chunks())

    async def published(uow: UnitOfWork, registered: Registered) -> StagedContent | None:
        await _publish(uow, sender, form, registered)
        portal = await uow.parties.by_krid(ports.portal_krid)
        document = await uow.documents.by_id(registered.document_id)
        assert portal is not None and document is not None
        return await acknowledged(uow, ports, portal, document, None)

    return Registering(also=published, valid_until=kept_until(form.display_until))


async def _publish(uow: UnitOfWork, office: Party, form: NoticeForm,
                   registered: Registered) -> None:
    """Publish a first version, or correct the office's own notice. Runs after the portal's
    counter row is locked (numbering), so two forms with one Azonosito never both pass."""
    received_at = registered.new.registered_at
    earlier = await uow.public_notices.of_office(office.id, form.identifier)
    if form.correction and earlier is None:
        raise InvalidRequest(f"{office.name} has published no notice {form.identifier!r} to "
                             "correct", field="Azonosito")
    if not form.correction and earlier is not None:
        raise InvalidRequest(f"{office.name} already published a notice {form.identifier!r};"
                             " send it with Javitas true to correct it", field="Azonosito")
    first_received_at = received_at if earlier is None else earlier.published_at
    arrival = NoticeArrival(
        office_id=office.id, form=form, document_id=registered.document_id,
        received_at=received_at, search_terms=search_terms(form, office.name),
        listed_at=listed_from(form.display_from, first_received_at),
        keep_until=kept_until(form.display_until))
    if earlier is None:
        await uow.public_notices.publish(arrival)
    else:
        await uow.public_notices.correct(earlier.id, arrival)


async def search(ports: PublicNoticePorts, query: NoticeQuery) -> NoticePage:
    """The notices shown now that match ``query``, newest first, one page."""
    async with ports.uow() as uow:
        return await uow.public_notices.search(query, ports.clock.now())


async def notice(ports: PublicNoticePorts, notice_id: int) -> PublicNotice:
    """A notice with its versions, oldest first: NotFound before its display starts and once
    8 years passed after it ended."""
    if not 0 < notice_id <= LARGEST_ID:  # names nothing (and would not fit the column)
        raise NotFound(f"no public notice {notice_id}")
    async with ports.uow() as uow:
        found = await uow.public_notices.by_id(notice_id)
    if found is None or not found.readable_at(ports.clock.now()):
        raise NotFound(f"no public notice {notice_id}")
    return found


async def notice_of_document(ports: PublicNoticePorts,
                             registration_number: str) -> PublicNotice | None:
    """The notice (with its versions) that the document ``registration_number`` published or
    corrected, whether shown yet or not; None for any other document. For the office that
    sent it (the caller checks that the person may see the document): the public reads
    notices through :func:`notice`, which hides them before their start."""
    async with ports.uow() as uow:
        notice_id = await uow.public_notices.of_document(registration_number)
        return None if notice_id is None else await uow.public_notices.by_id(notice_id)


async def attachment(ports: PublicNoticePorts, notice_id: int, version: int,
                     index: int) -> tuple[str, bytes]:
    """The ``index``-th (from 1) attachment of a notice's version ``version`` (from 1), as
    sent: its file name and bytes (an attachment is at most a few MiB: the form's parser
    holds one text node of it)."""
    found = await notice(ports, notice_id)
    if not 1 <= version <= len(found.versions) or index < 1:
        raise NotFound(f"notice {notice_id} has no such attachment")
    async with ports.uow() as uow:
        document = await uow.documents.by_number(found.versions[version - 1].registration_number)
    assert document is not None
    reader = AttachmentReader(index - 1)
    stream = ports.blobs.read(document.sha256)
    try:
        async for chunk in stream:
            taken = reader.feed(chunk)
            if taken is not None:
                return taken
    finally:
        if isinstance(stream, AsyncGenerator):
            await stream.aclose()
    raise NotFound(f"notice {notice_id} has no such attachment")
