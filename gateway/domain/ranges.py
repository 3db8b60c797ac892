"""One byte range of a download (RFC 9110 14.1.2): ``bytes=A-B``, ``bytes=A-``, ``bytes=-N``.

Parsed by hand: the grammar is three forms of two integers, and the web frameworks at hand
serve ranges only from files on a local disk, not from a stream out of the blob store.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from gateway.errors import RangeNotSatisfiable

# Beyond any content's size; Python refuses to read an integer of more than 4,300 digits.
_PAST_ANY_SIZE = 2**63
_ONE_RANGE = re.compile(r"^\s*bytes\s*=\s*(\d*)\s*-\s*(\d*)\s*$", re.IGNORECASE)


@dataclass(frozen=True)
class ByteRange:
    start: int
    end: int  # inclusive, as in Content-Range

    @property
    def length(self) -> int:
        return self.end - self.start + 1

    def content_range(self, size: int) -> str:
        return f"bytes {self.start}-{self.end}/{size}"


def byte_range(header: str | None, size: int) -> ByteRange | None:
    """The one range ``header`` asks of ``size`` bytes, or None for the whole content: no
    header, several ranges (answered whole, as RFC 9110 allows), or one we do not understand
    (a server ignores a Range it cannot parse). Raises RangeNotSatisfiable when it starts past
    the end."""
    if header is None or "," in header:
        return None
    match = _ONE_RANGE.match(header)
    if match is None or match.group(1) == match.group(2) == "":
        return None
    first, last = match.group(1), match.group(2)
    if first == "":  # the last N bytes
        suffix = _number(last)
        if suffix == 0:
            raise RangeNotSatisfiable("bytes=-0 asks for no bytes", size=size)
        return ByteRange(max(size - suffix, 0), size - 1) if size else _unsatisfiable(size)
    start = _number(first)
    end = size - 1 if last == "" else min(_number(last), size - 1)
    if last != "" and _number(last) < start:
        return None  # invalid: ignored, the whole content
    if start >= size:
        return _unsatisfiable(size)
    return ByteRange(start, end)


def _number(digits: str) -> int:
    """A position or length of the header: any number of digits (leading zeros included),
    those past every content's size read as one number past it."""
    significant = digits.lstrip("0")
    return int(significant or "0") if len(significant) <= 19 else _PAST_ANY_SIZE


def _unsatisfiable(size: int) -> ByteRange:
    raise RangeNotSatisfiable(f"the range starts past the content's {size} bytes", size=size)
