"""Two ``kapu worker`` processes sweep one database: every notification exactly once."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import httpx

from tests.e2e.conftest import kapu_env, register_org, start_server, stop_server
from tests.helpers import upload

DOCUMENTS = 120


def test_two_workers_notify_each_document_once(database_url: str, tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    sandbox = {"KAPU_SANDBOX": "1", "KAPU_BACKGROUND_JOBS": "0"}
    server = start_server(database_url, data_dir, env=sandbox)
    workers: list[subprocess.Popen[bytes]] = []
    worker_log = open(tmp_path / "worker.log", "wb")
    try:
        sender = register_org(database_url, data_dir)
        office = register_org(database_url, data_dir)

        async def send_all() -> list[httpx.Response]:
            async with httpx.AsyncClient(base_url=server.url, timeout=60) as client:
                return await asyncio.gather(*(
                    upload(client, sender, office, f"doc {i}".encode(), f"{i}.txt")
                    for i in range(DOCUMENTS)))

        numbers = {r.json()["registration_number"] for r in asyncio.run(send_all())}
        assert len(numbers) == DOCUMENTS
        moved = httpx.post(f"{server.url}/api/v1/sandbox/clock", json={"advance": "P10D"},
                           auth=sender.auth)
        assert moved.status_code == 200

        env = kapu_env(database_url, data_dir) | {"KAPU_SANDBOX": "1",
                                                  "KAPU_JOBS_INTERVAL_SECONDS": "0.2"}
        for _ in range(2):
            workers.append(subprocess.Popen(
                [sys.executable, "-m", "gateway", "worker"], env=env,
                stdout=subprocess.DEVNULL, stderr=worker_log))

        def warned() -> list[str]:
            items = httpx.get(f"{server.url}/api/v1/notifications", params={"limit": 500},
                              auth=office.auth).json()["items"]
            return [str(n["payload"]["registration_number"]) for n in items
                    if n["kind"] == "mailbox_warning"]

        deadline = time.monotonic() + 120
        while len(warned()) < DOCUMENTS and time.monotonic() < deadline:
            time.sleep(0.5)
        time.sleep(2)  # both workers keep sweeping: nothing more may appear
        counts = Counter(warned())
        assert set(counts) == numbers
        assert set(counts.values()) == {1}
        assert all(worker.poll() is None for worker in workers), (
            tmp_path / "worker.log").read_text()
    finally:
        for worker in workers:
            worker.terminate()
            worker.wait(timeout=15)
        worker_log.close()
        stop_server(server)
