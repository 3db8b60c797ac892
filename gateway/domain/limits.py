"""Bounds on what a request may ask for, so that a hostile value is refused as the client's
mistake instead of reaching the database (where it overflows a column or makes a query too
complex to run)."""

from __future__ import annotations

import re
import unicodedata
from datetime import UTC, date, datetime, timedelta
from enum import StrEnum

from gateway.errors import InvalidRequest, UnacceptableText

# Ids and sequence numbers are 64-bit signed integers in both databases.
MAX_ID = 2**63 - 1
# Where the sandbox's test clock may be moved: four-digit years in registration numbers, and
# centuries of room for deadlines and retention computed from it (datetime ends at 9999).
TEST_CLOCK_EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)
TEST_CLOCK_LATEST = datetime(2900, 1, 1, tzinfo=UTC)
# The longest webhook URL (its column's size).
MAX_WEBHOOK_URL = 2048
# The longest office name filter (a substring of a name): longer than any office's name.
MAX_NAME_FILTER = 255
# The longest search text (in file names, reference numbers and senders' names): longer than
# any of them worth searching for, and short enough for the database's LIKE to run.
MAX_SEARCH_TEXT = 200
# The earliest and latest day a date filter may name: datetime ends at year 9999, and a day
# at either end cannot be turned into an instant in every time zone.
EARLIEST_DAY = date(1900, 1, 1)
LATEST_DAY = date(9998, 12, 31)
# The most the sandbox console moves the test clock at once, in days (and up to 23 hours).
MAX_ADVANCE_DAYS = 400

# Unicode categories no text field holds: controls (Cc: NUL, CR, LF, \x01, DEL, the C1 set),
# format characters (Cf: U+200B, U+202E, U+FEFF …) and lone surrogates (Cs, not UTF-8 at all).
_REFUSED_CATEGORIES = frozenset({"Cc", "Cf", "Cs"})
# Unassigned characters that XML 1.0 cannot hold either.
_NOT_XML = frozenset("\ufffe\uffff")
# What a multi-line text may hold besides: tab and line feed (CR LF is read as LF).
_MULTILINE = frozenset("\t\n")


def has_nul(text: str | None) -> bool:
    """Whether ``text`` holds a NUL character, which no text column of PostgreSQL can store
    (SQLite would store it): refused on both databases alike."""
    return text is not None and "\x00" in text


def forbidden_character(text: str, *, multiline: bool = False) -> str | None:
    """The first character of ``text`` that no text field may hold, or None.

    Security: control and format characters break what a text travels in — a CR LF in a file
    name splits an HTTP or MIME header, a \x01 cannot be written into XML (receipts, HKP
    answers), a NUL cannot be stored by PostgreSQL — and disguise what a reader sees (U+202E
    turns ``exe.pdf`` around). A multi-line text may hold tabs and line feeds."""
    if text.isprintable():  # in C: no Cc, Cf, Cs (nor Zl, Zp or a space other than U+0020)
        return None
    for character in text:
        if multiline and character in _MULTILINE:
            continue
        if unicodedata.category(character) in _REFUSED_CATEGORIES or character in _NOT_XML:
            return character
    return None


# What XML 1.0 cannot hold (its Char production): most C0 controls, lone surrogates, U+FFFE/F.
_NOT_XML_CHAR = re.compile("[^\t\n\r\u0020-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def xml_safe(text: str) -> str:
    """``text`` with each character XML cannot hold replaced by U+FFFD. The doors refuse such
    characters, but a row stored before they did must still be written into a receipt or an
    HKP answer (lxml would refuse the whole document); ordinary text comes back unchanged."""
    if _NOT_XML_CHAR.search(text) is None:
        return text
    return _NOT_XML_CHAR.sub("\ufffd", text)


def checked_text(text: str, field: str, *, multiline: bool = False) -> str:
    """``text`` when it holds no forbidden character (see ``forbidden_character``), a
    multi-line text with its CR LF line breaks as LF; else UnacceptableText naming ``field``."""
    if multiline:
        text = text.replace("\r\n", "\n")
    character = forbidden_character(text, multiline=multiline)
    if character is not None:
        name = unicodedata.name(character, "a control character")
        raise UnacceptableText(
            f"{field} holds U+{ord(character):04X} ({name}); control and format characters "
            "are not accepted" + ("" if multiline else ", nor line breaks or tabs"),
            field=field,
        )
    return text


def checked_filter(text: str | None, field: str, *, limit: int = MAX_SEARCH_TEXT) -> str | None:
    """A search text or filter as given, when it is at most ``limit`` characters long and
    holds no forbidden character; else InvalidRequest (UnacceptableText) naming ``field``."""
    if text is None:
        return None
    if len(text) > limit:
        raise InvalidRequest(f"{field} is longer than {limit} characters", field=field)
    return checked_text(text, field)


def bounded_int(text: str | None, low: int, high: int) -> int | None:
    """``text`` as an integer when it is plain ASCII digits within [low, high], else None."""
    if not text or len(text) > 20 or not (text.isascii() and text.isdigit()):
        return None
    number = int(text)
    return number if low <= number <= high else None


def filter_day(text: str | None, field: str) -> date | None:
    """The day a date filter names (``YYYY-MM-DD``), or None when it names none: ValueError
    when it is not a day at all, InvalidRequest naming ``field`` for one outside the calendar
    the gateway can compute with (EARLIEST_DAY to LATEST_DAY)."""
    if not text:
        return None
    day = date.fromisoformat(text)
    if not EARLIEST_DAY <= day <= LATEST_DAY:
        raise InvalidRequest(f"{field} is outside {EARLIEST_DAY} to {LATEST_DAY}", field=field)
    return day


class AdvanceRefusal(StrEnum):
    """Why a move of the sandbox's test clock by days and hours is refused."""

    NOT_NUMBERS = "not_numbers"  # not whole numbers, or more than the most allowed
    BACKWARDS = "backwards"  # the clock never moves backwards


def clock_advance(days: str, hours: str) -> timedelta | AdvanceRefusal:
    """How far the console's form moves the test clock: whole ``days`` (0 to
    MAX_ADVANCE_DAYS) and ``hours`` (0 to 23), an empty field being 0; else why not."""
    try:
        whole_days, whole_hours = int(days or "0"), int(hours or "0")
    except ValueError:
        return AdvanceRefusal.NOT_NUMBERS
    if whole_days < 0 or whole_hours < 0:
        return AdvanceRefusal.BACKWARDS
    if whole_days > MAX_ADVANCE_DAYS or whole_hours > 23:
        return AdvanceRefusal.NOT_NUMBERS
    return timedelta(days=whole_days, hours=whole_hours)
