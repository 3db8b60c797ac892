"""Fixtures for every tier: both databases, built by the migrations, and a test clock.

PostgreSQL: one fresh database per test session (``kapu_test_<random>``), migrated once,
dropped at the end. Tests keep apart by registering their own parties (fresh KRIDs start their
own registration sequences). SQLite: a migrated template file copied for each test.

When PostgreSQL cannot be reached, its tests are skipped and the summary says so, unless
``KAPU_REQUIRE_POSTGRES=1`` (CI), where they fail.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import secrets
import shutil
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import asyncpg
import pytest

from gateway.storage.database import upgrade
from tests.seaweed import SeaweedServer

if TYPE_CHECKING:
    from tests.hosts import Hosts

ADMIN_DSN = os.environ.get("KAPU_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test")
REQUIRE_POSTGRES = os.environ.get("KAPU_REQUIRE_POSTGRES") == "1"
_postgres_skips: list[str] = []


# The one moment every test starts from: a winter Tuesday morning in Budapest (UTC+1).
# Certificates, keys, deadlines and receipts are made relative to it, never to the machine's
# date, so the suite passes on any day (CI also runs it with the date moved a year ahead).
TEST_EPOCH = datetime(2026, 11, 24, 8, 30, tzinfo=UTC)


class FixedClock:
    """A settable clock for deterministic numbers and dates."""

    def __init__(self, now: datetime) -> None:
        self.current = now

    def now(self) -> datetime:
        return self.current

    def advance(self, **delta: float) -> None:
        self.current += timedelta(**delta)


async def _admin(statement: str) -> None:
    connection = await asyncpg.connect(ADMIN_DSN, timeout=5)
    try:
        await connection.execute(statement)
    finally:
        await connection.close()


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    name = f"kapu_test_{secrets.token_hex(4)}"
    try:
        asyncio.run(_admin(f'CREATE DATABASE "{name}"'))
    except (OSError, asyncpg.PostgresError, TimeoutError) as exc:
        reason = f"PostgreSQL not reachable at {ADMIN_DSN}: {exc}"
        if REQUIRE_POSTGRES:
            pytest.fail(f"{reason} (KAPU_REQUIRE_POSTGRES=1)")
        _postgres_skips.append(reason)
        pytest.skip(reason)
    base = ADMIN_DSN.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://")
    url = f"{base}/{name}"
    upgrade(url)
    yield url
    asyncio.run(_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "kapu.db"
    url = f"sqlite+aiosqlite:///{path}"
    upgrade(url)
    # The portal every start registers where missing, made once here: each test's copy then
    # only finds it (a write transaction at every one of a thousand starts costs seconds).
    asyncio.run(_with_portal(url))
    return path


async def _with_portal(url: str) -> None:
    from types import SimpleNamespace

    from gateway.services.public_notices import ensure_portal
    from gateway.storage.database import create_engine
    from gateway.storage.uow import SqlUnitOfWork

    engine = create_engine(url)
    ports: Any = SimpleNamespace(
        uow=lambda: SqlUnitOfWork(engine, write=False),
        write_uow=lambda: SqlUnitOfWork(engine, write=True), portal_krid="100000000")
    try:
        await ensure_portal(ports)
    finally:
        await engine.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        template: Path = request.getfixturevalue("sqlite_template")
        shutil.copy(template, tmp_path / "kapu.db")
        return f"sqlite+aiosqlite:///{tmp_path / 'kapu.db'}"
    url: str = request.getfixturevalue("postgres_url")
    return url


_numbers = itertools.count(1)
_run = secrets.randbelow(90_000) + 10_000


def fresh_krid() -> str:
    """A KRID no other test in this session (or, very likely, an earlier one) has used."""
    return f"{_run:05d}{next(_numbers):04d}"


def fresh_short_name() -> str:
    return f"T{_run}N{next(_numbers)}"


@pytest.fixture(scope="session", autouse=True)
def cheap_password_hashing() -> None:
    """Parties' passwords hashed with argon2-cffi's cheapest parameters (still argon2id):
    the suite registers hundreds of parties. Servers the tests start as processes keep the
    production parameters."""
    from argon2 import profiles

    from gateway.crypto.passwords import use_parameters

    use_parameters(profiles.CHEAPEST)


@pytest.fixture(scope="session")
def keys_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The gateway's keys, made once per session (a 3072-bit CA takes a while)."""
    from gateway.crypto.keys import ensure_keys

    directory = tmp_path_factory.mktemp("keys")
    ensure_keys(directory, now=TEST_EPOCH - timedelta(days=1))
    return directory


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(TEST_EPOCH)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if _postgres_skips:
        skipped = len(terminalreporter.stats.get("skipped", []))
        terminalreporter.write_line(
            f"PostgreSQL tests SKIPPED ({skipped} skipped in all): {_postgres_skips[0]}",
            yellow=True, bold=True,
        )


@pytest.fixture(scope="session")
def seaweed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SeaweedServer]:
    """A real S3 server (SeaweedFS) for the tests that use one: started at their first use,
    one per xdist worker (its own free ports and directory), stopped at the end."""
    from tests.seaweed import start_seaweed

    server = start_seaweed(tmp_path_factory.mktemp("seaweed"))
    yield server
    server.stop()


@pytest.fixture(scope="module")
def hosts(postgres_url: str, seaweed: SeaweedServer, keys_dir: Path,
          tmp_path_factory: pytest.TempPathFactory) -> Iterator[Hosts]:
    """Two ``kapu serve`` hosts on the session's PostgreSQL database and SeaweedFS, started
    once for a module's tests (each start is seconds of Python)."""
    from tests.hosts import several_hosts

    yield from several_hosts(postgres_url, seaweed, tmp_path_factory.mktemp("hosts"), keys_dir)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """The long fault runs (``faults_long``) belong to ``make faults``: below its scale they
    are deselected, not skipped, so a run never counts them as passed or skipped."""
    # The real processes (e2e, faults) first: started last, their seconds-long tests leave one
    # worker busy while the other has finished (worksteal hands out the list in order).
    items.sort(key=lambda item: 0 if item.nodeid.startswith(("tests/e2e/", "tests/faults/"))
               else 1)
    if int(os.environ.get("KAPU_FAULTS_SCALE", "1")) >= 2:
        return
    long_runs = [item for item in items if item.get_closest_marker("faults_long")]
    if long_runs:
        config.hook.pytest_deselected(items=long_runs)
        items[:] = [item for item in items if not item.get_closest_marker("faults_long")]
