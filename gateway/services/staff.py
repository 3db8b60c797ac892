"""Staff: which persons may work an organisation's mailbox, and as what.

An organisation grants persons (citizens, who log in as themselves) a role on its mailbox:
``admin`` (manages the staff; at most ``MAX_ADMINS``, and the last one stays) or ``clerk``
(reads, downloads, acknowledges, sends). Every change is an audit entry that names the office,
so the office's log (napló) shows who changed its staff, and when.
"""

from __future__ import annotations

from dataclasses import dataclass

from gateway.domain.audit import AuditAction, AuditEvent, StoredEntry
from gateway.domain.documents import Document
from gateway.domain.limits import checked_text
from gateway.domain.parties import MAX_ADMINS, Party, PartyKind, StaffRole
from gateway.domain.rny import Agency
from gateway.errors import LastAdmin, NotFound, TooManyAdmins
from gateway.services.mandates import agencies_in, agency_in
from gateway.services.ports.parties import StaffMember
from gateway.services.ports.slices import StaffPorts
from gateway.services.ports.storage import UnitOfWork

# The actor of changes made on the command line (an operator, not a person of the office).
COMMAND_LINE = "cli"


@dataclass(frozen=True)
class StaffChange:
    office: Party
    person: Party
    role: StaffRole | None  # None: the role was revoked


async def _office_and_person(uow: UnitOfWork, krid: str, username: str) -> tuple[Party, Party]:
    checked_text(username, "person")  # names nobody (and a NUL cannot even be looked up)
    office = await uow.parties.by_krid(krid)
    if office is None or not office.is_organisation:
        raise NotFound(f"no organisation with KRID {krid}")
    person = await uow.parties.by_username(username)
    if person is None or person.kind is not PartyKind.CITIZEN:
        raise NotFound(f"no person with username {username!r}")
    return office, person


async def _admins(uow: UnitOfWork, office: Party) -> int:
    return sum(member.role is StaffRole.ADMIN for member in await uow.staff.members(office.id))


async def grant_role(
    ports: StaffPorts, *, krid: str, username: str, role: StaffRole, actor: str = COMMAND_LINE
) -> StaffChange:
    """Give the person ``role`` on the office's mailbox (replacing another role). Refuses a
    sixth admin (TooManyAdmins), and turning the last admin into a clerk (LastAdmin)."""
    async with ports.write_uow() as uow:
        office, person = await _office_and_person(uow, krid, username)
        await uow.staff.lock(office.id)
        current = await uow.staff.role(office.id, person.id)
        if current is role:
            return StaffChange(office, person, role)  # nothing changes, nothing to audit
        admins = await _admins(uow, office)
        if role is StaffRole.ADMIN and admins >= MAX_ADMINS:
            raise TooManyAdmins(f"{office.short_name} has {MAX_ADMINS} admins already, the most "
                           "allowed; revoke one first", field="role")
        if current is StaffRole.ADMIN and admins == 1:
            raise LastAdmin(f"{person.username} is the last admin of {office.short_name}; grant "
                           "admin to another person first", field="role")
        now = ports.clock.now()
        await uow.staff.set_role(office.id, person.id, role, now)
        await uow.audit.append(AuditEvent(
            at=now, actor=actor, action=AuditAction.STAFF_GRANTED,
            detail=f"{person.username}: {role.value}", office_krid=office.krid))
        await uow.commit()
    return StaffChange(office, person, role)


async def revoke_role(
    ports: StaffPorts, *, krid: str, username: str, actor: str = COMMAND_LINE
) -> StaffChange:
    """Take the person's role away. Refuses the last admin (LastAdmin); a person without a role
    is NotFound."""
    async with ports.write_uow() as uow:
        office, person = await _office_and_person(uow, krid, username)
        await uow.staff.lock(office.id)
        current = await uow.staff.role(office.id, person.id)
        if current is None:
            raise NotFound(f"{username} holds no role at {office.short_name}")
        if current is StaffRole.ADMIN and await _admins(uow, office) == 1:
            raise LastAdmin(f"{person.username} is the last admin of {office.short_name} and "
                           "stays", field="person")
        now = ports.clock.now()
        await uow.staff.remove(office.id, person.id)
        await uow.audit.append(AuditEvent(
            at=now, actor=actor, action=AuditAction.STAFF_REVOKED,
            detail=f"{person.username}: {current.value}", office_krid=office.krid))
        await uow.commit()
    return StaffChange(office, person, None)


