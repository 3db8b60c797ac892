"""Hirdetmények as JSON (``/api/v1/public/notices``), on both databases and the test clock: no
credentials, shown only within the display period, readable at its own address for 8 years,
corrections with every version, each filter of the search, stable paging, refusals naming the
query field."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest

from gateway.domain.public_notices import budapest_midnight
from gateway.domain.registration import budapest_local
from gateway.ops.admission import Priority, rest_priority
from tests.helpers import PDF, Account, new_org
from tests.integration.conftest import Gateway
from tests.notices import id_of_notice, notice_xml, publish

NOTICES = "/api/v1/public/notices"


async def _search(gw: Gateway, office: Account, **query: str) -> list[str]:
    """The case numbers of what the public list shows of ``office``'s notices."""
    answer = await gw.client.get(NOTICES, params={"office": office.krid or "", **query})
    assert answer.status_code == 200, answer.text
    return [item["case_number"] for item in answer.json()["items"]]


async def _published(gw: Gateway, office: Account, at: datetime, **fields: Any) -> None:
    sent = await publish(gw.client, office, notice_xml(at, **fields))
    assert sent.status_code == 201, sent.text


async def test_a_notice_is_listed_while_shown_and_readable_at_its_address(gw: Gateway) -> None:
    office = await new_org(gw.ports)
    start = gw.clock.now() + timedelta(hours=2)
    await _published(gw, office, start, display_until=start + timedelta(days=1))
    notice_id = await id_of_notice(gw.ports, office, "H-1")
    assert await _search(gw, office) == []
    assert (await gw.client.get(f"{NOTICES}/{notice_id}")).status_code == 404  # not yet
    gw.clock.advance(hours=2)
    [item] = (await gw.client.get(NOTICES, params={"office": office.krid})).json()["items"]
    assert item["id"] == notice_id
    assert item["office"] == {"krid": office.krid, "name": f"Teszt Hivatal {office.krid}"}
    assert (item["category"], item["subject"], item["authority"], item["applicant"],
            item["case_number"], item["settlement"], item["case_worker"]) == (
        "Építésügy", "Árvízvédelmi gát építése", "Teszt Járási Hivatal", "Gátépítő Kft.",
        "BP/123-4/2026", "Szentendre", "Kovács Éva")
    # Budapest time with its offset, like every timestamp of the API.
    assert item["display_from"] == budapest_local(start).isoformat()
    assert datetime.fromisoformat(item["display_until"]) == start + timedelta(days=1)
    assert item["modified_at"] is None and item["text"].startswith("Az árvízvédelmi")
    gw.clock.advance(days=1)
    assert await _search(gw, office) == []  # its display ended …
    shown = await gw.client.get(f"{NOTICES}/{notice_id}")  # … its page stays
    assert shown.status_code == 200, shown.text
    assert [v["text"] for v in shown.json()["versions"]] == [item["text"]]
    gw.clock.advance(days=366 * 8)
    gone = await gw.client.get(f"{NOTICES}/{notice_id}")
    assert gone.status_code == 404 and gone.json()["code"] == "not_found"
    for missing in ("0", "abc", "99999999999999999999999", "-1"):
        answer = await gw.client.get(f"{NOTICES}/{missing}")
        assert answer.status_code == 404, (missing, answer.text)
        assert answer.headers["content-type"] == "application/problem+json"


async def test_a_correction_shows_both_versions_and_their_attachments(gw: Gateway) -> None:
    office = await new_org(gw.ports)
    now = gw.clock.now()
    plan = PDF + b"terv"
    sent = await publish(gw.client, office, notice_xml(now, [('Tér"kép; x.pdf', plan)]))
    assert sent.status_code == 201, sent.text
    gw.clock.advance(hours=1)
    corrected = notice_xml(now, [("terv.pdf", PDF)], correction=True, text="Javított szöveg.")
    assert (await publish(gw.client, office, corrected)).status_code == 201
    [item] = (await gw.client.get(NOTICES, params={"office": office.krid})).json()["items"]
    assert item["text"] == "Javított szöveg."
    assert datetime.fromisoformat(item["modified_at"]) == gw.clock.now()
    detail = (await gw.client.get(item["url"])).json()
    assert [(v["number"], v["text"]) for v in detail["versions"]] == [
        (1, "Az árvízvédelmi gát építési engedélyének kérelméről."),
        (2, "Javított szöveg.")]
    assert [datetime.fromisoformat(v["received_at"]) for v in detail["versions"]] == [
        now, now + timedelta(hours=1)]
    [first] = detail["versions"][0]["attachments"]
    assert (first["file_name"], first["size"]) == ('Tér"kép; x.pdf', len(plan))
    fetched = await gw.client.get(first["url"])
    assert fetched.status_code == 200 and fetched.content == plan
    # The name cannot end the header or its parameter.
    assert fetched.headers["content-disposition"] == (
        "attachment; filename=\"Ter_kep; x.pdf\"; "
        "filename*=UTF-8''T%C3%A9r%22k%C3%A9p%3B%20x.pdf")
    assert detail["attachments"] == detail["versions"][1]["attachments"]
    current = await gw.client.get(detail["attachments"][0]["url"])
    assert current.content == PDF
    for wrong in ("versions/3/attachments/1", "versions/2/attachments/2",
                  "versions/0/attachments/1", "versions/x/attachments/1"):
        answer = await gw.client.get(f"{item['url']}/{wrong}")
        assert answer.status_code == 404, (wrong, answer.text)


