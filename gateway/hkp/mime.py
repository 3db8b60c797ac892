"""Reading a SOAP-with-Attachments or MTOM request (``multipart/related``) as a stream.

The shared ``gateway.multipart.PartReader`` reads each part's headers (quoted content types and
odd spacing included). The root part (named by ``start``, else the first; it must come before the
attachments) is kept in memory up to the envelope limit, and its credentials are checked before
anything else is read; every other part then streams into an upload staged for it (the door's
``stage``, whose block removes whatever acceptance is not handed), base64-decoded on the fly
when its ``Content-Transfer-Encoding`` says so. Nothing holds an attachment in memory.
"""

from __future__ import annotations

import binascii
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from urllib.parse import unquote

from python_multipart.exceptions import MultipartParseError
from python_multipart.multipart import MultipartParser

from gateway.errors import GatewayError, MalformedMessage, TooLarge
from gateway.hkp.xml import MAX_ENVELOPE_BYTES
from gateway.multipart import PartReader
from gateway.services.acceptance import StagedUpload
from gateway.services.ports.storage import StagedContent

MAX_ATTACHMENTS = 500
# Until a request's credentials are checked, the body is parsed this much at a time, so that
# at most this much of the first attachment waits in memory (and nothing is staged).
PRE_AUTH_SLICE = 4096


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
    # Staged, not yet accepted; one refused while read (too large) is in ``refused`` instead.
    attachments: dict[str, StagedUpload] = field(default_factory=dict)
    refused: dict[str, GatewayError] = field(default_factory=dict)


class _Part:
    """An attachment part. Until the request is authenticated nothing is staged: the part's
    first bytes wait here, at most what one ``PRE_AUTH_SLICE`` of the body holds."""

    def __init__(self, cid: str, base64: bool) -> None:
        self.cid = cid
        self.base64 = base64
        self.early = bytearray()
        self.writer: StagedContent | Base64Sink | None = None
        self.refused = False  # too large: the rest of it is read and dropped
        self.ended = False


class _RelatedReader(PartReader):
    def __init__(self, start: str | None, stage: Callable[[], StagedUpload],
                 message: RelatedMessage) -> None:
        super().__init__(MAX_ATTACHMENTS + 1)
        self._start = start
        self._stage = stage
        self._message = message
        self._in_root = False
        self._root_seen = False
        self.root_done = False
        self.authenticated = False
        self._envelope = bytearray()
        self._part: _Part | None = None
        self._waiting: list[_Part] = []  # begun before authentication
        self._declared: dict[str, str] = {}  # SHA-256 by Content-ID, as the envelope says

    def too_many_parts(self) -> Exception:
        return MalformedMessage(f"more than {MAX_ATTACHMENTS} attachments")

    def begin_part(self) -> None:
        self._in_root = False
        self._part = None

    def headers_finished(self) -> None:
        cid = content_id_key(self.headers.get("Content-ID", ""))
        is_root = (cid == self._start) if self._start else not self._root_seen
        if is_root and not self._root_seen:
            self._root_seen = True
            self._in_root = True
            return
        if not self._root_seen:
            # Its credentials are in the envelope: no attachment is staged before they are
            # checked, nor held in memory, so the envelope must come first.
            raise MalformedMessage("the SOAP envelope (the root part) must come before the "
                                   "attachments")
        if not cid:
            raise MalformedMessage("an attachment part has no Content-ID")
        if cid in self._message.attachments or any(p.cid == cid for p in self._waiting):
            raise MalformedMessage(f"two attachments have the Content-ID <{cid}>")
        encoding = (self.headers.get("Content-Transfer-Encoding") or "binary").strip().lower()
        if encoding not in ("base64", "binary", "8bit", "7bit"):
            raise MalformedMessage(f"Content-Transfer-Encoding {encoding} is not supported")
        self._part = _Part(cid, encoding == "base64")
        if self.authenticated:
            self._open(self._part)
        else:
            self._waiting.append(self._part)

    def _open(self, part: _Part) -> None:
        staged = self._stage()
        self._message.attachments[part.cid] = staged
        declared = self._declared.get(part.cid)
        if declared is not None:
            staged.content.expect(declared)
        part.writer = Base64Sink(staged.content) if part.base64 else staged.content
        if part.early:
            self._write(part, memoryview(part.early))
            part.early = bytearray()
        if part.ended:
            self._close(part)

    def _write(self, part: _Part, data: bytes | memoryview) -> None:
        if part.refused or part.writer is None:
            return
        try:
            part.writer.write(data)
        except TooLarge as exc:
            # Only the document that names this attachment is refused; the rest of the
            # part is read and dropped.
            self._message.refused[part.cid] = exc
            part.refused = True

    def _close(self, part: _Part) -> None:
        if isinstance(part.writer, Base64Sink) and not part.refused:
            part.writer.close()

    def authenticate(self, declared: Mapping[str, str]) -> None:
        """The envelope's credentials are good: stage the parts begun so far. ``declared``:
        the SHA-256 its documents declare, by the attachment's ``href``."""
        self._declared = {content_id_key(href): digest for href, digest in declared.items()}
        self.authenticated = True
        for part in self._waiting:
            self._open(part)
        self._waiting.clear()

    def part_data(self, data: bytes, start: int, end: int) -> None:
        if self._in_root:
            if len(self._envelope) + end - start > MAX_ENVELOPE_BYTES:
                raise MalformedMessage(f"the envelope is larger than {MAX_ENVELOPE_BYTES} bytes")
            self._envelope.extend(data[start:end])
        elif self._part is not None:
            if self._part.writer is None:
                self._part.early.extend(data[start:end])
            else:
                self._write(self._part, memoryview(data)[start:end])

    def part_end(self) -> None:
        if self._in_root:
            self._message.envelope = bytes(self._envelope)
            self.root_done = True
        elif self._part is not None:
            self._part.ended = True
            self._close(self._part)


