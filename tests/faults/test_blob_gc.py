"""``kapu blobs gc`` (contract section 21, filesystem side): what no row names goes, once
older than the grace period; what a row names stays; a younger file is left alone."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from pathlib import Path

from gateway.config import Settings
from gateway.services.blob_gc import collect_blob_garbage
from tests.conftest import FixedClock
from tests.helpers import PDF, new_org, sha256, stored_files, upload
from tests.integration.conftest import Gateway, _start

HOUR = 3600.0


def _age(path: Path, seconds: float) -> None:
    # File ages are the filesystem's (wall clock) times: the only clock gc reads.
    then = time.time() - seconds
    os.utime(path, (then, then))


async def test_gc_removes_only_old_files_no_row_names(gw: Gateway) -> None:
    sender, office = await new_org(gw.ports), await new_org(gw.ports)
    kept = PDF + b"kept"
    assert (await upload(gw.client, sender, office, content=kept)).status_code == 201
    store = gw.ports.blobs
    placed_path = store.path_of(sha256(kept))  # type: ignore[attr-defined]
    _age(placed_path, 2 * HOUR)
    # A committed row whose blob a crash left staged: placed, not removed.
    crashed = PDF + b"committed, then the process died"
    assert (await upload(gw.client, sender, office, content=crashed)).status_code == 201
    crashed_ready = gw.blob_root / "tmp" / f"{sha256(crashed)}.abc.ready"
    store.path_of(sha256(crashed)).rename(crashed_ready)  # type: ignore[attr-defined]
    _age(crashed_ready, 2 * HOUR)

    orphan_sha = "f" * 64
    orphan = store.path_of(orphan_sha)  # type: ignore[attr-defined]
    orphan.parent.mkdir(parents=True, exist_ok=True)
    orphan.write_bytes(b"no row names me")
    leftovers = [gw.blob_root / "tmp" / "0123.part",
                 gw.blob_root / "tmp" / f"{'e' * 64}.0123.ready",
                 gw.blob_root / "tmp" / f"{'d' * 64}.0123.deleting"]
    for path in [orphan, *leftovers]:
        path.write_bytes(b"x")
        _age(path, 2 * HOUR)
    young = [gw.blob_root / "tmp" / "in-flight.part",
             gw.blob_root / "tmp" / f"{'c' * 64}.0456.ready"]
    for path in young:
        path.write_bytes(b"an upload still on its way")
        _age(path, 60)

    done = await collect_blob_garbage(gw.ports, HOUR)

    assert (done.examined, done.removed, done.placed) == (6, 4, 1)
    assert placed_path.read_bytes() == kept
    assert store.path_of(sha256(crashed)).read_bytes() == crashed  # type: ignore[attr-defined]
    assert not orphan.exists() and not any(p.exists() for p in leftovers)
    assert all(p.exists() for p in young)
    downloaded = (await gw.client.get("/api/v1/mailbox", auth=office.auth)).json()["items"]
    for item in downloaded:
        content = await gw.client.get(
            f"/api/v1/documents/{item['registration_number']}/content", auth=office.auth)
        assert sha256(content.content) == item["sha256"]

    # Grace 0: the young ones go too; every remaining file is named by a row.
    again = await collect_blob_garbage(gw.ports, 0)
    assert again.removed == 2
    assert stored_files(gw.blob_root) == sorted(
        str(store.path_of(sha256(c)).relative_to(gw.blob_root))  # type: ignore[attr-defined]
        for c in (kept, crashed))


def test_gc_refuses_a_negative_grace(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "gateway", "blobs", "gc", "--grace", "-5"],
        env={**os.environ, "KAPU_DATA_DIR": str(tmp_path)}, capture_output=True, text=True,
        timeout=60)
    assert result.returncode == 2
    assert "--grace" in result.stderr and result.stderr.count("\n") == 1


async def test_background_jobs_collect_the_garbage(
    database_url: str, tmp_path: Path, keys_dir: Path, clock: FixedClock
) -> None:
    settings = Settings(database_url=database_url, data_dir=tmp_path / "data",
                        keys_dir=keys_dir, jobs_interval_seconds=0.05,
                        blob_gc_interval_seconds=0.1, blob_gc_grace_seconds=HOUR)
    tmp = settings.blob_dir / "tmp"
    old, young = tmp / "old.part", tmp / "young.part"
    async for gateway in _start(settings, clock):
        # Left after the start (whose recovery removes stale leftovers too).
        for path, age in ((old, 2 * HOUR), (young, 60.0)):
            path.write_bytes(b"x")
            _age(path, age)
        for _ in range(100):
            if not old.exists():
                break
            await asyncio.sleep(0.05)
        assert stored_files(gateway.blob_root) == ["tmp/young.part"]
