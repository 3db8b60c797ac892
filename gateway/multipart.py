"""Streaming multipart reading shared by the doors (REST form uploads, HKP attachments), and
the ``Content-Disposition`` both doors send with a document.

python-multipart splits the stream on its boundary and calls back per header and per chunk of
data; ``PartReader`` collects each part's headers into an ``email.message.Message`` (which
reads quoted parameters and RFC 2231 ``filename*``, both of which python-multipart's own header
parsing drops) and hands the part's data to a subclass. No part is held in memory here.
"""

from __future__ import annotations

import unicodedata
from collections.abc import AsyncIterator
from email.message import Message
from typing import TYPE_CHECKING
from urllib.parse import quote

from python_multipart.multipart import MultipartParser

if TYPE_CHECKING:  # defined for type checkers only
    from python_multipart.multipart import MultipartCallbacks


def attachment_disposition(file_name: str) -> str:
    """``attachment`` with the file name (RFC 6266): an ASCII ``filename`` for every client,
    and the exact name as RFC 5987 ``filename*`` for those that read it.

    Security: a stored name may hold any character (CR, LF, quotes, backslashes), and this
    value goes into an HTTP header and into the HKP answer's part headers, so neither form may
    end the header or the parameter. The fallback keeps printable ASCII only (accents dropped,
    anything else, ``"``, ``\\`` and ``%`` replaced by ``_``); ``filename*`` percent-encodes every
    byte but letters, digits and ``-._~``. By hand: Starlette and werkzeug build this header
    only inside their file responses, and the HKP parts need it too."""
    fallback = "".join(
        char if " " <= char <= "~" and char not in '"\\%' else "_"
        for char in unicodedata.normalize("NFKD", file_name) if not unicodedata.combining(char))
    encoded = quote(file_name, safe="", errors="replace")
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{encoded}"


class PartReader:
    """Subclasses implement the hooks; ``headers`` holds the current part's headers."""

    def __init__(self, max_parts: int) -> None:
        self.headers = Message()
        self.parts = 0
        self.complete = False  # the closing boundary was seen
        self._max_parts = max_parts
        self._header_field = bytearray()
        self._header_value = bytearray()

    def callbacks(self) -> MultipartCallbacks:
        return {
            "on_part_begin": self._part_begin,
            "on_header_field": lambda d, s, e: self._header_field.extend(d[s:e]),
            "on_header_value": lambda d, s, e: self._header_value.extend(d[s:e]),
            "on_header_end": self._header_end,
            "on_headers_finished": self.headers_finished,
            "on_part_data": self.part_data,
            "on_part_end": self.part_end,
            "on_end": self._end,
        }

    def _part_begin(self) -> None:
        self.parts += 1
        if self.parts > self._max_parts:
            raise self.too_many_parts()
        self.headers = Message()
        self.begin_part()

    def _header_end(self) -> None:
        # Clients send raw UTF-8 in filename="…" (RFC 7578 allows it).
        self.headers[self._header_field.decode("latin-1").strip()] = (
            self._header_value.decode("utf-8", errors="replace").strip()
        )
        self._header_field.clear()
        self._header_value.clear()

    def _end(self) -> None:
        self.complete = True

    # --- hooks ---------------------------------------------------------------------------

    def too_many_parts(self) -> Exception:
        raise NotImplementedError

    def begin_part(self) -> None:
        """A new part starts; its headers follow."""

    def headers_finished(self) -> None:
        """``self.headers`` is complete; data follows."""

    def part_data(self, data: bytes, start: int, end: int) -> None:
        """``data[start:end]`` belongs to the current part."""

    def part_end(self) -> None:
        """The current part has ended."""


async def feed(reader: PartReader, boundary: bytes, body: AsyncIterator[bytes]) -> None:
    """Run ``body`` through the parser; raises python-multipart's MultipartParseError."""
    parser = MultipartParser(boundary, reader.callbacks())
    async for chunk in body:
        parser.write(chunk)
    parser.finalize()
