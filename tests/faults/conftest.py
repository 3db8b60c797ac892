"""The fault suite: the in-process app (the integration tier's fixtures) and real servers.

``KAPU_FAULTS_SCALE`` (``make faults``) multiplies rounds and sizes for the longer runs."""

from __future__ import annotations

import asyncio
import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from gateway.config import Settings
from gateway.wiring import build_runtime
from tests.e2e.conftest import Server, start_server, stop_server
from tests.helpers import PDF, Account, new_citizen, new_org, upload_form
from tests.integration.conftest import gw, sandbox, settings

SCALE = max(1, int(os.environ.get("KAPU_FAULTS_SCALE", "1")))

__all__ = [
    "SCALE",
    "FuzzTarget",
    "fuzz_target",
    "fuzz_target_on_each_database",
    "gw",
    "organisations",
    "sandbox",
    "serve_fuzz_target",
    "server_dirs",
    "server_rss",
    "settings",
]


@pytest.fixture
def server_dirs(tmp_path: Path, keys_dir: Path) -> Path:
    """The data directory for real servers, beside the session's keys (where
    tests.e2e.conftest's servers look), so no server spends seconds making its own."""
    shutil.copytree(keys_dir, tmp_path / "keys")
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    return data_dir


def organisations(database_url: str, data_dir: Path, count: int) -> list[Account]:
    """Register organisations in-process (a CLI run per party costs seconds)."""

    async def register() -> list[Account]:
        runtime = build_runtime(Settings(database_url=database_url, data_dir=data_dir,
                                         keys_dir=data_dir.parent / "keys",
                                         background_jobs=False))
        try:
            return [await new_org(runtime.ports) for _ in range(count)]
        finally:
            await runtime.engine.dispose()

    return asyncio.run(register())


@dataclass
class FuzzTarget:
    """A real server for the fuzzing tests, with parties to act as and documents to name."""

    server: Server
    office: Account
    sender: Account
    citizen: Account
    numbers: list[str]  # documents from ``sender`` to ``office``
    # An office only the SwA attachment fuzzing logs in as: the envelope fuzzing fails some of
    # ``office``'s logins, and five failures from one address refuse a username for up to 15
    # minutes, which would answer the next test's requests with HibaUzenet 12 alone.
    attachment_sender: Account


def server_rss(server: Server) -> int:
    """The server process's resident set, in bytes (Linux /proc)."""
    for line in Path(f"/proc/{server.process.pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS")


@pytest.fixture(scope="module")
def fuzz_target(tmp_path_factory: pytest.TempPathFactory, sqlite_template: Path,
                keys_dir: Path) -> Iterator[FuzzTarget]:
    """One sandbox server on its own SQLite database for a module's fuzzing."""
    root = tmp_path_factory.mktemp("fuzz")
    shutil.copy(sqlite_template, root / "kapu.db")
    yield from serve_fuzz_target(root, f"sqlite+aiosqlite:///{root / 'kapu.db'}", keys_dir)


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def fuzz_target_on_each_database(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory,
    sqlite_template: Path, keys_dir: Path,
) -> Iterator[FuzzTarget]:
    """A server on each database: PostgreSQL refuses values SQLite stores (a NUL character,
    a string longer than its column), so fuzzing SQLite alone misses their 500s."""
    root = tmp_path_factory.mktemp("fuzz-each")
    if request.param == "sqlite":
        shutil.copy(sqlite_template, root / "kapu.db")
        database_url = f"sqlite+aiosqlite:///{root / 'kapu.db'}"
    else:
        database_url = request.getfixturevalue("postgres_url")
    yield from serve_fuzz_target(root, database_url, keys_dir)


def serve_fuzz_target(root: Path, database_url: str, keys_dir: Path) -> Iterator[FuzzTarget]:
    """A sandbox server on ``database_url`` with three parties and three documents."""
    shutil.copytree(keys_dir, root / "keys")
    data_dir = root / "data"
    data_dir.mkdir()

    async def register() -> tuple[Account, Account, Account, Account]:
        runtime = build_runtime(Settings(database_url=database_url, data_dir=data_dir,
                                         keys_dir=root / "keys", background_jobs=False))
        try:
            return (await new_org(runtime.ports), await new_org(runtime.ports),
                    await new_citizen(runtime.ports, email="fuzz@example.hu"),
                    await new_org(runtime.ports))
        finally:
            await runtime.engine.dispose()

    office, sender, citizen, attachment_sender = asyncio.run(register())
    server = start_server(database_url, data_dir, env={"KAPU_SANDBOX": "1"})
    try:
        with httpx.Client(base_url=server.url, timeout=30) as client:
            numbers = []
            for to in (office, office, citizen):
                answer = client.post("/api/v1/documents", auth=sender.auth,
                                     data=upload_form(to), files={"file": ("level.pdf", PDF)})
                assert answer.status_code == 201, answer.text
                numbers.append(answer.json()["registration_number"])
        yield FuzzTarget(server, office, sender, citizen, numbers, attachment_sender)
    finally:
        stop_server(server)
