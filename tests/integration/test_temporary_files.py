"""AVDH's and e-Papír's temporary files live under the data directory (tmp/avdh, tmp/epapir,
0700), one directory per process: what a crashed process left there is removed when the
gateway starts, what a live process (another worker) is using is not."""

from __future__ import annotations

import stat
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from gateway.config import Settings
from gateway.storage.scratch import LockedTemporaryDirectories
from tests.conftest import FixedClock
from tests.helpers import temporary_files
from tests.integration.conftest import _start

# A process that writes one file in its own AVDH and e-Papír directories, says so, then either
# dies at once without cleaning up (a crash: os._exit) or lives until its stdin closes.
_PROCESS = textwrap.dedent("""
    import os, sys
    from pathlib import Path
    from gateway.storage.scratch import LockedTemporaryDirectories

    directories = LockedTemporaryDirectories(Path(sys.argv[1]))
    for purpose in ("avdh", "epapir"):
        (directories.directory(purpose) / f"kapu-{purpose}-upload.part").write_bytes(b"x" * 99)
    print("written", flush=True)
    if sys.argv[2] == "crash":
        os._exit(9)
    sys.stdin.read()
""")


def _process(root: Path, how: str) -> subprocess.Popen[str]:
    process = subprocess.Popen([sys.executable, "-c", _PROCESS, str(root), how],
                               stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert process.stdout is not None and process.stdout.readline() == "written\n"
    return process


@pytest.fixture
def live(tmp_path: Path) -> Iterator[Path]:
    """Another live process using the data directory's tmp (a second worker)."""
    root = tmp_path / "data" / "tmp"
    process = _process(root, "live")
    yield root
    process.communicate(timeout=30)  # its stdin closed: it ends
    assert process.returncode == 0


async def test_leftovers_of_a_crashed_process_go_at_start_up_a_live_ones_stay(
        database_url: str, tmp_path: Path, keys_dir: Path, clock: FixedClock,
        live: Path) -> None:
    root = tmp_path / "data" / "tmp"
    crashed = _process(root, "crash")
    crashed.communicate(timeout=30)
    assert crashed.returncode == 9
    (root / "avdh" / "stray.part").write_bytes(b"not in any process's directory")
    left = temporary_files(root)
    assert len(left) == 5  # two of each process, and the stray file
    live_files = {path for path in left if path != "avdh/stray.part"}
    settings = Settings(database_url=database_url, data_dir=tmp_path / "data",
                        keys_dir=keys_dir, background_jobs=False)
    async for gateway in _start(settings, clock):
        assert gateway.ports.temporary.directory("avdh").parent == root / "avdh"
        remaining = set(temporary_files(root))
        # The live process's files only (which two of the four were the crashed one's: the
        # ones no longer there).
        assert len(remaining) == 2 and remaining < live_files
        assert {path.split("/")[0] for path in remaining} == {"avdh", "epapir"}
        # No directory of the crashed process is left, only the live one's and the gateway's.
        assert len(list((root / "avdh").iterdir())) == 2


def test_the_directories_are_private_and_made_at_once(tmp_path: Path) -> None:
    directories = LockedTemporaryDirectories(tmp_path / "tmp")
    for purpose in ("avdh", "epapir"):
        made = tmp_path / "tmp" / purpose
        assert made.is_dir() and stat.S_IMODE(made.stat().st_mode) == 0o700
        assert list(made.iterdir()) == []  # the process's own directory: at its first use
        mine = directories.directory(purpose)
        assert mine.parent == made and stat.S_IMODE(mine.stat().st_mode) == 0o700
        assert directories.directory(purpose) == mine
    with pytest.raises(ValueError):
        directories.directory("elsewhere")


def test_a_process_never_sweeps_its_own_directory(tmp_path: Path) -> None:
    directories = LockedTemporaryDirectories(tmp_path / "tmp")
    (directories.directory("epapir") / "in-flight.part").write_bytes(b"x")
    assert directories.sweep() == 0
    assert temporary_files(tmp_path / "tmp") == ["epapir/" + directories.directory(
        "epapir").name + "/in-flight.part"]
