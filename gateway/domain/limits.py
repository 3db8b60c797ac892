"""Bounds on what a request may ask for, so that a hostile value is refused as the client's
mistake instead of reaching the database (where it overflows a column or makes a query too
complex to run)."""

from __future__ import annotations

from datetime import UTC, datetime

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


def has_nul(text: str | None) -> bool:
    """Whether ``text`` holds a NUL character, which no text column of PostgreSQL can store
    (SQLite would store it): refused on both databases alike."""
    return text is not None and "\x00" in text


def bounded_int(text: str | None, low: int, high: int) -> int | None:
    """``text`` as an integer when it is plain ASCII digits within [low, high], else None."""
    if not text or len(text) > 20 or not (text.isascii() and text.isdigit()):
        return None
    number = int(text)
    return number if low <= number <= high else None
