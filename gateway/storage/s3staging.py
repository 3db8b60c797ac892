"""An upload's bytes on their way into an S3-compatible store.

The bytes are hashed as they arrive and appended to a local spool file (the doors write
synchronously; the spool keeps memory flat whatever the client's pace). Every 5 MiB that
arrived goes at once, as one part of a multipart upload to ``tmp/<uuid>``, at most two parts in
flight. Only at the end is the SHA-256 known: the finished staging object is then copied,
inside the store, to ``blobs/<sha256>`` - before the database row commits, so a committed row
always names an object. When the client declared the SHA-256 before the bytes (``expect``),
the parts go straight to ``blobs/<sha256>`` instead, and that upload is completed only once the
bytes are known to have it: no copy, and no object ever holds other bytes than its name says.
Content of at most one part never touches the disk: it is put under its final key in one
request. The staging object (or the bytes in memory, or the spool) stays until the row
committed: ``place`` then checks the final object is still there (an expiry of the same content
may have removed it meanwhile) and puts it back if not.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import io
import logging
import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO

from botocore.exceptions import BotoCoreError, ClientError

from gateway.domain.incoming import IncomingBytes
from gateway.errors import HashMismatch, Unavailable
from gateway.storage.s3bucket import S3Bucket, is_sha256

log = logging.getLogger(__name__)
# S3 parts are at least 5 MiB but the last. A part is read from the spool as it is sent
# (SpoolWindow), so its size costs no memory; the smallest, two at a time, was as fast on
# SeaweedFS as 8 MiB parts (measured when each part was read into memory whole).
PART_BYTES = 5 << 20
PARTS_IN_FLIGHT = 2
READ_CHUNK = 1 << 20


class SpoolWindow(io.RawIOBase):
    """``length`` bytes of a spool file from ``offset``, as a seekable file of their own: the
    body of one part. The S3 client reads it twice (its signature's hash, then the request)
    in small chunks, so no part is held in memory whole. By hand: the standard library has no
    window onto a file, and s3transfer's ReadFileChunk comes with boto3, not with aiobotocore.
    ``os.pread`` leaves the file's own position alone, so parts share one descriptor."""

    def __init__(self, fd: int, offset: int, length: int) -> None:
        super().__init__()
        self._fd, self._offset, self._length = fd, offset, length
        self._position = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._position

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        start = {io.SEEK_SET: 0, io.SEEK_CUR: self._position, io.SEEK_END: self._length}
        self._position = max(0, start[whence] + offset)
        return self._position

    def readinto(self, buffer: Any) -> int:
        wanted = min(len(buffer), self._length - self._position)
        if wanted <= 0:
            return 0
        data = os.pread(self._fd, wanted, self._offset + self._position)
        buffer[:len(data)] = data
        self._position += len(data)
        return len(data)


class StagedObject(IncomingBytes):
    """One upload's bytes on their way into the store (see the module's docstring)."""

    def __init__(self, store: S3Bucket, spool_dir: Path, max_bytes: int) -> None:
        super().__init__(max_bytes)
        self._store = store
        name = uuid.uuid4().hex
        self._spool_path = spool_dir / f"{name}.part"
        self._tmp_key = store.key(f"tmp/{name}")
        self._declared: str | None = None  # the SHA-256 the client declared, when taken
        self._memory = bytearray()
        self._file: BinaryIO | None = None
        self._sent = 0  # bytes handed to part uploads
        self._upload: asyncio.Task[str] | None = None
        self._parts: list[asyncio.Task[dict[str, Any]]] = []
        self._slots = asyncio.Semaphore(PARTS_IN_FLIGHT)
        self._staged = False  # the staging object is complete
        self._published = False

    def expect(self, sha256: str) -> None:
        """The client declared the content's SHA-256: taken if no part has left yet."""
        declared = sha256.lower()
        if self._upload is None and is_sha256(declared):
            self._declared = declared

    @property
    def _upload_key(self) -> str:
        """Where the parts go: the declared content's own key, or a staging one."""
        if self._declared is not None:
            return self._store.content_key(self._declared)
        return self._tmp_key

    def write(self, chunk: bytes | memoryview) -> None:
        self._count(chunk)
        if self._file is None and len(self._memory) + len(chunk) <= PART_BYTES:
            self._memory += chunk
            return
        if self._file is None:
            self._file = open(self._spool_path, "x+b")  # read back by the part uploads
            self._file.write(self._memory)
            self._memory = bytearray()
        # Page-cache writes take microseconds: no thread hop per chunk (as the file store).
        self._file.write(chunk)
        while self._size - self._sent >= PART_BYTES:
            self._send_part(PART_BYTES)

    def _send_part(self, length: int) -> None:
        assert self._file is not None
        self._file.flush()  # the part is read back from the file's descriptor
        if self._upload is None:
            self._upload = asyncio.ensure_future(self._store.start_upload(self._upload_key))
        number = len(self._parts) + 1
        self._parts.append(asyncio.ensure_future(self._part(number, self._sent, length)))
        self._sent += length

    async def _part(self, number: int, offset: int, length: int) -> dict[str, Any]:
        assert self._upload is not None and self._file is not None
        # Shielded: cancelling one part must not cancel the upload the others share.
        upload_id = await asyncio.shield(self._upload)
        async with self._slots:  # the bytes are read only once a slot is free
            etag = await self._store.upload_part(
                self._upload_key, upload_id, number,
                SpoolWindow(self._file.fileno(), offset, length))
        return {"ETag": etag, "PartNumber": number}

    async def finish(self) -> None:
        self.seal()
        if self._published:  # finished already
            return
        if self._file is not None:
            if self._size > self._sent:
                self._send_part(self._size - self._sent)
            assert self._upload is not None
            parts = await asyncio.gather(*self._parts)
            if self._declared is not None and self._declared != self.sha256:
                # The service refuses such an upload before it finishes; the store makes sure.
                raise HashMismatch("the declared sha256 does not match the content's "
                                   f"{self.sha256}", field="sha256")
            await self._store.complete_upload(self._upload_key, await self._upload, parts)
            self._staged = True
            if self._declared is not None:
                self._published = True
                return
        await self._publish(skip_if_present=True)

    async def _publish(self, *, skip_if_present: bool) -> None:
        """Write the content under ``blobs/<sha256>``: one put from memory, or a copy of the
        staging object inside the store (skipped when that content is stored already)."""
        final = self._store.content_key(self.sha256)
        if not self._staged:
            await self._store.put(final, bytes(self._memory))
        elif self._declared is not None:  # the object the parts made went meanwhile
            await self._upload_spool(final)
        elif not (skip_if_present and await self._store.exists(self.sha256)):
            await self._store.copy(self._tmp_key, final)
        self._published = True

    async def _upload_spool(self, key: str) -> None:
        """The spool file as a multipart upload to ``key``, one part at a time."""
        assert self._file is not None
        upload_id = await self._store.start_upload(key)
        try:
            parts = []
            for number, offset in enumerate(range(0, self._size, PART_BYTES), start=1):
                length = min(PART_BYTES, self._size - offset)
                etag = await self._store.upload_part(
                    key, upload_id, number, SpoolWindow(self._file.fileno(), offset, length))
                parts.append({"ETag": etag, "PartNumber": number})
            await self._store.complete_upload(key, upload_id, parts)
        except BaseException:
            with contextlib.suppress(Unavailable, ClientError, BotoCoreError):
                await self._store.abort_upload(key, upload_id)
            raise

    async def sha1(self) -> str:
        """SHA-1 for older clients' Lenyomat; computed only when asked."""
        if self._file is None:
            return hashlib.sha1(self._memory, usedforsecurity=False).hexdigest()
        return await asyncio.to_thread(self._file_sha1)

    def _file_sha1(self) -> str:
        with open(self._spool_path, "rb") as file:
            return hashlib.file_digest(file, "sha1").hexdigest()

    def chunks(self) -> Iterator[bytes]:
        if self._file is None:
            yield bytes(self._memory)
            return
        with open(self._spool_path, "rb") as file:
            while chunk := file.read(READ_CHUNK):
                yield chunk

    async def place(self) -> None:
        """The row has committed: make sure its object is there, then drop the staging."""
        if not await self._store.exists(self.sha256):
            log.warning("blob %s went while its upload committed; putting it back", self.sha256)
            await self._publish(skip_if_present=False)
        await self._forget()

    async def discard(self) -> None:
        for part in self._parts:
            part.cancel()
        await asyncio.gather(*self._parts, return_exceptions=True)
        published = self._published
        await self._forget()
        needed = self._store.needed
        if published and needed is not None:
            # The same bytes may be another document's: deleted only if no row needs them.
            with contextlib.suppress(Unavailable):
                await self._store.delete_unless(self.sha256, lambda: needed(self.sha256))

    async def _forget(self) -> None:
        """Remove the staging object (or abort its unfinished upload) and the local spool."""
        try:
            if self._upload is not None:
                with contextlib.suppress(Unavailable, ClientError, BotoCoreError):
                    upload_id = await self._upload
                    if not self._staged:
                        await self._store.abort_upload(self._upload_key, upload_id)
                    elif self._declared is None:  # a declared one's object is the content's
                        await self._store.delete(self._tmp_key)
        finally:
            self._upload = None
            self._memory = bytearray()
            if self._file is not None:
                self._file.close()
                with contextlib.suppress(FileNotFoundError):
                    self._spool_path.unlink()
                self._file = None
