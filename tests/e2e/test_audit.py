"""The audit chain through the real ``kapu audit verify``: whatever was altered in the database,
it exits 1 naming the entry, never a traceback."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from gateway.cli import main
from gateway.config import Settings
from gateway.domain.audit import AuditAction, AuditEvent
from gateway.services.audit import link_pending
from gateway.wiring import build_runtime
from tests.conftest import TEST_EPOCH
from tests.e2e.test_cli import kapu

COLUMNS = ("sequence", "at", "actor", "action", "registration_number", "sha256", "detail",
           "previous_hash", "hash")


async def _execute(database_url: str, statement: str, **params: object) -> list[tuple[object, ...]]:
    engine = create_async_engine(database_url)
    try:
        async with engine.begin() as connection:
            result = await connection.execute(text(statement), params)
            return [tuple(row) for row in result] if result.returns_rows else []
    finally:
        await engine.dispose()


def sql(database_url: str, statement: str, **params: object) -> list[tuple[object, ...]]:
    return asyncio.run(_execute(database_url, statement, **params))


async def _append_three(database_url: str, data_dir: Path) -> None:
    runtime = build_runtime(Settings(database_url=database_url, data_dir=data_dir))
    try:
        for number in range(3):
            async with runtime.ports.write_uow() as uow:
                await uow.audit.append(AuditEvent(
                    at=TEST_EPOCH, actor="AUDITTESZT", action=AuditAction.ACCEPTED,
                    registration_number=f"{number:027d}", sha256="ab" * 32, detail="proba"))
                await uow.commit()
        await link_pending(runtime.ports)  # as the background jobs do within a second
    finally:
        await runtime.engine.dispose()


def verify(capsys: pytest.CaptureFixture[str]) -> tuple[int, dict[str, object]]:
    """``kapu audit verify --json`` in this process (the environment names the database)."""
    capsys.readouterr()
    status = main(["audit", "verify", "--json"])
    return status, json.loads(capsys.readouterr().out)


def alterations(dialect: str) -> list[tuple[str, str]]:
    """(what, SQL) — each changes one column of entry :s, or removes or adds a row."""
    time_changes = (
        [("at", "UPDATE audit_entries SET at = at + interval '1 second' WHERE sequence = :s")]
        if dialect == "postgresql" else
        [("at", "UPDATE audit_entries SET at = '2026-11-24 08:30:01.000000' WHERE sequence = :s"),
         ("at as garbage", "UPDATE audit_entries SET at = 'not a time' WHERE sequence = :s"),
         ("sequence as text", "UPDATE audit_entries SET sequence = 'harom' WHERE sequence = :s"),
         ("actor as a number", "UPDATE audit_entries SET actor = 42 WHERE sequence = :s"),
         ("hash as bytes", "UPDATE audit_entries SET hash = x'00ff' WHERE sequence = :s")])
    return [
        ("action", "UPDATE audit_entries SET action = 'refXsed' WHERE sequence = :s"),
        ("actor", "UPDATE audit_entries SET actor = 'FORGER' WHERE sequence = :s"),
        *time_changes,
        ("registration_number",
         "UPDATE audit_entries SET registration_number = '9' || substr(registration_number, 2)"
         " WHERE sequence = :s"),
        ("registration_number removed",
         "UPDATE audit_entries SET registration_number = NULL WHERE sequence = :s"),
        ("sha256", "UPDATE audit_entries SET sha256 = 'cd' || substr(sha256, 3) "
                   "WHERE sequence = :s"),
        ("detail", "UPDATE audit_entries SET detail = 'forged' WHERE sequence = :s"),
        ("previous_hash", "UPDATE audit_entries SET previous_hash = 'f' || "
                          "substr(previous_hash, 2) WHERE sequence = :s"),
        ("hash", "UPDATE audit_entries SET hash = 'f' || substr(hash, 2) WHERE sequence = :s"),
        ("sequence", "UPDATE audit_entries SET sequence = sequence + 1000000 "
                     "WHERE sequence = :s"),
        ("deleted", "DELETE FROM audit_entries WHERE sequence = :s"),
    ]


def test_every_altered_column_removed_or_inserted_row_is_named(
    database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    asyncio.run(_append_three(database_url, tmp_path))
    monkeypatch.setenv("KAPU_DATABASE_URL", database_url)
    monkeypatch.setenv("KAPU_DATA_DIR", str(tmp_path))
    status, report = verify(capsys)
    assert status == 0 and report["intact"] is True, report

    ((victim,),) = sql(database_url, "SELECT max(sequence) - 1 FROM audit_entries "
                                     "WHERE actor = 'AUDITTESZT'")
    ((head,),) = sql(database_url, "SELECT sequence FROM audit_head WHERE id = 1")
    columns = ", ".join(COLUMNS)
    (original,) = sql(database_url, f"SELECT {columns} FROM audit_entries WHERE sequence = :s",
                      s=victim)
    values = dict(zip(COLUMNS, original, strict=True))
    insert = (f"INSERT INTO audit_entries ({columns}) VALUES "
              f"({', '.join(':' + c for c in COLUMNS)})")
    dialect = "postgresql" if database_url.startswith("postgresql") else "sqlite"

    def restore() -> None:
        # The session's other tests share this database: put the entry back exactly.
        sql(database_url, "DELETE FROM audit_entries WHERE sequence IN (:s, :moved)",
            s=victim, moved=victim + 1000000)
        sql(database_url, "DELETE FROM audit_entries WHERE NOT (sequence BETWEEN 1 AND :head)",
            head=head)
        if dialect == "sqlite":
            sql(database_url, "DELETE FROM audit_entries WHERE typeof(sequence) != 'integer'")
        sql(database_url, insert, **values)
        assert verify(capsys)[0] == 0, "the chain was not put back"

    cases = [(what, statement, victim) for what, statement in alterations(dialect)] + [
        ("inserted past the head", insert.replace(":sequence", ":head + 1"), head + 1),
        ("inserted before the first", insert.replace(":sequence", "0"), 0),
    ]
    for what, statement, named in cases:
        sql(database_url, statement, **(values | {"s": victim, "head": head}
                                         if "INSERT" in statement else {"s": victim}))
        status, report = verify(capsys)
        assert status == 1, (what, report)
        assert report["intact"] is False and report["first_bad_entry"] == named, (what, report)
        assert report["reason"], what
        restore()


def test_a_real_process_names_an_altered_action_without_a_traceback(
    database_url: str, tmp_path: Path
) -> None:
    asyncio.run(_append_three(database_url, tmp_path))
    ((victim,),) = sql(database_url, "SELECT max(sequence) - 1 FROM audit_entries "
                                     "WHERE actor = 'AUDITTESZT'")
    sql(database_url, "UPDATE audit_entries SET action = 'refXsed' WHERE sequence = :s",
        s=victim)
    try:
        broken = kapu(database_url, tmp_path, "audit", "verify")
        assert broken.returncode == 1
        assert f"BROKEN at entry {victim}" in broken.stdout
        assert "Traceback" not in broken.stderr + broken.stdout
    finally:
        # Put it back: the session's other tests share this database.
        sql(database_url, "UPDATE audit_entries SET action = 'accepted' WHERE sequence = :s",
            s=victim)
    assert kapu(database_url, tmp_path, "audit", "verify").returncode == 0
