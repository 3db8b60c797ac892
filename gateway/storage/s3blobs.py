"""Content-addressed blob store in an S3-compatible object store (aiobotocore).

Layout under the bucket's prefix: ``blobs/<sha256>`` for stored content, ``tmp/`` for uploads
on their way in (``s3staging``) and content an expiry is deleting. Several hosts share one
bucket; the bucket's client and object operations are ``s3bucket``'s.

An object no committed row names (a host killed after the copy, a refusal inside the
transaction) is removed by ``collect_garbage`` once older than the grace period, as are
staging objects and unfinished multipart uploads.
"""

from __future__ import annotations

import asyncio
import functools
import time
import uuid
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from pathlib import Path

from gateway.services.ports.storage import BlobGcReport
from gateway.storage.blobs import files_older_than, unlink_if_present
from gateway.storage.s3bucket import Needed, S3Bucket, S3Location, is_sha256, store_errors
from gateway.storage.s3staging import READ_CHUNK, StagedObject

__all__ = ["S3BlobStore", "S3Location"]
PROGRESS_EVERY = 1000


class S3BlobStore(S3Bucket):
    """The blob store port over one bucket; each host spools its uploads in ``spool_dir``."""

    def __init__(self, location: S3Location, access_key_id: str | None,
                 secret_access_key: str | None, spool_dir: Path) -> None:
        super().__init__(location, access_key_id, secret_access_key)
        self.spool_dir = spool_dir
        self.spool_dir.mkdir(mode=0o700, parents=True, exist_ok=True)

    def stage(self, max_bytes: int) -> StagedObject:
        return StagedObject(self, self.spool_dir, max_bytes)

    async def read(self, sha256: str, start: int = 0, end: int | None = None
                   ) -> AsyncIterator[bytes]:
        """The content, or bytes ``start`` to ``end`` (inclusive), streamed from the store."""
        client = await self._client()
        extra = {} if start == 0 and end is None else {
            "Range": f"bytes={start}-{'' if end is None else end}"}
        with store_errors():
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
        with store_errors():
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
            if name.endswith(".deleting") and is_sha256(sha256) and await needed(sha256):
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
            if not is_sha256(sha256):
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
