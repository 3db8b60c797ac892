"""The hirdetmények's public pages and Atom feed (contract 26) without JavaScript, on both
databases and the test clock: the list from each notice's start, its filters and their
refusals, a notice with its versions and attachments, and the feed read by a real parser."""

from __future__ import annotations

import re
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import feedparser

from tests.helpers import PDF, new_org
from tests.integration.conftest import Gateway
from tests.notices import id_of_notice, notice_xml, publish

_SUBJECT_LINK = re.compile(r'<td class="name"><a href="/hirdetmenyek/(\d+)">([^<]+)</a>')


async def _listed(gw: Gateway, query: str) -> list[str]:
    """The subjects the list page shows for ``query``, in its order."""
    page = await gw.client.get(f"/hirdetmenyek?{query}")
    assert page.status_code == 200, page.text
    return [subject for _, subject in _SUBJECT_LINK.findall(page.text)]


async def test_the_list_and_the_feed_show_each_notice_from_its_start_by_the_filters(
        gw: Gateway) -> None:
    office = await new_org(gw.ports)
    krid, now = office.krid or "", gw.clock.now()
    later = notice_xml(now + timedelta(hours=2))
    road = notice_xml(now, identifier="H-2", subject="Útfelújítás", settlement="Budaörs",
                      category="Közlekedés", text="Útépítés & <terelés>")
    for form in (later, road):
        sent = await publish(gw.client, office, form)
        assert sent.status_code == 201, sent.text
    assert await _listed(gw, f"office={krid}") == ["Útfelújítás"]
    gw.clock.advance(hours=2)
    # Newest first: the later start stands above.
    assert await _listed(gw, f"office={krid}&lang=en") == ["Árvízvédelmi gát építése",
                                                          "Útfelújítás"]
    assert await _listed(gw, f"office={krid}&settlement=budaors") == ["Útfelújítás"]
    assert await _listed(gw, f"office={krid}&q=ARVIZ+gat&category=") == [
        "Árvízvédelmi gát építése"]
    budapest_day = (gw.clock.now() + timedelta(hours=1)).date().isoformat()
    assert len(await _listed(gw, f"office={krid}&from={budapest_day}&to={budapest_day}")) == 2

    # Paged: the next page's link carries the cursor and the filters.
    first = await gw.client.get(f"/hirdetmenyek?office={krid}&limit=1&lang=en")
    found = re.search(r'<a href="([^"]+)" rel="next" id="next-page">Next page</a>', first.text)
    assert found, first.text
    following = found.group(1).replace("&amp;", "&")
    assert parse_qs(urlsplit(following).query).keys() == {"office", "limit", "cursor"}
    second = await gw.client.get(following)
    assert [s for _, s in _SUBJECT_LINK.findall(second.text)] == ["Útfelújítás"]
    # The feed of the same search is announced.
    assert first.headers["link"] == (f'</hirdetmenyek/feed.xml?office={krid}&limit=1>;'
                                     ' rel="alternate"; type="application/atom+xml"')

    nothing = await gw.client.get(f"/hirdetmenyek?office={krid}&q=nincsilyenszo&lang=en")
    assert nothing.status_code == 200 and "No notice matches the search." in nothing.text
    # Punctuation alone holds no word to search for: nothing matches.
    assert await _listed(gw, f"office={krid}&q=%21%21") == []
    slash = await gw.client.get(f"/hirdetmenyek/?office={krid}")
    assert slash.status_code == 307
    assert slash.headers["location"] == f"/hirdetmenyek?office={krid}"

    # A bad filter: refused next to its field, nothing listed (422), in both languages.
    for query, field, says in (
            ("from=2026-13-01", "from", "is not a day"),
            ("from=0001-01-01", "from", "is out of range"),
            ("from=2026-11-25&to=2026-11-24", "to", "The period ends before it starts"),
            ("office=12", "office", "KRID: 9 digits"),
            ("q=%00", "q", "control or invisible formatting character"),
            ("subject=%E2%80%AE", "subject", "control or invisible formatting character"),
            ("cursor=nem-kurzor", "cursor", "The link to the next page was not one")):
        refused = await gw.client.get(f"/hirdetmenyek?{query}&lang=en")
        assert refused.status_code == 422, (query, refused.text)
        assert says in refused.text and 'role="alert"' in refused.text, query
        assert not _SUBJECT_LINK.findall(refused.text)
        if field != "cursor":
            assert f'id="{field}-error"' in refused.text, query
            assert re.search(rf'id="{field}"[^>]*aria-invalid="true"', refused.text), query
    hungarian = await gw.client.get(f"/hirdetmenyek?office={krid}&from=nap&lang=hu")
    assert hungarian.status_code == 422 and "Hirdetmények" in hungarian.text
    assert "nem nap" in hungarian.text
    # The footer of every page leads to the list.
    assert '<a href="/hirdetmenyek">' in (await gw.client.get("/ui/login")).text

    # The feed of the same search, read by a real parser.
    answer = await gw.client.get(f"/hirdetmenyek/feed.xml?office={krid}&lang=en")
    assert answer.status_code == 200
    assert answer.headers["content-type"] == "application/atom+xml; charset=utf-8"
    feed = feedparser.parse(answer.content)
    assert not feed.bozo, feed.bozo_exception
    assert [entry.title for entry in feed.entries] == ["Árvízvédelmi gát építése",
                                                       "Útfelújítás"]
    road_entry = feed.entries[1]
    assert road_entry.content[0].value == "Útépítés & <terelés>"
    assert road_entry.author == f"Teszt Hivatal {krid}"
    assert re.fullmatch(r"http://127\.0\.0\.1:8080/hirdetmenyek/\d+", road_entry.link)
    assert road_entry.id == road_entry.link and road_entry.tags[0].term == "Közlekedés"
    filtered = feedparser.parse(
        (await gw.client.get(f"/hirdetmenyek/feed.xml?office={krid}&settlement=budaors"))
        .content)
    assert [entry.title for entry in filtered.entries] == ["Útfelújítás"]
    [self_link] = [link.href for link in filtered.feed.links if link.rel == "self"]
    assert parse_qs(urlsplit(self_link).query) == {"office": [krid],
                                                   "settlement": ["budaors"]}
    assert (await gw.client.get("/hirdetmenyek/feed.xml?to=holnap")).status_code == 422