async def _feed(reader: _RelatedReader, message: RelatedMessage, boundary: bytes,
                body: AsyncIterator[bytes],
                authenticate: Callable[[bytes], Awaitable[Mapping[str, str]]]) -> None:
    """Like ``gateway.multipart.feed``, but until the envelope has been read and its
    credentials checked, the body goes to the parser in slices of ``PRE_AUTH_SLICE``: an
    unauthenticated request is refused having had at most the envelope and one slice read."""
    parser = MultipartParser(boundary, reader.callbacks())
    async for chunk in body:
        offset = 0
        while not reader.authenticated and offset < len(chunk):
            parser.write(chunk[offset:offset + PRE_AUTH_SLICE])
            offset += PRE_AUTH_SLICE
            if reader.root_done and not reader.authenticated:
                reader.authenticate(await authenticate(message.envelope))
        if offset < len(chunk):
            parser.write(chunk[offset:])
    parser.finalize()


async def receive_related(
    boundary: bytes,
    start: str | None,
    body: AsyncIterator[bytes],
    stage: Callable[[], StagedUpload],
    authenticate: Callable[[bytes], Awaitable[Mapping[str, str]]],
) -> RelatedMessage:
    """Read a ``multipart/related`` body; attachments are staged (by ``stage``, whose owner
    removes what is not accepted, this reader failing or not), not yet finished.

    ``authenticate`` gets the envelope as soon as it has been read and raises to refuse the
    request: then no attachment has been staged, and the rest of the body is left unread.
    Otherwise it returns the SHA-256 the envelope's documents declare by attachment ``href``,
    passed to each attachment's staged content before its first byte."""
    message = RelatedMessage()
    reader = _RelatedReader(start, stage, message)
    try:
        await _feed(reader, message, boundary, body, authenticate)
    except MultipartParseError as exc:
        raise MalformedMessage(f"the multipart body is malformed: {exc}") from exc
    if not reader.complete:
        raise MalformedMessage("the multipart body ended before its closing boundary")
    if not message.envelope:
        raise MalformedMessage("the multipart request has no SOAP envelope part")
    # A refused one is never accepted: a document naming it gets its refusal. The others
    # are finished when their documents are accepted.
    for cid in message.refused:
        message.attachments.pop(cid, None)
    return message
