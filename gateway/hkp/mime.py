"""Reading a SOAP-with-Attachments or MTOM request (``multipart/related``) as a stream.

python-multipart splits the body on its boundary; part headers are read with the standard
``email`` package, which copes with what real clients send (quoted content types, odd spacing).
The root part (named by ``start``, else the first) is kept in memory up to the envelope limit;
every other part streams into the blob store's staging area, base64-decoded on the fly when its
``Content-Transfer-Encoding`` says so. Nothing holds an attachment in memory.
"""

from __future__ import annotations

import binascii
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from email.message import Message
from typing import TYPE_CHECKING
from urllib.parse import unquote

from python_multipart.exceptions import MultipartParseError
from python_multipart.multipart import MultipartParser

from gateway.errors import GatewayError, MalformedMessage, TooLarge
from gateway.hkp.xml import MAX_ENVELOPE_BYTES
from gateway.services.ports import StagedContent

if TYPE_CHECKING:
    from python_multipart.multipart import MultipartCallbacks

MAX_ATTACHMENTS = 500


def content_id_key(value: str) -> str:
    """``<csat-1>``, ``cid:csat-1`` and ``csat-1`` all name the attachment ``csat-1``."""
    value = value.strip()
    if value.lower().startswith("cid:"):
        value = unquote(value[4:])
    return value.strip().strip("<>").strip()


class Base64Sink:
    """Decodes base64 arriving in arbitrary chunks into ``sink``.

    Written by hand because neither the standard library nor a maintained package offers an
    incremental base64 decoder: we keep the remainder that is not yet a whole 4-character group.
    """

    _WHITESPACE = b" \t\r\n"

    def __init__(self, sink: StagedContent) -> None:
        self._sink = sink
        self._pending = b""

    def write(self, data: bytes | memoryview) -> None:
        pending = self._pending + bytes(data).translate(None, self._WHITESPACE)
        usable = len(pending) - len(pending) % 4
        if usable:
            try:
                self._sink.write(binascii.a2b_base64(pending[:usable], strict_mode=False))
            except binascii.Error as exc:
                raise MalformedMessage(f"an attachment is not valid base64: {exc}") from exc
        self._pending = pending[usable:]

    def close(self) -> None:
        if self._pending:
            raise MalformedMessage("an attachment's base64 ends in the middle of a group")


@dataclass
class RelatedMessage:
    envelope: bytes = b""
    attachments: dict[str, StagedContent] = field(default_factory=dict)
    refused: dict[str, GatewayError] = field(default_factory=dict)

    async def discard_all(self) -> None:
        for staged in self.attachments.values():
            await staged.discard()
        self.attachments.clear()


class _RelatedReader:
    def __init__(self, start: str | None, stage: Callable[[], StagedContent],
                 message: RelatedMessage) -> None:
        self._start = start
        self._stage = stage
        self._message = message
        self._header_field = bytearray()
        self._header_value = bytearray()
        self._headers = Message()
        self._in_root = False
        self._root_seen = False
        self._envelope = bytearray()
        self._cid = ""
        self._staged: StagedContent | None = None
        self._writer: StagedContent | Base64Sink | None = None
        self.parts = 0
        self.complete = False

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
        self.complete = True

    def _part_begin(self) -> None:
        self.parts += 1
        if self.parts > MAX_ATTACHMENTS + 1:
            raise MalformedMessage(f"more than {MAX_ATTACHMENTS} attachments")
        self._headers = Message()
        self._in_root = False
        self._staged = None
        self._writer = None

    def _header_end(self) -> None:
        self._headers[self._header_field.decode("latin-1").strip()] = (
            self._header_value.decode("utf-8", errors="replace").strip()
        )
        self._header_field.clear()
        self._header_value.clear()

    def _headers_finished(self) -> None:
        cid = content_id_key(self._headers.get("Content-ID", ""))
        is_root = (cid == self._start) if self._start else not self._root_seen
        if is_root and not self._root_seen:
            self._root_seen = True
            self._in_root = True
            return
        if not cid:
            raise MalformedMessage("an attachment part has no Content-ID")
        if cid in self._message.attachments:
            raise MalformedMessage(f"two attachments have the Content-ID <{cid}>")
        self._cid = cid
        self._staged = self._stage()
        self._message.attachments[cid] = self._staged
        encoding = (self._headers.get("Content-Transfer-Encoding") or "binary").strip().lower()
        if encoding == "base64":
            self._writer = Base64Sink(self._staged)
        elif encoding in ("binary", "8bit", "7bit"):
            self._writer = self._staged
        else:
            raise MalformedMessage(f"Content-Transfer-Encoding {encoding} is not supported")

    def _part_data(self, data: bytes, start: int, end: int) -> None:
        if self._in_root:
            if len(self._envelope) + end - start > MAX_ENVELOPE_BYTES:
                raise MalformedMessage(f"the envelope is larger than {MAX_ENVELOPE_BYTES} bytes")
            self._envelope.extend(data[start:end])
        elif self._writer is not None:
            try:
                self._writer.write(memoryview(data)[start:end])
            except TooLarge as exc:
                # Only the document that names this attachment is refused; the rest of the
                # part is read and dropped.
                self._message.refused[self._cid] = exc
                self._writer = None

    def _part_end(self) -> None:
        if self._in_root:
            self._message.envelope = bytes(self._envelope)
        elif isinstance(self._writer, Base64Sink):
            self._writer.close()


async def receive_related(
    boundary: bytes,
    start: str | None,
    body: AsyncIterator[bytes],
    stage: Callable[[], StagedContent],
) -> RelatedMessage:
    """Read a ``multipart/related`` body; attachments are staged, not yet finished."""
    message = RelatedMessage()
    reader = _RelatedReader(start, stage, message)
    parser = MultipartParser(boundary, reader.callbacks())
    try:
        async for chunk in body:
            parser.write(chunk)
        parser.finalize()
        if not reader.complete:
            raise MalformedMessage("the multipart body ended before its closing boundary")
        if not message.envelope:
            raise MalformedMessage("the multipart request has no SOAP envelope part")
        for cid, staged in list(message.attachments.items()):
            if cid in message.refused:
                await staged.discard()
                del message.attachments[cid]
            else:
                await staged.finish()
    except MultipartParseError as exc:
        await message.discard_all()
        raise MalformedMessage(f"the multipart body is malformed: {exc}") from exc
    except BaseException:
        await message.discard_all()
        raise
    return message
