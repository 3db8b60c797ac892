"""Mandates (meghatalmazás, contract 25): a citizen (principal) authorises another citizen
(agent) to act for them, for every office or a list of them, within a validity window on the
gateway's clock (the test clock in sandbox mode).

A mandate is ``pending`` until the agent accepts it, then ``active`` until its
``valid_until`` or until either side revokes it; nothing is deleted, so the history stays.
Every change is audited with both persons and told to both by e-mail. What an agent may do
under an active mandate is decided by ``agency``: outside its scope or time the principal's
documents do not exist for the agent (NotFound)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from gateway.domain.audit import AuditAction, AuditEvent
from gateway.domain.parties import Party, PartyKind
from gateway.domain.rny import Agency, Mandate, MandateScope, MandateState
from gateway.errors import Conflict, Forbidden, InvalidRequest, MandateConflict, NotFound
from gateway.services import mail
from gateway.services.ports.rny import NewMandate
from gateway.services.ports.slices import RnyPorts
from gateway.services.ports.storage import UnitOfWork


def _audit(mandate: Mandate, action: AuditAction, actor: Party, at: datetime) -> AuditEvent:
    return AuditEvent(at=at, actor=actor.username, action=action, detail=(
        f"mandate {mandate.id}: {mandate.principal.username} -> {mandate.agent.username}"
    )[:255])


async def _changed(uow: UnitOfWork, ports: RnyPorts, mandate: Mandate, action: AuditAction,
                   change: str, actor: Party | None, at: datetime) -> None:
    system = actor or await uow.parties.system()
    await uow.audit.append(_audit(mandate, action, system, at))
    await uow.mail.add_many(mail.mandate_notices(ports, mandate, change, actor, at))


async def offer(ports: RnyPorts, principal: Party, *, agent_code: str, scope: MandateScope,
                valid_from: datetime | None = None,
                valid_until: datetime | None = None) -> Mandate:
    """The principal (a citizen) offers a mandate to the citizen whose kapcsolati kód is
    ``agent_code``, pending until the agent accepts it. ``valid_from`` defaults to now;
    ``valid_until`` None: without end. Refuses an organisation (Forbidden), an agent who is
    no citizen or the principal (InvalidRequest naming ``agent_code``), an office in scope
    that is no organisation (``scope``), an empty window (``valid_until``), and a mandate for
    the same agent overlapping a pending or active one in scope and time
    (MandateConflict)."""
    if principal.kind is not PartyKind.CITIZEN:
        raise Forbidden("only a citizen gives a mandate")
    now = ports.clock.now()
    start = valid_from or now
    if valid_until is not None and valid_until <= start:
        raise InvalidRequest("valid_until must be later than valid_from", field="valid_until")
    async with ports.write_uow() as uow:
        agent = await uow.parties.by_code(agent_code) if agent_code else None
        if agent is None or agent.kind is not PartyKind.CITIZEN:
            raise InvalidRequest("agent_code names no citizen", field="agent_code")
        if agent.id == principal.id:
            raise InvalidRequest("a citizen cannot give a mandate to themselves",
                                 field="agent_code")
        for krid in sorted(scope.offices or ()):
            office = await uow.parties.by_krid(krid)
            if office is None or not office.is_organisation:
                raise InvalidRequest(f"scope names {krid}, which is no organisation",
                                     field="scope")
        await uow.mandates.lock(principal.id)
        for existing in await uow.mandates.between(principal.id, agent.id):
            if existing.open_at(now) and existing.overlaps(scope, start, valid_until):
                raise MandateConflict(
                    f"mandate {existing.id} for the same agent overlaps this one in scope and "
                    "time; revoke it first", field="agent_code")
        mandate = await uow.mandates.add(NewMandate(principal.id, agent.id, scope, start,
                                                    valid_until, now))
        await _changed(uow, ports, mandate, AuditAction.MANDATE_OFFERED, "offered", principal,
                       now)
        await uow.commit()
    return mandate


async def _theirs(uow: UnitOfWork, person: Party, mandate_id: int, *,
                  agent_only: bool = False) -> Mandate:
    mandate = await uow.mandates.by_id(mandate_id)
    sides = (mandate.agent.id,) if mandate and agent_only else (
        (mandate.principal.id, mandate.agent.id) if mandate else ())
    if mandate is None or person.id not in sides:
        # Another's mandate is answered as one that does not exist.
        raise NotFound(f"no mandate {mandate_id}")
    return mandate


async def accept(ports: RnyPorts, agent: Party, mandate_id: int) -> Mandate:
    """The agent accepts a mandate offered to them: it is active from now (in force within
    its window). Accepting it again changes nothing. Another's mandate is NotFound; a
    revoked or expired one cannot be accepted (Conflict)."""
    now = ports.clock.now()
    async with ports.write_uow() as uow:
        mandate = await _theirs(uow, agent, mandate_id, agent_only=True)
        state = mandate.state_at(now)
        if state is MandateState.ACTIVE:
            return mandate
        if state is not MandateState.PENDING:
            raise Conflict(f"mandate {mandate_id} is {state.value} and cannot be accepted")
        if await uow.mandates.accept(mandate.id, now):
            mandate = await _theirs(uow, agent, mandate_id)
            await _changed(uow, ports, mandate, AuditAction.MANDATE_ACCEPTED, "accepted",
                           agent, now)
            await uow.commit()
    return mandate


async def revoke(ports: RnyPorts, person: Party, mandate_id: int) -> Mandate:
    """Either side revokes a mandate (the agent declines one still pending), effective at
    once. Revoking a revoked or expired one changes nothing."""
    now = ports.clock.now()
    async with ports.write_uow() as uow:
        mandate = await _theirs(uow, person, mandate_id)
        if not mandate.open_at(now):
            return mandate
        if await uow.mandates.revoke(mandate.id, person.id, now):
            mandate = await _theirs(uow, person, mandate_id)
            await _changed(uow, ports, mandate, AuditAction.MANDATE_REVOKED, "revoked",
                           person, now)
            await uow.commit()
    return mandate


@dataclass(frozen=True)
class PersonsMandates:
    given: list[Mandate]  # as principal, newest first
    received: list[Mandate]  # as agent, newest first


async def mandates_of(ports: RnyPorts, person: Party) -> PersonsMandates:
    """The person's mandates on both sides, every state, newest first."""
    async with ports.uow() as uow:
        return PersonsMandates(await uow.mandates.of_principal(person.id),
                               await uow.mandates.of_agent(person.id))


