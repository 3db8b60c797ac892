"""The blob store's contract, run against both adapters: the filesystem (the embedded default)
and an S3-compatible store (a real SeaweedFS server)."""

from __future__ import annotations

import asyncio
import hashlib
import os
import secrets
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from gateway.errors import TooLarge
from gateway.services.ports import BlobStore, StagedContent
from gateway.storage.blobs import FileBlobStore
from gateway.storage.s3blobs import PART_BYTES, S3BlobStore, S3Location, StagedObject
from tests.seaweed import ACCESS_KEY, SECRET_KEY, SeaweedServer

# SigV4 signatures and file times carry the real date, which faketime does not move.
pytestmark = pytest.mark.outside_clock

SMALL = os.urandom(10 * 1024)
# Three parts of a multipart upload, the last a short one.
LARGE = os.urandom(2 * PART_BYTES + 12345)


@pytest.fixture(params=["file", "s3"])
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[BlobStore]:
    if request.param == "file":
        yield FileBlobStore(tmp_path / "blobs")
        return
    seaweed: SeaweedServer = request.getfixturevalue("seaweed")
    # One bucket for the session (made by the first test), a prefix of its own per test.
    location = S3Location.parse(seaweed.blob_url("kapu-contract", secrets.token_hex(6)))
    s3 = S3BlobStore(location, ACCESS_KEY, SECRET_KEY, tmp_path / "spool")
    yield s3
    await s3.close()


async def leftovers(store: BlobStore) -> list[str]:
    """Everything the store holds: stored and staged content, unfinished uploads."""
    if isinstance(store, FileBlobStore):
        return sorted(str(p.relative_to(store.root)) for p in store.root.rglob("*")
                      if p.is_file())
    assert isinstance(store, S3BlobStore)
    client = await store._client()
    prefix = store.key("")
    listed = await client.list_objects_v2(Bucket=store.bucket, Prefix=prefix)
    uploads = await client.list_multipart_uploads(Bucket=store.bucket, Prefix=prefix)
    return sorted([item["Key"][len(prefix):] for item in listed.get("Contents", [])]
                  + [f"upload:{u['Key'][len(prefix):]}" for u in uploads.get("Uploads", [])])


async def staged(store: BlobStore, content: bytes, chunk: int = 64 * 1024) -> StagedContent:
    item = store.stage(len(content))
    for start in range(0, len(content), chunk):
        item.write(content[start:start + chunk])
        await asyncio.sleep(0)  # as a body arrives: parts go out meanwhile
    await item.finish()
    return item


async def read_all(store: BlobStore, sha256: str, start: int = 0, end: int | None = None
                   ) -> bytes:
    return b"".join([chunk async for chunk in store.read(sha256, start, end)])


@pytest.mark.parametrize("content", [SMALL, LARGE], ids=["10KiB", "10MiB"])
async def test_sealed_before_finished_and_finished_once(
        store: BlobStore, content: bytes) -> None:
    """The SHA-256 is known once the bytes are in (an upload's timestamp is asked for then,
    while they are made durable); accepting finishes bytes a door may have finished."""
    item = store.stage(len(content))
    item.write(content)
    with pytest.raises(RuntimeError):
        item.sha256  # noqa: B018 (not before all bytes are in)
    assert item.seal() == item.sha256 == hashlib.sha256(content).hexdigest()
    await item.finish()
    held = await leftovers(store)
    await item.finish()
    assert await leftovers(store) == held
    await item.place()
    assert await read_all(store, item.sha256) == content


@pytest.mark.parametrize("content", [SMALL, LARGE], ids=["10KiB", "10MiB"])
async def test_stored_content_reads_back_whole_and_by_range(
        store: BlobStore, content: bytes) -> None:
    item = await staged(store, content)
    digest = hashlib.sha256(content).hexdigest()
    assert (item.sha256, item.size, item.head[:4]) == (digest, len(content), content[:4])
    assert b"".join(item.chunks()) == content
    assert await item.sha1() == hashlib.sha1(content, usedforsecurity=False).hexdigest()
    await item.place()
    assert await store.exists(digest)
    assert await read_all(store, digest) == content
    middle = len(content) // 2
    assert await read_all(store, digest, middle) == content[middle:]
    assert await read_all(store, digest, 100, 199) == content[100:200]
    assert await read_all(store, digest, len(content) - 7, len(content) - 1) == content[-7:]
    # Only the content is left, under a key that holds its SHA-256.
    assert [name for name in await leftovers(store) if digest in name] != []
    assert all(digest in name for name in await leftovers(store)), await leftovers(store)


