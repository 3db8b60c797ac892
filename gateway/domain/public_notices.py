"""Hirdetmények (public notices, 225/2009 Korm. r. 11. §): what a notice form says, how long
a notice is shown and kept, and how the portal's search reads it.

Search works on words: text is case-folded and stripped of accents (``parties.fold_name``), so
``arviz`` finds "Árvíz", then cut into words. A notice's search terms are every word of every
field (free text), and each word again tagged with its field (``subject_arviz``), so that a
filter on one field is a word search too and both databases answer it from the same full-text
index. A query word matches the words that begin with it (Hungarian adds its endings:
``arviz`` finds "árvízvédelmi")."""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from gateway.domain.limits import EARLIEST_DAY, LATEST_DAY, forbidden_character
from gateway.domain.parties import Party, PartyKind, fold_name
from gateway.errors import InvalidRequest

NOTICE_DOC_TYPE = "HIRDETMENY"
NAMESPACE = "urn:kapu:hirdetmeny:1"
SCHEMA_FILE = "hirdetmeny.xsd"
# A notice and its versions stay readable this long after its display ends (11. § (6)).
KEPT_YEARS = 8
BUDAPEST = ZoneInfo("Europe/Budapest")
MAX_PAGE = 100
DEFAULT_PAGE = 20
# Longer words are cut: a search term is at most this many letters (PostgreSQL's lexemes have
# a byte limit, and no one searches by a longer word).
MAX_WORD = 60
# An attachment of a form holds at most this many bytes: its base64 is one text of the XML,
# which the hardened parser takes up to libxml2's 10,000,000 characters (7 MiB is 9.8 million).
MAX_ATTACHMENT_BYTES = 7 * 2**20
# At most this many words of one query are searched (each is one term of the index's query).
MAX_QUERY_WORDS = 16

_WORD = re.compile(r"[^\W_]+")


@dataclass(frozen=True)
class NoticeAttachment:
    """A Melleklet as it arrived: its name, decoded size and SHA-256."""

    file_name: str
    size: int
    sha256: str


@dataclass(frozen=True)
class NoticeForm:
    """One HIRDETMENY form, read and valid (the schema said so; ``check`` the rest)."""

    identifier: str  # Azonosito: the office's own id of the notice
    correction: bool  # Javitas
    category: str  # Kategoria
    subject: str  # Targy
    authority: str  # EljaroHatosag
    applicant: str | None  # Kerelmezo
    case_number: str  # Ugyiratszam
    settlement: str | None  # Telepules
    case_worker: str | None  # Ugyintezo
    display_from: datetime  # MegjelenesKezdete, in UTC
    display_until: datetime  # MegjelenesVege, in UTC
    text: str  # Szoveg
    attachments: tuple[NoticeAttachment, ...] = ()

    def check(self) -> NoticeForm:
        """The rules the schema cannot say: the display ends after it starts."""
        if self.display_until <= self.display_from:
            raise InvalidRequest("MegjelenesVege must be later than MegjelenesKezdete",
                                 field="MegjelenesVege")
        return self

    def attachments_stored(self) -> str:
        return json.dumps([{"file_name": a.file_name, "size": a.size, "sha256": a.sha256}
                           for a in self.attachments], ensure_ascii=False)


def publishes_notices(party: Party) -> bool:
    """Only an office (hivatali) publishes public notices."""
    return party.kind is PartyKind.HIVATALI


def attachments_from_stored(stored: str | None) -> tuple[NoticeAttachment, ...]:
    if not stored:
        return ()
    return tuple(NoticeAttachment(item["file_name"], int(item["size"]), item["sha256"])
                 for item in json.loads(stored))


def kept_until(display_until: datetime) -> datetime:
    """Until when a notice and its versions stay readable: 8 years after its display ends
    (28 February for a 29th that year lacks; the last moment a datetime holds for an end
    that far off)."""
    year = display_until.year + KEPT_YEARS
    if year > 9999:
        return datetime.max.replace(tzinfo=UTC)
    try:
        return display_until.replace(year=year)
    except ValueError:
        return display_until.replace(year=year, day=28)


