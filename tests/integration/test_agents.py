"""An agent acting for a principal under a mandate (contract 25), through every door on both
databases and the test clock: the principal's tárhely lists and opens only documents from
offices within scope (opening is receiving, and the download receipt names the agent in
``Eljaro``, verified by the real ``xmlsec1``); documents and e-Papír go out in the principal's
name to offices within scope only; outside scope or time the principal's documents do not
exist for the agent; ``on_behalf_of`` reaches nothing else over REST."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import httpx
from lxml import etree

from gateway.domain.parties import Party, StaffRole
from gateway.domain.rny import Mandate, MandateScope
from gateway.services import mandates
from gateway.services import staff as staff_service
from gateway.services.audit import link_pending
from tests.conftest import FixedClock
from tests.helpers import PDF, Account, new_citizen, new_org, upload, upload_form
from tests.integration.conftest import Gateway
from tests.integration.test_evidence import xmlsec_verify
from tests.integration.test_web import form_fields, log_in, sent_number

IGAZOLAS = "{urn:kapu:igazolas:1}"


@dataclass(frozen=True)
class Scene:
    principal: Account
    agent: Account
    in_scope: Account  # an office the mandate reaches
    outside: Account  # one it does not
    mandate: Mandate


async def _party(gw: Gateway, account: Account) -> Party:
    async with gw.ports.uow() as uow:
        party = await uow.parties.by_username(account.username)
    assert party is not None
    return party


async def _mandate(gw: Gateway, principal: Account, agent: Account, offices: list[str], *,
                   accept: bool = True, until: timedelta | None = None) -> Mandate:
    given = await mandates.offer(
        gw.ports, await _party(gw, principal), agent_code=agent.code or "",
        scope=MandateScope.of(offices),
        valid_until=gw.clock.now() + until if until is not None else None)
    if accept:
        given = await mandates.accept(gw.ports, await _party(gw, agent), given.id)
    return given


async def _scene(gw: Gateway, *, accept: bool = True,
                 until: timedelta | None = None) -> Scene:
    principal = await new_citizen(gw.ports)
    agent = await new_citizen(gw.ports, email="meghatalmazott@example.hu")
    in_scope, outside = await new_org(gw.ports), await new_org(gw.ports)
    mandate = await _mandate(gw, principal, agent, [in_scope.krid or ""], accept=accept,
                             until=until)
    return Scene(principal, agent, in_scope, outside, mandate)


async def _sent(gw: Gateway, sender: Account, to: Account, **fields: str) -> str:
    answer = await upload(gw.client, sender, to, **fields)
    assert answer.status_code == 201, answer.text
    number: str = answer.json()["registration_number"]
    return number


def _for(scene: Scene) -> dict[str, str]:
    return {"on_behalf_of": scene.principal.code or ""}


async def _listed(gw: Gateway, scene: Scene, **query: str) -> httpx.Response:
    return await gw.client.get("/api/v1/mailbox", auth=scene.agent.auth,
                               params={**_for(scene), "state": "all", **query})


async def _entries(gw: Gateway, number: str) -> set[tuple[str, str, str | None]]:
    await link_pending(gw.ports)
    async with gw.ports.uow() as uow:
        entries = await uow.audit.entries(None, 1_000_000)
    return {(str(e.actor), str(e.action), e.detail if isinstance(e.detail, str) else None)
            for e in entries if e.registration_number == number}


def _eljaro(receipt: bytes) -> tuple[str | None, str | None] | None:
    root = etree.fromstring(receipt)
    found = root.find(f"{IGAZOLAS}Eljaro")
    if found is None:
        return None
    return found.findtext(f"{IGAZOLAS}Nev"), found.findtext(f"{IGAZOLAS}KapcsolatiKod")


async def _download_receipt(gw: Gateway, sender: Account, number: str) -> httpx.Response:
    return await gw.client.get(f"/api/v1/documents/{number}/receipts/download",
                               auth=sender.auth)


async def test_over_rest_the_agent_lists_and_receives_only_within_scope(
        gw: Gateway, tmp_path: Path) -> None:
    scene = await _scene(gw)
    first = await _sent(gw, scene.in_scope, scene.principal, return_receipt="true")
    hidden = await _sent(gw, scene.outside, scene.principal)
    second = await _sent(gw, scene.in_scope, scene.principal)

    # Paged one by one in SQL: the out-of-scope document between them is never a page.
    seen, cursor = [], None
    for _ in range(3):
        page = (await _listed(gw, scene, limit="1", **({"cursor": cursor} if cursor else {}))
                ).json()
        seen += [item["registration_number"] for item in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == [first, second]
    own = (await gw.client.get("/api/v1/mailbox", auth=scene.principal.auth)).json()["items"]
    assert {item["registration_number"] for item in own} == {first, hidden, second}

    for path in (f"/api/v1/documents/{hidden}", f"/api/v1/documents/{hidden}/content"):
        refused = await gw.client.get(path, auth=scene.agent.auth, params=_for(scene))
        assert refused.status_code == 404 and refused.json()["code"] == "not_found"
    # Without on_behalf_of the agent acts as themselves, and the principal's is not theirs.
    assert (await gw.client.get(f"/api/v1/documents/{first}",
                                auth=scene.agent.auth)).status_code == 404

    metadata = await gw.client.get(f"/api/v1/documents/{first}", auth=scene.agent.auth,
                                   params=_for(scene))
    assert metadata.status_code == 200 and metadata.json()["delivery_state"] == "waiting"
    assert metadata.json()["acting_person"] is None  # the office sent it itself
    opened = await gw.client.get(f"/api/v1/documents/{first}/content", auth=scene.agent.auth,
                                 params=_for(scene))
    assert opened.status_code == 200 and opened.content == PDF

    receipt = await _download_receipt(gw, scene.in_scope, first)
    assert receipt.status_code == 200
    assert _eljaro(receipt.content) == ("Teszt Polgár", scene.agent.code)
    ca = (await gw.client.get("/api/v1/trust")).content
    assert xmlsec_verify(receipt.content, ca, tmp_path, gw.clock.now())
    assert scene.agent.code is not None  # the agent named is part of what is signed
    assert not xmlsec_verify(receipt.content.replace(scene.agent.code.encode(), b"0" * 32),
                             ca, tmp_path, gw.clock.now())
    # Received for the principal: theirs shows it downloaded, the sender's e-tértivevény came.
    theirs = await gw.client.get(f"/api/v1/documents/{first}", auth=scene.principal.auth)
    assert theirs.json()["delivery_state"] == "downloaded"
    system = (await gw.client.get("/api/v1/mailbox?sender_type=system",
                                  auth=scene.in_scope.auth)).json()["items"]
    assert [m["reference_number"] for m in system] == [first]

    # The principal's own opening: a receipt without Eljaro, as before mandates.
    await gw.client.get(f"/api/v1/documents/{hidden}/content", auth=scene.principal.auth)
    plain = (await _download_receipt(gw, scene.outside, hidden)).content
    assert _eljaro(plain) is None and b"Eljaro" not in plain

    acted = await _entries(gw, first)
    principal = await _party(gw, scene.principal)
    agent = await _party(gw, scene.agent)
    assert (agent.username, "downloaded", f"for {principal.username}") in acted
    assert (agent.username, "acknowledged", f"for {principal.username}") in acted
    assert not any(actor == principal.username for actor, _, _ in acted)


async def test_on_the_web_the_agent_opens_the_principals_tarhely(
        gw: Gateway, tmp_path: Path) -> None:
    scene = await _scene(gw)
    shown = await _sent(gw, scene.in_scope, scene.principal, file_name="hatarozat.pdf")
    hidden = await _sent(gw, scene.outside, scene.principal, file_name="titkos.pdf")
    await log_in(gw.client, scene.agent)
    chooser = await gw.client.get("/ui/?lang=en")
    assert f"/ui/mailbox/{scene.principal.code}" in chooser.text

    tarhely = await gw.client.get(f"/ui/mailbox/{scene.principal.code}?lang=en")
    assert tarhely.status_code == 200
    assert shown in tarhely.text and hidden not in tarhely.text
    assert 'id="acting-for"' in tarhely.text and "under a mandate" in tarhely.text
    assert "/ui/storage" not in tarhely.text  # the principal's tartós tár stays theirs
    searched = await gw.client.get(f"/ui/mailbox/{scene.principal.code}?q=titkos")
    assert searched.status_code == 200 and hidden not in searched.text

    page = await gw.client.get(f"/ui/documents/{hidden}")
    assert page.status_code == 404
    assert (await gw.client.get(f"/ui/documents/{hidden}/content")).status_code == 404
    own_page = await gw.client.get(f"/ui/documents/{shown}?lang=en")
    refused = await gw.client.post(f"/ui/documents/{hidden}/open",
                                   data=form_fields(own_page))
    assert refused.status_code == 404
    assert (await _download_receipt(gw, scene.outside, hidden)).status_code == 404

    assert own_page.status_code == 200 and 'id="acting-for"' in own_page.text
    assert "Opening is receiving" in own_page.text and "Keep in the tartós tár" not in \
        own_page.text
    assert (await gw.client.get(f"/ui/documents/{shown}/content")).content != PDF  # a GET
    opening = await gw.client.post(f"/ui/documents/{shown}/open", data=form_fields(own_page))
    assert opening.status_code == 303
    opened = await gw.client.get(opening.headers["location"])
    assert opened.status_code == 200 and opened.content == PDF

    receipt = (await _download_receipt(gw, scene.in_scope, shown)).content
    assert _eljaro(receipt) == ("Teszt Polgár", scene.agent.code)
    ca = (await gw.client.get("/api/v1/trust")).content
    assert xmlsec_verify(receipt, ca, tmp_path, gw.clock.now())
    principal = await _party(gw, scene.principal)
    assert (scene.agent.username, "acknowledged", f"for {principal.username}") in \
        await _entries(gw, shown)

    # The agent's own tartós tár and address are their own, never the principal's.
    storage = await gw.client.get("/ui/storage")
    assert storage.status_code == 200 and shown not in storage.text
    stranger = await new_citizen(gw.ports)
    assert (await gw.client.get(f"/ui/mailbox/{stranger.code}")).status_code == 404


async def test_before_acceptance_after_expiry_and_after_revocation_nothing_exists(
        gw: Gateway, clock: FixedClock) -> None:
    scene = await _scene(gw, accept=False, until=timedelta(days=3))
    number = await _sent(gw, scene.in_scope, scene.principal)
    agent = await _party(gw, scene.agent)
    principal = await _party(gw, scene.principal)
    web = httpx.AsyncClient(transport=httpx.ASGITransport(app=gw.app),
                            base_url="http://kapu.test")
    async with web:

        async def answers() -> tuple[int, int, int, int]:
            await log_in(web, scene.agent)  # the session's idle timeout runs on the clock too
            listed = await _listed(gw, scene)
            metadata = await gw.client.get(f"/api/v1/documents/{number}",
                                           auth=scene.agent.auth, params=_for(scene))
            box = await web.get(f"/ui/mailbox/{scene.principal.code}")
            page = await web.get(f"/ui/documents/{number}")
            return (listed.status_code, metadata.status_code, box.status_code,
                    page.status_code)

        assert await answers() == (404, 404, 404, 404)  # pending: not yet accepted
        await mandates.accept(gw.ports, agent, scene.mandate.id)
        assert await answers() == (200, 200, 200, 200)
        clock.advance(days=3)  # valid_until, on the test clock
        assert await answers() == (404, 404, 404, 404)

        for revoker in (principal, agent):
            renewed = await _mandate(gw, scene.principal, scene.agent,
                                     [scene.in_scope.krid or ""])
            assert await answers() == (200, 200, 200, 200)
            await mandates.revoke(gw.ports, revoker, renewed.id)
            assert await answers() == (404, 404, 404, 404)


async def test_the_agent_sends_in_the_principals_name_within_scope_only(
        gw: Gateway, tmp_path: Path) -> None:
    scene = await _scene(gw)
    agent = await _party(gw, scene.agent)
    principal = await _party(gw, scene.principal)

    answer = await gw.client.post(
        "/api/v1/documents", auth=scene.agent.auth, params=_for(scene),
        data=upload_form(scene.in_scope), files={"file": ("kerelem.pdf", PDF)})
    assert answer.status_code == 201, answer.text
    number = answer.json()["registration_number"]
    seen = (await gw.client.get(f"/api/v1/documents/{number}", auth=scene.in_scope.auth)
            ).json()
    assert seen["sender"]["kind"] == "citizen" and seen["sender"]["code"] == principal.code
    assert seen["acting_person"] == {"name": agent.name, "code": agent.code}
    assert (await gw.client.get(f"/api/v1/documents/{number}", auth=scene.principal.auth)
            ).json()["acting_person"] == {"name": agent.name, "code": agent.code}
    receipts = await gw.client.get(f"/api/v1/documents/{number}/receipts",
                                   auth=scene.agent.auth, params=_for(scene))
    assert [r["kind"] for r in receipts.json()["items"]] == ["acceptance"]
    acceptance = await gw.client.get(f"/api/v1/documents/{number}/receipts/acceptance",
                                     auth=scene.agent.auth, params=_for(scene))
    assert acceptance.status_code == 200
    assert (scene.agent.username, "accepted", f"for {principal.username}") in \
        await _entries(gw, number)

    before = (await gw.client.get("/api/v1/mailbox", auth=scene.outside.auth)).json()
    refused = await gw.client.post(
        "/api/v1/documents", auth=scene.agent.auth, params=_for(scene),
        data=upload_form(scene.outside), files={"file": ("kerelem.pdf", PDF)})
    assert refused.status_code == 403
    assert (refused.json()["code"], refused.json()["field"]) == ("forbidden", "recipient_krid")
    assert (await gw.client.get("/api/v1/mailbox", auth=scene.outside.auth)).json() == before
    kept = await gw.client.post(
        "/api/v1/documents", auth=scene.agent.auth, params=_for(scene),
        data=upload_form(scene.in_scope, keep_copy="true"), files={"file": ("k.pdf", PDF)})
    assert kept.status_code == 403 and kept.json()["field"] == "keep_copy"
    assert (await gw.client.get("/api/v1/storage", auth=scene.principal.auth)).json()[
        "items"] == []

    # What the principal sent outside scope does not exist for the agent, receipts included.
    own = await _sent(gw, scene.principal, scene.outside)
    for path in (f"/api/v1/documents/{own}", f"/api/v1/documents/{own}/receipts",
                 f"/api/v1/documents/{own}/receipts/acceptance"):
        assert (await gw.client.get(path, auth=scene.agent.auth,
                                    params=_for(scene))).status_code == 404

    # e-Papír in the principal's name.
    epapir = {"recipient_krid": scene.in_scope.krid or "", "topic": "ALTALANOS",
              "subject": "Kérelem", "text": "Kérem az ügyem intézését."}
    written = await gw.client.post("/api/v1/epapir", auth=scene.agent.auth, params=_for(scene),
                                   files=_multipart(epapir))
    assert written.status_code == 201, written.text
    paper = written.json()["registration_number"]
    paper_seen = (await gw.client.get(f"/api/v1/documents/{paper}",
                                      auth=scene.in_scope.auth)).json()
    assert paper_seen["sender"]["code"] == principal.code
    assert paper_seen["acting_person"] == {"name": agent.name, "code": agent.code}
    outside_paper = await gw.client.post(
        "/api/v1/epapir", auth=scene.agent.auth, params=_for(scene),
        files=_multipart({**epapir, "recipient_krid": scene.outside.krid or ""}))
    assert outside_paper.status_code == 403
    assert outside_paper.json()["field"] == "recipient_krid"

    # On the web: the send form and the e-Papír form, in the principal's name.
    await log_in(gw.client, scene.agent)
    form = await gw.client.get(f"/ui/send?box={scene.principal.code}&lang=en")
    assert form.status_code == 200 and 'id="acting-for"' in form.text
    fields = {**form_fields(form), **upload_form(scene.in_scope)}
    sent = await gw.client.post(f"/ui/send?box={scene.principal.code}", data=fields,
                                files={"file": ("level.pdf", PDF)})
    by_web = sent_number(sent)
    listing = await gw.client.get(sent.headers["location"])
    assert by_web in listing.text and number in listing.text and own not in listing.text
    office_page = await _office_page(gw, scene.in_scope, by_web)
    assert 'id="acting-person"' in office_page and agent.name in office_page
    form = await gw.client.get(f"/ui/send?box={scene.principal.code}&lang=en")
    outside_web = await gw.client.post(
        f"/ui/send?box={scene.principal.code}&lang=en",
        data={**form_fields(form), **upload_form(scene.outside)},
        files={"file": ("level.pdf", PDF)})
    assert outside_web.status_code == 403
    assert "The mandate does not reach that office" in outside_web.text

    page = await gw.client.get(
        f"/ui/epapir?office={scene.in_scope.krid}&box={scene.principal.code}")
    assert f'value="{scene.principal.code}" checked' in page.text
    web_paper = await gw.client.post(
        f"/ui/epapir?office={scene.in_scope.krid}",
        files=_multipart({**form_fields(page), **epapir, "as": scene.principal.code or ""}))
    paper_number = sent_number(web_paper)
    assert (await gw.client.get(f"/api/v1/documents/{paper_number}", auth=scene.in_scope.auth)
            ).json()["acting_person"] == {"name": agent.name, "code": agent.code}
    page = await gw.client.get(f"/ui/epapir?office={scene.outside.krid}")
    refused_paper = await gw.client.post(
        f"/ui/epapir?office={scene.outside.krid}&lang=en",
        files=_multipart({**form_fields(page), **epapir,
                          "recipient_krid": scene.outside.krid or "",
                          "as": scene.principal.code or ""}))
    assert refused_paper.status_code == 422
    assert "The mandate does not reach this office" in refused_paper.text


def _multipart(fields: dict[str, str]) -> list[tuple[str, tuple[None, str]]]:
    """A multipart/form-data body without a file (httpx sends a form without files
    urlencoded)."""
    return [(name, (None, value)) for name, value in fields.items()]


async def _office_page(gw: Gateway, office: Account, number: str) -> str:
    """The office's clerk's view of the document's page."""
    clerk = await new_citizen(gw.ports)
    await staff_service.grant_role(gw.ports, krid=office.krid or "", username=clerk.username,
                                   role=StaffRole.CLERK)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=gw.app),
                                 base_url="http://kapu.test") as web:
        await log_in(web, clerk)
        page = await web.get(f"/ui/documents/{number}?lang=en")
    assert page.status_code == 200
    return page.text


