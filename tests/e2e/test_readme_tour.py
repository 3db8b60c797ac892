"""The README's tours, run as a reader runs them: twice, against a real `kapu serve --demo`.

Which blocks run: every fenced ```sh block of README.md, in order, as one bash script
(`set -euo pipefail`), so a block may use what an earlier one set. An HTML comment on the
line before a block's fence (blank lines between allowed) changes that:

- `<!-- tour: skip -->` — never run (the `make run` / `make test` commands);
- `<!-- tour: sandbox -->` — needs `KAPU_SANDBOX=1 make run` (the test clock): run after the
  first block (the set-up every tour starts with), once the other blocks have run twice.

The server is started with `KAPU_SANDBOX=1` (the others' blocks do not notice). The script runs
in a clone of the repository's committed files (HEAD), with `.venv` linked to this
interpreter's environment and `PORT` set to the server's; each run must end with exit 0, print
what the tours promise, and leave the clone as it was: no file written into it.

The tours take their dates from the machine's clock, as a reader's do; so do the server and the
command line they run, so `make test-next-year` (faketime) moves them all together.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.e2e.conftest import Server, start_server, stop_server

ROOT = Path(__file__).resolve().parents[2]
_FENCE = re.compile(r"^(?P<indent>\s*)```(?P<lang>\S*)\s*$")
_MARKER = re.compile(r"^\s*<!--\s*tour:\s*(?P<mark>[a-z]+)\s*-->\s*$")
_MARKS = {"skip", "sandbox"}


@dataclass
class Block:
    line: int  # of the opening fence, 1-based
    mark: str | None
    text: str


def sh_blocks(markdown: str) -> list[Block]:
    """The ```sh blocks of a Markdown text, dedented, each with the marker before it."""
    lines = markdown.splitlines()
    blocks: list[Block] = []
    index = 0
    while index < len(lines):
        fence = _FENCE.match(lines[index])
        if not fence or not fence["lang"]:
            index += 1
            continue
        indent, start = len(fence["indent"]), index
        index += 1
        body: list[str] = []
        while not _FENCE.match(lines[index]):
            body.append(lines[index][indent:])
            index += 1
        index += 1
        if fence["lang"] != "sh":
            continue
        before = start - 1
        while before >= 0 and not lines[before].strip():
            before -= 1
        marker = _MARKER.match(lines[before]) if before >= 0 else None
        if marker and marker["mark"] not in _MARKS:
            raise AssertionError(f"README.md:{before + 1}: unknown tour marker {marker['mark']!r}")
        blocks.append(Block(start + 1, marker["mark"] if marker else None, "\n".join(body)))
    return blocks


def script(blocks: list[Block]) -> str:
    parts = ["set -euo pipefail"]
    for block in blocks:
        parts.append(f"# README.md:{block.line}\n{block.text}")
    return "\n\n".join(parts) + "\n"


def test_blocks_are_found_and_marked() -> None:
    blocks = sh_blocks((ROOT / "README.md").read_text())
    assert blocks[0].mark == "skip" and "make run" in blocks[0].text
    first = next(block for block in blocks if block.mark is None)
    assert 'cd "$(mktemp -d)"' in first.text, "the first tour block must leave the repository"
    assert any(block.mark == "sandbox" for block in blocks)
    assert sum(block.mark is None for block in blocks) >= 6


@pytest.fixture
def clone(tmp_path: Path) -> Path:
    """The repository's committed files, and the venv where a reader's `make run` put it."""
    head = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "HEAD"], capture_output=True,
                          text=True, check=True).stdout.strip()
    target = tmp_path / "clone"
    subprocess.run(["git", "clone", "--quiet", "--no-checkout", str(ROOT), str(target)],
                   check=True)
    subprocess.run(["git", "-C", str(target), "checkout", "--quiet", "--detach", head],
                   check=True)
    (target / ".venv").symlink_to(sys.prefix)
    # .gitignore names the directory `.venv/`; a link to one is not a directory to git.
    with open(target / ".git" / "info" / "exclude", "a") as exclude:
        exclude.write("/.venv\n")
    return target


def _status(clone: Path) -> list[str]:
    shown = subprocess.run(
        ["git", "-C", str(clone), "status", "--porcelain", "--ignored", "--untracked-files=all"],
        capture_output=True, text=True, check=True).stdout.splitlines()
    return [line for line in shown if line != "!! .venv"]


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    """`KAPU_SANDBOX=1 make run`'s server: the demo parties on a SQLite database of its own."""
    data = tmp_path / "data"
    data.mkdir()
    started = start_server(_database(data), data, "--demo",
                           env=_kapu(data, tmp_path) | {"KAPU_SANDBOX": "1"})
    yield started
    stop_server(started)


def _database(data: Path) -> str:
    return f"sqlite+aiosqlite:///{data / 'kapu.db'}"


def _kapu(data: Path, tmp_path: Path) -> dict[str, str]:
    # Where make run's ./var would be: the tours' `kapu …` reads the server's database and keys.
    return {"KAPU_DATA_DIR": str(data), "KAPU_DATABASE_URL": _database(data),
            "KAPU_KEYS_DIR": str(tmp_path / "keys")}


def _run(text: str, clone: Path, server: Server,
         tmp_path: Path) -> subprocess.CompletedProcess[str]:
    scratch = tmp_path / "scratch"
    scratch.mkdir(exist_ok=True)
    env = {name: value for name, value in os.environ.items()
           if name not in {"BASE", "K", "KAPU_SANDBOX"}}
    env |= _kapu(server.data_dir, tmp_path) | {
        "PORT": server.url.rsplit(":", 1)[1],
        # `kapu …` in the tours is the clone's code (the venv's own checkout may be another).
        "PYTHONPATH": str(clone),
        "PYTHONDONTWRITEBYTECODE": "1",
        "TMPDIR": str(scratch),  # mktemp -d: the scratch directories go with the test's
    }
    return subprocess.run(["bash", "-c", text], cwd=clone, env=env, capture_output=True,
                          text=True, timeout=180)


def test_the_readme_tours_run_twice_and_leave_no_file(clone: Path, server: Server,
                                                      tmp_path: Path) -> None:
    blocks = [block for block in sh_blocks((clone / "README.md").read_text())
              if block.mark != "skip"]
    tour = script([block for block in blocks if block.mark is None])
    # The test clock's blocks come after both runs of the rest: a clock a month ahead would
    # put the maintenance window, taken from the machine's date, in the gateway's past.
    clock = script([blocks[0], *[block for block in blocks if block.mark == "sandbox"]])
    for attempt in (1, 2):
        done = _run(tour, clone, server, tmp_path)
        assert done.returncode == 0, f"run {attempt}:\n{done.stdout}\n{done.stderr}"
        assert "same bytes" in done.stdout
        assert '"delivery_state": "downloaded"' in done.stdout
        # Registration numbers: REST's answers, zeep's, the bundled client's, the SwA answer.
        assert len(re.findall(r"(?<!\d)\d{27}(?!\d)", done.stdout)) >= 5, done.stdout
        assert "<hkp:ErkeztetesiSzam>" in done.stdout
        assert "Verification: OK" in done.stdout  # openssl ts -verify
        # A citizen writes to an office: the e-Papír verifies, its attachment comes back
        # whole, and pdfsig trusts the AVDH signature.
        assert '"issued_here": true' in done.stdout and '"valid": true' in done.stdout
        assert "attachment: same bytes" in done.stdout
        assert "Signature is Valid." in done.stdout and "Total document signed" in done.stdout
        # Someone acts for a citizen: the mandate accepted, the receipt naming the agent,
        # the tárhely gone for the agent once revoked.
        assert "mandate: active" in done.stdout and "mandate: revoked" in done.stdout
        assert "acting: Meg Bízott" in done.stdout and "agent: 404" in done.stdout
        # An office publishes a notice: anyone finds it by accentless words, its correction
        # keeps both versions.
        assert re.search(r"notice: Kilátó építése a Túra\d+-hegyen \| Demo Hivatal",
                         done.stdout), done.stdout
        assert "versions: 2 | " in done.stdout, done.stdout
        # xmlsec1 --verify: the receipts (the agent's download one too) and the outage
        # certificate.
        assert done.stderr.splitlines().count("OK") >= 3, done.stderr
        assert _status(clone) == [], f"run {attempt} left files in the repository"
    for attempt in (1, 2):
        done = _run(clock, clone, server, tmp_path)
        assert done.returncode == 0, f"clock run {attempt}:\n{done.stdout}\n{done.stderr}"
        assert '"mails_sent"' in done.stdout, done.stdout
        assert _status(clone) == []
