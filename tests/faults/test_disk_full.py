"""The disk fills during an upload: ENOSPC injected at the blob store's port, under the store's
own error mapping (its files refuse bytes past a budget, as a full filesystem does)."""

from __future__ import annotations

import errno
import io
from pathlib import Path
from typing import Any, BinaryIO

import pytest

from gateway.config import Settings
from gateway.storage.blobs import FileBlobStore, StagedFile
from tests.helpers import new_org, stored_files, upload
from tests.integration.conftest import Gateway


class _FullFile(io.FileIO):
    """A file on a filesystem with ``room`` bytes left."""

    def __init__(self, path: Path, room: int) -> None:
        super().__init__(path, "xb")
        self._room = room

    def write(self, data: Any) -> int:
        size = len(memoryview(data))
        if size > self._room:
            raise OSError(errno.ENOSPC, "No space left on device")
        self._room -= size
        return super().write(data)


class _FullStagedFile(StagedFile):
    room = 0

    def _open(self) -> BinaryIO:
        return _FullFile(self._path, self.room)  # type: ignore[return-value]


class FullStore(FileBlobStore):
    """The real store, but every staged file has ``room`` bytes before the disk is full."""

    def __init__(self, root: Path, room: int) -> None:
        super().__init__(root)
        self.room = room

    def stage(self, max_bytes: int) -> StagedFile:
        staged = _FullStagedFile(self, max_bytes)
        staged.room = self.room
        return staged


@pytest.fixture
def settings(database_url: str, tmp_path: Path, keys_dir: Path) -> Settings:
    # Room for a document past the 64 KiB kept in memory, which streams into a file.
    return Settings(database_url=database_url, data_dir=tmp_path / "data",
                    max_document_bytes=1 << 20, keys_dir=keys_dir, background_jobs=False)


# 10 KB stays in memory until finished (the disk refuses it at the write before fsync); 300 KB
# is written as it arrives (refused mid-stream).
@pytest.mark.parametrize("size", [10_000, 300_000])
async def test_disk_full_answers_503_and_leaves_nothing(gw: Gateway, size: int) -> None:
    sender, office = await new_org(gw.ports), await new_org(gw.ports)
    real = gw.ports.blobs
    gw.ports.blobs = FullStore(gw.blob_root, room=4_096)
    content = b"%PDF-1.7\n" + bytes(size) + b"%%EOF\n"
    try:
        refused = await upload(gw.client, sender, office, content=content)
    finally:
        gw.ports.blobs = real

    assert refused.status_code == 503
    assert refused.headers["content-type"] == "application/problem+json"
    assert refused.json()["code"] == "unavailable"
    assert "no room" in refused.json()["detail"]
    assert refused.headers["retry-after"]
    assert stored_files(gw.blob_root) == []  # no staged file left behind
    listed = (await gw.client.get("/api/v1/mailbox", auth=office.auth)).json()["items"]
    assert listed == []  # no row

    # Room again: the next upload is fine, and takes the first number (none was consumed).
    accepted = await upload(gw.client, sender, office, content=content)
    assert accepted.status_code == 201
    assert accepted.json()["registration_number"].endswith("000001")
    assert [p.rsplit("/", 1)[-1] for p in stored_files(gw.blob_root)] == \
        [accepted.json()["sha256"]]
