"""Streaming ``multipart/form-data`` reader for uploads, shared by the doors that take files
(REST, the browser's send form): the ``file`` part goes straight into the staged content
(hashed and written as bytes arrive); the small text fields are collected."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from email.utils import collapse_rfc2231_value

from python_multipart.exceptions import MultipartParseError
from python_multipart.multipart import parse_options_header

from gateway.domain.documents import UploadRequest
from gateway.errors import InvalidRequest
from gateway.multipart import PartReader, feed
from gateway.services.ports.storage import StagedContent

FILE_FIELD = "file"
MAX_FIELD_BYTES = 64 * 1024
MAX_FIELDS = 64
# A header parameter as the standard library's email package gives it: RFC 2231's ``name*``
# arrives as (charset, language, value).
ParamValue = str | tuple[str | None, str | None, str]


@dataclass
class ReceivedForm:
    fields: dict[str, str] = field(default_factory=dict)
    file_name: str | None = None


def _first_param(params: Sequence[tuple[str, ParamValue]], key: str) -> ParamValue | None:
    for name, value in params:
        if name.lower() == key:
            return value
    return None


class FieldReader(PartReader):
    """A multipart reader that collects the small text fields by name (UTF-8, each at most
    MAX_FIELD_BYTES) and hands the parts that ``file_begins`` takes to ``file_data`` and
    ``file_ends``; shared by the document upload and the e-Papír submission."""

    def __init__(self) -> None:
        super().__init__(MAX_FIELDS)
        self.fields: dict[str, str] = {}
        self._name: str | None = None
        self._value = bytearray()
        self._in_file = False

    def file_begins(self, name: str, file_name: str | None) -> bool:
        """Whether the part ``name`` (with ``file_name``, if any) is a file this reader
        streams; raising refuses the part."""
        return False

    def file_data(self, chunk: memoryview) -> None: ...

    def file_ends(self) -> None: ...

    def too_many_parts(self) -> Exception:
        return InvalidRequest(f"more than {MAX_FIELDS} form fields")

    def begin_part(self) -> None:
        self._name = None
        self._value.clear()
        self._in_file = False

    def headers_finished(self) -> None:
        # Content-Disposition is parsed once for both parameters, with what Message.get_param
        # and get_filename would each parse again (the first match wins, as there, and a
        # filename falls back to Content-Type's name, as there): 40 µs of every upload here.
        params = self.headers.get_params([], header="content-disposition")
        name = _first_param(params, "name")
        if not isinstance(name, str):
            raise InvalidRequest("a form part has no name")
        self._name = name
        file_name = _first_param(params, "filename")
        if file_name is None:
            file_name = self.headers.get_param("name", None, "content-type")
        self._in_file = self.file_begins(
            name, None if file_name is None else collapse_rfc2231_value(file_name).strip())

    def part_data(self, data: bytes, start: int, end: int) -> None:
        if self._in_file:
            self.file_data(memoryview(data)[start:end])
            return
        if len(self._value) + end - start > MAX_FIELD_BYTES:
            raise InvalidRequest(f"field {self._name} is too long", field=self._name)
        self._value.extend(data[start:end])

    def part_end(self) -> None:
        if self._in_file:
            self.file_ends()
        elif self._name is not None:
            try:
                self.fields[self._name] = self._value.decode("utf-8")
            except UnicodeDecodeError as exc:
                raise InvalidRequest(
                    f"field {self._name} is not UTF-8", field=self._name
                ) from exc


async def read_multipart(reader: FieldReader, content_type: str, body: AsyncIterator[bytes],
                         what: str) -> None:
    """Feed a ``multipart/form-data`` body to ``reader``; ``what`` names it in refusals."""
    kind, params = parse_options_header(content_type)
    boundary = params.get(b"boundary")
    if kind != b"multipart/form-data" or not boundary:
        raise InvalidRequest(f"the {what} must be multipart/form-data with a boundary")
    try:
        await feed(reader, boundary, body)
    except MultipartParseError as exc:
        raise InvalidRequest(f"the multipart body is malformed: {exc}") from exc
    if not reader.complete:
        raise InvalidRequest("the multipart body ended before its closing boundary")


class _FormReader(FieldReader):
    def __init__(self, content: StagedContent) -> None:
        super().__init__()
        self._content = content
        self.file_name: str | None = None

    def file_begins(self, name: str, file_name: str | None) -> bool:
        if name != FILE_FIELD:
            return False
        if self.file_name is not None:
            raise InvalidRequest("send exactly one file", field=FILE_FIELD)
        if not file_name:
            raise InvalidRequest("the file part has no filename", field=FILE_FIELD)
        self.file_name = file_name
        declared = self.fields.get("sha256")
        if declared:  # sent before the file: the store may write it under that name at once
            self._content.expect(declared.strip())
        return True

    def file_data(self, chunk: memoryview) -> None:
        self._content.write(chunk)


async def receive_form(
    content_type: str, body: AsyncIterator[bytes], content: StagedContent
) -> ReceivedForm:
    """Read a multipart body, streaming its ``file`` part into ``content`` (not finished:
    accepting the document does that, while its timestamp is signed)."""
    reader = _FormReader(content)
    await read_multipart(reader, content_type, body, "upload")
    if reader.file_name is None:
        raise InvalidRequest("the upload has no file part", field=FILE_FIELD)
    return ReceivedForm(reader.fields, reader.file_name)


_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def _flag(fields: dict[str, str], name: str) -> bool:
    value = fields.get(name, "").strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise InvalidRequest(f"{name} must be true or false", field=name)


def upload_request(form: ReceivedForm) -> UploadRequest:
    """The upload a received form asks for (the same field names on every door)."""
    fields = form.fields
    return UploadRequest(
        file_name=form.file_name or "",
        doc_type_office=fields.get("doc_type_office", ""),
        doc_type_id=fields.get("doc_type_id", ""),
        doc_type_description=fields.get("doc_type_description", ""),
        recipient_krid=fields.get("recipient_krid"),
        recipient_code=fields.get("recipient_code"),
        note=fields.get("note"),
        reference_number=fields.get("reference_number"),
        sha256=fields.get("sha256"),
        sha1=fields.get("sha1"),
        reply_encryption=_flag(fields, "reply_encryption"),
        return_receipt=_flag(fields, "return_receipt"),
        encrypt=_flag(fields, "encrypt"),
        require_encryption=_flag(fields, "require_encryption"),
        keep_copy=_flag(fields, "keep_copy"),
    )


def flag(fields: dict[str, str], name: str) -> bool:
    """A true/false field as every door reads it (1/true/yes/on, 0/false/no/off or empty)."""
    return _flag(fields, name)
