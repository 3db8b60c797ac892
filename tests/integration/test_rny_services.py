"""The Rendelkezési Nyilvántartás's services (contract 25) on both databases and the test
clock: dispositions kept with their moments, offices' lookups, the life of a mandate."""

from __future__ import annotations

from datetime import timedelta

import pytest

from gateway.domain.parties import Party, PartyKind
from gateway.domain.rny import MandateScope, MandateState
from gateway.errors import Conflict, Forbidden, InvalidRequest, MandateConflict, NotFound
from gateway.services import mandates, rny
from tests.conftest import FixedClock
from tests.helpers import Account, new_citizen, new_org
from tests.integration.conftest import Gateway


async def _party(gw: Gateway, account: Account) -> Party:
    async with gw.ports.uow() as uow:
        party = await uow.parties.by_username(account.username)
    assert party is not None
    return party


async def test_dispositions_are_kept_and_looked_up_as_in_force(gw: Gateway,
                                                               clock: FixedClock) -> None:
    citizen = await _party(gw, await new_citizen(gw.ports))
    office = await _party(gw, await new_org(gw.ports))
    before = clock.now()
    assert not (await rny.look_up(gw.ports, office, citizen.code or "")).disposition \
        .electronic_contact
    clock.advance(hours=1)
    first = await rny.declare(gw.ports, citizen, electronic_contact=True)
    clock.advance(hours=1)
    between = clock.now()
    clock.advance(hours=1)
    await rny.declare(gw.ports, citizen, electronic_contact=False)
    clock.advance(hours=1)
    await rny.declare(gw.ports, citizen, electronic_contact=True)
    answers = [(await rny.look_up(gw.ports, office, citizen.code or "", at)).disposition
               for at in (before, between, clock.now())]
    assert [a.electronic_contact for a in answers] == [False, True, True]
    assert answers[1].since == first.since and answers[0].since is None
    own = await rny.own_disposition(gw.ports, citizen)
    assert [d.electronic_contact for d in own.history] == [True, False, True]
    company = await _party(gw, await new_org(gw.ports, kind=PartyKind.CEG))
    for asker in (company, citizen):
        with pytest.raises(Forbidden):
            await rny.look_up(gw.ports, asker, citizen.code or "")
    with pytest.raises(Forbidden):
        await rny.declare(gw.ports, office, electronic_contact=False)
    organisation = await rny.look_up(gw.ports, office, company.krid or "")
    assert organisation.disposition.electronic_contact


async def test_a_mandate_from_offer_to_expiry(gw: Gateway, clock: FixedClock) -> None:
    principal = await _party(gw, await new_citizen(gw.ports))
    agent = await _party(gw, await new_citizen(gw.ports))
    stranger = await _party(gw, await new_citizen(gw.ports))
    office = await _party(gw, await new_org(gw.ports))
    until = clock.now() + timedelta(days=10)
    offered = await mandates.offer(gw.ports, principal, agent_code=agent.code or "",
                                   scope=MandateScope.of([office.krid or ""]),
                                   valid_until=until)
    assert offered.state_at(clock.now()) is MandateState.PENDING
    with pytest.raises(NotFound):
        await mandates.agency(gw.ports, agent, principal.code or "")
    with pytest.raises(NotFound):
        await mandates.accept(gw.ports, stranger, offered.id)
    with pytest.raises(NotFound):
        await mandates.accept(gw.ports, principal, offered.id)  # only the agent accepts
    with pytest.raises(MandateConflict):
        await mandates.offer(gw.ports, principal, agent_code=agent.code or "",
                             scope=MandateScope.of(None))
    with pytest.raises(InvalidRequest):
        await mandates.offer(gw.ports, principal, agent_code=principal.code or "",
                             scope=MandateScope.of(None))
    clock.advance(minutes=5)
    accepted = await mandates.accept(gw.ports, agent, offered.id)
    assert accepted.state_at(clock.now()) is MandateState.ACTIVE
    agency = await mandates.agency(gw.ports, agent, principal.code or "")
    assert agency.covers(office.krid) and not agency.covers("999999999")
    assert [p.id for p in await mandates.principals_of(gw.ports, agent)] == [principal.id]
    lookup = await rny.look_up(gw.ports, office, principal.code or "")
    assert [m.id for m in lookup.mandates] == [offered.id]
    clock.current = until
    with pytest.raises(NotFound):
        await mandates.agency(gw.ports, agent, principal.code or "")
    assert await mandates.notice_expired(gw.ports) >= 1
    with pytest.raises(Conflict):
        await mandates.accept(gw.ports, agent, offered.id)
    # After the first ran out, a new one for the same agent is no conflict; revoked at once.
    second = await mandates.offer(gw.ports, principal, agent_code=agent.code or "",
                                  scope=MandateScope.of(None))
    await mandates.accept(gw.ports, agent, second.id)
    assert (await mandates.agency(gw.ports, agent, principal.code or "")).offices is None
    revoked = await mandates.revoke(gw.ports, agent, second.id)
    assert revoked.state_at(clock.now()) is MandateState.REVOKED
    with pytest.raises(NotFound):
        await mandates.agency(gw.ports, agent, principal.code or "")
    history = await mandates.mandates_of(gw.ports, principal)
    assert [m.id for m in history.given] == [second.id, offered.id]