def listed_from(display_from: datetime, first_received_at: datetime) -> datetime:
    """Where a notice stands in the lists (newest first): the moment it first appeared, which
    is its display's start or, for a start already past when it arrived, its arrival. A notice
    never appears below where a reader's earlier page ended, so paging stays stable while new
    notices arrive."""
    return max(display_from, first_received_at)


@dataclass(frozen=True)
class NoticeVersion:
    """One form as received: the first publication or a correction."""

    number: int  # 1 for the first publication
    received_at: datetime
    registration_number: str
    form: NoticeForm


@dataclass(frozen=True)
class PublicNotice:
    """A notice as the public sees it: the current version's content, the office that
    published it, and (on its own page) every version, oldest first."""

    id: int
    office: Party
    form: NoticeForm  # the current version
    listed_at: datetime
    published_at: datetime  # the first version's arrival
    modified_at: datetime | None  # the last correction's arrival; None: never corrected
    keep_until: datetime
    versions: tuple[NoticeVersion, ...] = ()

    def shown_at(self, now: datetime) -> bool:
        """Whether it is in the lists at ``now``."""
        return self.listed_at <= now < self.form.display_until

    def readable_at(self, now: datetime) -> bool:
        """Whether its own page answers at ``now``: from its start, for 8 years after."""
        return self.listed_at <= now < self.keep_until


# --- Search -------------------------------------------------------------------------------

# The filters of 11. § (2) that search one field's words, by their query name (the JSON's and
# the page's), and the tag of that field's terms.
WORD_FILTERS = {
    "category": "category",
    "subject": "subject",
    "authority": "authority",
    "applicant": "applicant",
    "case_number": "casenumber",
    "settlement": "settlement",
    "case_worker": "caseworker",
}


def words(text: str | None) -> list[str]:
    """The folded words of ``text``, in order, each cut to MAX_WORD letters."""
    if not text:
        return []
    return [word[:MAX_WORD] for word in _WORD.findall(fold_name(text))]


def _field_values(form: NoticeForm) -> dict[str, str | None]:
    return {"category": form.category, "subject": form.subject, "authority": form.authority,
            "applicant": form.applicant, "case_number": form.case_number,
            "settlement": form.settlement, "case_worker": form.case_worker}


def search_terms(form: NoticeForm, office_name: str) -> list[str]:
    """The terms a notice is found by: every word of every field, of its text and of the
    publishing office's name; and each field's words again, tagged with the field. Sorted,
    without repeats."""
    terms: set[str] = set()
    for name, value in _field_values(form).items():
        found = words(value)
        terms.update(found)
        terms.update(f"{WORD_FILTERS[name]}_{word}" for word in found)
    terms.update(words(form.text))
    terms.update(words(office_name))
    return sorted(terms)


@dataclass(frozen=True)
class NoticeQuery:
    """A search of the public notices (11. § (2)): every given filter must hold."""

    text: str | None = None  # q: every word, in any field
    category: str | None = None
    subject: str | None = None
    authority: str | None = None
    applicant: str | None = None
    case_number: str | None = None
    settlement: str | None = None
    case_worker: str | None = None
    office_krid: str | None = None
    period_from: date | None = None  # shown on or after this Budapest day …
    period_to: date | None = None  # … and on or before this one
    limit: int = DEFAULT_PAGE
    after: NoticeCursor | None = None

    def __post_init__(self) -> None:
        if not 1 <= self.limit <= MAX_PAGE:
            raise InvalidRequest(f"limit must be 1 to {MAX_PAGE}", field="limit")
        if (self.period_from is not None and self.period_to is not None
                and self.period_to < self.period_from):
            raise InvalidRequest("the period ends before it starts", field="to")
        for name in ("text", *WORD_FILTERS):
            value = getattr(self, name)
            if value is not None and len(value) > 1000:
                raise InvalidRequest(f"{_query_name(name)} is longer than 1000 characters",
                                     field=_query_name(name))

    def prefixes(self) -> list[str]:
        """The terms every found notice has a word beginning with (free text untagged, each
        field's filter tagged), at most MAX_QUERY_WORDS."""
        found = list(dict.fromkeys(words(self.text)))
        for name, tag in WORD_FILTERS.items():
            found.extend(f"{tag}_{word}" for word in dict.fromkeys(words(getattr(self, name))))
        return found[:MAX_QUERY_WORDS]

    @property
    def searches_words(self) -> bool:
        return any(getattr(self, name) for name in ("text", *WORD_FILTERS))

    def shown_after(self) -> datetime | None:
        """The notice is still shown after this moment: the period's first Budapest midnight."""
        return None if self.period_from is None else budapest_midnight(self.period_from)

    def shown_before(self) -> datetime | None:
        """… and was shown before this one: the Budapest midnight that ends the period."""
        return (None if self.period_to is None
                else budapest_midnight(self.period_to + timedelta(days=1)))

    def next_page(self, cursor: NoticeCursor) -> NoticeQuery:
        return replace(self, after=cursor)


