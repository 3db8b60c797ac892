"""An office's e-Papír topics (contract 24): the service on both databases, the REST list and
the admin's page."""

from __future__ import annotations

import re

import pytest

from gateway.domain.epapir import GENERAL_TOPIC_CODE, GENERAL_TOPIC_NAME
from gateway.domain.parties import PartyKind, StaffRole
from gateway.errors import InvalidRequest, NotFound
from gateway.services import staff as staff_service
from gateway.services import topics as topic_service
from gateway.services.audit import link_pending
from gateway.services.ports.parties import Topic
from tests.helpers import new_citizen, new_org
from tests.integration.conftest import Gateway
from tests.integration.test_web import form_fields, log_in

GENERAL = [Topic(GENERAL_TOPIC_CODE, GENERAL_TOPIC_NAME)]


async def _topic_entries(gw: Gateway, krid: str) -> list[tuple[object, ...]]:
    await link_pending(gw.ports)
    async with gw.ports.uow() as uow:
        entries = await uow.audit.entries(None, 100_000)
    return [(e.actor, e.detail) for e in entries
            if e.office_krid == krid and e.action == "topics_changed"]


async def test_set_list_replace_and_clear(gw: Gateway) -> None:
    office = await new_org(gw.ports)
    krid = office.krid or ""
    assert await topic_service.office_topics(gw.ports, krid) == GENERAL
    first = [Topic("ADO_UGY", "Adóügyek"), Topic("EPITES", "Építésügy és űrlapok")]
    _, saved = await topic_service.set_topics(gw.ports, krid, first, actor="cli")
    assert saved == first
    assert await topic_service.office_topics(gw.ports, krid) == first
    second = [Topic("SZOCIALIS", "Szociális ügyek"), Topic("ADO_UGY", "Adó")]
    await topic_service.set_topics(gw.ports, krid, second, actor=office.username,
                                   person="anna")
    assert await topic_service.office_topics(gw.ports, krid) == second  # replaced, in order
    assert await topic_service.topics_set(gw.ports, krid) == second
    await topic_service.set_topics(gw.ports, krid, [], actor="cli")
    assert await topic_service.office_topics(gw.ports, krid) == GENERAL
    assert await topic_service.topics_set(gw.ports, krid) == []
    assert await _topic_entries(gw, krid) == [
        ("cli", "ADO_UGY EPITES"), ("anna", "SZOCIALIS ADO_UGY"), ("cli", "none")]
    # Another office keeps its own.
    other = await new_org(gw.ports)
    assert await topic_service.office_topics(gw.ports, other.krid or "") == GENERAL


async def test_fifty_long_codes_fit_the_audit_entry(gw: Gateway) -> None:
    office = await new_org(gw.ports)
    krid = office.krid or ""
    topics = [Topic(f"{number:02d}".ljust(32, "X"), "n" * 200) for number in range(50)]
    await topic_service.set_topics(gw.ports, krid, topics, actor="cli")
    assert await topic_service.office_topics(gw.ports, krid) == topics
    [(_, detail)] = await _topic_entries(gw, krid)
    assert isinstance(detail, str) and len(detail) <= 255 and detail.endswith("(50 topics)")


@pytest.mark.parametrize("kind", [PartyKind.CEG, PartyKind.PER])
async def test_only_offices_have_topics(gw: Gateway, kind: PartyKind) -> None:
    company = await new_org(gw.ports, kind)
    for krid in (company.krid or "", "999999999", "12345678\x00", "abc"):
        with pytest.raises(NotFound):
            await topic_service.office_topics(gw.ports, krid)
        with pytest.raises(NotFound):
            await topic_service.set_topics(gw.ports, krid, [Topic("A", "a")], actor="cli")


async def test_a_refused_list_changes_nothing(gw: Gateway) -> None:
    office = await new_org(gw.ports)
    krid = office.krid or ""
    kept = [Topic("ADO", "Adó")]
    await topic_service.set_topics(gw.ports, krid, kept, actor="cli")
    for refused in ([Topic("ado", "kisbetű")], [Topic("A", "x"), Topic("A", "y")],
                    [Topic("A", "a\u202eb")], [Topic(f"T{n}", "n") for n in range(51)]):
        with pytest.raises(InvalidRequest) as error:
            await topic_service.set_topics(gw.ports, krid, refused, actor="cli")
        assert error.value.field == "topics"
    assert await topic_service.office_topics(gw.ports, krid) == kept
    assert len(await _topic_entries(gw, krid)) == 1


