"""Streaming ``multipart/form-data`` reader for e-Papír (contract 24), shared by its doors (REST
and the browser's form): each ``attachment`` part goes straight to disk
(services/epapir.StagedAttachments, which counts and limits them as they arrive); the small
text fields are collected by ``forms.FieldReader``, as for a document upload."""

from __future__ import annotations

from collections.abc import AsyncIterator

from gateway.errors import InvalidRequest
from gateway.forms import FieldReader, read_multipart
from gateway.services.epapir import ATTACHMENT_FIELD, StagedAttachments


class _SubmissionReader(FieldReader):
    def __init__(self, attachments: StagedAttachments) -> None:
        super().__init__()
        self._attachments = attachments
        self._skipping = False

    def begin_part(self) -> None:
        super().begin_part()
        self._skipping = False

    def file_begins(self, name: str, file_name: str | None) -> bool:
        if name != ATTACHMENT_FIELD:
            return False
        if not file_name:
            # A browser's file input with no file chosen sends an empty, nameless part: it is
            # taken as a file part and must stay empty.
            self._skipping = True
            return True
        self._attachments.begin(file_name)
        return True

    def file_data(self, chunk: memoryview) -> None:
        if self._skipping:
            if len(chunk):
                raise InvalidRequest("an attachment part has no filename",
                                     field=ATTACHMENT_FIELD)
            return
        self._attachments.write(chunk)

    def file_ends(self) -> None:
        if not self._skipping:
            self._attachments.end()


async def receive_submission(content_type: str, body: AsyncIterator[bytes],
                             attachments: StagedAttachments) -> dict[str, str]:
    """Read a multipart body, streaming its ``attachment`` parts into ``attachments``; the
    text fields by name."""
    reader = _SubmissionReader(attachments)
    await read_multipart(reader, content_type, body, "submission")
    return reader.fields
