"""Content-addressed blob store on the filesystem.

Layout under the root: ``ab/cd/<sha256>`` for stored content, ``tmp/`` for uploads on their
way in. An upload streams into ``tmp/<uuid>.part`` through the hashers; when complete it is
fsynced and renamed to ``tmp/<sha256>.<uuid>.ready``; only after the database row has committed
is it renamed into place. A crash between commit and that rename leaves a ``.ready`` file that
``recover`` puts into place at the next start (its row exists); every other stale leftover is
removed. Young files may be another live process's and are left to it.
``collect_garbage`` (``kapu blobs gc``, and the background jobs) does the same for any file older
than a grace period, stored content included, while the gateway runs.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import functools
import hashlib
import logging
import os
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import BinaryIO

from gateway.domain.incoming import IncomingBytes
from gateway.errors import Unavailable
from gateway.services.ports.storage import BlobGcReport

log = logging.getLogger(__name__)
READ_CHUNK = 1 << 20
SPOOL_BYTES = 64 * 1024
# Leftovers younger than this may belong to an upload another process is still finishing.
STALE_AFTER_SECONDS = 3600
_HEX = frozenset("0123456789abcdef")
# Report progress every this many files examined.
PROGRESS_EVERY = 1000


# The store is out of room: the client may try again once an operator made some.
_FULL = (errno.ENOSPC, errno.EDQUOT)


@contextlib.contextmanager
def _room_checked() -> Iterator[None]:
    try:
        yield
    except OSError as exc:
        if exc.errno in _FULL:
            raise Unavailable("the blob store has no room left; try again later") from exc
        raise


class StagedFile(IncomingBytes):
    """One upload's bytes on their way in.

    The first ``SPOOL_BYTES`` stay in memory, so a typical small document costs a single
    worker-thread hop at ``finish`` (create, write, fsync, rename) and, on the event loop,
    only the metadata calls of ``place``. Past that, bytes are appended to
    ``tmp/<uuid>.part`` as they arrive: plain synchronous writes that land in the page cache
    in microseconds (a thread hop per 64 KiB chunk would cost more than it saves); fsync
    always runs in a worker thread.
    """

    def __init__(self, store: FileBlobStore, max_bytes: int) -> None:
        super().__init__(max_bytes)
        self._store = store
        self._path: Path = store.tmp_dir / f"{uuid.uuid4().hex}.part"
        self._file: BinaryIO | None = None
        self._spool = bytearray()

    def expect(self, sha256: str) -> None:
        """Nothing to gain: the finished file is renamed to its content's name, not copied."""

    def write(self, chunk: bytes | memoryview) -> None:
        self._count(chunk)
        if self._file is None and len(self._spool) + len(chunk) <= SPOOL_BYTES:
            self._spool += chunk
            return
        with _room_checked():
            if self._file is None:
                self._file = self._open()  # closed in _persist or discard
                self._file.write(self._spool)
                self._spool = bytearray()
            self._file.write(chunk)

    def _open(self) -> BinaryIO:
        return open(self._path, "xb")

    async def finish(self) -> None:
        if self._path.suffix == ".ready":  # finished already
            return
        ready = self._store.tmp_dir / f"{self.seal()}.{self._path.stem}.ready"
        with _room_checked():
            await asyncio.to_thread(self._persist, ready)
        self._path = ready

    def _persist(self, ready: Path) -> None:
        spooled = self._file is None
        file = self._file = self._file or self._open()
        try:
            if spooled:
                file.write(self._spool)
            file.flush()
            os.fsync(file.fileno())
        except BaseException:
            with contextlib.suppress(OSError):  # a full disk refuses the closing flush too
                file.close()
            raise
        file.close()
        self._path.rename(ready)

    async def sha1(self) -> str:
        """SHA-1 for older clients' Lenyomat; computed only when asked, from the staged file."""
        return await asyncio.to_thread(_file_digest, self._path, "sha1")

    def chunks(self) -> Iterator[bytes]:
        with open(self._path, "rb") as file:
            while chunk := file.read(READ_CHUNK):
                yield chunk

    async def place(self) -> None:
        # On the event loop: three metadata calls (stat, mkdir, rename) of microseconds. The
        # upload's batch places its files before the next batch may start, and a worker-thread
        # hop cost that batch a turn of the busy event loop (measured on PostgreSQL, 16
        # clients: placing took 4 to 6 ms of a 16 ms batch).
        self._store.place(self._path, self.sha256)

    async def discard(self) -> None:
        if self._file is not None and not self._file.closed:
            with contextlib.suppress(OSError):  # unwritten bytes on a full disk: going anyway
                self._file.close()
        with contextlib.suppress(FileNotFoundError):
            await asyncio.to_thread(self._path.unlink)


