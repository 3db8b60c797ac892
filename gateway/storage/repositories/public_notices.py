"""Hirdetmények (public notices): notices, their versions, and their search with each
database's own full-text index (PostgreSQL: a tsvector of the given terms and a GIN index;
SQLite: an FTS5 table of the same terms)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    String,
    bindparam,
    cast,
    func,
    insert,
    literal_column,
    select,
    text,
    tuple_,
    union_all,
    update,
)
from sqlalchemy.dialects import postgresql
from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql import ColumnElement, Select, Subquery

from gateway.domain.parties import Party, PartyKind
from gateway.domain.public_notices import (
    NoticeCursor,
    NoticeForm,
    NoticePage,
    NoticeQuery,
    NoticeVersion,
    PublicNotice,
    attachments_from_stored,
)
from gateway.services.ports.public_notices import NoticeArrival
from gateway.storage.tables import (
    documents,
    parties,
    public_notice_versions,
    public_notices,
)

_OFFICE_FIELDS = ("id", "kind", "name", "username", "krid", "short_name", "mak_code", "code",
                  "email")
_SELECT: Select[Any] = (
    select(public_notices.c.id, public_notices.c.identifier, public_notices.c.version,
           *(public_notices.c[name] for name in (
               "category", "subject", "authority", "applicant", "case_number", "settlement",
               "case_worker", "display_from", "display_until", "text", "attachments",
               "listed_at", "published_at", "modified_at", "keep_until")),
           *(parties.c[name].label(f"office_{name}") for name in _OFFICE_FIELDS))
    .join(parties, parties.c.id == public_notices.c.office_id)
)


def _content(form: NoticeForm) -> dict[str, Any]:
    return {"category": form.category, "subject": form.subject, "authority": form.authority,
            "applicant": form.applicant, "case_number": form.case_number,
            "settlement": form.settlement, "case_worker": form.case_worker,
            "display_from": form.display_from, "display_until": form.display_until,
            "text": form.text, "attachments": form.attachments_stored()}


def _form(row: RowMapping, identifier: str, correction: bool) -> NoticeForm:
    return NoticeForm(
        identifier=identifier, correction=correction, category=row["category"],
        subject=row["subject"], authority=row["authority"], applicant=row["applicant"],
        case_number=row["case_number"], settlement=row["settlement"],
        case_worker=row["case_worker"], display_from=row["display_from"],
        display_until=row["display_until"], text=row["text"],
        attachments=attachments_from_stored(row["attachments"]))


def _notice(row: RowMapping, versions: tuple[NoticeVersion, ...] = ()) -> PublicNotice:
    office = Party(id=row["office_id"], kind=PartyKind(row["office_kind"]),
                   name=row["office_name"], username=row["office_username"],
                   krid=row["office_krid"], short_name=row["office_short_name"],
                   mak_code=row["office_mak_code"], code=row["office_code"],
                   email=row["office_email"])
    return PublicNotice(
        id=row["id"], office=office,
        form=_form(row, row["identifier"], row["version"] > 1),
        listed_at=row["listed_at"], published_at=row["published_at"],
        modified_at=row["modified_at"], keep_until=row["keep_until"], versions=versions)


def _tsquery(prefixes: list[str]) -> str:
    """PostgreSQL's tsquery of terms given whole (no configuration parses them): each term a
    prefix. Terms are folded letters and digits with a field's ``_`` (domain.words), so quoting
    them is enough."""
    return " & ".join(f"'{term}':*" for term in prefixes)


def _pg_tsquery(prefixes: list[str]) -> ColumnElement[Any]:
    return cast(bindparam(None, _tsquery(prefixes), type_=String()), postgresql.TSQUERY)


def _fts5_query(prefixes: list[str]) -> str:
    """FTS5's query of the same: every term, each a prefix."""
    return " AND ".join(f'"{term}"*' for term in prefixes)


