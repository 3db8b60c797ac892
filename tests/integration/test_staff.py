"""Staff roles on an organisation's mailbox: the rules, the audit entries, concurrency."""

from __future__ import annotations

import asyncio

import pytest
from argon2 import extract_parameters, profiles

from gateway.crypto.passwords import use_parameters, verify_password
from gateway.domain.parties import MAX_ADMINS, Party, PartyKind, StaffRole
from gateway.errors import Conflict, NotFound
from gateway.services import staff as staff_service
from gateway.services.audit import link_pending, verify_audit
from gateway.services.parties import DEMO_ORGANISATIONS, DEMO_STAFF, ensure_demo_parties
from tests.helpers import Account, new_citizen, new_org, upload
from tests.integration.conftest import Gateway


async def _roles(gw: Gateway, office: Account) -> dict[str, str]:
    _, members = await staff_service.list_staff(gw.ports, krid=office.krid or "")
    return {m.person.username: m.role.value for m in members}


async def _office_entries(gw: Gateway, krid: str) -> list[tuple[object, ...]]:
    await link_pending(gw.ports)  # as the background jobs do within a second
    async with gw.ports.uow() as uow:
        entries = await uow.audit.entries(None, 100_000)
    return [(e.actor, e.action, e.detail) for e in entries if e.office_krid == krid]


async def test_grant_change_revoke_and_the_office_log(gw: Gateway) -> None:
    office = await new_org(gw.ports)
    anna, bela = await new_citizen(gw.ports), await new_citizen(gw.ports)
    krid = office.krid or ""
    await staff_service.grant_role(gw.ports, krid=krid, username=anna.username,
                                   role=StaffRole.ADMIN)
    await staff_service.grant_role(gw.ports, krid=krid, username=bela.username,
                                   role=StaffRole.CLERK)
    again = await staff_service.grant_role(gw.ports, krid=krid, username=bela.username,
                                           role=StaffRole.CLERK)  # no change, no entry
    assert again.role is StaffRole.CLERK
    assert await _roles(gw, office) == {anna.username: "admin", bela.username: "clerk"}
    offices = await staff_service.offices_of(gw.ports, (await _person(gw, bela)))
    assert [(o.krid, role) for o, role in offices] == [(krid, StaffRole.CLERK)]

    await staff_service.grant_role(gw.ports, krid=krid, username=bela.username,
                                   role=StaffRole.ADMIN, actor=anna.username)
    await staff_service.revoke_role(gw.ports, krid=krid, username=bela.username,
                                    actor=anna.username)
    assert await _roles(gw, office) == {anna.username: "admin"}
    assert await _office_entries(gw, krid) == [
        ("cli", "staff_granted", f"{anna.username}: admin"),
        ("cli", "staff_granted", f"{bela.username}: clerk"),
        (anna.username, "staff_granted", f"{bela.username}: admin"),
        (anna.username, "staff_revoked", f"{bela.username}: admin"),
    ]
    checked, fault = await verify_audit(gw.ports)
    assert fault is None and checked >= 4


async def _person(gw: Gateway, account: Account) -> Party:
    async with gw.ports.uow() as uow:
        found = await uow.parties.by_username(account.username)
    assert found is not None
    return found


async def test_at_most_five_admins_and_the_last_one_stays(gw: Gateway) -> None:
    office = await new_org(gw.ports)
    krid = office.krid or ""
    people = [await new_citizen(gw.ports) for _ in range(MAX_ADMINS + 1)]
    for person in people[:MAX_ADMINS]:
        await staff_service.grant_role(gw.ports, krid=krid, username=person.username,
                                       role=StaffRole.ADMIN)
    with pytest.raises(Conflict, match="5 admins already"):
        await staff_service.grant_role(gw.ports, krid=krid, username=people[-1].username,
                                       role=StaffRole.ADMIN)
    # As a clerk the sixth person is fine; then admins go one by one until one is left.
    await staff_service.grant_role(gw.ports, krid=krid, username=people[-1].username,
                                   role=StaffRole.CLERK)
    for person in people[1:MAX_ADMINS]:
        await staff_service.revoke_role(gw.ports, krid=krid, username=person.username)
    last = people[0].username
    with pytest.raises(Conflict, match="last admin"):
        await staff_service.revoke_role(gw.ports, krid=krid, username=last)
    with pytest.raises(Conflict, match="last admin"):
        await staff_service.grant_role(gw.ports, krid=krid, username=last, role=StaffRole.CLERK)
    assert await _roles(gw, office) == {last: "admin", people[-1].username: "clerk"}


