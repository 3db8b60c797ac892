"""The blob store's contract, run against both adapters: the filesystem (the embedded default)
and an S3-compatible store (a real SeaweedFS server)."""

from __future__ import annotations

import asyncio
import hashlib
import os
import secrets
import threading
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from gateway.errors import HashMismatch, TooLarge
from gateway.services.ports.storage import BlobStore, StagedContent
from gateway.storage.blobs import STALE_AFTER_SECONDS, FileBlobStore
from gateway.storage.s3blobs import S3BlobStore, S3Location
from gateway.storage.s3staging import PART_BYTES, StagedObject
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


async def _write(item: StagedContent, content: bytes, chunk: int = 64 * 1024) -> None:
    for start in range(0, len(content), chunk):
        item.write(content[start:start + chunk])
        await asyncio.sleep(0)  # as a body arrives: parts go out meanwhile


async def staged(store: BlobStore, content: bytes, declared: str | None = None) -> StagedContent:
    """``content`` staged and finished; ``declared``: the SHA-256 a client sent before it."""
    item = store.stage(len(content))
    if declared is not None:
        item.expect(declared)
    await _write(item, content)
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


@pytest.fixture
async def s3_store(seaweed: SeaweedServer, tmp_path: Path) -> AsyncIterator[S3BlobStore]:
    location = S3Location.parse(seaweed.blob_url("kapu-contract", secrets.token_hex(6)))
    s3 = S3BlobStore(location, ACCESS_KEY, SECRET_KEY, tmp_path / "spool")
    yield s3
    await s3.close()


async def _unfinished_upload(store: S3BlobStore) -> str:
    """The key of the one multipart upload begun, once the store lists it."""
    for _ in range(300):
        begun = [name for name in await leftovers(store) if name.startswith("upload:")]
        if begun:
            [key] = begun
            return key.removeprefix("upload:")
        await asyncio.sleep(0.1)
    raise AssertionError("no multipart upload began")


async def test_a_declared_sha256_sends_the_parts_to_the_content_key(
        s3_store: S3BlobStore) -> None:
    """No staging object and no copy: the multipart upload is made under blobs/<sha256> and
    completed there; undeclared, the same bytes pass through tmp/."""
    digest = hashlib.sha256(LARGE).hexdigest()
    declared = s3_store.stage(len(LARGE))
    declared.expect(digest.upper())  # as a client may write it
    await _write(declared, LARGE[: PART_BYTES + 1000])  # the first part goes
    assert await _unfinished_upload(s3_store) == f"blobs/{digest}"
    assert await leftovers(s3_store) == [f"upload:blobs/{digest}"]
    await _write(declared, LARGE[PART_BYTES + 1000:])
    declared.seal()
    await declared.finish()
    assert await leftovers(s3_store) == [f"blobs/{digest}"]
    await declared.place()
    assert await leftovers(s3_store) == [f"blobs/{digest}"]
    assert await read_all(s3_store, digest) == LARGE

    other = LARGE[::-1]
    undeclared = await staged(s3_store, other)
    other_digest = hashlib.sha256(other).hexdigest()
    assert [name for name in await leftovers(s3_store) if name.startswith("tmp/")] != []
    await undeclared.place()
    assert await leftovers(s3_store) == sorted([f"blobs/{digest}", f"blobs/{other_digest}"])


async def test_a_declared_sha256_the_bytes_do_not_have_completes_nothing(
        s3_store: S3BlobStore) -> None:
    """The upload under the declared name is never completed: the object already there
    keeps its bytes, and nothing else is left."""
    genuine = await staged(s3_store, LARGE)
    await genuine.place()
    forged = s3_store.stage(len(LARGE))
    forged.expect(genuine.sha256)
    await _write(forged, LARGE[::-1])
    forged.seal()
    with pytest.raises(HashMismatch):
        await forged.finish()
    await forged.discard()
    assert await leftovers(s3_store) == [f"blobs/{genuine.sha256}"]
    assert await read_all(s3_store, genuine.sha256) == LARGE


async def test_a_declared_sha256_after_the_first_part_left_is_not_taken(
        s3_store: S3BlobStore) -> None:
    item = s3_store.stage(len(LARGE))
    await _write(item, LARGE[: PART_BYTES + 1000])  # the first part goes
    item.expect(hashlib.sha256(LARGE).hexdigest())
    await _write(item, LARGE[PART_BYTES + 1000:])
    assert (await _unfinished_upload(s3_store)).startswith("tmp/")
    item.seal()
    await item.finish()
    await item.place()
    assert await leftovers(s3_store) == [f"blobs/{item.sha256}"]
    assert await read_all(s3_store, item.sha256) == LARGE