async def check_leaving(ports: StaffPorts, person: Party, krid: str) -> Party:
    """The office whose mailbox the person would lose by revoking their own role there: the
    office, once it is clear that the revocation would be done (the web asks for
    confirmation only then). LastAdmin for its last admin; NotFound where they are no
    admin (only admins change staff)."""
    office = await admin_office(ports, person, krid)
    async with ports.uow() as uow:
        if await _admins(uow, office) == 1:
            raise LastAdmin(f"{person.username} is the last admin of {office.short_name} and "
                            "stays", field="person")
    return office


async def list_staff(ports: StaffPorts, *, krid: str) -> tuple[Party, list[StaffMember]]:
    """The office and its staff, by username."""
    async with ports.uow() as uow:
        office = await uow.parties.by_krid(krid)
        if office is None or not office.is_organisation:
            raise NotFound(f"no organisation with KRID {krid}")
        return office, await uow.staff.members(office.id)


@dataclass(frozen=True)
class SeenBox:
    """A mailbox as a person works it: its party, the role they hold there (an office's), and
    the agency when they act for a principal under a mandate (contract 25)."""

    party: Party
    role: StaffRole | None = None
    agency: Agency | None = None


async def document_seen(ports: StaffPorts, person: Party,
                        registration_number: str) -> tuple[SeenBox, Document]:
    """A document the person may open: their own (sent to or by them; the box is the
    person's), one sent to or by an office where they hold a role (that office's box), or,
    under a mandate in force, one of a principal's within its scope (the principal's box,
    with the agency); NotFound otherwise, as for a missing document."""
    now = ports.clock.now()
    async with ports.uow() as uow:
        document = await uow.documents.by_number(registration_number)
        if document is not None:
            if person.id in (document.recipient_id, document.sender_id):
                return SeenBox(person), document
            for office, role in await uow.staff.offices_of(person.id):
                if office.id in (document.recipient_id, document.sender_id):
                    return SeenBox(office, role), document
            for agency in await agencies_in(uow, person, now):
                if agency.sees(document.sender_id, document.sender.krid,
                               document.recipient_id, document.recipient.krid):
                    return SeenBox(agency.principal, None, agency), document
    raise NotFound(f"no document {registration_number}")


OWN_BOX = "me"


async def mailbox_for(ports: StaffPorts, person: Party, box: str) -> SeenBox:
    """The mailbox ``box`` names for the person: ``me``, their own tárhely; the KRID of an
    office where they hold a role; or the kapcsolati kód of a citizen they act for under a
    mandate in force now (the principal's tárhely, with the agency). NotFound otherwise,
    exactly as for a mailbox that does not exist."""
    if box == OWN_BOX:
        return SeenBox(person)
    if len(box) == 9 and box.isascii() and box.isdigit():
        office, role = await office_for(ports, person, box)
        return SeenBox(office, role)
    async with ports.uow() as uow:
        agency = await agency_in(uow, person, box, ports.clock.now())
    return SeenBox(agency.principal, None, agency)


async def office_for(ports: StaffPorts, person: Party, krid: str) -> tuple[Party, StaffRole]:
    """The office whose mailbox the person may work, with the role held; NotFound when the
    person holds no role there, exactly as for an office that does not exist."""
    for office, role in await offices_of(ports, person):
        if office.krid == krid:
            return office, role
    raise NotFound(f"no mailbox {krid} for {person.username}")


async def admin_office(ports: StaffPorts, person: Party, krid: str) -> Party:
    """The office the person administers; NotFound for a clerk, as for anyone else."""
    office, role = await office_for(ports, person, krid)
    if role is not StaffRole.ADMIN:
        raise NotFound(f"no mailbox {krid} for {person.username}")
    return office


async def office_log(
    ports: StaffPorts, person: Party, krid: str, *, before: int | None = None, limit: int = 50
) -> tuple[Party, list[StoredEntry]]:
    """The office's log (napló), newest first: what its persons did for it, from the audit
    chain. Admins only."""
    office = await admin_office(ports, person, krid)
    async with ports.uow() as uow:
        return office, await uow.audit.of_office(krid, before, limit)


async def offices_of(ports: StaffPorts, person: Party) -> list[tuple[Party, StaffRole]]:
    """The organisations whose mailbox the person may work, with the role held."""
    async with ports.uow() as uow:
        return await uow.staff.offices_of(person.id)
