"""Hirdetmények for everyone (contract 26, 225/2009 Korm. r. 11. §): the search of 11. § (2)
at ``/hirdetmenyek``, each notice with its earlier versions at ``/hirdetmenyek/{id}``, their
attachments, and the same search as an Atom feed at ``/hirdetmenyek/feed.xml``.

No login, no ``/ui`` prefix: the notices are public, and their addresses are the ones the
contract names. The page, the feed and the JSON take the same query names
(``domain.public_notices.query_of``); the services decide what is shown when."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from jinja2 import Environment, FileSystemLoader

from gateway.domain.limits import EARLIEST_DAY, LATEST_DAY, forbidden_character
from gateway.domain.public_notices import (
    BUDAPEST,
    MAX_PAGE,
    QUERY_NAMES,
    NoticePage,
    query_of,
)
from gateway.errors import InvalidRequest, NotFound
from gateway.multipart import attachment_disposition
from gateway.services import public_notices as notice_service
from gateway.web import i18n
from gateway.web.deps import ports_of, session_person
from gateway.web.pages import finish, language_of, render
from gateway.web.refusals import WebRoute, not_found

router = APIRouter(prefix="/hirdetmenyek", include_in_schema=False, route_class=WebRoute)

FEED_TYPE = "application/atom+xml"
# The filters a link carries on (to the next page, to the feed, from the feed to the page):
# every query name but the cursor, which belongs to one page.
_FILTERS = tuple(name for name in QUERY_NAMES if name != "cursor")
# Characters XML 1.0 cannot hold at all, not even escaped. A form's fields came through an XML
# parser, so none is expected; an office's name came from elsewhere.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")

# The feed is built with Jinja2, as the pages are: no new dependency, the same `_` and dates,
# and its shape readable in one template. Autoescaping for every value (not by file name, as
# the pages' environment chooses) escapes &, < and the quotes of attributes; ``finalize``
# drops what XML cannot hold even escaped.
_FEED = Environment(
    loader=FileSystemLoader(i18n.LOCALE_DIR.parent / "templates"),
    autoescape=True, auto_reload=False,
    finalize=lambda value: _NOT_XML.sub("", value) if isinstance(value, str) else value,
)


@dataclass(frozen=True)
class Search:
    """A search as the page shows it: the filters as given, the page of notices, and the
    refusal of a filter (its field, and why) when nothing could be searched."""

    given: dict[str, str]
    page: NoticePage
    refused: tuple[str, str] | None = None


def _given(request: Request) -> dict[str, str]:
    """The filters of the query string, as typed (shown again in the form)."""
    return {name: value for name in _FILTERS
            if (value := request.query_params.get(name, "").strip())}


def _why(request: Request, error: InvalidRequest) -> tuple[str, str]:
    """The refused field and the kind of its problem, for the page's message."""
    field = error.field or "q"
    if field in ("from", "to"):
        try:
            day = date.fromisoformat(request.query_params.get(field, "").strip())
        except ValueError:
            return field, "day"
        if field == "to" and EARLIEST_DAY <= day <= LATEST_DAY:
            return field, "order"
        return field, "range"
    if field in ("office", "limit", "cursor"):
        return field, field
    if forbidden_character(request.query_params.get(field, "")) is not None:
        return field, "character"
    return field, "long"


async def _search(request: Request) -> Search:
    given = _given(request)
    try:
        query = query_of(request.query_params)
    except InvalidRequest as error:
        return Search(given, NoticePage(), _why(request, error))
    return Search(given, await notice_service.search(ports_of(request), query))


def _link(path: str, given: dict[str, str], **more: str) -> str:
    values = {**given, **more}
    return f"{path}?{urlencode(values)}" if values else path


@router.get("")
async def notices_page(request: Request) -> Response:
    """The search of 11. § (2) as a GET form, its notices newest first and a link to the next
    page; a refused filter is shown next to its field (422)."""
    await session_person(request)  # the page frame shows who is logged in, if anyone
    return await _list_page(request, await _search(request))