async def test_on_behalf_of_reaches_nothing_else_over_rest(gw: Gateway) -> None:
    scene = await _scene(gw)
    number = await _sent(gw, scene.in_scope, scene.principal)
    params = _for(scene)
    for method, path in (("GET", "/api/v1/storage"), ("POST", "/api/v1/me/address"),
                         ("PUT", "/api/v1/keys/me"), ("DELETE", "/api/v1/keys/me"),
                         ("GET", "/api/v1/me/disposition"), ("PUT", "/api/v1/me/disposition"),
                         ("POST", f"/api/v1/documents/{number}/keep"),
                         ("POST", f"/api/v1/documents/{number}/ack"),
                         ("GET", "/api/v1/notifications"),
                         ("GET", f"/api/v1/documents/{number}/timestamp")):
        answer = await gw.client.request(method, path, auth=scene.agent.auth, params=params,
                                         content=b"{}")
        assert answer.status_code == 404, (method, path, answer.text)
    # Nothing changed: both keep their addresses, the document waits, nothing was kept.
    assert (await _party(gw, scene.principal)).code == scene.principal.code
    assert (await _party(gw, scene.agent)).code == scene.agent.code
    waiting = await gw.client.get(f"/api/v1/documents/{number}", auth=scene.principal.auth)
    assert waiting.json()["delivery_state"] == "waiting"
    stored = (await gw.client.get("/api/v1/storage", auth=scene.principal.auth)).json()
    assert number not in str(stored)


async def test_the_principals_new_address_keeps_the_mandate(gw: Gateway) -> None:
    scene = await _scene(gw)
    number = await _sent(gw, scene.in_scope, scene.principal)
    swapped = await gw.client.post("/api/v1/me/address", auth=scene.principal.auth)
    new_code = swapped.json()["code"]
    old = await _listed(gw, scene)
    assert old.status_code == 404
    renewed = await gw.client.get("/api/v1/mailbox", auth=scene.agent.auth,
                                  params={"on_behalf_of": new_code, "state": "all"})
    assert [item["registration_number"] for item in renewed.json()["items"]] == [number]
    await log_in(gw.client, scene.agent)
    assert (await gw.client.get(f"/ui/mailbox/{scene.principal.code}")).status_code == 404
    assert number in (await gw.client.get(f"/ui/mailbox/{new_code}")).text