async def test_the_same_content_twice_is_stored_once(store: BlobStore) -> None:
    first, second = await staged(store, LARGE), await staged(store, LARGE)
    await first.place()
    await second.place()
    assert len(await leftovers(store)) == 1
    assert await read_all(store, first.sha256) == LARGE


async def test_a_discarded_upload_leaves_nothing(store: BlobStore) -> None:
    unfinished = store.stage(len(LARGE))
    unfinished.write(LARGE[: PART_BYTES + 1000])  # a part is on its way
    await asyncio.sleep(0.05)
    await unfinished.discard()
    assert await leftovers(store) == []


async def test_a_refused_size_raises_too_large_and_keeps_nothing(store: BlobStore) -> None:
    item = store.stage(1000)
    with pytest.raises(TooLarge):
        item.write(SMALL)
    await item.discard()
    assert await leftovers(store) == []


async def test_delete_unless_keeps_what_is_needed(store: BlobStore) -> None:
    item = await staged(store, SMALL)
    await item.place()

    async def yes() -> bool:
        return True

    async def no() -> bool:
        return False

    assert not await store.delete_unless(item.sha256, yes)
    assert await read_all(store, item.sha256) == SMALL
    assert await store.delete_unless(item.sha256, no)
    assert not await store.exists(item.sha256)
    assert await leftovers(store) == []
    assert not await store.delete_unless(item.sha256, no)  # gone already: nothing to do


async def test_gc_removes_only_what_no_row_names_once_past_the_grace(store: BlobStore) -> None:
    kept = await staged(store, SMALL)
    await kept.place()
    # A host that died after its bytes were written, before its row committed.
    orphan = await staged(store, LARGE[:20000])
    # One that died in the middle of a large upload (a part sent, never finished).
    dying = store.stage(len(LARGE))
    dying.write(LARGE[: PART_BYTES + 10])
    if isinstance(dying, StagedObject):
        await asyncio.gather(*dying._parts)  # the part reached the store

    async def needed(sha256: str) -> bool:
        return sha256 == kept.sha256

    young = await store.collect_garbage(needed, grace_seconds=3600)
    assert (young.removed, young.aborted_uploads) == (0, 0)
    assert await store.exists(orphan.sha256)
    done = await store.collect_garbage(needed, grace_seconds=0)
    assert done.removed >= 1
    assert await store.exists(kept.sha256)
    assert not await store.exists(orphan.sha256)
    remaining = await leftovers(store)
    if isinstance(store, S3BlobStore):  # its local spool went too
        assert list(store.spool_dir.iterdir()) == []
    await dying.discard()  # this process's own handles (the host that died lost them)
    if isinstance(store, S3BlobStore):
        assert done.aborted_uploads == 1
        assert remaining == [f"blobs/{kept.sha256}"]
    else:
        # The file store's unfinished upload is its .part file, removed like the rest.
        assert remaining == [f"{kept.sha256[:2]}/{kept.sha256[2:4]}/{kept.sha256}"]


async def test_place_puts_back_content_an_expiry_removed_while_the_row_committed(
        store: BlobStore) -> None:
    earlier = await staged(store, SMALL)
    await earlier.place()
    racing = await staged(store, SMALL)  # same bytes, its row about to commit

    async def no() -> bool:
        return False

    assert await store.delete_unless(earlier.sha256, no)  # the expiry of the earlier one
    await racing.place()  # its row committed meanwhile
    assert await read_all(store, racing.sha256) == SMALL


async def test_check_answers(store: BlobStore) -> None:
    await store.check()
    assert await leftovers(store) == []