async def test_who_can_be_staff_of_what(gw: Gateway) -> None:
    office, other_office = await new_org(gw.ports), await new_org(gw.ports, kind=PartyKind.CEG)
    person = await new_citizen(gw.ports)
    krid = office.krid or ""
    refusals = [
        (dict(krid="999999999", username=person.username), "no organisation"),
        (dict(krid=krid, username="nincs-ilyen"), "no person"),
        (dict(krid=krid, username=other_office.username), "no person"),  # an organisation
        (dict(krid=krid, username="__system__"), "no person"),  # not even the system
    ]
    for arguments, message in refusals:
        with pytest.raises(NotFound, match=message):
            await staff_service.grant_role(gw.ports, role=StaffRole.CLERK, **arguments)
    with pytest.raises(NotFound, match="holds no role"):
        await staff_service.revoke_role(gw.ports, krid=krid, username=person.username)
    assert await _roles(gw, office) == {}


async def test_concurrent_grants_never_make_a_sixth_admin(gw: Gateway) -> None:
    office = await new_org(gw.ports)
    people = [await new_citizen(gw.ports) for _ in range(MAX_ADMINS + 3)]
    outcomes = await asyncio.gather(*(
        staff_service.grant_role(gw.ports, krid=office.krid or "", username=p.username,
                                 role=StaffRole.ADMIN) for p in people
    ), return_exceptions=True)
    assert sum(not isinstance(o, BaseException) for o in outcomes) == MAX_ADMINS
    assert all(isinstance(o, Conflict) for o in outcomes if isinstance(o, BaseException))
    assert list((await _roles(gw, office)).values()) == ["admin"] * MAX_ADMINS


async def test_demo_staff_are_created_once(gw: Gateway) -> None:
    first = await ensure_demo_parties(gw.ports)
    second = await ensure_demo_parties(gw.ports)
    assert first == second
    demo = Account(DEMO_ORGANISATIONS[0].short_name, "", krid=DEMO_ORGANISATIONS[0].krid)
    assert await _roles(gw, demo) == {p.username: p.role.value for p in DEMO_STAFF}
    assert [r.staff_of for r in first if r.staff_of] == [
        "admin of DEMOHIVATAL", "clerk of DEMOHIVATAL"]


async def test_demo_passwords_are_hashed_cheaply_and_no_other(gw: Gateway) -> None:
    """The demo's passwords are published, so a costly hash of them protects nothing: the
    cheapest argon2id. Any other party's keeps the usual parameters, which the suite (cheapest
    for speed) puts back for this test."""
    use_parameters(profiles.RFC_9106_LOW_MEMORY)
    try:
        shown = await ensure_demo_parties(gw.ports)
        other = await new_org(gw.ports)
    finally:
        use_parameters(profiles.CHEAPEST)
    async with gw.ports.uow() as uow:
        hashes = {r.username: (await uow.parties.credentials(r.username)) for r in shown}
        other_credentials = await uow.parties.credentials(other.username)
    assert set(hashes) == {o.short_name for o in DEMO_ORGANISATIONS} | {
        "demopolgar", *(p.username for p in DEMO_STAFF)}
    cheapest = profiles.CHEAPEST
    for registered in shown:
        found = hashes[registered.username]
        assert found is not None
        parameters = extract_parameters(found[1])
        assert (parameters.time_cost, parameters.memory_cost, parameters.parallelism) == (
            cheapest.time_cost, cheapest.memory_cost, cheapest.parallelism)
        assert verify_password(found[1], registered.password)
        assert not verify_password(found[1], registered.password + "x")
    assert other_credentials is not None
    usual = extract_parameters(other_credentials[1])
    assert (usual.time_cost, usual.memory_cost) == (
        profiles.RFC_9106_LOW_MEMORY.time_cost, profiles.RFC_9106_LOW_MEMORY.memory_cost)
    # The demo's credentials work as before: DEMOHIVATAL sends to DEMOCEG.
    answer = await upload(gw.client, Account("DEMOHIVATAL", "demohivatal-jelszo",
                                             krid="100000001"),
                          Account("DEMOCEG", "", krid="100000002"))
    assert answer.status_code == 201, answer.text
