"""Streaming ``multipart/form-data`` reader for e-Papír (contract 24), shared by its doors (REST
and the browser's form): each ``attachment`` part goes straight to disk
(services/epapir.StagedAttachments, which counts and limits them as they arrive); the small
text fields are collected, as ``forms.py`` does for a document upload."""

from __future__ import annotations

from collections.abc import AsyncIterator

from python_multipart.exceptions import MultipartParseError
from python_multipart.multipart import parse_options_header

from gateway.errors import InvalidRequest
from gateway.forms import MAX_FIELD_BYTES, MAX_FIELDS
from gateway.multipart import PartReader, feed
from gateway.services.epapir import ATTACHMENT_FIELD, StagedAttachments


class _SubmissionReader(PartReader):
    def __init__(self, attachments: StagedAttachments, fields: dict[str, str]) -> None:
        super().__init__(MAX_FIELDS)
        self._attachments = attachments
        self._fields = fields
        self._name: str | None = None
        self._value = bytearray()
        self._in_file = False
        self._skipping = False

    def too_many_parts(self) -> Exception:
        return InvalidRequest(f"more than {MAX_FIELDS} form fields")

    def begin_part(self) -> None:
        self._name = None
        self._value.clear()
        self._in_file = self._skipping = False

    def headers_finished(self) -> None:
        name = self.headers.get_param("name", header="content-disposition")
        if not isinstance(name, str):
            raise InvalidRequest("a form part has no name")
        self._name = name
        if name == ATTACHMENT_FIELD:
            file_name = self.headers.get_filename()
            if not file_name:
                # A browser's file input with no file chosen sends an empty, nameless part.
                self._skipping = True
                return
            self._attachments.begin(file_name)
            self._in_file = True

    def part_data(self, data: bytes, start: int, end: int) -> None:
        if self._in_file:
            self._attachments.write(memoryview(data)[start:end])
            return
        if self._skipping:
            if end > start:
                raise InvalidRequest("an attachment part has no filename",
                                     field=ATTACHMENT_FIELD)
            return
        if len(self._value) + end - start > MAX_FIELD_BYTES:
            raise InvalidRequest(f"field {self._name} is too long", field=self._name)
        self._value.extend(data[start:end])

    def part_end(self) -> None:
        if self._in_file:
            self._attachments.end()
        elif not self._skipping and self._name is not None:
            try:
                self._fields[self._name] = self._value.decode("utf-8")
            except UnicodeDecodeError as exc:
                raise InvalidRequest(
                    f"field {self._name} is not UTF-8", field=self._name) from exc


async def receive_submission(content_type: str, body: AsyncIterator[bytes],
                             attachments: StagedAttachments) -> dict[str, str]:
    """Read a multipart body, streaming its ``attachment`` parts into ``attachments``; the
    text fields by name."""
    kind, params = parse_options_header(content_type)
    boundary = params.get(b"boundary")
    if kind != b"multipart/form-data" or not boundary:
        raise InvalidRequest("the submission must be multipart/form-data with a boundary")
    fields: dict[str, str] = {}
    reader = _SubmissionReader(attachments, fields)
    try:
        await feed(reader, boundary, body)
    except MultipartParseError as exc:
        raise InvalidRequest(f"the multipart body is malformed: {exc}") from exc
    if not reader.complete:
        raise InvalidRequest("the multipart body ended before its closing boundary")
    return fields
