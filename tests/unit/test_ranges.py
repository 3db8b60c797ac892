"""One byte range of a download (section 7): the three forms, several ranges, the refusals."""

from __future__ import annotations

import pytest

from gateway.domain.ranges import ByteRange, byte_range
from gateway.errors import RangeNotSatisfiable


@pytest.mark.parametrize(("header", "expected"), [
    ("bytes=0-99", ByteRange(0, 99)),
    ("bytes=100-", ByteRange(100, 999)),
    ("bytes=-10", ByteRange(990, 999)),
    ("bytes=-5000", ByteRange(0, 999)),  # more than there is: all of it
    ("bytes=900-5000", ByteRange(900, 999)),  # past the end: up to the end
    ("BYTES = 5 - 6", ByteRange(5, 6)),
    ("bytes=999-999", ByteRange(999, 999)),
])
def test_one_range(header: str, expected: ByteRange) -> None:
    assert byte_range(header, 1000) == expected


@pytest.mark.parametrize("header", [
    None, "bytes=0-1,5-6", "bytes=-", "items=0-5", "bytes=5-1", "bytes=abc",
])
def test_whole_content_for_several_or_unreadable_ranges(header: str | None) -> None:
    assert byte_range(header, 1000) is None


@pytest.mark.parametrize("header", ["bytes=1000-", "bytes=5000-6000", "bytes=-0"])
def test_unsatisfiable(header: str) -> None:
    with pytest.raises(RangeNotSatisfiable) as raised:
        byte_range(header, 1000)
    assert raised.value.size == 1000
    assert raised.value.code == "range_not_satisfiable"


def test_content_range_header() -> None:
    assert ByteRange(10, 19).content_range(100) == "bytes 10-19/100"
    assert ByteRange(10, 19).length == 10


def test_thousands_of_digits_are_a_position_past_any_content() -> None:
    """Python refuses to read an int of more than 4,300 digits: a hostile header was a 500."""
    digits = "9" * 5000
    with pytest.raises(RangeNotSatisfiable):
        byte_range(f"bytes={digits}-", 1000)
    assert byte_range(f"bytes=0-{digits}", 1000) == ByteRange(0, 999)
    assert byte_range(f"bytes=-{digits}", 1000) == ByteRange(0, 999)
    assert byte_range(f"bytes={'0' * 5000}7-8", 1000) == ByteRange(7, 8)
