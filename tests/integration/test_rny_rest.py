"""The Rendelkezési Nyilvántartás over REST (contract 25) on both databases: dispositions kept
with their moments and looked up as in force, mandates from offer to revocation and expiry,
their e-mails, and what no one but the two sides may see or do."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from gateway.domain.parties import PartyKind
from gateway.services.audit import link_pending
from gateway.services.parties import DEMO_CITIZEN, ensure_demo_parties
from gateway.worker import run_jobs_once
from tests.conftest import FixedClock
from tests.helpers import Account, new_citizen, new_org
from tests.integration.conftest import Gateway, sandbox_auth


async def _party_id(gw: Gateway, account: Account) -> int:
    async with gw.ports.uow() as uow:
        party = await uow.parties.by_username(account.username)
    assert party is not None
    return party.id


async def _mail_kinds(gw: Gateway, account: Account) -> list[str]:
    async with gw.ports.uow() as uow:
        records = await uow.mail.of_party(await _party_id(gw, account), 100)
    return sorted(record.kind for record in records)


async def _lookups(gw: Gateway, office: Account) -> list[tuple[str, str | None]]:
    await link_pending(gw.ports)
    async with gw.ports.uow() as uow:
        entries = await uow.audit.entries(None, 1_000_000)
    return [(e.actor, e.detail) for e in entries
            if e.action == "disposition_looked_up" and e.office_krid == office.krid]


def _refused(response: Any, status: int, code: str, field: str | None = None) -> None:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["code"] == code, body
    if field is not None:
        assert body["field"] == field, body


async def test_a_disposition_changed_three_times_is_looked_up_as_in_force(
    gw: Gateway, clock: FixedClock
) -> None:
    citizen, office = await new_citizen(gw.ports), await new_org(gw.ports)
    own = await gw.client.get("/api/v1/me/disposition", auth=citizen.auth)
    assert own.status_code == 200, own.text
    assert own.json() == {"electronic_contact": False, "since": None, "history": [],
                          "official_address": {"kind": "tarhely", "code": citizen.code}}
    moments = [clock.now().isoformat()]
    for choice in (True, False, True):
        clock.advance(hours=1)
        declared = await gw.client.put("/api/v1/me/disposition", auth=citizen.auth,
                                       json={"electronic_contact": choice})
        assert declared.status_code == 200, declared.text
        assert declared.json()["electronic_contact"] is choice
        clock.advance(minutes=30)
        moments.append(clock.now().isoformat())
    answers = []
    for moment in moments:
        found = await gw.client.get(f"/api/v1/disposition/{citizen.code}",
                                    params={"at": moment}, auth=office.auth)
        assert found.status_code == 200, found.text
        answers.append(found.json())
    assert [a["electronic_contact"] for a in answers] == [False, True, False, True]
    assert answers[0]["since"] is None and all(a["since"] for a in answers[1:])
    assert answers[1]["official_address"] == {"kind": "tarhely", "code": citizen.code}
    assert all(a["mandates"] == [] for a in answers)
    now = (await gw.client.get(f"/api/v1/disposition/{citizen.code}", auth=office.auth)).json()
    assert now == answers[-1]
    history = (await gw.client.get("/api/v1/me/disposition", auth=citizen.auth)).json()
    assert [d["electronic_contact"] for d in history["history"]] == [True, False, True]
    assert [d["since"] for d in history["history"]] == [a["since"] for a in answers[:0:-1]]
    assert history["electronic_contact"] is True
    # Every lookup is audited: the office that asked, whom about, for when.
    citizen_name = citizen.username
    assert [actor for actor, _ in await _lookups(gw, office)] == [office.username] * 5
    assert all(detail and detail.startswith(citizen_name) for _, detail in await _lookups(
        gw, office))


async def test_only_offices_look_up_and_only_citizens_declare(gw: Gateway) -> None:
    citizen, office = await new_citizen(gw.ports), await new_org(gw.ports)
    company = await new_org(gw.ports, PartyKind.CEG)
    perkapu = await new_org(gw.ports, PartyKind.PER)
    for asker in (company, perkapu, citizen):
        _refused(await gw.client.get(f"/api/v1/disposition/{citizen.code}", auth=asker.auth),
                 403, "forbidden")
        assert await _lookups(gw, asker) == []
    _refused(await gw.client.put("/api/v1/me/disposition", auth=office.auth,
                                 json={"electronic_contact": False}), 403, "forbidden")
    # Organisations are always electronic, to their own mailbox.
    for organisation in (company, office):
        found = await gw.client.get(f"/api/v1/disposition/{organisation.krid}",
                                    auth=office.auth)
        assert found.json() == {"electronic_contact": True, "since": None, "mandates": [],
                                "official_address": {"kind": "mailbox",
                                                     "krid": organisation.krid}}
    own = (await gw.client.get("/api/v1/me/disposition", auth=company.auth)).json()
    assert own["electronic_contact"] is True and own["history"] == []
    # Refusals name their field and change nothing.
    for body, field in (({"electronic_contact": "true"}, "electronic_contact"),
                        ({"electronic_contact": 1}, "electronic_contact"),
                        ({}, "electronic_contact"),
                        ({"electronic_contact": True, "official_address": "x"},
                         "official_address")):
        _refused(await gw.client.put("/api/v1/me/disposition", auth=citizen.auth, json=body),
                 422, "invalid_request", field)
    assert (await gw.client.get("/api/v1/me/disposition", auth=citizen.auth)).json()[
        "history"] == []
    for at in ("2027-01-04T09:00:00", "tegnap", "0001-01-01T00:00:00+14:00"):
        _refused(await gw.client.get(f"/api/v1/disposition/{citizen.code}", params={"at": at},
                                     auth=office.auth), 422, "invalid_request", "at")
    for key in ("0" * 32, "999999999", "x%01y", "x%00y", "k" * 300):
        _refused(await gw.client.get(f"/api/v1/disposition/{key}", auth=office.auth),
                 404, "not_found")


async def test_the_demo_citizen_is_electronic_and_a_new_one_is_not(gw: Gateway) -> None:
    shown = {party.username: party for party in await ensure_demo_parties(gw.ports)}
    demo = shown[DEMO_CITIZEN.username]
    office, fresh = await new_org(gw.ports), await new_citizen(gw.ports)
    found = await gw.client.get(f"/api/v1/disposition/{demo.code}", auth=office.auth)
    assert found.status_code == 200, found.text
    assert found.json()["electronic_contact"] is True and found.json()["since"]
    found = await gw.client.get(f"/api/v1/disposition/{fresh.code}", auth=office.auth)
    assert found.json()["electronic_contact"] is False


async def test_a_mandate_offered_accepted_looked_up_and_revoked(
    gw: Gateway, clock: FixedClock
) -> None:
    principal, agent = await new_citizen(gw.ports), await new_citizen(gw.ports)
    stranger, office = await new_citizen(gw.ports), await new_org(gw.ports)
    until = clock.now() + timedelta(days=30)
    offered = await gw.client.post("/api/v1/mandates", auth=principal.auth, json={
        "agent_code": agent.code, "scope": {"offices": [office.krid]},
        "valid_until": until.isoformat()})
    assert offered.status_code == 201, offered.text
    mandate = offered.json()
    assert offered.headers["location"] == f"/api/v1/mandates/{mandate['id']}"
    assert mandate["state"] == "pending" and mandate["accepted_at"] is None
    assert mandate["scope"] == {"offices": [office.krid]}
    assert mandate["principal"]["code"] == principal.code
    assert mandate["agent"]["code"] == agent.code and mandate["revoked_by"] is None
    path = f"/api/v1/mandates/{mandate['id']}"
    lookup = f"/api/v1/disposition/{principal.code}"
    assert (await gw.client.get(lookup, auth=office.auth)).json()["mandates"] == []
    # Only the agent accepts; no one else sees it.
    for other in (stranger, principal):
        _refused(await gw.client.post(f"{path}/accept", auth=other.auth), 404, "not_found")
    _refused(await gw.client.get(path, auth=stranger.auth), 404, "not_found")
    _refused(await gw.client.post(f"{path}/revoke", auth=stranger.auth), 404, "not_found")
    assert (await gw.client.get("/api/v1/mandates", auth=stranger.auth)).json() == {
        "given": [], "received": []}
    clock.advance(minutes=5)
    # What the agent sends with the acceptance changes nothing of the mandate.
    accepted = await gw.client.post(f"{path}/accept", auth=agent.auth, json={
        "valid_until": (until + timedelta(days=300)).isoformat(), "scope": "all",
        "valid_from": clock.now().isoformat()})
    assert accepted.status_code == 200, accepted.text
    assert accepted.json()["state"] == "active" and accepted.json()["accepted_at"]
    unchanged = {key: mandate[key] for key in ("valid_from", "valid_until", "scope")}
    assert {key: accepted.json()[key] for key in unchanged} == unchanged
    in_force = (await gw.client.get(lookup, auth=office.auth)).json()["mandates"]
    assert [(m["id"], m["state"]) for m in in_force] == [(mandate["id"], "active")]
    # A second one for the same agent, overlapping in scope and time.
    _refused(await gw.client.post("/api/v1/mandates", auth=principal.auth, json={
        "agent_code": agent.code, "scope": "all"}), 409, "mandate_conflict")
    listed = (await gw.client.get("/api/v1/mandates", auth=principal.auth)).json()
    assert [m["id"] for m in listed["given"]] == [mandate["id"]] and listed["received"] == []
    received = (await gw.client.get("/api/v1/mandates", auth=agent.auth)).json()["received"]
    assert [m["id"] for m in received] == [mandate["id"]]
    assert (await gw.client.get(path, auth=agent.auth)).json()["state"] == "active"
    revoked = await gw.client.post(f"{path}/revoke", auth=principal.auth)
    assert revoked.status_code == 200, revoked.text
    assert revoked.json()["state"] == "revoked" and revoked.json()["revoked_by"] == "principal"
    assert (await gw.client.get(lookup, auth=office.auth)).json()["mandates"] == []
    _refused(await gw.client.post(f"{path}/accept", auth=agent.auth), 409, "conflict")
    # The agent revokes the next one, also at once.
    second = (await gw.client.post("/api/v1/mandates", auth=principal.auth, json={
        "agent_code": agent.code, "scope": "all"})).json()
    await gw.client.post(f"/api/v1/mandates/{second['id']}/accept", auth=agent.auth)
    assert len((await gw.client.get(lookup, auth=office.auth)).json()["mandates"]) == 1
    declined = await gw.client.post(f"/api/v1/mandates/{second['id']}/revoke", auth=agent.auth)
    assert declined.json()["revoked_by"] == "agent" and declined.json()["state"] == "revoked"
    assert (await gw.client.get(lookup, auth=office.auth)).json()["mandates"] == []
    # Both sides were told of each change, once.
    told = sorted(["mandate_offered", "mandate_accepted", "mandate_revoked"] * 2)
    assert await _mail_kinds(gw, principal) == told
    assert await _mail_kinds(gw, agent) == told
    assert await _mail_kinds(gw, stranger) == []


async def test_refused_mandates_name_their_field_and_leave_nothing(gw: Gateway,
                                                                    clock: FixedClock) -> None:
    principal, agent = await new_citizen(gw.ports), await new_citizen(gw.ports)
    office, company = await new_org(gw.ports), await new_org(gw.ports, PartyKind.CEG)
    later = (clock.now() + timedelta(days=1)).isoformat()
    refusals: list[tuple[dict[str, Any], str]] = [
        ({"agent_code": agent.code, "scope": {"offices": []}}, "scope"),
        ({"agent_code": agent.code, "scope": {"offices": ["12"]}}, "scope"),
        ({"agent_code": agent.code, "scope": {"offices": ["999999999"]}}, "scope"),
        ({"agent_code": agent.code, "scope": "some"}, "scope"),
        ({"agent_code": agent.code, "scope": {"offices": [office.krid], "all": True}}, "scope"),
        ({"agent_code": agent.code}, "scope"),
        ({"agent_code": agent.code, "scope": "all", "valid_from": later,
          "valid_until": clock.now().isoformat()}, "valid_until"),
        ({"agent_code": agent.code, "scope": "all", "valid_until": "2027-01-04T09:00:00"},
         "valid_until"),
        ({"agent_code": agent.code, "scope": "all", "valid_until": 1800000000},
         "valid_until"),
        ({"agent_code": agent.code, "scope": "all", "valid_from": "3000-01-01T00:00:00Z"},
         "valid_from"),
        ({"agent_code": "0" * 32, "scope": "all"}, "agent_code"),
        ({"agent_code": principal.code, "scope": "all"}, "agent_code"),
        ({"agent_code": "a\x00b", "scope": "all"}, "agent_code"),
        ({"agent_code": agent.code, "scope": "all", "state": "active"}, "state"),
    ]
    for body, field in refusals:
        _refused(await gw.client.post("/api/v1/mandates", auth=principal.auth, json=body),
                 422, "invalid_request", field)
    # An office, not a citizen, is the agent: no citizen.
    _refused(await gw.client.post("/api/v1/mandates", auth=principal.auth, json={
        "agent_code": office.krid, "scope": "all"}), 422, "invalid_request", "agent_code")
    for organisation in (office, company):
        _refused(await gw.client.post("/api/v1/mandates", auth=organisation.auth, json={
            "agent_code": agent.code, "scope": "all"}), 403, "forbidden")
    for mine in (principal, agent):
        assert (await gw.client.get("/api/v1/mandates", auth=mine.auth)).json() == {
            "given": [], "received": []}
        assert await _mail_kinds(gw, mine) == []
    for bad in ("abc", "0", "-1", "1.0", "9" * 30):
        _refused(await gw.client.get(f"/api/v1/mandates/{bad}", auth=principal.auth),
                 404, "not_found")
        _refused(await gw.client.post(f"/api/v1/mandates/{bad}/accept", auth=agent.auth),
                 404, "not_found")


async def test_a_mandate_runs_out_on_the_test_clock(sandbox: Gateway) -> None:
    gw = sandbox
    principal, agent = await new_citizen(gw.ports), await new_citizen(gw.ports)
    office = await new_org(gw.ports)
    auth = await sandbox_auth(gw)
    now = (await gw.client.get("/api/v1/sandbox/clock", auth=auth)).json()["now"]
    offered = await gw.client.post("/api/v1/mandates", auth=principal.auth, json={
        "agent_code": agent.code, "scope": "all", "valid_from": now,
        "valid_until": _plus_days(now, 2)})
    assert offered.status_code == 201, offered.text
    path = f"/api/v1/mandates/{offered.json()['id']}"
    assert (await gw.client.post(f"{path}/accept", auth=agent.auth)).status_code == 200
    lookup = f"/api/v1/disposition/{principal.code}"
    assert len((await gw.client.get(lookup, auth=office.auth)).json()["mandates"]) == 1
    moved = await gw.client.post("/api/v1/sandbox/clock", json={"advance": "P3D"}, auth=auth)
    assert moved.status_code == 200, moved.text
    assert (await gw.client.get(path, auth=principal.auth)).json()["state"] == "expired"
    assert (await gw.client.get(lookup, auth=office.auth)).json()["mandates"] == []
    # Earlier, it was in force: a lookup for then lists it, with its state then.
    then = await gw.client.get(lookup, params={"at": _plus_days(now, 1)}, auth=office.auth)
    assert [m["state"] for m in then.json()["mandates"]] == ["active"]
    for attempt in range(2):  # the second run adds nothing
        ran = await gw.client.post("/api/v1/sandbox/run-due", auth=auth)
        assert ran.status_code == 200, ran.text
        if attempt == 0:  # counted for the whole installation (the database is shared)
            assert ran.json()["mandates_expired"] >= 1, ran.text
        for side in (principal, agent):
            kinds = await _mail_kinds(gw, side)
            assert kinds.count("mandate_expired") == 1, kinds


def _plus_days(iso: str, days: int) -> str:
    return (datetime.fromisoformat(iso) + timedelta(days=days)).isoformat()


async def test_the_background_jobs_notice_a_mandate_that_ran_out_once(
    gw: Gateway, clock: FixedClock
) -> None:
    principal, agent = await new_citizen(gw.ports), await new_citizen(gw.ports)
    until = clock.now() + timedelta(days=1)
    offered = (await gw.client.post("/api/v1/mandates", auth=principal.auth, json={
        "agent_code": agent.code, "scope": "all", "valid_until": until.isoformat()})).json()
    await gw.client.post(f"/api/v1/mandates/{offered['id']}/accept", auth=agent.auth)
    await run_jobs_once(gw.ports)
    assert "mandate_expired" not in await _mail_kinds(gw, principal)  # not yet
    clock.current = until
    for _ in range(2):
        await run_jobs_once(gw.ports)
        for side in (principal, agent):
            assert (await _mail_kinds(gw, side)).count("mandate_expired") == 1
