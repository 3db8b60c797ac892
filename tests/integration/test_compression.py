"""On PostgreSQL, receipts and timestamp tokens are compressed with lz4 (migration 0021): they
are written while the office's counter row is held, where pglz cost more. A receipt written
so reads back byte for byte, and the migration's way down gives pglz back."""

from __future__ import annotations

import asyncio

import asyncpg
import pytest
from alembic import command

from gateway.storage.database import alembic_config
from tests.conftest import _admin
from tests.helpers import new_org, upload
from tests.integration.conftest import Gateway

COLUMNS = "(('receipts', 'content'), ('documents', 'timestamp_token'))"


async def _compression(dsn: str) -> dict[str, str]:
    connection = await asyncpg.connect(dsn)
    try:
        rows = await connection.fetch(
            "SELECT attname, attcompression::text AS method FROM pg_attribute "
            f"WHERE (attrelid::regclass::text, attname) IN {COLUMNS}")
        return {row["attname"]: row["method"] for row in rows}
    finally:
        await connection.close()


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
async def test_receipts_and_tokens_are_compressed_with_lz4_and_read_back_whole(
    gw: Gateway, postgres_url: str
) -> None:
    dsn = postgres_url.replace("+asyncpg", "")
    assert await _compression(dsn) == {"content": "l", "timestamp_token": "l"}
    sender, office = await new_org(gw.ports), await new_org(gw.ports)
    answer = await upload(gw.client, sender, office, b"%PDF-1.7\n" + b"lz4 " * 3000)
    number = answer.json()["registration_number"]
    receipt = (await gw.client.get(f"/api/v1/documents/{number}/receipts/acceptance",
                                   auth=sender.auth)).content
    connection = await asyncpg.connect(dsn)
    try:
        stored, method = await connection.fetchrow(
            "SELECT r.content, pg_column_compression(r.content) FROM receipts r "
            "JOIN documents d ON d.id = r.document_id "
            "WHERE d.registration_number = $1 AND r.kind = 'acceptance'", number)
    finally:
        await connection.close()
    assert bytes(stored) == receipt
    assert method == "lz4"


def test_the_way_down_gives_pglz_back(postgres_url: str) -> None:
    # Synchronous: Alembic's environment runs its own event loop.
    name = f"{postgres_url.rsplit('/', 1)[1]}_down"
    asyncio.run(_admin(f'CREATE DATABASE "{name}"'))
    url = postgres_url.rsplit("/", 1)[0] + f"/{name}"
    dsn = url.replace("+asyncpg", "")
    try:
        config = alembic_config(url)
        command.upgrade(config, "head")
        command.downgrade(config, "0020")
        assert asyncio.run(_compression(dsn)) == {"content": "p", "timestamp_token": "p"}
        command.upgrade(config, "head")
        assert asyncio.run(_compression(dsn)) == {"content": "l", "timestamp_token": "l"}
    finally:
        asyncio.run(_admin(f'DROP DATABASE IF EXISTS "{name}"'))
