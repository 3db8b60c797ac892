"""The Rendelkezési Nyilvántartás's pages (contract 25) without JavaScript, on both databases:
the disposition and its history, mandates offered, accepted and revoked by forms, their
refusals, and an office's check of an addressee before sending."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import httpx

from gateway.domain.parties import Party, PartyKind, StaffRole
from gateway.domain.rny import MandateScope, MandateState
from gateway.errors import NotFound
from gateway.services import mandates, rny
from gateway.services import staff as staff_service
from tests.conftest import FixedClock
from tests.helpers import Account, new_citizen, new_org
from tests.integration.conftest import Gateway
from tests.integration.test_web import form_fields, log_in

_HISTORY_ROW = re.compile(
    r'<tr><td><time datetime="[^"]+">([^<]+)</time></td><td>([^<]+)</td>')


async def _party(gw: Gateway, account: Account) -> Party:
    async with gw.ports.uow() as uow:
        party = await uow.parties.by_username(account.username)
    assert party is not None
    return party


async def _as(gw: Gateway, account: Account) -> None:
    """The client logged in as ``account`` (and nobody else)."""
    gw.client.cookies.clear()
    answer = await log_in(gw.client, account)
    assert answer.status_code == 303, answer.text


def _form_of(page: httpx.Response, action: str) -> dict[str, str]:
    """The CSRF token and one-time key of the form posting to ``action`` on ``page``."""
    found = re.search(rf'action="{re.escape(action)}"[^>]*>\s*<input type="hidden" '
                      r'name="csrf_token" value="([^"]+)">\s*<input type="hidden" '
                      r'name="form_key" value="([^"]+)">', page.text)
    assert found, f"no form for {action}"
    return {"csrf_token": found.group(1), "form_key": found.group(2)}


async def test_three_declarations_and_their_history(gw: Gateway, clock: FixedClock) -> None:
    citizen = await new_citizen(gw.ports)
    await _as(gw, citizen)
    first = await gw.client.get("/ui/rny?lang=en")
    assert first.status_code == 200
    assert "not declared" in first.text and "You have declared nothing yet." in first.text
    assert '<legend>Do you deal with offices electronically?</legend>' in first.text
    resent: dict[str, str] = {}
    for choice in ("yes", "no", "yes"):
        page = await gw.client.get("/ui/rny")
        resent = {**form_fields(page), "electronic_contact": choice}
        saved = await gw.client.post("/ui/rny", data=resent)
        assert saved.status_code == 303 and saved.headers["location"] == "/ui/rny?saved=1"
        clock.advance(minutes=20)  # within the session's idle time
    again = await gw.client.post("/ui/rny", data=resent)  # the browser resends the last form
    assert again.status_code == 303 and again.headers["location"] == "/ui/rny?saved=1"
    shown = await gw.client.get("/ui/rny?saved=1&lang=en")
    assert 'role="status"' in shown.text and "in force from now" in shown.text
    # Newest first, in Budapest time (UTC+1 in November): 08:30 UTC was 09:30 there.
    assert _HISTORY_ROW.findall(shown.text) == [
        ("2026-11-24 10:10", "yes"), ("2026-11-24 09:50", "no"), ("2026-11-24 09:30", "yes")]
    assert 'id="current-contact">yes' in shown.text
    assert '<time datetime="2026-11-24T09:10:00+00:00">2026-11-24 10:10</time>' in shown.text
    own = await rny.own_disposition(gw.ports, await _party(gw, citizen))
    assert [d.electronic_contact for d in own.history] == [True, False, True]
    # Neither choice: the form again, nothing declared.
    page = await gw.client.get("/ui/rny?lang=en")
    refused = await gw.client.post("/ui/rny", data=form_fields(page))
    assert refused.status_code == 422 and 'aria-invalid="true"' in refused.text
    assert 'href="#electronic_contact-yes"' in refused.text
    hungarian = await gw.client.get("/ui/rny?lang=hu")
    assert "Elektronikus kapcsolattartás" in hungarian.text
    assert len((await rny.own_disposition(gw.ports, await _party(gw, citizen))).history) == 3


async def test_offer_accept_and_revoke_by_forms(gw: Gateway) -> None:
    principal, agent = await new_citizen(gw.ports), await new_citizen(gw.ports)
    office = await new_org(gw.ports, name="Kapuvári Polgármesteri Hivatal")
    await _as(gw, principal)
    page = await gw.client.get("/ui/mandates?lang=en")
    assert page.status_code == 200 and "You have given no mandate." in page.text
    offer = {**form_fields(page), "agent_code": agent.code or "", "scope": "offices",
             "offices": f" {office.krid}, ", "valid_from": "",
             "valid_until": "2026-12-24T10:00"}
    offered = await gw.client.post("/ui/mandates", data=offer)
    assert offered.status_code == 303, offered.text
    location = offered.headers["location"]
    assert re.fullmatch(r"/ui/mandates\?offered=\d+", location)
    # The browser resends the form: still one mandate, the same outcome.
    again = await gw.client.post("/ui/mandates", data=offer)
    assert again.status_code == 303 and again.headers["location"] == location
    given = (await mandates.mandates_of(gw.ports, await _party(gw, principal))).given
    assert len(given) == 1
    mandate = given[0]
    assert mandate.id == int(location.rsplit("=", 1)[1])
    assert mandate.scope.offices == {office.krid}
    # 10:00 on Christmas Eve in Budapest is 09:00 UTC.
    assert mandate.valid_until == datetime(2026, 12, 24, 9, 0, tzinfo=UTC)
    shown = await gw.client.get(f"{location}&lang=en")
    assert f"Mandate {mandate.id} is offered" in shown.text
    row = shown.text.split(f'id="given-{mandate.id}"', 1)[1].split("</tr>", 1)[0]
    assert "waiting for the agent&#39;s acceptance" in row and (agent.code or "") in row
    assert "2026-12-24 10:00" in row and f"these offices: {office.krid}" in row

    await _as(gw, agent)
    page = await gw.client.get("/ui/mandates?lang=en")
    row = page.text.split(f'id="received-{mandate.id}"', 1)[1].split("</tr>", 1)[0]
    assert f"Accept mandate {mandate.id}" in row and f"Decline mandate {mandate.id}…" in row
    accept = f"/ui/mandates/{mandate.id}/accept"
    accepted = await gw.client.post(accept, data=_form_of(page, accept))
    assert accepted.status_code == 303
    assert accepted.headers["location"] == f"/ui/mandates?accepted={mandate.id}"
    assert (await mandates.agency(gw.ports, await _party(gw, agent), principal.code or "")
            ).covers(office.krid)
    chooser = await gw.client.get("/ui/?lang=en")
    assert f'href="/ui/mailbox/{principal.code}"' in chooser.text

    await _as(gw, principal)
    confirm = await gw.client.get(f"/ui/mandates/{mandate.id}/revoke?lang=en")
    assert confirm.status_code == 200
    assert "can no longer open the documents of" in confirm.text and "at once" in confirm.text
    revoke = f"/ui/mandates/{mandate.id}/revoke"
    revoked = await gw.client.post(revoke, data=_form_of(confirm, revoke))
    assert revoked.status_code == 303
    assert revoked.headers["location"] == f"/ui/mandates?revoked={mandate.id}"
    state = (await mandates.mandate(gw.ports, await _party(gw, principal), mandate.id))
    assert state.revoked_at is not None
    try:
        await mandates.agency(gw.ports, await _party(gw, agent), principal.code or "")
    except NotFound:
        pass
    else:
        raise AssertionError("the revoked mandate still lets the agent act")
    after = await gw.client.get(f"/ui/mandates/{mandate.id}/revoke?lang=en")
    assert "already ended" in after.text and f'action="{revoke}"' not in after.text


async def test_the_agent_declines_and_a_declined_mandate_cannot_be_accepted(
        gw: Gateway) -> None:
    principal, agent = await new_citizen(gw.ports), await new_citizen(gw.ports)
    mandate = await mandates.offer(gw.ports, await _party(gw, principal),
                                   agent_code=agent.code or "",
                                   scope=MandateScope.of(None))
    await _as(gw, agent)
    page = await gw.client.get("/ui/mandates?lang=en")
    accept = f"/ui/mandates/{mandate.id}/accept"
    stale = _form_of(page, accept)  # the Accept button of a page left open
    confirm = await gw.client.get(f"/ui/mandates/{mandate.id}/revoke?lang=en")
    assert f"Decline mandate {mandate.id}?" in confirm.text
    revoke = f"/ui/mandates/{mandate.id}/revoke"
    declined = await gw.client.post(revoke, data=_form_of(confirm, revoke))
    assert declined.status_code == 303
    refused = await gw.client.post(accept, data=stale)
    assert refused.status_code == 409 and "can no longer be accepted" in refused.text
    now = gw.clock.now()
    state = await mandates.mandate(gw.ports, await _party(gw, agent), mandate.id)
    assert state.state_at(now) is MandateState.REVOKED and state.accepted_at is None


async def test_refusals_name_their_field_and_do_nothing(gw: Gateway) -> None:
    principal, agent = await new_citizen(gw.ports), await new_citizen(gw.ports)
    stranger = await new_citizen(gw.ports)
    company = await new_org(gw.ports, PartyKind.CEG)
    await _as(gw, principal)
    page = await gw.client.get("/ui/mandates?lang=en")
    base = {**form_fields(page), "agent_code": agent.code or "", "scope": "all"}
    # Without the CSRF token: 403, whatever the form.
    for path in ("/ui/mandates", "/ui/rny", "/ui/mandates/1/accept", "/ui/mandates/1/revoke"):
        bare = {k: v for k, v in base.items() if k != "csrf_token"}
        assert (await gw.client.post(path, data=bare)).status_code == 403, path
    for changes, status, field, sentence in (
        ({"agent_code": "nincs-ilyen"}, 422, "agent_code", "names no citizen"),
        ({"agent_code": principal.code or ""}, 422, "agent_code", "or it is your own"),
        ({"agent_code": "kód\x00"}, 422, "agent_code", "names no citizen"),
        ({"scope": "offices", "offices": ""}, 422, "offices", "1 to 100 offices"),
        ({"scope": "offices", "offices": "12345"}, 422, "offices", "1 to 100 offices"),
        ({"scope": "offices", "offices": "999999999"}, 422, "offices", "1 to 100 offices"),
        ({"scope": "offices", "offices": " ".join(f"{n:09d}" for n in range(101))}, 422,
         "offices", "1 to 100 offices"),
        ({"valid_from": "holnap"}, 422, "valid_from", "Give the start"),
        ({"valid_from": "2026-12-01T10:00", "valid_until": "2026-12-01T09:00"}, 422,
         "valid_until", "later than the start"),
    ):
        page = await gw.client.get("/ui/mandates?lang=en")
        refused = await gw.client.post("/ui/mandates?lang=en",
                                       data={**base, **form_fields(page), **changes})
        assert refused.status_code == status, (changes, refused.text)
        assert sentence in refused.text, changes
        assert f'id="{field}" name="{field}"' in refused.text
        marked = refused.text.split(f'id="{field}" name="{field}"', 1)[1].split(">", 1)[0]
        assert f'aria-invalid="true" aria-describedby="{field}-error"' in marked
        assert f'<a href="#{field}">' in refused.text  # the summary at the top links to it
    assert not (await mandates.mandates_of(gw.ports, await _party(gw, principal))).given
    # A scope naming a company is fine; an overlapping second offer is a conflict (409).
    page = await gw.client.get("/ui/mandates")
    first = await gw.client.post("/ui/mandates", data={
        **base, **form_fields(page), "scope": "offices", "offices": company.krid or ""})
    assert first.status_code == 303
    page = await gw.client.get("/ui/mandates?lang=en")
    conflict = await gw.client.post("/ui/mandates?lang=en", data={**base, **form_fields(page)})
    assert conflict.status_code == 409 and "revoke that one first" in conflict.text
    assert f'value="{agent.code}" aria-invalid="true"' in conflict.text  # the form kept
    given = (await mandates.mandates_of(gw.ports, await _party(gw, principal))).given
    assert len(given) == 1
    # Another's mandate does not exist for a stranger.
    await _as(gw, stranger)
    page = await gw.client.get("/ui/mandates")
    for path in (f"/ui/mandates/{given[0].id}/accept", f"/ui/mandates/{given[0].id}/revoke",
                 "/ui/mandates/0/revoke", "/ui/mandates/x/accept"):
        answer = await gw.client.post(path, data=form_fields(page))
        assert answer.status_code == 404, path
    for path in (f"/ui/mandates/{given[0].id}/revoke", "/ui/mandates/abc/revoke"):
        assert (await gw.client.get(path)).status_code == 404
    # Nor may the principal accept their own offer.
    await _as(gw, principal)
    page = await gw.client.get("/ui/mandates")
    own = await gw.client.post(f"/ui/mandates/{given[0].id}/accept", data=form_fields(page))
    assert own.status_code == 404
    now = gw.clock.now()
    mandate = await mandates.mandate(gw.ports, await _party(gw, principal), given[0].id)
    assert mandate.state_at(now) is MandateState.PENDING


async def test_an_office_checks_the_addressee_and_the_check_is_audited(gw: Gateway) -> None:
    office = await new_org(gw.ports, name="Kapuvári Polgármesteri Hivatal")
    krid = office.krid or ""
    company = await new_org(gw.ports, PartyKind.CEG)
    clerk, company_clerk = await new_citizen(gw.ports), await new_citizen(gw.ports)
    addressee, agent = await new_citizen(gw.ports), await new_citizen(gw.ports)
    await staff_service.grant_role(gw.ports, krid=krid, username=clerk.username,
                                   role=StaffRole.CLERK)
    await staff_service.grant_role(gw.ports, krid=company.krid or "",
                                   username=company_clerk.username, role=StaffRole.ADMIN)
    principal = await _party(gw, addressee)
    await rny.declare(gw.ports, principal, electronic_contact=True)
    mandate = await mandates.offer(gw.ports, principal, agent_code=agent.code or "",
                                   scope=MandateScope.of([krid]))
    await mandates.accept(gw.ports, await _party(gw, agent), mandate.id)

    await _as(gw, clerk)
    send = await gw.client.get(f"/ui/send?box={krid}&lang=en")
    path = f"/ui/offices/{krid}/disposition"
    assert f'<a href="{path}">Check how the addressee may be contacted</a>' in send.text
    empty = await gw.client.get(f"{path}?lang=en")
    assert empty.status_code == 200 and "never refuses a send" in empty.text
    checked = await gw.client.get(f"{path}?lang=en&key={addressee.code}")
    assert checked.status_code == 200
    assert 'id="lookup-contact">yes' in checked.text
    assert f"kapcsolati kód {addressee.code}" in checked.text
    assert "2026-11-24 09:30" in checked.text  # since, in Budapest time
    mandates_shown = checked.text.split('id="lookup-mandates"', 1)[1].split("</table>", 1)[0]
    assert f"these offices: {krid}" in mandates_shown
    organisation = await gw.client.get(f"{path}?lang=en&key={company.krid}")
    assert "always: organisations are obliged" in organisation.text
    for unknown in ("nincs-ilyen", "000000000", "kód\x00"):
        missing = await gw.client.get(f"{path}?lang=en", params={"key": unknown})
        assert missing.status_code == 404 and 'aria-invalid="true"' in missing.text
        assert "There is no addressee" in missing.text
    async with gw.ports.uow() as uow:
        entries = await uow.audit.of_office(krid, None, 50)
    lookups = [(e.actor, e.detail) for e in entries if e.action == "disposition_looked_up"]
    assert [actor for actor, _ in lookups] == [clerk.username, clerk.username]
    assert lookups[-1][1].startswith(principal.username)  # oldest last: the first lookup
    # The office's log (its admins') names the lookups in words.
    await staff_service.grant_role(gw.ports, krid=krid, username=clerk.username,
                                   role=StaffRole.ADMIN)
    log = await gw.client.get(f"/ui/offices/{krid}/log?lang=en")
    assert log.text.count("looked up how a party may be contacted") == 2, log.text
    # A company's staff, a stranger, a wrong KRID: as if the page did not exist.
    for person, where in ((company_clerk, company.krid), (addressee, krid),
                          (clerk, "999999999")):
        await _as(gw, person)
        answer = await gw.client.get(f"/ui/offices/{where}/disposition",
                                     params={"key": addressee.code or ""})
        assert answer.status_code == 404, (person, where)
    async with gw.ports.uow() as uow:
        after = await uow.audit.of_office(krid, None, 50)
    assert len([e for e in after if e.action == "disposition_looked_up"]) == 2
