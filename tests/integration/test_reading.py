"""Units of work that only read run in autocommit on PostgreSQL (no BEGIN and ROLLBACK round
trips around every listing); writing ones keep their transaction, and SQLite keeps both."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import text

from gateway.storage.database import create_engine, reading_engine


async def _now_twice(engine_url: str, *, reading: bool) -> tuple[object, object]:
    engine = create_engine(engine_url)
    try:
        used = reading_engine(engine) if reading else engine
        async with used.connect() as connection, connection.begin():
            first = await connection.scalar(text("SELECT now()"))
            await connection.execute(text("SELECT pg_sleep(0.02)"))
            second = await connection.scalar(text("SELECT now()"))
        return first, second
    finally:
        await engine.dispose()


async def test_a_reading_unit_on_postgresql_runs_each_statement_on_its_own(
        postgres_url: str) -> None:
    # now() is the transaction's start: the same for both statements inside one transaction.
    first, second = await _now_twice(postgres_url, reading=True)
    assert second > first  # type: ignore[operator]
    first, second = await _now_twice(postgres_url, reading=False)
    assert second == first


async def test_sqlite_keeps_its_read_transactions(tmp_path: Path) -> None:
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'kapu.db'}")
    try:
        assert reading_engine(engine) is engine
    finally:
        await engine.dispose()