def _open_and_read(path: Path, start: int, limit: int | None) -> tuple[BinaryIO, bytes]:
    file = open(path, "rb")
    try:
        if start:
            file.seek(start)
        wanted = READ_CHUNK if limit is None else min(READ_CHUNK, limit)
        chunk = file.read(wanted)
    except BaseException:
        file.close()  # a read that fails leaves no file open
        raise
    if len(chunk) < READ_CHUNK:
        file.close()
    return file, chunk


def _file_digest(path: Path, algorithm: str) -> str:
    with open(path, "rb") as file:
        return hashlib.file_digest(file, algorithm).hexdigest()


class FileBlobStore:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.tmp_dir = root / "tmp"
        self.tmp_dir.mkdir(mode=0o700, parents=True, exist_ok=True)

    def path_of(self, sha256: str) -> Path:
        return self.root / sha256[:2] / sha256[2:4] / sha256

    def stage(self, max_bytes: int) -> StagedFile:
        return StagedFile(self, max_bytes)

    def place(self, ready: Path, sha256: str) -> None:
        final = self.path_of(sha256)
        if final.exists():  # the same content is stored already: keep one copy
            with contextlib.suppress(FileNotFoundError):
                ready.unlink()
            return
        final.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        try:
            ready.rename(final)
        except FileNotFoundError:
            # Another process's recovery placed it first.
            if not final.exists():
                raise

    async def exists(self, sha256: str) -> bool:
        """Whether the content of a committed row can be read. Its upload moves the bytes into
        place just after the commit: a reader in between (another client racing for the
        mailbox) finishes that move itself instead of finding nothing."""
        if self.path_of(sha256).is_file():
            return True
        return await asyncio.to_thread(self._place_staged, sha256)

    def _place_staged(self, sha256: str) -> bool:
        final = self.path_of(sha256)
        for ready in self.tmp_dir.glob(f"{sha256}.*.ready"):
            # A link, not a move: the staged file may be another upload's of the same bytes,
            # still reading it; each upload's own place() then finds the content there.
            final.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            with contextlib.suppress(FileNotFoundError, FileExistsError):
                os.link(ready, final)
            if final.is_file():
                return True
        return final.is_file()

    async def read(self, sha256: str, start: int = 0, end: int | None = None
                   ) -> AsyncIterator[bytes]:
        """The content, or bytes ``start`` to ``end`` (inclusive) of it."""
        # The first hop opens and reads the first chunk; a document smaller than a chunk (most
        # of them) is read and closed in that single thread hop.
        left = None if end is None else end - start + 1
        file, chunk = await asyncio.to_thread(
            _open_and_read, self.path_of(sha256), start, left)
        try:
            while chunk:
                yield chunk
                if left is not None:
                    left -= len(chunk)
                if file.closed or left == 0:
                    return
                wanted = READ_CHUNK if left is None else min(READ_CHUNK, left)
                chunk = await asyncio.to_thread(file.read, wanted)
        finally:
            file.close()

    async def delete_unless(self, sha256: str, needed: Callable[[], Awaitable[bool]]) -> bool:
        """Delete stored content unless a document still needs it. The blob is moved aside
        first and the database asked after: an upload of the same bytes committing meanwhile
        either still finds it (and it is put back) or places its own copy."""
        final = self.path_of(sha256)
        aside = self.tmp_dir / f"{sha256}.{uuid.uuid4().hex}.deleting"
        try:
            await asyncio.to_thread(final.rename, aside)
        except FileNotFoundError:
            return False
        if await needed():
            try:
                await asyncio.to_thread(os.link, aside, final)
            except FileExistsError:
                pass  # an upload put its own copy in place meanwhile
            await asyncio.to_thread(aside.unlink)
            return False
        await asyncio.to_thread(aside.unlink)
        return True

    async def check(self) -> None:
        """Raise OSError unless the store can be written (readiness probe)."""
        probe = self.tmp_dir / f"probe-{uuid.uuid4().hex}"
        await asyncio.to_thread(probe.write_bytes, b"")
        probe.unlink(missing_ok=True)  # written: the store is ready, whoever removed it since

    async def close(self) -> None:
        """Nothing to release: every file is closed after each use."""

    async def recover(self, committed: Callable[[str], Awaitable[bool]]) -> int:
        """Finish what a crash interrupted: place ``.ready`` and ``.deleting`` files whose row
        committed, remove other leftovers. Returns how many blobs were placed.

        Runs while other processes serve (the other workers of ``kapu serve``, other hosts):
        a file younger than ``STALE_AFTER_SECONDS`` may be an upload, expiry or readiness
        probe another live process is still writing or placing, so it is never renamed or
        removed; a young ``.ready`` of a committed row is only linked into place, as a reader
        would (``exists``), leaving the file to its owner. Files that vanish meanwhile are
        skipped."""
        placed = 0
        cutoff = await asyncio.to_thread(_filesystem_now, self.tmp_dir) - STALE_AFTER_SECONDS
        for path, modified in await asyncio.to_thread(_files_and_times, self.tmp_dir):
            stale = modified <= cutoff
            # .ready: bytes of an upload whose row may have committed; .deleting: content an
            # expiry moved aside before a crash. Either goes (back) into place if a row needs it.
            sha256 = path.name.split(".", 1)[0]
            if path.suffix in (".ready", ".deleting") and _is_sha256(sha256) \
                    and await committed(sha256):
                if stale:
                    with contextlib.suppress(FileNotFoundError):  # another process placed it
                        self.place(path, sha256)
                        placed += 1
                        log.warning("recovered blob %s after an interrupted upload", sha256)
                elif path.suffix == ".ready" and not self.path_of(sha256).is_file() \
                        and await asyncio.to_thread(self._place_staged, sha256):
                    placed += 1
                    log.warning("recovered blob %s after an interrupted upload", sha256)
                continue
            if stale:
                await asyncio.to_thread(unlink_if_present, path)
        return placed

    async def collect_garbage(
        self, needed: Callable[[str], Awaitable[bool]], grace_seconds: float,
        progress: Callable[[BlobGcReport], None] | None = None,
    ) -> BlobGcReport:
        """Remove what no row needs among files older than ``grace_seconds``: staged files
        (``.part``, ``.ready``, ``.deleting``, probes) and stored content. A staged file whose
        row committed before a crash is placed instead. A younger file may belong to an upload
        in flight, here or on another host, and is not looked at."""
        cutoff = time.time() - grace_seconds
        examined = removed = placed = 0
        just_placed: set[str] = set()  # needed: not examined a second time below

        def report() -> BlobGcReport:
            return BlobGcReport(examined=examined, removed=removed, placed=placed)

        for path in await asyncio.to_thread(files_older_than, self.tmp_dir.iterdir(), cutoff):
            examined += 1
            sha256 = path.name.split(".", 1)[0]
            if path.suffix in (".ready", ".deleting") and _is_sha256(sha256) \
                    and await needed(sha256):
                with contextlib.suppress(FileNotFoundError):  # another process placed it
                    await asyncio.to_thread(self.place, path, sha256)
                just_placed.add(sha256)
                placed += 1
            elif await asyncio.to_thread(unlink_if_present, path):
                removed += 1
            if progress is not None and examined % PROGRESS_EVERY == 0:
                progress(report())
        for path in await asyncio.to_thread(files_older_than, self._stored(), cutoff):
            sha256 = path.name
            if sha256 in just_placed:
                continue
            examined += 1
            # Asked first to leave needed content untouched; delete_unless asks again after
            # moving it aside, for an upload of the same bytes committing meanwhile.
            if not await needed(sha256) and await self.delete_unless(
                    sha256, functools.partial(needed, sha256)):
                removed += 1
            if progress is not None and examined % PROGRESS_EVERY == 0:
                progress(report())
        return report()

    def _stored(self) -> Iterator[Path]:
        """Stored content: ``ab/cd/<sha256>`` (anything else under the root is not ours)."""
        for first in self.root.iterdir():
            if first == self.tmp_dir or not first.is_dir():
                continue
            for second in first.iterdir():
                if second.is_dir():
                    yield from (path for path in second.iterdir()
                                if _is_sha256(path.name) and path.name.startswith(
                                    first.name + second.name))


