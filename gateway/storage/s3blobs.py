"""Content-addressed blob store in an S3-compatible object store (aiobotocore).

Layout under the bucket's prefix: ``blobs/<sha256>`` for stored content, ``tmp/`` for uploads
on their way in and content an expiry is deleting. Several hosts share one bucket.

An upload's bytes are hashed as they arrive and appended to a local spool file (the doors
write synchronously; the spool keeps memory flat whatever the client's pace). Every 5 MiB
that arrived goes at once, as one part of a multipart upload to ``tmp/<uuid>``, at most two
parts in flight. Only at the end is the SHA-256 known: the finished staging object is then
copied, inside the store, to ``blobs/<sha256>`` - before the database row commits, so a
committed row always names an object. Content of at most one part never touches the disk:
it is put under its final key in one request. The staging object (or the bytes in memory)
stays until the row committed: ``place`` then checks the final object is still there (an
expiry of the same content may have removed it meanwhile) and puts it back if not.

An object no committed row names (a host killed after the copy, a refusal inside the
transaction) is removed by ``collect_garbage`` once older than the grace period, as are
staging objects and unfinished multipart uploads.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import hashlib
import logging
import os
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import AsyncExitStack
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, BinaryIO
from urllib.parse import parse_qs, urlsplit

from aiobotocore.session import get_session
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from gateway.errors import Unavailable
from gateway.services.ports.storage import BlobGcReport
from gateway.storage.blobs import files_older_than, unlink_if_present
from gateway.storage.incoming import IncomingBytes

log = logging.getLogger(__name__)
# S3 parts are at least 5 MiB but the last. Each part in flight costs about three times its
# size in memory (the bytes, the signing, the connection), so the smallest, two at a time:
# measured on SeaweedFS, as fast as 8 MiB parts and a third less memory (35 MiB against 55).
PART_BYTES = 5 << 20
PARTS_IN_FLIGHT = 2
READ_CHUNK = 1 << 20
PROGRESS_EVERY = 1000
_HEX = frozenset("0123456789abcdef")
_MISSING = {"404", "NoSuchKey", "NotFound", "NoSuchBucket"}
Needed = Callable[[str], Awaitable[bool]]


@dataclass(frozen=True)
class S3Location:
    """``s3://BUCKET/PREFIX?endpoint=http://HOST:PORT&region=REGION``."""

    bucket: str
    prefix: str
    endpoint: str | None
    region: str | None

    @classmethod
    def parse(cls, url: str) -> S3Location:
        parts = urlsplit(url)
        if parts.scheme != "s3" or not parts.netloc:
            raise ValueError("an S3 blob URL is s3://BUCKET/PREFIX?endpoint=…&region=…")
        query = parse_qs(parts.query)
        prefix = parts.path.strip("/")
        return cls(bucket=parts.netloc, prefix=f"{prefix}/" if prefix else "",
                   endpoint=query.get("endpoint", [None])[0],
                   region=query.get("region", [None])[0])


@contextlib.contextmanager
def _store_errors() -> Iterator[None]:
    """Whatever the store or the network says becomes Unavailable: safe to retry."""
    try:
        yield
    except (TimeoutError, BotoCoreError, ClientError, OSError) as exc:
        raise Unavailable(f"the blob store did not answer: {exc}") from exc


