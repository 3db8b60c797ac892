"""One bucket of an S3-compatible object store (aiobotocore), under a prefix: its client (one
per event loop), the object operations the blob store is built of, and deleting content only
while no committed row needs it. Whatever the store or the network says becomes Unavailable."""

from __future__ import annotations

import asyncio
import contextlib
import io
import logging
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import AsyncExitStack
from dataclasses import dataclass
from datetime import datetime
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import parse_qs, urlsplit

from aiobotocore.session import get_session
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError
from botocore.utils import parse_timestamp

import gateway
from gateway.errors import Unavailable

log = logging.getLogger(__name__)
_HEX = frozenset("0123456789abcdef")
_MISSING = {"404", "NoSuchKey", "NotFound", "NoSuchBucket"}
Needed = Callable[[str], Awaitable[bool]]


def store_timestamp(value: object) -> datetime:
    """A timestamp of the store's answer (``Last-Modified`` of every HEAD and GET, the
    listings' ``LastModified``). botocore's own parser goes through dateutil, about 0.1 ms a
    value on the reference machine, once for every HEAD an upload makes; the two forms S3
    sends (RFC 7231 in headers, ISO 8601 in XML) the standard library reads. Anything else,
    or a value without a time zone, is botocore's to read, as before."""
    if isinstance(value, str):
        try:
            parsed = (datetime.fromisoformat(value) if value[:4].isdigit()
                      else parsedate_to_datetime(value))
        except (TypeError, ValueError, IndexError):
            parsed = None
        if parsed is not None and parsed.tzinfo is not None:
            return parsed
    result: datetime = parse_timestamp(value)
    return result


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
def store_errors() -> Iterator[None]:
    """Whatever the store or the network says becomes Unavailable: safe to retry."""
    try:
        yield
    except (TimeoutError, BotoCoreError, ClientError, OSError) as exc:
        raise Unavailable(f"the blob store did not answer: {exc}") from exc


def missing(exc: ClientError) -> bool:
    error = exc.response.get("Error", {})
    status = str(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", ""))
    return error.get("Code") in _MISSING or status == "404"


def is_sha256(name: str) -> bool:
    return len(name) == 64 and set(name) <= _HEX


class S3Bucket:
    def __init__(self, location: S3Location, access_key_id: str | None,
                 secret_access_key: str | None) -> None:
        self.location = location
        self._credentials = (access_key_id, secret_access_key)
        # One client per event loop (the CLI runs one loop per command; tests, one per test).
        self._clients: dict[asyncio.AbstractEventLoop, tuple[AsyncExitStack, Any]] = {}
        self._opening = asyncio.Lock()
        # Whether a committed row needs a content (wired by the app): lets a refused
        # upload remove what it wrote under the content key.
        self.needed: Needed | None = None

    @property
    def bucket(self) -> str:
        return self.location.bucket

    def key(self, name: str) -> str:
        return self.location.prefix + name

    def content_key(self, sha256: str) -> str:
        return self.key(f"blobs/{sha256}")

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
                # Said once, not rebuilt from some forty parts for every request (0.1 ms each).
                user_agent=f"Kapu/{gateway.__version__}",
                s3={"addressing_style": "path" if location.endpoint else "auto"},
                retries={"max_attempts": 4, "mode": "standard"},
                connect_timeout=5, read_timeout=60, max_pool_connections=64,
                # Many S3-compatible stores know only the classic checksums.
                request_checksum_calculation="when_required",
                response_checksum_validation="when_required",
            )
            access_key_id, secret_access_key = self._credentials
            session = get_session()
            session.get_component("response_parser_factory").set_parser_defaults(
                timestamp_parser=store_timestamp)
            client = await stack.enter_async_context(session.create_client(
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
        with store_errors():
            try:
                await client.head_bucket(Bucket=self.bucket)
                return
            except ClientError as exc:
                if not missing(exc):
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
        with store_errors():
            await client.put_object(Bucket=self.bucket, Key=key, Body=data)

    async def copy(self, source: str, target: str) -> None:
        client = await self._client()
        with store_errors():
            await client.copy_object(Bucket=self.bucket, Key=target,
                                     CopySource={"Bucket": self.bucket, "Key": source})

    async def delete(self, key: str) -> None:
        client = await self._client()
        with store_errors():
            await client.delete_object(Bucket=self.bucket, Key=key)

    async def start_upload(self, key: str) -> str:
        client = await self._client()
        with store_errors():
            answer = await client.create_multipart_upload(Bucket=self.bucket, Key=key)
        return str(answer["UploadId"])

    async def upload_part(self, key: str, upload_id: str, number: int,
                          data: bytes | io.RawIOBase) -> str:
        client = await self._client()
        with store_errors():
            answer = await client.upload_part(Bucket=self.bucket, Key=key, UploadId=upload_id,
                                              PartNumber=number, Body=data)
        return str(answer["ETag"])

    async def complete_upload(self, key: str, upload_id: str,
                              parts: list[dict[str, Any]]) -> None:
        client = await self._client()
        with store_errors():
            await client.complete_multipart_upload(
                Bucket=self.bucket, Key=key, UploadId=upload_id,
                MultipartUpload={"Parts": parts})

    async def abort_upload(self, key: str, upload_id: str) -> None:
        client = await self._client()
        with store_errors():
            await client.abort_multipart_upload(Bucket=self.bucket, Key=key, UploadId=upload_id)

    async def exists(self, sha256: str) -> bool:
        return await self._exists(self.content_key(sha256))

    async def _exists(self, key: str) -> bool:
        client = await self._client()
        with store_errors():
            try:
                await client.head_object(Bucket=self.bucket, Key=key)
            except ClientError as exc:
                if missing(exc):
                    return False
                raise
        return True

    async def delete_unless(self, sha256: str, needed: Callable[[], Awaitable[bool]]) -> bool:
        """Delete stored content unless a document still needs it. The object is copied
        aside and deleted first, and the database asked after: a row of the same content
        committing meanwhile is then seen (and the object put back), or its upload's
        ``place`` finds the object gone and puts it back itself."""
        final = self.content_key(sha256)
        aside = self.key(f"tmp/{sha256}.{uuid.uuid4().hex}.deleting")
        client = await self._client()
        with store_errors():
            try:
                await client.copy_object(Bucket=self.bucket, Key=aside,
                                         CopySource={"Bucket": self.bucket, "Key": final})
            except ClientError as exc:
                if missing(exc):
                    return False
                raise
        await self.delete(final)
        if await needed():
            await self.copy(aside, final)
            await self.delete(aside)
            return False
        await self.delete(aside)
        return True

    async def files_older_than(self, prefix: str, cutoff: datetime) -> AsyncIterator[str]:
        client = await self._client()
        with store_errors():
            pages = client.get_paginator("list_objects_v2")
            async for page in pages.paginate(Bucket=self.bucket, Prefix=prefix):
                for item in page.get("Contents", []):
                    if item["LastModified"] <= cutoff:
                        yield item["Key"]