async def test_a_notice_page_its_versions_and_attachments(gw: Gateway) -> None:
    office = await new_org(gw.ports)
    start = gw.clock.now() + timedelta(hours=1)
    first = notice_xml(start, attachments=[("térkép.pdf", PDF)],
                       text="Első sor.\nMásodik sor.")
    assert (await publish(gw.client, office, first)).status_code == 201
    notice_id = await id_of_notice(gw.ports, office, "H-1")
    before = await gw.client.get(f"/hirdetmenyek/{notice_id}?lang=en")
    assert before.status_code == 404 and "Notice not found" in before.text
    attachment = f"/hirdetmenyek/{notice_id}/versions/1/attachments/1"
    assert (await gw.client.get(attachment)).status_code == 404

    gw.clock.advance(hours=1)
    page = await gw.client.get(f"/hirdetmenyek/{notice_id}?lang=en")
    assert page.status_code == 200
    assert '<div class="notice-text">Első sor.\nMásodik sor.</div>' in page.text
    for shown in ("Árvízvédelmi gát építése", "Teszt Járási Hivatal", "Gátépítő Kft.",
                  "BP/123-4/2026", "Szentendre", "Kovács Éva", "Építésügy", office.krid or ""):
        assert shown in page.text, shown
    assert 'id="modified"' not in page.text and 'id="versions"' not in page.text
    downloaded = await gw.client.get(attachment)
    assert downloaded.status_code == 200 and downloaded.content == PDF
    assert downloaded.headers["content-disposition"] == (
        "attachment; filename=\"terkep.pdf\"; filename*=UTF-8''t%C3%A9rk%C3%A9p.pdf")

    gw.clock.advance(hours=1)
    corrected = notice_xml(start, correction=True, text="Javított szöveg.",
                           attachments=[("új.txt", b"uj melleklet\n")])
    assert (await publish(gw.client, office, corrected)).status_code == 201
    page = await gw.client.get(f"/hirdetmenyek/{notice_id}?lang=en")
    assert 'id="modified">Modified on <time' in page.text
    assert '<div class="notice-text">Javított szöveg.</div>' in page.text
    earlier = page.text.split('id="versions"', 1)[1]
    assert "Version 1, arrived" in earlier
    assert '<div class="notice-text">Első sor.\nMásodik sor.</div>' in earlier
    assert (await gw.client.get(attachment)).content == PDF  # the earlier version's, kept
    new = await gw.client.get(f"/hirdetmenyek/{notice_id}/versions/2/attachments/1")
    assert new.content == b"uj melleklet\n"
    listed = await gw.client.get(f"/hirdetmenyek?office={office.krid}&lang=en")
    assert "modified on <time" in listed.text
    [entry] = feedparser.parse(
        (await gw.client.get(f"/hirdetmenyek/feed.xml?office={office.krid}")).content).entries
    # Updated when corrected; published when it appeared.
    assert (entry.updated, entry.published) == (gw.clock.now().isoformat(), start.isoformat())
    hungarian = await gw.client.get(f"/hirdetmenyek/{notice_id}?lang=hu")
    assert "Korábbi változatok" in hungarian.text

    for missing in (f"/hirdetmenyek/{notice_id}/versions/3/attachments/1",
                    f"/hirdetmenyek/{notice_id}/versions/1/attachments/2",
                    "/hirdetmenyek/999999999", "/hirdetmenyek/99999999999999999999",
                    "/hirdetmenyek/nem-szam"):
        assert (await gw.client.get(missing)).status_code == 404, missing
    # Shown for 30 days, then readable for 8 years, no longer listed.
    gw.clock.advance(days=31)
    assert (await gw.client.get(f"/hirdetmenyek/{notice_id}")).status_code == 200
    assert await _listed(gw, f"office={office.krid}") == []
