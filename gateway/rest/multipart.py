"""Streaming ``multipart/form-data`` reader for uploads.

python-multipart splits the stream; its callbacks feed the ``file`` part straight into the
staged content (hashing and writing as bytes arrive) and collect the small text fields. Part
headers are read with the standard ``email`` package, which decodes RFC 2231 ``filename*``
(python-multipart drops it). Nothing here holds a document in memory.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from email.message import Message
from typing import TYPE_CHECKING

from python_multipart.exceptions import MultipartParseError
from python_multipart.multipart import MultipartParser, parse_options_header

from gateway.errors import InvalidRequest
from gateway.services.ports import StagedContent

if TYPE_CHECKING:  # defined for type checkers only
    from python_multipart.multipart import MultipartCallbacks

FILE_FIELD = "file"
MAX_FIELD_BYTES = 64 * 1024
MAX_FIELDS = 64


@dataclass
class ReceivedForm:
    fields: dict[str, str] = field(default_factory=dict)
    file_name: str | None = None
    complete: bool = False


class _PartReader:
    def __init__(self, content: StagedContent, form: ReceivedForm) -> None:
        self._content = content
        self._form = form
        self._header_field = bytearray()
        self._header_value = bytearray()
        self._headers: list[tuple[str, str]] = []
        self._name: str | None = None
        self._value = bytearray()
        self._in_file = False
        self._parts = 0

    def callbacks(self) -> MultipartCallbacks:
        return {
            "on_part_begin": self._part_begin,
            "on_header_field": lambda d, s, e: self._header_field.extend(d[s:e]),
            "on_header_value": lambda d, s, e: self._header_value.extend(d[s:e]),
            "on_header_end": self._header_end,
            "on_headers_finished": self._headers_finished,
            "on_part_data": self._part_data,
            "on_part_end": self._part_end,
            "on_end": self._end,
        }

    def _end(self) -> None:
        self._form.complete = True

    def _part_begin(self) -> None:
        self._parts += 1
        if self._parts > MAX_FIELDS:
            raise InvalidRequest(f"more than {MAX_FIELDS} form fields")
        self._headers.clear()
        self._name = None
        self._value.clear()
        self._in_file = False

    def _header_end(self) -> None:
        name = self._header_field.decode("latin-1")
        # Browsers and curl send raw UTF-8 in filename="…"; RFC 7578 allows it.
        value = self._header_value.decode("utf-8", errors="replace")
        self._headers.append((name, value))
        self._header_field.clear()
        self._header_value.clear()

    def _headers_finished(self) -> None:
        headers = Message()
        for name, value in self._headers:
            headers[name] = value
        self._name = headers.get_param("name", header="content-disposition")  # type: ignore[assignment]
        if not isinstance(self._name, str):
            raise InvalidRequest("a form part has no name")
        if self._name == FILE_FIELD:
            if self._form.file_name is not None:
                raise InvalidRequest("send exactly one file", field=FILE_FIELD)
            file_name = headers.get_filename()
            if not file_name:
                raise InvalidRequest("the file part has no filename", field=FILE_FIELD)
            self._form.file_name = file_name
            self._in_file = True

    def _part_data(self, data: bytes, start: int, end: int) -> None:
        if self._in_file:
            self._content.write(memoryview(data)[start:end])
            return
        if len(self._value) + end - start > MAX_FIELD_BYTES:
            raise InvalidRequest(f"field {self._name} is too long", field=self._name)
        self._value.extend(data[start:end])

    def _part_end(self) -> None:
        if not self._in_file and self._name is not None:
            try:
                self._form.fields[self._name] = self._value.decode("utf-8")
            except UnicodeDecodeError as exc:
                raise InvalidRequest(
                    f"field {self._name} is not UTF-8", field=self._name
                ) from exc


async def receive_form(
    content_type: str, body: AsyncIterator[bytes], content: StagedContent
) -> ReceivedForm:
    """Read a multipart body, streaming its ``file`` part into ``content``."""
    kind, params = parse_options_header(content_type)
    boundary = params.get(b"boundary")
    if kind != b"multipart/form-data" or not boundary:
        raise InvalidRequest("the upload must be multipart/form-data with a boundary")
    form = ReceivedForm()
    reader = _PartReader(content, form)
    parser = MultipartParser(boundary, reader.callbacks())
    try:
        async for chunk in body:
            parser.write(chunk)
        parser.finalize()
    except MultipartParseError as exc:
        raise InvalidRequest(f"the multipart body is malformed: {exc}") from exc
    if not form.complete:
        raise InvalidRequest("the multipart body ended before its closing boundary")
    if form.file_name is None:
        raise InvalidRequest("the upload has no file part", field=FILE_FIELD)
    await content.finish()
    return form
