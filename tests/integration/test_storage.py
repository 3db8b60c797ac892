"""Storage on the database the migrations built: the counter, blob recovery, outages."""

from __future__ import annotations

import os
from datetime import date
from pathlib import Path

import pytest

from gateway.app import create_app
from gateway.config import Settings
from gateway.services.acceptance import recover_interrupted_uploads
from tests.helpers import new_org, stored_files, upload
from tests.integration.conftest import Gateway


async def test_counter_is_per_krid_and_day_and_a_rollback_returns_the_number(
    gw: Gateway,
) -> None:
    day, next_day = date(2026, 3, 29), date(2026, 3, 30)
    for expected in (1, 2):
        async with gw.ports.write_uow() as uow:
            assert await uow.counters.next("555000001", day) == expected
            await uow.commit()
    async with gw.ports.write_uow() as uow:
        assert await uow.counters.next("555000001", day) == 3
        # not committed: rolled back when the unit of work ends
    async with gw.ports.write_uow() as uow:
        assert await uow.counters.next("555000001", day) == 3
        assert await uow.counters.next("555000002", day) == 1
        assert await uow.counters.next("555000001", next_day) == 1
        await uow.commit()


async def test_crash_between_commit_and_placing_the_blob_is_recovered(gw: Gateway) -> None:
    sender, office = await new_org(gw.ports), await new_org(gw.ports)
    number = (await upload(gw.client, sender, office, b"survives a crash", "a.txt")).json()[
        "registration_number"]
    document = (await gw.client.get(f"/api/v1/documents/{number}", auth=office.auth)).json()
    stored = gw.blob_root / document["sha256"][:2] / document["sha256"][2:4] / document["sha256"]
    # Put the store back into the state a crash right after COMMIT leaves: the bytes still
    # in tmp/ as a .ready file, nothing in place; plus an orphan whose row never committed.
    stored.rename(gw.blob_root / "tmp" / f"{document['sha256']}.deadbeef.ready")
    orphan = gw.blob_root / "tmp" / f"{'0' * 64}.cafe.ready"
    orphan.write_bytes(b"never committed")
    unfinished = gw.blob_root / "tmp" / "feed.part"
    unfinished.write_bytes(b"half")
    # Written just now: young by the file system's clock, on which recovery measures ages
    # (this process's clock may differ from it, as under faketime in CI).

    assert await recover_interrupted_uploads(gw.ports) == 1

    assert stored.read_bytes() == b"survives a crash"
    # Young leftovers may belong to another process's upload in flight: kept until stale.
    assert orphan.exists() and unfinished.exists()
    content = await gw.client.get(f"/api/v1/documents/{number}/content", auth=office.auth)
    assert content.content == b"survives a crash"


async def test_stale_leftovers_are_removed(gw: Gateway) -> None:
    leftovers = [gw.blob_root / "tmp" / f"{'1' * 64}.old.ready", gw.blob_root / "tmp" / "x.part"]
    for path in leftovers:
        path.write_bytes(b"old")
        stamped = path.stat().st_mtime  # aged on the file system's clock, as recovery measures
        os.utime(path, (stamped - 7200, stamped - 7200))
    await recover_interrupted_uploads(gw.ports)
    assert stored_files(gw.blob_root) == []


@pytest.mark.parametrize("url", [
    "postgresql+asyncpg://postgres@127.0.0.1:9/kapu",  # nothing listens on port 9
    "sqlite+aiosqlite:////proc/kapu-cannot-be-here/kapu.db",
])
async def test_database_down_answers_503_unavailable(
    url: str, tmp_path: Path, keys_dir: Path
) -> None:
    import httpx

    app = create_app(Settings(database_url=url, data_dir=tmp_path, keys_dir=keys_dir,
                              background_jobs=False))
    transport = httpx.ASGITransport(app=app)
    async with app.router.lifespan_context(app), httpx.AsyncClient(
        transport=transport, base_url="http://kapu.test"
    ) as client:
        response = await client.get("/api/v1/mailbox", auth=("DEMOHIVATAL", "x"))
        health = await client.get("/health")
    assert response.status_code == 503
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["code"] == "unavailable"
    assert "Traceback" not in response.text
    assert health.status_code == 200


async def test_a_worker_whose_recovery_fails_still_serves(tmp_path: Path, keys_dir: Path,
                                                         caplog: pytest.LogCaptureFixture
                                                         ) -> None:
    """Was: an error in start-up recovery (here: the database not answering when it asks
    whether a staged file's row committed) failed the worker's start, and with it the server."""
    import httpx

    settings = Settings(database_url="postgresql+asyncpg://postgres@127.0.0.1:9/kapu",
                        data_dir=tmp_path, keys_dir=keys_dir, background_jobs=False)
    staged = settings.blob_dir / "tmp" / f"{'2' * 64}.cafe.ready"
    staged.parent.mkdir(parents=True)
    staged.write_bytes(b"left by a crash")
    app = create_app(settings)
    transport = httpx.ASGITransport(app=app)
    async with app.router.lifespan_context(app), httpx.AsyncClient(
        transport=transport, base_url="http://kapu.test"
    ) as client:
        assert (await client.get("/health")).status_code == 200
        assert (await client.get("/ready")).status_code == 503
    assert "start-up recovery of interrupted uploads failed" in caplog.text
    assert staged.exists()


@pytest.mark.parametrize("size", [0, 1, 64 * 1024, 64 * 1024 + 1, 3 * 1024 * 1024 + 7])
async def test_staged_content_round_trips_through_the_store(gw: Gateway, size: int) -> None:
    import hashlib
    import os

    content = os.urandom(size)
    staged = gw.ports.blobs.stage(max_bytes=4 * 1024 * 1024)
    for start in range(0, size, 50_000):  # uneven chunks cross the in-memory spool limit
        staged.write(memoryview(content)[start:start + 50_000])
    await staged.finish()
    assert staged.sha256 == hashlib.sha256(content).hexdigest()
    assert staged.size == size
    assert staged.head == content[:8192]
    assert await staged.sha1() == hashlib.sha1(content).hexdigest()
    await staged.place()
    read = b"".join([chunk async for chunk in gw.ports.blobs.read(staged.sha256)])
    assert read == content
    assert not any((gw.blob_root / "tmp").iterdir())


async def test_staged_content_over_the_limit_is_refused_and_discarded(gw: Gateway) -> None:
    from gateway.errors import TooLarge

    staged = gw.ports.blobs.stage(max_bytes=100_000)
    staged.write(b"x" * 80_000)  # past the spool: a .part file exists now
    with pytest.raises(TooLarge):
        staged.write(b"x" * 30_000)
    await staged.discard()
    assert stored_files(gw.blob_root) == []
