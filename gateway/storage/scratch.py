"""Temporary files of AVDH and e-Papír under the data directory (``KAPU_DATA_DIR/tmp``), not in
the system's temporary directory (often a small tmpfs): uploads of up to 50 MiB land where the
operator sized the disk.

Layout: ``tmp/<purpose>/<owner>/`` for each process that used it, holding ``.lock`` (flocked
while the process lives) and that process's files. Several processes share the data directory
(the workers of ``kapu serve``, other hosts on a shared volume), and a file being uploaded may
go unwritten for minutes, so its age says nothing; the lock does: the kernel releases it when
its process ends, however it ends. ``sweep`` (at start-up) removes each owner's directory whose
lock it can take, i.e. whose process is gone, and never a live one's.

A process's directory is made as ``.new-<owner>``, locked, then renamed into place: a sweep
never sees an owner's directory before its lock is held.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import shutil
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

log = logging.getLogger(__name__)
PURPOSES = ("avdh", "epapir")
LOCK_NAME = ".lock"
_NEW = ".new-"
# A directory a process began to make and never renamed (it crashed in between): empty but for
# its lock; one younger than this may be being made right now.
_UNFINISHED_AFTER_SECONDS = 3600


@dataclass
class LockedTemporaryDirectories:
    """``root``/avdh and ``root``/epapir, made (0700) when this is built; each process's own
    directory under them made at its first use. Equal when their roots are (the server's and
    the command line's wiring agree)."""

    root: Path
    _mine: dict[str, Path] = field(default_factory=dict, compare=False, repr=False)
    _locks: list[int] = field(default_factory=list, compare=False, repr=False)
    # Requests on the event loop and in worker threads may ask for a directory at once.
    _making: threading.Lock = field(default_factory=threading.Lock, compare=False, repr=False)

    def __post_init__(self) -> None:
        for purpose in PURPOSES:
            _private_dir(self.root / purpose)

    def directory(self, purpose: str) -> Path:
        """This process's own directory for ``purpose``, kept while the process lives."""
        if purpose not in PURPOSES:
            raise ValueError(f"no temporary directory for {purpose!r}")
        with self._making:
            return self._directory(purpose)

    def _directory(self, purpose: str) -> Path:
        mine = self._mine.get(purpose)
        if mine is None or not mine.is_dir():
            _private_dir(self.root / purpose)  # again: an operator may have emptied tmp/
            owner = uuid.uuid4().hex
            new = self.root / purpose / f"{_NEW}{owner}"
            new.mkdir(mode=0o700)
            lock = os.open(new / LOCK_NAME, os.O_RDWR | os.O_CREAT, 0o600)
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            mine = new.rename(self.root / purpose / owner)
            self._locks.append(lock)  # held, never closed: released when the process ends
            self._mine[purpose] = mine
        return mine

    def sweep(self) -> int:
        """Remove what processes that ended (crashed) left behind; returns how many owners'
        directories were removed."""
        removed = 0
        for purpose in PURPOSES:
            for path in (self.root / purpose).iterdir():
                if path.name.startswith(_NEW):
                    if _older_than(path, _UNFINISHED_AFTER_SECONDS):
                        shutil.rmtree(path, ignore_errors=True)
                elif path.is_dir():
                    if _remove_if_abandoned(path):
                        removed += 1
                        log.warning("removed temporary files left by an ended process: %s",
                                    path)
                else:  # nothing of ours lies here loose
                    with contextlib.suppress(FileNotFoundError):
                        path.unlink()
        return removed


def _private_dir(path: Path) -> None:
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    path.chmod(0o700)  # as made, whatever the umask


def _older_than(path: Path, seconds: float) -> bool:
    try:
        return path.stat().st_mtime < time.time() - seconds
    except FileNotFoundError:
        return False


def _remove_if_abandoned(owner: Path) -> bool:
    try:
        lock = os.open(owner / LOCK_NAME, os.O_RDWR)
    except FileNotFoundError:
        # A sweep that removed the lock but not the rest (it ended in between).
        shutil.rmtree(owner, ignore_errors=True)
        return True
    try:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False  # its process lives
        # Its files first, the lock last: another sweep meanwhile cannot take it.
        for path in owner.iterdir():
            if path.name != LOCK_NAME:
                if path.is_dir() and not path.is_symlink():
                    shutil.rmtree(path, ignore_errors=True)
                else:
                    with contextlib.suppress(FileNotFoundError):
                        path.unlink()
        with contextlib.suppress(FileNotFoundError):
            (owner / LOCK_NAME).unlink()
        with contextlib.suppress(OSError):
            owner.rmdir()
        return True
    finally:
        os.close(lock)