async def test_place_puts_back_a_declared_upload_an_expiry_removed_while_the_row_committed(
        s3_store: S3BlobStore) -> None:
    earlier = await staged(s3_store, LARGE)
    await earlier.place()
    racing = await staged(s3_store, LARGE, declared=earlier.sha256)  # its row about to commit

    async def no() -> bool:
        return False

    assert await s3_store.delete_unless(earlier.sha256, no)  # the expiry of the earlier one
    await racing.place()  # its row committed meanwhile: sent again from the spool
    assert await read_all(s3_store, racing.sha256) == LARGE
    assert await leftovers(s3_store) == [f"blobs/{racing.sha256}"]


async def test_check_answers(store: BlobStore) -> None:
    await store.check()
    assert await leftovers(store) == []


# Start-up recovery runs while other processes serve: the other workers of ``kapu serve``
# stage uploads and create and remove readiness probes in the same tmp/ (the file store only:
# the S3 store has nothing to recover).

def _aged(path: Path, seconds: float) -> Path:
    # Aged against the stamp the file system gave it (recovery measures ages on that clock).
    now = path.stat().st_mtime
    os.utime(path, (now - seconds, now - seconds))
    return path


async def test_recovery_skips_files_that_vanish_meanwhile(tmp_path: Path) -> None:
    """Was: FileNotFoundError from stat() on a file another worker removed after the listing,
    which failed the worker's start and stopped the whole server."""
    files = FileBlobStore(tmp_path / "blobs")
    names = [f"{secrets.token_hex(32)}.{n}.ready" for n in range(6)] + ["x.part", "probe-1"]
    paths = []
    for name in names:
        (files.tmp_dir / name).write_bytes(b"old")
        paths.append(_aged(files.tmp_dir / name, 2 * STALE_AFTER_SECONDS))
    asked: list[str] = []

    async def committed(sha256: str) -> bool:
        if not asked:  # another process takes every other file away meanwhile (five more
            # .ready files at least: the listing holds them after this one)
            for path in paths:
                if not path.name.startswith(sha256):
                    path.unlink(missing_ok=True)  # a stale one listed first is gone already
        asked.append(sha256)
        return True

    assert await files.recover(committed) == 1
    assert await leftovers(files) == [f"{asked[0][:2]}/{asked[0][2:4]}/{asked[0]}"]


async def test_recovery_survives_a_readiness_probe_running_beside_it(tmp_path: Path) -> None:
    """The failure as it was seen: one worker's probe creating and removing ``probe-…``
    while another worker's recovery lists tmp/."""
    files = FileBlobStore(tmp_path / "blobs")
    for n in range(200):
        (files.tmp_dir / f"{n}.part").write_bytes(b"")
    stop = threading.Event()

    def probe_forever() -> None:
        other = FileBlobStore(files.root)  # another worker's store on the same directory
        while not stop.is_set():
            asyncio.run(other.check())

    async def nothing_committed(sha256: str) -> bool:
        return False

    prober = threading.Thread(target=probe_forever)
    prober.start()
    try:
        for _ in range(200):
            assert await files.recover(nothing_committed) == 0
    finally:
        stop.set()
        prober.join()
    assert len(list(files.tmp_dir.glob("*.part"))) == 200  # young: none of them touched


async def test_recovery_never_touches_a_young_file_another_process_is_using(
        tmp_path: Path) -> None:
    """Was: a committed row's young ``.ready`` was moved (or, its content stored already,
    removed) under the upload still reading it, and an expiry's ``.deleting`` was moved back
    under the expiry still deciding."""
    files = FileBlobStore(tmp_path / "blobs")
    kept = await staged(files, SMALL)
    await kept.place()  # a committed document's content
    in_flight = await staged(files, SMALL)  # another upload of the same bytes, not placed yet
    writing = files.stage(len(LARGE))
    writing.write(LARGE[:len(LARGE) // 2])  # still arriving: a .part file
    fresh = files.stage(len(SMALL) + 3)
    fresh.write(SMALL + b"new")
    await fresh.finish()  # its row about to commit, and recovery already says it has
    deleting = files.tmp_dir / f"{kept.sha256}.cafe.deleting"
    deleting.write_bytes(SMALL)  # an expiry moved it aside and is asking the database
    before = sorted(path.name for path in files.tmp_dir.iterdir())
    assert len(before) == 4

    async def committed(sha256: str) -> bool:
        return True

    assert await files.recover(committed) == 1  # fresh: linked into place, as a reader would
    assert sorted(path.name for path in files.tmp_dir.iterdir()) == before
    assert b"".join(in_flight.chunks()) == SMALL  # the upload still reads its bytes
    assert await read_all(files, fresh.sha256) == SMALL + b"new"
    writing.write(LARGE[len(LARGE) // 2:])
    await writing.finish()
    for upload in (in_flight, fresh, writing):
        await upload.place()
    assert await read_all(files, writing.sha256) == LARGE
    assert sorted(path.name for path in files.tmp_dir.iterdir()) == [deleting.name]
