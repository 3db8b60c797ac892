"""The audit chain through the real ``kapu audit verify``."""

from __future__ import annotations

import json
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from gateway.app import build_runtime
from gateway.config import Settings
from gateway.domain.audit import AuditAction, AuditEvent
from tests.conftest import TEST_EPOCH
from tests.e2e.test_cli import kapu


async def _execute(database_url: str, statement: str, **params: object) -> list[tuple[object, ...]]:
    engine = create_async_engine(database_url)
    try:
        async with engine.begin() as connection:
            result = await connection.execute(text(statement), params)
            return [tuple(row) for row in result] if result.returns_rows else []
    finally:
        await engine.dispose()


async def test_tampered_entry_is_named(database_url: str, tmp_path: Path) -> None:
    runtime = build_runtime(Settings(database_url=database_url, data_dir=tmp_path))
    try:
        for number in range(3):
            async with runtime.ports.write_uow() as uow:
                await uow.audit.append(AuditEvent(
                    at=TEST_EPOCH, actor="AUDITTESZT", action=AuditAction.ACCEPTED,
                    registration_number=f"{number:027d}"))
                await uow.commit()
    finally:
        await runtime.engine.dispose()

    intact = kapu(database_url, tmp_path, "audit", "verify", "--json")
    assert intact.returncode == 0, intact.stdout + intact.stderr
    report = json.loads(intact.stdout)
    assert report["intact"] is True and report["entries_checked"] >= 3

    (victim,) = await _execute(
        database_url, "SELECT max(sequence) - 1 FROM audit_entries WHERE actor = 'AUDITTESZT'")
    await _execute(database_url, "UPDATE audit_entries SET actor = 'FORGER' WHERE sequence = :s",
                   s=victim[0])

    broken = kapu(database_url, tmp_path, "audit", "verify", "--json")
    assert broken.returncode == 1
    report = json.loads(broken.stdout)
    assert report["intact"] is False
    assert report["first_bad_entry"] == victim[0]
    human = kapu(database_url, tmp_path, "audit", "verify")
    assert f"BROKEN at entry {victim[0]}" in human.stdout
    # Put it back: the session's other tests share this database.
    await _execute(database_url, "UPDATE audit_entries SET actor = 'AUDITTESZT' "
                   "WHERE sequence = :s", s=victim[0])
    assert kapu(database_url, tmp_path, "audit", "verify").returncode == 0
