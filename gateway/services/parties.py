"""Registering organisations and citizens, and the demo parties of ``serve --demo``."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime

from gateway.crypto.passwords import hash_password, hash_published_password, new_password
from gateway.domain.audit import AuditAction, AuditEvent
from gateway.domain.limits import checked_text
from gateway.domain.parties import (
    Party,
    PartyKind,
    StaffRole,
    check_email,
    check_krid,
    check_mak_code,
    check_short_name,
)
from gateway.domain.rny import OfficialAddressKind
from gateway.errors import Conflict, Forbidden, InvalidRequest
from gateway.services import staff as staff_service
from gateway.services.ports.parties import NewParty
from gateway.services.ports.slices import PartyPorts


@dataclass(frozen=True)
class Registered:
    """What registration shows once: the password is not stored in a readable form."""

    username: str
    password: str
    krid: str | None = None
    short_name: str | None = None
    code: str | None = None
    staff_of: str | None = None  # demo persons: "admin of DEMOHIVATAL"


def _checked(check: Callable[[str], str], value: str, field: str) -> str:
    try:
        return check(value)
    except ValueError as exc:
        raise InvalidRequest(str(exc), field=field) from exc


async def register_organisation(
    ports: PartyPorts,
    *,
    krid: str,
    short_name: str,
    name: str,
    kind: PartyKind = PartyKind.HIVATALI,
    mak_code: str | None = None,
    password: str | None = None,
    published_password: str | None = None,
) -> Registered:
    """Register an organisation gateway; its username is its short name. Refuses a taken
    KRID or short name with Conflict naming the field. ``published_password``: instead of
    ``password``, one published on purpose (the demo's), hashed cheaply."""
    krid = _checked(check_krid, krid, "krid")
    short_name = _checked(check_short_name, short_name, "short_name")
    if mak_code is not None:
        mak_code = _checked(check_mak_code, mak_code, "mak_code")
    if not kind.is_organisation:
        raise InvalidRequest(f"{kind} is not an organisation type", field="type")
    password, published = _password(password, published_password)
    await _store(ports, password, NewParty(
        kind=kind, name=name, username=short_name, password_hash="", krid=krid,
        short_name=short_name, mak_code=mak_code,
    ), published=published)
    return Registered(username=short_name, password=password, krid=krid, short_name=short_name)


async def register_citizen(
    ports: PartyPorts,
    *,
    name: str,
    email: str,
    username: str | None = None,
    password: str | None = None,
    code: str | None = None,
    published_password: str | None = None,
) -> Registered:
    """Register a citizen; the kapcsolati kód is random and unguessable (128 bits).
    ``published_password``: as for :func:`register_organisation`."""
    email = _checked(check_email, email, "email")
    code = code or secrets.token_hex(16)
    username = username or f"citizen-{secrets.token_hex(5)}"
    password, published = _password(password, published_password)
    await _store(ports, password, NewParty(
        kind=PartyKind.CITIZEN, name=name, username=username, password_hash="", code=code,
        email=email,
    ), published=published)
    return Registered(username=username, password=password, code=code)


def _password(password: str | None, published_password: str | None) -> tuple[str, bool]:
    """The password to store, and whether it is one published on purpose (hashed cheaply)."""
    if published_password is not None:
        return published_password, True
    return password or new_password(), False


async def _store(ports: PartyPorts, password: str, new: NewParty, *,
                 published: bool = False) -> None:
    """Hash the password and insert the party, refusing a taken KRID, short name or username,
    and names, usernames and addresses holding a control or format character."""
    if not new.name.strip():
        raise InvalidRequest("name is required", field="name")
    for field, text in (("name", new.name.strip()), ("username", new.username),
                        ("email", new.email), ("code", new.code)):
        if text is not None:
            checked_text(text, field)
    password_hash = (hash_published_password(password) if published
                     else await asyncio.to_thread(hash_password, password))
    new = replace(new, name=new.name.strip(), password_hash=password_hash)
    async with ports.write_uow() as uow:
        taken = await uow.parties.taken(
            krid=new.krid, short_name=new.short_name, username=new.username, code=new.code
        )
        if taken is not None:
            raise Conflict(f"{taken} is already registered", field=taken)
        await uow.parties.add(new)
        await uow.commit()


async def swap_address(ports: PartyPorts, party: Party) -> str:
    """A new random kapcsolati kód for a citizen (225/2009 Korm. r. 39. § (1)): from now on the
    old one is no address, and it is never issued again; documents, receipts and the kulcstár
    entry stay with the person, who is the same party."""
    if party.kind is not PartyKind.CITIZEN:
        raise Forbidden("only citizens have a kapcsolati kód to swap")
    async with ports.write_uow() as uow:
        while True:  # 128 random bits: a second draw is a formality, but never a reissue
            code = secrets.token_hex(16)
            if await uow.parties.taken(krid=None, short_name=None, username="",
                                       code=code) is None:
                break
        now = ports.clock.now()
        await uow.parties.swap_code(party.id, code, now)
        await uow.audit.append(AuditEvent(at=now, actor=party.username,
                                          action=AuditAction.ADDRESS_SWAPPED))
        await uow.commit()
    return code


async def set_email(ports: PartyPorts, party: Party, email: str) -> str:
    """Where a person's e-mail notices go (first and second notices, office warnings)."""
    if party.kind is not PartyKind.CITIZEN:
        raise Forbidden("only a person has a notification e-mail address")
    email = checked_text(email.strip(), "email")
    try:
        email = check_email(email)
    except ValueError as exc:
        raise InvalidRequest("give an e-mail address such as name@example.hu",
                             field="email") from exc
    async with ports.write_uow() as uow:
        await uow.parties.set_email(party.id, email)
        await uow.audit.append(AuditEvent(at=ports.clock.now(), actor=party.username,
                                          action=AuditAction.EMAIL_CHANGED))
        await uow.commit()
    return email


@dataclass(frozen=True)
class DemoOrganisation:
    krid: str
    short_name: str
    name: str
    kind: PartyKind
    password: str


# Published on purpose so that a vendor's tests can hard-code them; production refuses --demo.
DEMO_ORGANISATIONS = (
    DemoOrganisation("100000001", "DEMOHIVATAL", "Demo Hivatal", PartyKind.HIVATALI,
                     "demohivatal-jelszo"),
    DemoOrganisation("100000002", "DEMOCEG", "Demo Cég Kft.", PartyKind.CEG, "democeg-jelszo"),
)
DEMO_CITIZEN = Registered(
    username="demopolgar", password="demopolgar-jelszo", code=  # noqa: S106 - published demo
        "d3m0c0de0000000000000000000000a1"
)
DEMO_CITIZEN_NAME = "Demo Polgár"
DEMO_CITIZEN_EMAIL = "demo.polgar@example.hu"
# When the demo citizen's disposition (electronic contact) takes effect.
DEMO_DECLARED = datetime(2000, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class DemoPerson:
    username: str
    password: str
    code: str
    name: str
    role: StaffRole


# Persons who work DEMOHIVATAL's mailbox in the browser: one admin, one clerk.
DEMO_STAFF = (
    DemoPerson("demoadmin", "demoadmin-jelszo", "d3m0c0de0000000000000000000000a2",
               "Demo Adminisztrátor", StaffRole.ADMIN),
    DemoPerson("demougyintezo", "demougyintezo-jelszo", "d3m0c0de0000000000000000000000a3",
               "Demo Ügyintéző", StaffRole.CLERK),
)


async def _by_username(ports: PartyPorts, username: str) -> Party | None:
    async with ports.uow() as uow:
        return await uow.parties.by_username(username)


async def _current_code(ports: PartyPorts, username: str) -> str | None:
    """The person's kapcsolati kód as it is now (a swap replaces the demo's published one,
    and the banner must print the one that works); None: no such person yet."""
    party = await _by_username(ports, username)
    return None if party is None else party.code


async def ensure_demo_parties(ports: PartyPorts) -> list[Registered]:
    """Create the demo parties where missing (idempotent); return their credentials."""
    shown: list[Registered] = []
    for org in DEMO_ORGANISATIONS:
        if await _by_username(ports, org.short_name) is None:
            await register_organisation(
                ports, krid=org.krid, short_name=org.short_name, name=org.name, kind=org.kind,
                published_password=org.password,
            )
        shown.append(Registered(
            username=org.short_name, password=org.password, krid=org.krid,
            short_name=org.short_name,
        ))
    code = await _current_code(ports, DEMO_CITIZEN.username)
    if code is None:
        code = (await register_citizen(
            ports, name=DEMO_CITIZEN_NAME, email=DEMO_CITIZEN_EMAIL,
            username=DEMO_CITIZEN.username, published_password=DEMO_CITIZEN.password,
            code=DEMO_CITIZEN.code,
        )).code
        # The demo citizen deals with offices electronically from the start (contract 25),
        # so a vendor's first send to it meets the common case. Dated at DEMO_DECLARED, not
        # now: a sandbox's test clock may be set anywhere after that, and still finds it.
        async with ports.write_uow() as uow:
            citizen = await uow.parties.by_username(DEMO_CITIZEN.username)
            assert citizen is not None
            await uow.dispositions.add(citizen.id, True, OfficialAddressKind.TARHELY,
                                       DEMO_DECLARED)
            await uow.commit()
    shown.append(replace(DEMO_CITIZEN, code=code))
    office = DEMO_ORGANISATIONS[0]
    for person in DEMO_STAFF:
        code = await _current_code(ports, person.username)
        if code is None:
            code = (await register_citizen(
                ports, name=person.name, email=f"{person.username}@example.hu",
                username=person.username, published_password=person.password,
                code=person.code,
            )).code
        await staff_service.grant_role(ports, krid=office.krid, username=person.username,
                                       role=person.role)
        shown.append(Registered(username=person.username, password=person.password,
                                code=code,
                                staff_of=f"{person.role.value} of {office.short_name}"))
    return shown