async def test_rest_lists_the_topics_to_any_party(gw: Gateway) -> None:
    office, citizen = await new_org(gw.ports), await new_citizen(gw.ports)
    path = f"/api/v1/offices/{office.krid}/topics"
    assert (await gw.client.get(path)).status_code == 401
    general = await gw.client.get(path, auth=citizen.auth)
    assert general.status_code == 200
    assert general.json() == {"items": [{"code": "ALTALANOS", "name": "általános ügy"}]}
    await topic_service.set_topics(gw.ports, office.krid or "",
                                   [Topic("EPITES", "Építésügy"), Topic("ADO", "Adó")],
                                   actor="cli")
    listed = await gw.client.get(path, auth=office.auth)
    assert listed.json() == {"items": [{"code": "EPITES", "name": "Építésügy"},
                                       {"code": "ADO", "name": "Adó"}]}
    company = await new_org(gw.ports, PartyKind.CEG)
    for krid in (company.krid, "999999999"):
        missing = await gw.client.get(f"/api/v1/offices/{krid}/topics", auth=citizen.auth)
        assert missing.status_code == 404 and missing.json()["code"] == "not_found"


def _offered(page_text: str) -> list[tuple[str, str]]:
    return re.findall(r"<tr><td>([^<]*)</td><td>([^<]*)</td></tr>", page_text)


async def test_an_admin_sets_topics_on_the_web_and_a_resent_form_has_one_effect(
        gw: Gateway) -> None:
    office = await new_org(gw.ports, name="Kapuvári Polgármesteri Hivatal")
    krid = office.krid or ""
    admin, clerk = await new_citizen(gw.ports), await new_citizen(gw.ports)
    for person, role in ((admin, StaffRole.ADMIN), (clerk, StaffRole.CLERK)):
        await staff_service.grant_role(gw.ports, krid=krid, username=person.username,
                                       role=role)
    path = f"/ui/offices/{krid}/topics"
    await log_in(gw.client, admin)
    staff = await gw.client.get(f"/ui/offices/{krid}/staff")
    assert f'href="{path}"' in staff.text  # linked from the staff page
    page = await gw.client.get(path)
    assert page.status_code == 200
    assert _offered(page.text) == [("ALTALANOS", "általános ügy")]
    form = {**form_fields(page), "topics": "ADO_UGY = Adóügyek\r\n\r\nEPITES=Építésügy\r\n"}
    saved = await gw.client.post(path, data=form)
    assert saved.status_code == 303 and saved.headers["location"] == f"{path}?done=2"
    shown = await gw.client.get(saved.headers["location"])
    assert _offered(shown.text) == [("ADO_UGY", "Adóügyek"), ("EPITES", "Építésügy")]
    assert "ADO_UGY = Adóügyek\nEPITES = Építésügy</textarea>" in shown.text
    # The browser resends the same form (same key) after the topics were changed again.
    await topic_service.set_topics(gw.ports, krid, [Topic("MAS", "Más")], actor="cli")
    again = await gw.client.post(path, data=form)
    assert again.status_code == 303 and again.headers["location"] == f"{path}?done=2"
    assert await topic_service.office_topics(gw.ports, krid) == [Topic("MAS", "Más")]
    assert [actor for actor, _ in await _topic_entries(gw, krid)] == [admin.username, "cli"]

    # Refusals: the form again with the line at fault in a sentence, nothing changed.
    for given, status, sentence in (
        ("ADO = Adó\nado = kisbetű", 400, "2. sor (ado = kisbetű)"),
        ("\nADO Adó", 400, "2. sor (ADO Adó)"),
        ("A = a\nA = b", 400, "korábbi sorban"),
    ):
        page = await gw.client.get(path)
        refused = await gw.client.post(path, data={**form_fields(page), "topics": given})
        assert refused.status_code == status and sentence in refused.text, refused.text
        assert 'aria-invalid="true"' in refused.text and given in refused.text
    english = await gw.client.get(f"{path}?lang=en")
    refused = await gw.client.post(path, data={**form_fields(english), "topics": "X ="})
    assert "Line 1 (X =): the name is missing." in refused.text
    assert await topic_service.office_topics(gw.ports, krid) == [Topic("MAS", "Más")]

    # Clearing them: the office offers the general topic again.
    page = await gw.client.get(path)
    cleared = await gw.client.post(path, data={**form_fields(page), "topics": "  \n"})
    assert cleared.headers["location"] == f"{path}?done=0"
    assert await topic_service.office_topics(gw.ports, krid) == GENERAL
    log = await gw.client.get(f"/ui/offices/{krid}/log?lang=en")
    assert "changed the e-Papír topics" in log.text

    # A clerk, and a person without a role, get 404 for the page and its form.
    for person in (clerk, await new_citizen(gw.ports)):
        gw.client.cookies.clear()
        await log_in(gw.client, person)
        assert (await gw.client.get(path)).status_code == 404
        chooser = await gw.client.get("/ui/")
        posted = await gw.client.post(path, data={**form_fields(chooser), "topics": "Z=z"})
        assert posted.status_code == 404
    assert await topic_service.office_topics(gw.ports, krid) == GENERAL