def _is_sha256(name: str) -> bool:
    return len(name) == 64 and set(name) <= _HEX


def _filesystem_now(directory: Path) -> float:
    """Now by the clock that stamps the files in ``directory``: a fresh file's modification
    time. Ages of files are measured against it, not against this process's clock, which may
    differ (a directory shared by several hosts is stamped by its file server; libfaketime
    moves the process's clock but not the stamps)."""
    marker = directory / f"clock-{uuid.uuid4().hex}"
    marker.write_bytes(b"")
    try:
        return marker.stat().st_mtime
    finally:
        marker.unlink(missing_ok=True)


def _files_and_times(directory: Path) -> list[tuple[Path, float]]:
    """Each file in ``directory`` with its modification time; one removed meanwhile by
    another process (a readiness probe lives a few microseconds) is left out."""
    found = []
    for path in directory.iterdir():
        with contextlib.suppress(FileNotFoundError):
            if path.is_file():
                found.append((path, path.stat().st_mtime))
    return found


def files_older_than(paths: Iterator[Path], cutoff: float) -> list[Path]:
    old = []
    for path in paths:
        with contextlib.suppress(FileNotFoundError):  # removed meanwhile by another process
            if path.is_file() and path.stat().st_mtime <= cutoff:
                old.append(path)
    return old


def unlink_if_present(path: Path) -> bool:
    try:
        path.unlink()
    except FileNotFoundError:
        return False
    return True