async def _list_page(request: Request, search: Search) -> Response:
    next_page = None
    if search.page.next_cursor is not None:
        next_page = _link("/hirdetmenyek", search.given,
                          cursor=search.page.next_cursor.token())
    feed = _link("/hirdetmenyek/feed.xml", search.given)
    response = render(request, "notices.html", {
        "given": search.given, "notices": search.page.items, "next_page": next_page,
        "refused": search.refused, "feed": feed, "max_page": MAX_PAGE,
        "earliest": EARLIEST_DAY.isoformat(), "latest": LATEST_DAY.isoformat(),
        "paged": "cursor" in request.query_params,
    }, status_code=422 if search.refused else 200)
    # The feed of this search, announced as a <link rel="alternate"> would (RFC 8288): the
    # pages' frame has no place for a page's own head elements.
    response.headers["Link"] = f'<{feed}>; rel="alternate"; type="{FEED_TYPE}"'
    return response


@router.get("/feed.xml")
async def feed(request: Request) -> Response:
    """The search as an Atom feed (RFC 4287), newest first: one entry per notice, its self
    link carrying the filters, a ``next`` link (RFC 5005) where more notices follow. A refused
    filter: the search page with its refusal (422), for the person who followed the link."""
    search = await _search(request)
    if search.refused is not None:
        await session_person(request)
        return await _list_page(request, search)
    ports, language = ports_of(request), language_of(request)
    translations = i18n.translations(language)

    def _(message: str) -> str:
        return translations.ugettext(message)

    base = ports.public_url.rstrip("/")
    in_cursor = request.query_params.get("cursor", "").strip()
    self_link = base + _link("/hirdetmenyek/feed.xml", search.given,
                             **({"cursor": in_cursor} if in_cursor else {}))
    next_link = None
    if search.page.next_cursor is not None:
        next_link = base + _link("/hirdetmenyek/feed.xml", search.given,
                                 cursor=search.page.next_cursor.token())
    updated = [notice.modified_at or notice.listed_at for notice in search.page.items]
    xml = _FEED.get_template("notices_feed.xml").render(
        language=language, base=base, notices=search.page.items,
        # The feed changes when a notice appears or is corrected; empty, it is as of now.
        updated=max(updated, default=ports.clock.now()),
        self_link=self_link, next_link=next_link,
        page_link=base + _link("/hirdetmenyek", search.given),
        title=_("Public notices") + " – Kapu",
        labels={"authority": _("Acting authority"), "case_number": _("Case number"),
                "settlement": _("Settlement"), "display": _("Shown")},
        when=_budapest)
    return finish(request, Response(xml, media_type=f"{FEED_TYPE}; charset=utf-8"))


def _budapest(instant: datetime) -> str:
    """A moment as Budapest time, as the feed's texts show it."""
    return instant.astimezone(BUDAPEST).strftime("%Y-%m-%d %H:%M")


@router.get("/{notice_id:int}")
async def notice_page(request: Request, notice_id: int) -> Response:
    """A notice exactly as sent, every field, its attachments, and its earlier versions; one
    not shown yet, or no longer kept, is not found (404)."""
    await session_person(request)
    try:
        notice = await notice_service.notice(ports_of(request), notice_id)
    except NotFound:
        return render(request, "notice.html", {"notice": None}, status_code=404)
    return render(request, "notice.html", {"notice": notice})


@router.get("/{notice_id:int}/versions/{version:int}/attachments/{index:int}")
async def notice_attachment(request: Request, notice_id: int, version: int,
                            index: int) -> Response:
    """An attachment of a notice's version as sent (both numbered from 1), as a download."""
    file_name, content = await notice_service.attachment(ports_of(request), notice_id,
                                                         version, index)
    return finish(request, Response(content, media_type="application/octet-stream", headers={
        "Content-Disposition": attachment_disposition(file_name)}))


# Last: any other path under /hirdetmenyek is a page that does not exist; ``/hirdetmenyek/``
# is the list (this catch-all would otherwise answer before the app's slash redirect).
@router.get("/{anything:path}")
async def missing(request: Request, anything: str) -> Response:
    if not anything:
        query = f"?{request.url.query}" if request.url.query else ""
        return finish(request, RedirectResponse(f"/hirdetmenyek{query}", status_code=307))
    await session_person(request)
    return not_found(request)

