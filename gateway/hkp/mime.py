"""Reading a SOAP-with-Attachments or MTOM request (``multipart/related``) as a stream.

The shared ``gateway.multipart.PartReader`` reads each part's headers (quoted content types and
odd spacing included). The root part (named by ``start``, else the first) is kept in memory up
to the envelope limit; every other part streams into the blob store's staging area,
base64-decoded on the fly when its ``Content-Transfer-Encoding`` says so. Nothing holds an
attachment in memory.
"""

from __future__ import annotations

import binascii
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from urllib.parse import unquote

from python_multipart.exceptions import MultipartParseError

from gateway.errors import GatewayError, MalformedMessage, TooLarge
from gateway.hkp.xml import MAX_ENVELOPE_BYTES
from gateway.multipart import PartReader, feed
from gateway.services.ports import StagedContent

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


class _RelatedReader(PartReader):
    def __init__(self, start: str | None, stage: Callable[[], StagedContent],
                 message: RelatedMessage) -> None:
        super().__init__(MAX_ATTACHMENTS + 1)
        self._start = start
        self._stage = stage
        self._message = message
        self._in_root = False
        self._root_seen = False
        self._envelope = bytearray()
        self._cid = ""
        self._writer: StagedContent | Base64Sink | None = None

    def too_many_parts(self) -> Exception:
        return MalformedMessage(f"more than {MAX_ATTACHMENTS} attachments")

    def begin_part(self) -> None:
        self._in_root = False
        self._writer = None

    def headers_finished(self) -> None:
        cid = content_id_key(self.headers.get("Content-ID", ""))
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
        staged = self._stage()
        self._message.attachments[cid] = staged
        encoding = (self.headers.get("Content-Transfer-Encoding") or "binary").strip().lower()
        if encoding == "base64":
            self._writer = Base64Sink(staged)
        elif encoding in ("binary", "8bit", "7bit"):
            self._writer = staged
        else:
            raise MalformedMessage(f"Content-Transfer-Encoding {encoding} is not supported")

    def part_data(self, data: bytes, start: int, end: int) -> None:
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

    def part_end(self) -> None:
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
    try:
        await feed(reader, boundary, body)
        if not reader.complete:
            raise MalformedMessage("the multipart body ended before its closing boundary")
        if not message.envelope:
            raise MalformedMessage("the multipart request has no SOAP envelope part")
        # The others are finished when their documents are accepted.
        for cid in [cid for cid in message.attachments if cid in message.refused]:
            await message.attachments.pop(cid).discard()
    except MultipartParseError as exc:
        await message.discard_all()
        raise MalformedMessage(f"the multipart body is malformed: {exc}") from exc
    except BaseException:
        await message.discard_all()
        raise
    return message
