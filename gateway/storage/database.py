"""Engines for SQLite (embedded default) and PostgreSQL, and running the migrations."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.pool import ConnectionPoolEntry

from gateway.resources import resource_dir

if TYPE_CHECKING:
    from alembic.config import Config

WRITE_OPTION = "kapu_write"


def _sqlite_pragmas(dbapi_connection: Any, _record: ConnectionPoolEntry) -> None:
    # Let us issue BEGIN ourselves (see _sqlite_begin); the driver's implicit BEGIN is deferred.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    # FULL: a commit is on disk before the registration number is answered.
    cursor.execute("PRAGMA synchronous=FULL")
    cursor.execute("PRAGMA foreign_keys=ON")
    # Other processes on the same file wait for the write lock instead of failing at once.
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def _sqlite_begin(conn: Any) -> None:
    # A write transaction takes the write lock at BEGIN: two deferred transactions that both
    # upgrade to writing would otherwise fail with SQLITE_BUSY instead of waiting.
    immediate = conn.get_execution_options().get(WRITE_OPTION, False)
    conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


def create_engine(database_url: str, *, pool_size: int = 20) -> AsyncEngine:
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite":
        engine = create_async_engine(url, pool_size=4, max_overflow=4, pool_timeout=30)
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        event.listen(engine.sync_engine, "begin", _sqlite_begin)
        return engine
    return create_async_engine(
        url,
        pool_size=pool_size,
        max_overflow=pool_size,
        pool_timeout=10,
        connect_args={"timeout": 5, "command_timeout": 60},
    )


def reading_engine(engine: AsyncEngine) -> AsyncEngine:
    """The engine for units of work that only read: on PostgreSQL in autocommit, sharing the
    pool. At READ COMMITTED each statement takes its own snapshot inside a transaction too,
    so BEGIN and ROLLBACK would only add two round trips to every listing and lookup. SQLite
    keeps its transactions: there a read transaction is one snapshot for all its statements."""
    if engine.dialect.name != "postgresql":
        return engine
    return engine.execution_options(isolation_level="AUTOCOMMIT")


def migrations_dir() -> Path:
    return resource_dir("migrations")


def alembic_config(database_url: str) -> Config:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(migrations_dir()))
    config.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    return config


def head_revision() -> str:
    """The newest migration's revision. Each file is named for its revision (``0001_core.py``
    holds ``revision = "0001"``), so this is read without loading alembic's script directory
    (tests/unit/test_migration_head.py holds the rule against alembic's own reading)."""
    return max(path.name.split("_", 1)[0]
               for path in (migrations_dir() / "versions").glob("[0-9]*_*.py"))


async def _recorded_revision(database_url: str) -> str | None:
    engine = create_engine(database_url, pool_size=1)
    try:
        async with engine.connect() as connection:
            result = await connection.exec_driver_sql("SELECT version_num FROM alembic_version")
            revision = result.scalar_one_or_none()
            return None if revision is None else str(revision)
    except Exception:  # no table yet, no database, unreachable: alembic decides and reports
        return None
    finally:
        await engine.dispose()


def upgrade(database_url: str) -> None:
    """Apply every pending migration (blocking; run before serving). A database already at
    the newest revision, as at every start but the first after an upgrade, is only asked
    which it is: alembic (its import and its script directory, about a quarter of a second
    of each start and command) is loaded only when there is something to do."""
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite" and url.database and url.database != ":memory:":
        Path(url.database).parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    if asyncio.run(_recorded_revision(database_url)) == head_revision():
        return
    from alembic import command

    command.upgrade(alembic_config(database_url), "head")


async def upgrade_async(database_url: str) -> None:
    await asyncio.to_thread(upgrade, database_url)