def _query_name(name: str) -> str:
    return "q" if name == "text" else name


def budapest_midnight(day: date) -> datetime:
    """The moment ``day`` begins in Budapest, in UTC."""
    return datetime.combine(day, time(), BUDAPEST).astimezone(UTC)


@dataclass(frozen=True)
class NoticeCursor:
    """Where a page ended: the last notice's place in the lists (newest first)."""

    listed_at: datetime
    id: int

    def token(self) -> str:
        raw = f"{self.listed_at.astimezone(UTC).isoformat()}|{self.id}".encode()
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")

    @classmethod
    def of_token(cls, token: str) -> NoticeCursor:
        try:
            raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode()
            at, _, identifier = raw.partition("|")
            listed_at = datetime.fromisoformat(at)
            if listed_at.tzinfo is None:
                raise ValueError("no offset")
            return cls(listed_at.astimezone(UTC), int(identifier))
        except (ValueError, UnicodeDecodeError, binascii.Error) as exc:
            raise InvalidRequest("cursor is not one this server gave", field="cursor") from exc


@dataclass(frozen=True)
class NoticePage:
    items: list[PublicNotice] = field(default_factory=list)
    next_cursor: NoticeCursor | None = None


# The query names of the public list, the same on the page, in JSON and in the feed.
QUERY_NAMES = ("q", "category", "from", "to", "office", "subject", "authority", "applicant",
               "case_number", "settlement", "case_worker", "limit", "cursor")


def query_of(params: Mapping[str, str]) -> NoticeQuery:
    """The search a page's, the JSON's or the feed's query string asks for. An empty value is
    no filter (a form's unfilled field); a bad one is InvalidRequest naming it."""
    given = {name: value.strip() for name, value in params.items()
             if name in QUERY_NAMES and value.strip()}
    for name in ("q", *WORD_FILTERS):
        # Like every text the gateway is given: no control or format character.
        if forbidden_character(given.get(name, "")) is not None:
            raise InvalidRequest(f"{name} holds a control or format character", field=name)
    office = given.get("office")
    if office is not None and not re.fullmatch(r"[0-9]{9}", office):
        raise InvalidRequest("office is a KRID: 9 digits", field="office")
    try:
        limit = int(given.get("limit", DEFAULT_PAGE))
    except ValueError as exc:
        raise InvalidRequest("limit must be a whole number", field="limit") from exc
    cursor = given.get("cursor")
    return NoticeQuery(
        text=given.get("q"), category=given.get("category"), subject=given.get("subject"),
        authority=given.get("authority"), applicant=given.get("applicant"),
        case_number=given.get("case_number"), settlement=given.get("settlement"),
        case_worker=given.get("case_worker"), office_krid=office,
        period_from=_day(given.get("from"), "from"), period_to=_day(given.get("to"), "to"),
        limit=limit, after=None if cursor is None else NoticeCursor.of_token(cursor))


def _day(value: str | None, name: str) -> date | None:
    if value is None:
        return None
    try:
        day = date.fromisoformat(value)
    except ValueError as exc:
        raise InvalidRequest(f"{name} must be a date (YYYY-MM-DD)", field=name) from exc
    # Days whose Budapest midnight the gateway can compute, as the mailbox's filters take.
    if not EARLIEST_DAY <= day <= LATEST_DAY:
        raise InvalidRequest(f"{name} is outside {EARLIEST_DAY} to {LATEST_DAY}", field=name)
    return day