def _missing(exc: ClientError) -> bool:
    error = exc.response.get("Error", {})
    status = str(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", ""))
    return error.get("Code") in _MISSING or status == "404"


def _is_sha256(name: str) -> bool:
    return len(name) == 64 and set(name) <= _HEX


class StagedObject(IncomingBytes):
    """One upload's bytes on their way into the store (see the module's docstring)."""

    def __init__(self, store: S3BlobStore, max_bytes: int) -> None:
        super().__init__(max_bytes)
        self._store = store
        name = uuid.uuid4().hex
        self._spool_path = store.spool_dir / f"{name}.part"
        self._staging_key = store.key(f"tmp/{name}")
        self._memory = bytearray()
        self._file: BinaryIO | None = None
        self._sent = 0  # bytes handed to part uploads
        self._upload: asyncio.Task[str] | None = None
        self._parts: list[asyncio.Task[dict[str, Any]]] = []
        self._slots = asyncio.Semaphore(PARTS_IN_FLIGHT)
        self._staged = False  # the staging object is complete
        self._published = False

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
        self._file.flush()  # the part is read back from the file by another thread
        if self._upload is None:
            self._upload = asyncio.ensure_future(self._store.start_upload(self._staging_key))
        number = len(self._parts) + 1
        self._parts.append(asyncio.ensure_future(self._part(number, self._sent, length)))
        self._sent += length

    async def _part(self, number: int, offset: int, length: int) -> dict[str, Any]:
        assert self._upload is not None and self._file is not None
        # Shielded: cancelling one part must not cancel the upload the others share.
        upload_id = await asyncio.shield(self._upload)
        async with self._slots:  # the bytes are read only once a slot is free
            data = await asyncio.to_thread(os.pread, self._file.fileno(), length, offset)
            etag = await self._store.upload_part(self._staging_key, upload_id, number, data)
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
            await self._store.complete_upload(self._staging_key, await self._upload, parts)
            self._staged = True
        await self._publish(skip_if_present=True)

    async def _publish(self, *, skip_if_present: bool) -> None:
        """Write the content under ``blobs/<sha256>``: one put from memory, or a copy of the
        staging object inside the store (skipped when that content is stored already)."""
        final = self._store.content_key(self.sha256)
        if not self._staged:
            await self._store.put(final, bytes(self._memory))
        elif not (skip_if_present and await self._store.exists(self.sha256)):
            await self._store.copy(self._staging_key, final)
        self._published = True

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
        if published and self._store.needed is not None:
            # The same bytes may be another document's: deleted only if no row needs them.
            with contextlib.suppress(Unavailable):
                await self._store.delete_unless(
                    self.sha256, lambda: self._store.needed_now(self.sha256))

    async def _forget(self) -> None:
        """Remove the staging object (or abort its unfinished upload) and the local spool."""
        try:
            if self._upload is not None:
                with contextlib.suppress(Unavailable, ClientError, BotoCoreError):
                    upload_id = await self._upload
                    if self._staged:
                        await self._store.delete(self._staging_key)
                    else:
                        await self._store.abort_upload(self._staging_key, upload_id)
        finally:
            self._upload = None
            self._memory = bytearray()
            if self._file is not None:
                self._file.close()
                with contextlib.suppress(FileNotFoundError):
                    self._spool_path.unlink()
                self._file = None


class S3BlobStore:
    def __init__(self, location: S3Location, access_key_id: str | None,
                 secret_access_key: str | None, spool_dir: Path) -> None:
        self.location = location
        self.spool_dir = spool_dir
        self.spool_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        self._credentials = (access_key_id, secret_access_key)
        # One client per event loop (the CLI runs one loop per command; tests, one per test).
        self._clients: dict[asyncio.AbstractEventLoop, tuple[AsyncExitStack, Any]] = {}
        self._opening = asyncio.Lock()
        # Whether a committed row needs a content (wired by the app): lets a refused
        # upload remove what it wrote under the content key.
        self.needed: Needed | None = None

    def needed_now(self, sha256: str) -> Awaitable[bool]:
        assert self.needed is not None
        return self.needed(sha256)

    @property
    def bucket(self) -> str:
        return self.location.bucket

    def key(self, name: str) -> str:
        return self.location.prefix + name

    def content_key(self, sha256: str) -> str:
        return self.key(f"blobs/{sha256}")

    def stage(self, max_bytes: int) -> StagedObject:
        return StagedObject(self, max_bytes)

    async def _client(self) -> Any:
        loop = asyncio.get_running_loop()
        opened = self._clients.get(loop)
        if opened is not None:
            return opened[1]
        async with self._opening:
            if loop in self._clients:
                return self._clients[loop][1]
            stack = AsyncExitStack()
            location = self.location
            config = Config(
                s3={"addressing_style": "path" if location.endpoint else "auto"},
                retries={"max_attempts": 4, "mode": "standard"},
                connect_timeout=5, read_timeout=60, max_pool_connections=64,
                # Many S3-compatible stores know only the classic checksums.
                request_checksum_calculation="when_required",
                response_checksum_validation="when_required",
            )
            access_key_id, secret_access_key = self._credentials
            client = await stack.enter_async_context(get_session().create_client(
                "s3", endpoint_url=location.endpoint, region_name=location.region or "us-east-1",
                aws_access_key_id=access_key_id, aws_secret_access_key=secret_access_key,
                config=config))
            try:
                await self._bucket_ready(client)
            except BaseException:
                await stack.aclose()
                raise
            self._clients[loop] = (stack, client)
            return client

    async def _bucket_ready(self, client: Any) -> None:
        with _store_errors():
            try:
                await client.head_bucket(Bucket=self.bucket)
                return
            except ClientError as exc:
                if not _missing(exc):
                    raise
            try:
                await client.create_bucket(Bucket=self.bucket)
                log.warning("created the blob store's bucket %s", self.bucket)
            except ClientError as exc:  # another host created it a moment ago
                code = exc.response.get("Error", {}).get("Code")
                if code not in ("BucketAlreadyOwnedByYou", "BucketAlreadyExists"):
                    raise

    async def close(self) -> None:
        loop = asyncio.get_running_loop()
        opened = self._clients.pop(loop, None)
        if opened is not None:
            await opened[0].aclose()

    # --- object operations ---------------------------------------------------------------

    async def put(self, key: str, data: bytes) -> None:
        client = await self._client()
        with _store_errors():
            await client.put_object(Bucket=self.bucket, Key=key, Body=data)

    async def copy(self, source: str, target: str) -> None:
        client = await self._client()
        with _store_errors():
            await client.copy_object(Bucket=self.bucket, Key=target,
                                     CopySource={"Bucket": self.bucket, "Key": source})

    async def delete(self, key: str) -> None:
        client = await self._client()
        with _store_errors():
            await client.delete_object(Bucket=self.bucket, Key=key)

    async def start_upload(self, key: str) -> str:
        client = await self._client()
        with _store_errors():
            answer = await client.create_multipart_upload(Bucket=self.bucket, Key=key)
        return str(answer["UploadId"])

    async def upload_part(self, key: str, upload_id: str, number: int, data: bytes) -> str:
        client = await self._client()
        with _store_errors():
            answer = await client.upload_part(Bucket=self.bucket, Key=key, UploadId=upload_id,
                                              PartNumber=number, Body=data)
        return str(answer["ETag"])

    async def complete_upload(self, key: str, upload_id: str,
                              parts: list[dict[str, Any]]) -> None:
        client = await self._client()
        with _store_errors():
            await client.complete_multipart_upload(
                Bucket=self.bucket, Key=key, UploadId=upload_id,
                MultipartUpload={"Parts": parts})

    async def abort_upload(self, key: str, upload_id: str) -> None:
        client = await self._client()
        with _store_errors():
            await client.abort_multipart_upload(Bucket=self.bucket, Key=key, UploadId=upload_id)

    # --- the port --------------------------------------------------------------------------

    async def exists(self, sha256: str) -> bool:
        return await self._exists(self.content_key(sha256))

    async def _exists(self, key: str) -> bool:
        client = await self._client()
        with _store_errors():
            try:
                await client.head_object(Bucket=self.bucket, Key=key)
            except ClientError as exc:
                if _missing(exc):
                    return False
                raise
        return True

    async def read(self, sha256: str, start: int = 0, end: int | None = None
                   ) -> AsyncIterator[bytes]:
        """The content, or bytes ``start`` to ``end`` (inclusive), streamed from the store."""
        client = await self._client()
        extra = {} if start == 0 and end is None else {
            "Range": f"bytes={start}-{'' if end is None else end}"}
        with _store_errors():
            answer = await client.get_object(
                Bucket=self.bucket, Key=self.content_key(sha256), **extra)
            body = answer["Body"]
            try:
                async for chunk in body.iter_chunks(READ_CHUNK):
                    yield chunk
            finally:
                body.close()

    async def check(self) -> None:
        probe = self.key(f"tmp/probe-{uuid.uuid4().hex}")
        await self.put(probe, b"")
        await self.delete(probe)

    async def recover(self, committed: Needed) -> int:
        """Nothing waits to be placed: content is in place before its row commits. Leftovers
        are the garbage collector's."""
        return 0

    async def delete_unless(self, sha256: str, needed: Callable[[], Awaitable[bool]]) -> bool:
        """Delete stored content unless a document still needs it. The object is copied
        aside and deleted first, and the database asked after: a row of the same content
        committing meanwhile is then seen (and the object put back), or its upload's
        ``place`` finds the object gone and puts it back itself."""
        final = self.content_key(sha256)
        aside = self.key(f"tmp/{sha256}.{uuid.uuid4().hex}.deleting")
        client = await self._client()
        with _store_errors():
            try:
                await client.copy_object(Bucket=self.bucket, Key=aside,
                                         CopySource={"Bucket": self.bucket, "Key": final})
            except ClientError as exc:
                if _missing(exc):
                    return False
                raise
        await self.delete(final)
        if await needed():
            await self.copy(aside, final)
            await self.delete(aside)
            return False
        await self.delete(aside)
        return True

    async def collect_garbage(
        self, needed: Needed, grace_seconds: float,
        progress: Callable[[BlobGcReport], None] | None = None,
    ) -> BlobGcReport:
        """Remove what no row needs among objects older than ``grace_seconds`` (staging and
        stored content), and abort multipart uploads started before then. Younger ones may
        belong to an upload in flight, here or on another host. The age is the store's own
        clock (LastModified, Initiated), as the file store's is the file system's."""
        cutoff = datetime.fromtimestamp(time.time() - grace_seconds, UTC)
        examined = removed = placed = aborted = 0

        def report() -> BlobGcReport:
            return BlobGcReport(examined=examined, removed=removed, placed=placed,
                                aborted_uploads=aborted)

        def tick() -> None:
            if progress is not None and examined % PROGRESS_EVERY == 0:
                progress(report())

        client = await self._client()
        staging = self.key("tmp/")
        with _store_errors():
            uploads = client.get_paginator("list_multipart_uploads")
            async for page in uploads.paginate(Bucket=self.bucket, Prefix=staging):
                for upload in page.get("Uploads", []):
                    if upload["Initiated"] <= cutoff:
                        await self.abort_upload(upload["Key"], upload["UploadId"])
                        aborted += 1
        async for key in self.files_older_than(staging, cutoff):
            examined += 1
            name = key[len(staging):]
            sha256 = name.split(".", 1)[0]
            # Content an expiry was deleting when its process died: back if a row needs it.
            if name.endswith(".deleting") and _is_sha256(sha256) and await needed(sha256):
                if not await self.exists(sha256):
                    await self.copy(key, self.content_key(sha256))
                    placed += 1
            else:
                removed += 1
            await self.delete(key)
            tick()
        stored = self.key("blobs/")
        async for key in self.files_older_than(stored, cutoff):
            sha256 = key[len(stored):]
            if not _is_sha256(sha256):
                continue  # not ours
            examined += 1
            # Asked first to leave needed content untouched; delete_unless asks again.
            if not await needed(sha256) and await self.delete_unless(
                    sha256, functools.partial(needed, sha256)):
                removed += 1
            tick()
        # This host's local spool files of uploads whose process died.
        spooled = await asyncio.to_thread(
            files_older_than, self.spool_dir.iterdir(), cutoff.timestamp())
        for path in spooled:
            examined += 1
            removed += int(await asyncio.to_thread(unlink_if_present, path))
        return report()

    async def files_older_than(self, prefix: str, cutoff: datetime) -> AsyncIterator[str]:
        client = await self._client()
        with _store_errors():
            pages = client.get_paginator("list_objects_v2")
            async for page in pages.paginate(Bucket=self.bucket, Prefix=prefix):
                for item in page.get("Contents", []):
                    if item["LastModified"] <= cutoff:
                        yield item["Key"]