async def mandate(ports: RnyPorts, person: Party, mandate_id: int) -> Mandate:
    """One of the person's mandates (either side); NotFound for anyone else's."""
    async with ports.uow() as uow:
        return await _theirs(uow, person, mandate_id)


async def agency_in(uow: UnitOfWork, agent: Party, principal_code: str,
                    at: datetime) -> Agency:
    """The agent acting for the citizen whose kapcsolati kód is ``principal_code`` at
    ``at``, under the mandates in force then; NotFound without one, exactly as for a
    tárhely that does not exist."""
    principal = await uow.parties.by_code(principal_code) if principal_code else None
    if principal is None or principal.kind is not PartyKind.CITIZEN or principal.id == agent.id:
        raise NotFound(f"no tárhely {principal_code!r} for {agent.username}")
    mandates = tuple(mandate for mandate in await uow.mandates.between(principal.id, agent.id)
                     if mandate.in_force(at))
    if not mandates:
        raise NotFound(f"no tárhely {principal_code!r} for {agent.username}")
    return Agency(principal, agent, mandates)


async def agency(ports: RnyPorts, agent: Party, principal_code: str) -> Agency:
    """``agency_in`` now, on the gateway's clock."""
    async with ports.uow() as uow:
        return await agency_in(uow, agent, principal_code, ports.clock.now())


async def agencies_in(uow: UnitOfWork, agent: Party, at: datetime) -> list[Agency]:
    """The agent acting for each principal at ``at``, under the mandates in force then."""
    found: dict[int, list[Mandate]] = {}
    for mandate in await uow.mandates.of_agent(agent.id):
        if mandate.in_force(at):
            found.setdefault(mandate.principal.id, []).append(mandate)
    return [Agency(given[0].principal, agent, tuple(given)) for given in found.values()]


async def principals_of(ports: RnyPorts, agent: Party) -> list[Party]:
    """The citizens the agent may act for now (each once), for the choice of mailbox."""
    async with ports.uow() as uow:
        return [agency.principal
                for agency in await agencies_in(uow, agent, ports.clock.now())]


async def notice_expired(ports: RnyPorts, *, batch: int = 100) -> int:
    """Tell both sides of each mandate whose ``valid_until`` passed (audited as
    ``mandate_expired``), once; how many. A due job, run with the deadline sweeps."""
    now = ports.clock.now()
    async with ports.write_uow() as uow:
        due = await uow.mandates.ran_out(now, batch)
        for mandate in due:
            assert mandate.valid_until is not None
            await _changed(uow, ports, mandate, AuditAction.MANDATE_EXPIRED, "expired", None,
                           mandate.valid_until)
            await uow.mandates.mark_noticed(mandate.id, now)
        await uow.commit()
    return len(due)