async def test_each_filter_alone_and_together(gw: Gateway) -> None:
    office = await new_org(gw.ports)
    now = gw.clock.now()
    today = budapest_local(now).date()
    later = today + timedelta(days=2)
    midnight = budapest_midnight(later)  # the Budapest midnight that begins ``later``
    await _published(gw, office, now, identifier="A", case_number="A",
                     display_until=midnight - timedelta(minutes=30))
    gw.clock.advance(minutes=1)
    await _published(gw, office, now, identifier="B", case_number="B",
                     display_until=midnight + timedelta(minutes=30), category="Környezetvédelem",
                     settlement="Budaörs", subject="ÚTFELÚJÍTÁS", text="Útépítés.")
    gw.clock.advance(minutes=1)
    await _published(gw, office, now - timedelta(days=3), identifier="C", case_number="C",
                     display_until=now + timedelta(days=1), applicant=None, settlement=None,
                     case_worker="Nagy Péter")
    assert await _search(gw, office) == ["C", "B", "A"]  # newest first: as they appeared
    # The period overlaps the display, in Budapest days: A ends 23:30 the day before.
    assert await _search(gw, office, **{"from": later.isoformat()}) == ["B"]
    yesterday = (today - timedelta(days=1)).isoformat()
    assert await _search(gw, office, to=yesterday) == ["C"]
    assert await _search(gw, office, **{"from": yesterday, "to": today.isoformat()}) == [
        "C", "B", "A"]
    assert await _search(gw, office, category="környezet") == ["B"]
    assert await _search(gw, office, settlement="BUDAORS") == ["B"]
    assert await _search(gw, office, subject="utfelujitas") == ["B"]
    assert await _search(gw, office, authority="jarasi") == ["C", "B", "A"]
    assert await _search(gw, office, applicant="gatepito") == ["B", "A"]
    assert await _search(gw, office, case_worker="nagy") == ["C"]
    assert await _search(gw, office, case_number="c") == ["C"]
    # Free text: every word, in any field, case and accents ignored.
    assert await _search(gw, office, q="ÁRVÍZ szentendre") == ["A"]
    assert await _search(gw, office, q="arviz") == ["C", "A"]
    assert await _search(gw, office, q="Útépítés budaörs") == ["B"]
    # Filters together: each must hold.
    assert await _search(gw, office, q="arviz", case_worker="kovacs") == ["A"]
    assert await _search(gw, office, category="epitesugy",
                         **{"from": later.isoformat()}) == []
    assert await _search(gw, office, settlement="budaors", q="arviz") == []
    empty = {name: "" for name in ("q", "category", "from", "to", "subject", "limit",
                                   "cursor")}
    assert await _search(gw, office, **empty) == ["C", "B", "A"]  # an empty field: no filter


async def test_paging_is_stable_while_new_notices_arrive(gw: Gateway) -> None:
    office = await new_org(gw.ports)
    for number in range(5):
        await _published(gw, office, gw.clock.now(), identifier=f"E{number}",
                         case_number=f"E{number}")
        gw.clock.advance(minutes=1)
    seen: list[str] = []
    cursor = ""
    arrivals = 0
    while True:
        answer = await gw.client.get(NOTICES, params={"office": office.krid, "limit": "2",
                                                      "cursor": cursor})
        page = answer.json()
        seen += [item["case_number"] for item in page["items"]]
        # More notices arrive between the pages, one with a start already past.
        await _published(gw, office, gw.clock.now() - timedelta(days=1),
                         identifier=f"N{arrivals}", case_number=f"N{arrivals}")
        arrivals += 1
        gw.clock.advance(seconds=1)
        if page["next_cursor"] is None:
            break
        cursor = page["next_cursor"]
    assert seen == ["E4", "E3", "E2", "E1", "E0"]
    assert (await _search(gw, office, limit="3")) == ["N2", "N1", "N0"]


# The query is read before the database is asked: one database is enough.
@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_bad_query_values_are_refused_naming_the_field(gw: Gateway) -> None:
    office = await new_org(gw.ports)
    for name, value in (("from", "2026-13-01"), ("to", "tegnap"), ("from", "0001-01-01"),
                        ("to", "9999-12-31"), ("q", "gát\u202e"), ("subject", "a\x01"),
                        ("limit", "0"),
                        ("limit", "101"), ("limit", "sok"), ("cursor", "nem-kurzor"),
                        ("office", "12345"), ("office", office.username)):
        answer = await gw.client.get(NOTICES, params={name: value})
        assert answer.status_code == 422, (name, value, answer.text)
        problem = answer.json()
        assert (problem["code"], problem["field"]) == ("invalid_request", name), problem
    backwards = await gw.client.get(NOTICES, params={"from": "2026-12-02", "to": "2026-12-01"})
    assert backwards.status_code == 422 and backwards.json()["field"] == "to"
    # Anyone reads them, and they are shed first under overload, like every listing.
    assert (await gw.client.get(NOTICES, auth=("senki", "rossz"))).status_code == 200
    for path in (NOTICES, f"{NOTICES}/1", f"{NOTICES}/1/versions/1/attachments/1"):
        assert rest_priority("GET", path) is Priority.SHEDDABLE
