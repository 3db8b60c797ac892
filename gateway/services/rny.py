"""Dispositions (ügyintézési rendelkezés, contract 25): whether a citizen deals with offices
electronically and where they are to be written to; offices look them up as in force at a
moment. Every declaration is kept with the moment it took effect; nothing is overwritten."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from gateway.domain.audit import AuditAction, AuditEvent
from gateway.domain.parties import Party, PartyKind
from gateway.domain.rny import (
    ORGANISATION_DISPOSITION,
    UNDECLARED_DISPOSITION,
    Disposition,
    Mandate,
    OfficialAddressKind,
)
from gateway.errors import Forbidden, NotFound
from gateway.services.ports.slices import RnyPorts
from gateway.services.ports.storage import UnitOfWork


async def disposition_in(uow: UnitOfWork, party: Party, at: datetime) -> Disposition:
    """The party's disposition in force at ``at``: an organisation's is always electronic;
    a citizen's is their latest declaration by then, or, with none, not electronic."""
    if party.is_organisation:
        return ORGANISATION_DISPOSITION
    return await uow.dispositions.at(party.id, at) or UNDECLARED_DISPOSITION


async def declare(ports: RnyPorts, person: Party, *, electronic_contact: bool) -> Disposition:
    """The citizen declares whether they take part in e-administration, from now; their
    official address is their tárhely. Audited as ``disposition_set``. Organisations are
    obliged to electronic contact and declare nothing (Forbidden)."""
    if person.kind is not PartyKind.CITIZEN:
        raise Forbidden("organisations are obliged to electronic contact; only a citizen "
                        "declares a disposition")
    now = ports.clock.now()
    async with ports.write_uow() as uow:
        await uow.dispositions.add(person.id, electronic_contact, OfficialAddressKind.TARHELY,
                                   now)
        await uow.audit.append(AuditEvent(
            at=now, actor=person.username, action=AuditAction.DISPOSITION_SET,
            detail=f"electronic_contact={'true' if electronic_contact else 'false'}"))
        await uow.commit()
    return Disposition(electronic_contact, OfficialAddressKind.TARHELY, now)


@dataclass(frozen=True)
class OwnDisposition:
    current: Disposition
    history: list[Disposition]  # every declaration, newest first


async def own_disposition(ports: RnyPorts, person: Party) -> OwnDisposition:
    """The person's disposition in force now, and every declaration they made."""
    async with ports.uow() as uow:
        current = await disposition_in(uow, person, ports.clock.now())
        history = [] if person.is_organisation else await uow.dispositions.history(person.id)
    return OwnDisposition(current, history)


@dataclass(frozen=True)
class Lookup:
    """What an office learns of a party: its disposition at ``at`` and, for a citizen, the
    mandates in force then under which someone acts for them."""

    party: Party
    at: datetime
    disposition: Disposition
    mandates: list[Mandate]


async def addressee(uow: UnitOfWork, key: str) -> Party:
    """The party a kapcsolati kód or a KRID names (NotFound otherwise; a retired code names
    nobody)."""
    party = (await uow.parties.by_krid(key) if key.isdigit() and len(key) == 9
             else await uow.parties.by_code(key))
    if party is None or party.kind is PartyKind.SYSTEM:
        raise NotFound(f"no party with the address {key!r}")
    return party


async def look_up(ports: RnyPorts, office: Party, key: str, at: datetime | None = None, *,
                  person: str | None = None) -> Lookup:
    """An office (``hivatali`` only; anyone else Forbidden) asks how the party named by
    ``key`` (a kapcsolati kód or a KRID) is to be contacted, as in force at ``at`` (now by
    default). Every lookup is audited: who asked (``person``, for an office's staff on the
    web), about whom, for when."""
    if office.kind is not PartyKind.HIVATALI:
        raise Forbidden("only offices (hivatali kapu) look up dispositions")
    now = ports.clock.now()
    moment = at or now
    async with ports.write_uow() as uow:
        lookup = await _lookup_in(uow, key, moment)
        await uow.audit.append(AuditEvent(
            at=now, actor=person or office.username, action=AuditAction.DISPOSITION_LOOKED_UP,
            detail=f"{lookup.party.username} at {moment.isoformat()}"[:255],
            office_krid=office.krid))
        await uow.commit()
    return lookup


async def disposition_of(ports: RnyPorts, key: str, at: datetime | None = None) -> Lookup:
    """The same answer for the command line (an operator; not audited as an office's
    lookup)."""
    moment = at or ports.clock.now()
    async with ports.uow() as uow:
        return await _lookup_in(uow, key, moment)


async def _lookup_in(uow: UnitOfWork, key: str, moment: datetime) -> Lookup:
    party = await addressee(uow, key)
    mandates = [] if party.is_organisation else [
        mandate for mandate in await uow.mandates.of_principal(party.id)
        if mandate.in_force(moment)]
    return Lookup(party, moment, await disposition_in(uow, party, moment), mandates)
