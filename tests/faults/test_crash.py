"""``kill -9`` of a real server during concurrent uploads, three times, restarting on the same
database and data directory: nothing answered 201 is lost, no number is skipped or repeated,
every document has its acceptance receipt, ``kapu blobs gc --grace 0`` leaves only what rows
name, the audit chain holds."""

from __future__ import annotations

import asyncio
import hashlib
import json
import random
import subprocess
import sys
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import select

from gateway.domain.documents import DeliveryState
from gateway.storage.database import create_engine
from gateway.storage.tables import documents
from tests.e2e.conftest import kapu_env, start_server, stop_server
from tests.faults.conftest import SCALE, organisations
from tests.helpers import Account, stored_files, upload_form

ROUNDS = 3 * SCALE
UPLOADS_PER_ROUND = 40 * SCALE


def _content(rng: random.Random, label: str) -> bytes:
    # Some small (kept in memory until finished), some past the 64 KiB spool (a .part file).
    size = rng.choice([200, 3_000, 90_000, 300_000])
    return b"%PDF-1.7\n" + label.encode() + rng.randbytes(size) + b"\n%%EOF\n"


@dataclass
class Round:
    accepted: dict[str, bytes] = field(default_factory=dict)  # number -> content, answered 201
    cut: int = 0  # the server died under it: maybe committed, never answered
    refused: int = 0  # answered, not 201 (503 while it went down)


async def _round(url: str, sender: Account, office: Account, rng: random.Random,
                 label: str, kill: Callable[[], None]) -> Round:
    """Upload concurrently; kill the server a short random while after the first 201."""
    outcome = Round()
    first = asyncio.Event()

    async def one(client: httpx.AsyncClient, i: int) -> None:
        content = _content(rng, f"{label}-{i}")
        try:
            response = await client.post(
                "/api/v1/documents", auth=sender.auth, data=upload_form(office),
                files={"file": (f"{label}-{i}.pdf", content)})
        except httpx.TransportError:
            outcome.cut += 1
            return
        if response.status_code == 201:
            outcome.accepted[response.json()["registration_number"]] = content
            first.set()
        else:
            outcome.refused += 1
            assert response.status_code == 503, response.text

    async with httpx.AsyncClient(base_url=url, timeout=30) as client:
        tasks = [asyncio.create_task(one(client, i)) for i in range(UPLOADS_PER_ROUND)]
        await asyncio.wait_for(first.wait(), 30)
        await asyncio.sleep(rng.uniform(0.0, 0.3))
        kill()  # SIGKILL: no shutdown, no cleanup
        await asyncio.gather(*tasks)
    return outcome


def _listing(url: str, office: Account) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    cursor: str | None = None
    with httpx.Client(base_url=url, timeout=30) as client:
        while True:
            params: dict[str, Any] = {"state": "all", "limit": 500}
            if cursor:
                params["cursor"] = cursor
            page = client.get("/api/v1/mailbox", params=params, auth=office.auth).json()
            items += page["items"]
            cursor = page["next_cursor"]
            if not cursor:
                return items


def _kapu(database_url: str, data_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "gateway", *args],
                          env=kapu_env(database_url, data_dir), capture_output=True, text=True,
                          timeout=120)


def _named_by_other_rows(database_url: str, paths: set[str], ours: set[str]) -> set[str]:
    """Those of ``paths`` (``ab/cd/<sha256>``) that a live document other than ``ours`` names.

    PostgreSQL's database is the session's: other tests left documents there on their test
    clocks, and this test's servers, on the machine's clock, sweep the deadlines those passed
    and write the system messages (a warning to an office's admins, a sender's receipt) into
    this data directory. Rows name them, so gc rightly keeps them."""

    async def named() -> set[str]:
        engine = create_engine(database_url)
        try:
            async with engine.connect() as connection:
                result = await connection.execute(
                    select(documents.c.sha256, documents.c.registration_number).where(
                        documents.c.sha256.in_([path.rsplit("/", 1)[-1] for path in paths]),
                        documents.c.delivery_state != DeliveryState.EXPIRED.value))
                return {f"{sha[:2]}/{sha[2:4]}/{sha}" for sha, number in result.all()
                        if number not in ours}
        finally:
            await engine.dispose()

    return asyncio.run(named()) if paths else set()


def test_kill_9_during_uploads_loses_nothing(database_url: str, server_dirs: Path) -> None:
    rng = random.Random(13)
    data_dir = server_dirs
    sender, office = organisations(database_url, data_dir, 2)
    accepted: dict[str, bytes] = {}
    figures = []

    for round_number in range(ROUNDS):
        server = start_server(database_url, data_dir)
        outcome = asyncio.run(_round(server.url, sender, office, rng, f"r{round_number}",
                                     server.process.kill))
        server.process.wait()
        server.log.close()
        accepted |= outcome.accepted
        figures.append((len(outcome.accepted), outcome.cut, outcome.refused))

    server = start_server(database_url, data_dir)  # recovery at start
    try:
        listed = _listing(server.url, office)
        by_number = {item["registration_number"]: item for item in listed}
        missing = set(accepted) - set(by_number)
        assert not missing, f"answered 201 but not listed: {sorted(missing)}"
        with httpx.Client(base_url=server.url, timeout=30) as client:
            for number, item in by_number.items():
                body = client.get(f"/api/v1/documents/{number}/content", auth=office.auth)
                assert body.status_code == 200, number
                assert hashlib.sha256(body.content).hexdigest() == item["sha256"], number
                if number in accepted:
                    assert body.content == accepted[number], number
                # Its acceptance receipt: written in the number's own statement, or just
                # after it, or (the server killed in between) at the restart.
                receipt = client.get(f"/api/v1/documents/{number}/receipts/acceptance",
                                     auth=sender.auth)
                assert receipt.status_code == 200, number
    finally:
        stop_server(server)

    # Numbers per KRID and day: exactly 000001…max, none skipped, none twice.
    sequences: dict[str, list[int]] = defaultdict(list)
    for number in by_number:
        sequences[number[:17]].append(int(number[21:]))
    for day, numbers in sequences.items():
        assert sorted(numbers) == list(range(1, len(numbers) + 1)), day

    gc = _kapu(database_url, data_dir, "blobs", "gc", "--grace", "0", "--json")
    assert gc.returncode == 0, gc.stderr
    collected = json.loads(gc.stdout)
    blob_root = data_dir / "blobs"
    named = {item["sha256"] for item in listed}
    expected = {f"{s[:2]}/{s[2:4]}/{s}" for s in named}
    stored = stored_files(blob_root)
    others = _named_by_other_rows(database_url, set(stored) - expected, set(by_number))
    assert stored == sorted(expected | others)

    audit = _kapu(database_url, data_dir, "audit", "verify", "--json")
    assert audit.returncode == 0, audit.stdout + audit.stderr
    assert json.loads(audit.stdout)["intact"] is True

    print(f"kill -9: (201, cut, 503) per round {figures}, {len(by_number)} listed "
          f"({len(by_number) - len(accepted)} committed but never answered), "
          f"gc {collected}")