class SqlPublicNotices:
    # How many of the newest candidates a word search on PostgreSQL checks before it asks
    # the full-text index (``_page``); 0: it asks the index at once (the benchmark compares).
    probe_rows = 400

    def __init__(self, connection: AsyncConnection) -> None:
        self._connection = connection
        self._postgresql = connection.dialect.name == "postgresql"

    async def of_office(self, office_id: int, identifier: str) -> PublicNotice | None:
        result = await self._connection.execute(_SELECT.where(
            public_notices.c.office_id == office_id,
            public_notices.c.identifier == identifier))
        row = result.mappings().first()
        return None if row is None else _notice(row)

    async def publish(self, arrival: NoticeArrival) -> int:
        result = await self._connection.execute(
            insert(public_notices).values(
                office_id=arrival.office_id, identifier=arrival.form.identifier, version=1,
                listed_at=arrival.listed_at, published_at=arrival.received_at,
                modified_at=None, keep_until=arrival.keep_until, **_content(arrival.form),
                **self._search_column(arrival.search_terms))
            .returning(public_notices.c.id))
        notice_id = int(result.scalar_one())
        await self._add_version(notice_id, 1, arrival)
        await self._index(notice_id, arrival.search_terms, replace=False)
        return notice_id

    async def correct(self, notice_id: int, arrival: NoticeArrival) -> None:
        result = await self._connection.execute(
            update(public_notices).where(public_notices.c.id == notice_id)
            .values(version=public_notices.c.version + 1, listed_at=arrival.listed_at,
                    modified_at=arrival.received_at, keep_until=arrival.keep_until,
                    **_content(arrival.form), **self._search_column(arrival.search_terms))
            .returning(public_notices.c.version))
        await self._add_version(notice_id, int(result.scalar_one()), arrival)
        await self._index(notice_id, arrival.search_terms, replace=True)
        # Every version stays readable as long as the notice: a correction that moves the
        # display's end later keeps the earlier forms' content (their attachments) as long.
        await self._connection.execute(
            update(documents).where(
                documents.c.id.in_(select(public_notice_versions.c.document_id)
                                   .where(public_notice_versions.c.notice_id == notice_id)),
                documents.c.valid_until < arrival.keep_until)
            .values(valid_until=arrival.keep_until))

    def _search_column(self, terms: list[str]) -> dict[str, Any]:
        if not self._postgresql:
            return {}
        return {"search": func.array_to_tsvector(
            bindparam(None, terms, type_=postgresql.ARRAY(String())))}

    async def _add_version(self, notice_id: int, number: int, arrival: NoticeArrival) -> None:
        await self._connection.execute(insert(public_notice_versions).values(
            notice_id=notice_id, number=number, document_id=arrival.document_id,
            received_at=arrival.received_at, **_content(arrival.form)))

    async def _index(self, notice_id: int, terms: list[str], *, replace: bool) -> None:
        if self._postgresql:
            return  # the search column, written with the row
        if replace:
            await self._connection.execute(
                text("DELETE FROM public_notices_fts WHERE rowid = :id"), {"id": notice_id})
        await self._connection.execute(
            text("INSERT INTO public_notices_fts (rowid, terms) VALUES (:id, :terms)"),
            {"id": notice_id, "terms": " ".join(terms)})

    async def by_id(self, notice_id: int) -> PublicNotice | None:
        result = await self._connection.execute(_SELECT.where(public_notices.c.id == notice_id))
        row = result.mappings().first()
        if row is None:
            return None
        versions = await self._connection.execute(
            select(public_notice_versions, documents.c.registration_number)
            .join(documents, documents.c.id == public_notice_versions.c.document_id)
            .where(public_notice_versions.c.notice_id == notice_id)
            .order_by(public_notice_versions.c.number))
        return _notice(row, tuple(
            NoticeVersion(number=version["number"], received_at=version["received_at"],
                          registration_number=version["registration_number"],
                          form=_form(version, row["identifier"], version["number"] > 1))
            for version in versions.mappings()))

    async def of_document(self, registration_number: str) -> int | None:
        result = await self._connection.execute(
            select(public_notice_versions.c.notice_id)
            .join(documents, documents.c.id == public_notice_versions.c.document_id)
            .where(documents.c.registration_number == registration_number))
        found = result.scalar_one_or_none()
        return None if found is None else int(found)

    async def search(self, query: NoticeQuery, now: datetime) -> NoticePage:
        if self._postgresql:
            # Each search planned for its own values: a reused prepared statement's generic
            # plan cannot know how common a word is (a word in most notices wants the walk
            # down listed_at, a rare one the full-text index), and picked the index for every
            # word (100 ms for a common one among 100,000 notices; benchmarks/notices.py).
            # For this transaction only, and without a statement per search in the
            # connection's cache, which the mailbox's statements share.
            await self._connection.execute(text("SET LOCAL plan_cache_mode = force_custom_plan"))
        conditions: list[ColumnElement[bool]] = [
            public_notices.c.listed_at <= now, public_notices.c.display_until > now]
        if query.office_krid is not None:
            # The office's id first: then its notices are read down their own index.
            conditions.append(public_notices.c.office_id == select(parties.c.id).where(
                parties.c.krid == query.office_krid).scalar_subquery())
        if (after := query.shown_after()) is not None:
            conditions.append(public_notices.c.display_until > after)
        if (before := query.shown_before()) is not None:
            conditions.append(public_notices.c.display_from < before)
        if query.after is not None:
            conditions.append(tuple_(public_notices.c.listed_at, public_notices.c.id)
                              < tuple_(query.after.listed_at, query.after.id))
        prefixes = query.prefixes()
        if not prefixes and query.searches_words:
            # Words were asked for but none is a word (only punctuation): nothing matches.
            return NoticePage()
        # Only free text probes (``_page``): a field's filter is a tagged term (``_``, which no
        # word holds), whose few index entries are read cheaply however common it is.
        page = self._page(conditions, prefixes, query.limit + 1,
                          probe=any("_" not in term for term in prefixes))
        # The page's notices are chosen first, and only they are joined with their offices.
        result = await self._connection.execute(
            _SELECT.join(page, page.c.id == public_notices.c.id)
            .order_by(page.c.listed_at.desc(), page.c.id.desc()))
        rows = list(result.mappings())
        items = [_notice(row) for row in rows[:query.limit]]
        more = len(rows) > query.limit
        return NoticePage(items, NoticeCursor(items[-1].listed_at, items[-1].id)
                          if more else None)

    def _page(self, conditions: list[ColumnElement[bool]], prefixes: list[str], size: int,
              *, probe: bool) -> Subquery:
        """The ids (and places) of the first ``size`` notices that meet ``conditions`` and
        have words beginning with each of ``prefixes``, newest first."""
        notices = public_notices.c
        if not (prefixes and probe and self._postgresql and self.probe_rows):
            return (select(notices.id, notices.listed_at)
                    .where(*conditions, *([self._matching(prefixes)] if prefixes else []))
                    .order_by(notices.listed_at.desc(), notices.id.desc()).limit(size)
                    .subquery("page"))
        # Words common among the newest notices are found fastest by reading the newest
        # notices in order and checking each one's terms; rare ones through the full-text
        # index. The planner tells them apart badly: a typed word is a prefix standing for
        # many terms (all of whose postings the index then reads: 10-20 ms for a common
        # Hungarian stem), and it does not count reading a notice's toasted tsvector. So the
        # newest probe_rows candidates are checked first, and only when they hold less than
        # a page the whole search runs (the same answer: a page found among the newest
        # candidates is the first page of all of them).
        recent = (select(notices.id, notices.listed_at, notices.search).where(*conditions)
                  .order_by(notices.listed_at.desc(), notices.id.desc())
                  .limit(self.probe_rows).subquery("recent"))
        hits = (select(recent.c.id, recent.c.listed_at)
                .where(recent.c.search.op("@@")(_pg_tsquery(prefixes)))
                .order_by(recent.c.listed_at.desc(), recent.c.id.desc()).limit(size)
                .cte("hits"))
        found = select(func.count()).select_from(hits).scalar_subquery()
        everywhere = (select(notices.id, notices.listed_at)
                      .where(*conditions, self._matching(prefixes), found < size)
                      .order_by(notices.listed_at.desc(), notices.id.desc()).limit(size))
        return union_all(select(hits.c.id, hits.c.listed_at).where(found == size),
                         everywhere).subquery("page")

    def _matching(self, prefixes: list[str]) -> ColumnElement[bool]:
        if self._postgresql:
            return public_notices.c.search.op("@@")(_pg_tsquery(prefixes))
        return public_notices.c.id.in_(
            select(literal_column("rowid")).select_from(text("public_notices_fts"))
            .where(text("public_notices_fts MATCH :fts_query")
                   .bindparams(fts_query=_fts5_query(prefixes))))

