"""A part's body as a window onto the spool file (gateway.storage.s3staging.SpoolWindow): read
in chunks, sized by seeking to its end, read again from its start, never past its end."""

from __future__ import annotations

import io
import os
from pathlib import Path

from gateway.storage.s3staging import SpoolWindow

CONTENT = os.urandom(100_000)


def _window(tmp_path: Path, offset: int, length: int) -> tuple[SpoolWindow, int]:
    path = tmp_path / "spool.part"
    path.write_bytes(CONTENT)
    fd = os.open(path, os.O_RDONLY)
    return SpoolWindow(fd, offset, length), fd


def test_a_window_reads_its_bytes_in_chunks_and_again_after_a_seek(tmp_path: Path) -> None:
    window, fd = _window(tmp_path, 30_000, 50_000)
    try:
        assert window.seek(0, io.SEEK_END) == 50_000  # how a client sizes a body
        assert window.seek(0) == 0
        chunks = iter(lambda: window.read(8192), b"")
        assert b"".join(chunks) == CONTENT[30_000:80_000]
        assert window.read(10) == b""
        window.seek(-10, io.SEEK_END)
        assert window.tell() == 49_990
        assert window.read() == CONTENT[79_990:80_000]
        window.seek(0)
        window.seek(100, io.SEEK_CUR)
        assert window.read(5) == CONTENT[30_100:30_105]
        # The descriptor's own position is left alone: parts share it.
        assert os.lseek(fd, 0, os.SEEK_CUR) == 0
    finally:
        os.close(fd)


def test_the_last_window_ends_at_the_end_of_the_file(tmp_path: Path) -> None:
    window, fd = _window(tmp_path, 90_000, 10_000)
    try:
        assert window.read() == CONTENT[90_000:]
        window.seek(20_000)
        assert window.read(1) == b""
    finally:
        os.close(fd)
