"""Against real server processes: interrupted uploads, concurrency across instances."""

from __future__ import annotations

import asyncio
import json
import shutil
import socket
import subprocess
import sys
import threading
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from gateway.storage.blobs import FileBlobStore
from tests.e2e.conftest import Server, kapu_env, register_org, start_server, stop_server
from tests.helpers import PDF, Account, stored_files, upload, upload_form


def _wait_until_empty(blob_root: Path, timeout: float = 10) -> list[str]:
    deadline = time.monotonic() + timeout
    while (left := stored_files(blob_root)) and time.monotonic() < deadline:
        time.sleep(0.05)
    return left


def test_upload_cut_off_mid_body_leaves_nothing(
    servers: Callable[[], Server], database_url: str
) -> None:
    server = servers()
    sender = register_org(database_url, server.data_dir)
    office = register_org(database_url, server.data_dir)
    boundary = "kapu-e2e"
    head = (
        f"--{boundary}\r\nContent-Disposition: form-data; name=\"recipient_krid\"\r\n\r\n"
        f"{office.krid}\r\n--{boundary}\r\n"
        "Content-Disposition: form-data; name=\"file\"; filename=\"big.txt\"\r\n\r\n"
    ).encode()
    import base64

    credentials = base64.b64encode(f"{sender.username}:{sender.password}".encode()).decode()
    port = int(server.url.rsplit(":", 1)[1])
    with socket.create_connection(("127.0.0.1", port)) as connection:
        connection.sendall(
            b"POST /api/v1/documents HTTP/1.1\r\nHost: kapu\r\n"
            + f"Authorization: Basic {credentials}\r\n".encode()
            + f"Content-Type: multipart/form-data; boundary={boundary}\r\n".encode()
            + b"Content-Length: 10000000\r\n\r\n" + head
        )
        for _ in range(40):  # 2.5 MiB of the promised 10 MB, then the client dies
            connection.sendall(b"x" * 65536)
        # Let the server write some of it to its staging file before the cut.
        time.sleep(0.5)

    assert _wait_until_empty(server.data_dir / "blobs") == []
    mailbox = httpx.get(f"{server.url}/api/v1/mailbox", auth=office.auth).json()
    assert mailbox["items"] == []
    # No number was consumed.
    with httpx.Client(base_url=server.url) as client:
        after = client.post("/api/v1/documents", auth=sender.auth, data=upload_form(office),
                            files={"file": ("a.pdf", PDF)})
    assert after.status_code == 201
    assert after.json()["registration_number"].endswith("000001")


def test_300_concurrent_uploads_over_two_instances_number_without_gap_or_repeat(
    servers: Callable[[], Server], database_url: str
) -> None:
    first, second = servers(), servers()
    sender = register_org(database_url, first.data_dir)
    office = register_org(database_url, first.data_dir)

    async def send_all() -> list[httpx.Response]:
        limits = httpx.Limits(max_connections=150)
        async with httpx.AsyncClient(base_url=first.url, limits=limits, timeout=120) as a, \
                httpx.AsyncClient(base_url=second.url, limits=limits, timeout=120) as b:
            return await asyncio.gather(*(
                upload((a, b)[i % 2], sender, office, f"document {i}".encode(), f"{i}.txt")
                for i in range(300)
            ))

    responses = asyncio.run(send_all())

    assert [r.status_code for r in responses] == [201] * 300, \
        [r.text for r in responses if r.status_code != 201][:3]
    numbers = [r.json()["registration_number"] for r in responses]
    assert len(set(numbers)) == 300
    by_day: dict[str, list[int]] = defaultdict(list)
    for number in numbers:
        assert number.startswith(office.krid)
        by_day[number[9:17]].append(int(number[-6:]))
    # Normally one day; should the run straddle Budapest midnight, each day counts from 1.
    for sequences in by_day.values():
        assert sorted(sequences) == list(range(1, len(sequences) + 1))
    listed = httpx.get(f"{second.url}/api/v1/mailbox", params={"limit": 500},
                       auth=office.auth).json()["items"]
    assert sorted(d["registration_number"] for d in listed) == sorted(numbers)
    # Both instances appended to one audit chain at once: it did not fork.
    from tests.e2e.test_cli import kapu

    verified = kapu(database_url, first.data_dir, "audit", "verify", "--json")
    assert verified.returncode == 0, verified.stdout
    assert json.loads(verified.stdout)["entries_checked"] >= 300


def test_serve_demo_is_idempotent(database_url: str, tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    for _ in range(2):
        server = start_server(database_url, data_dir, "--demo")
        try:
            offices = httpx.get(f"{server.url}/api/v1/offices",
                                params={"short_name": "DEMOHIVATAL"},
                                auth=("DEMOHIVATAL", "demohivatal-jelszo"))
            assert offices.status_code == 200
            assert offices.json()["items"][0]["krid"] == "100000001"
            citizen = httpx.get(f"{server.url}/api/v1/mailbox",
                                auth=("demopolgar", "demopolgar-jelszo"))
            assert citizen.status_code == 200
        finally:
            stop_server(server)


def test_demo_banner_prints_the_current_code_after_a_swap(sqlite_template: Path,
                                                         tmp_path: Path) -> None:
    """Was: after the demo citizen swapped their address, ``kapu serve --demo`` still printed
    the published code, which is no address any more. SQLite only: on the session's shared
    PostgreSQL the swap would take the published code from the browser tests."""
    shutil.copy(sqlite_template, tmp_path / "kapu.db")
    database_url = f"sqlite+aiosqlite:///{tmp_path / 'kapu.db'}"
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    published = "d3m0c0de0000000000000000000000a1"
    server = start_server(database_url, data_dir, "--demo")
    try:
        swapped = httpx.post(f"{server.url}/api/v1/me/address",
                             auth=("demopolgar", "demopolgar-jelszo"))
        assert swapped.status_code == 200
        code = swapped.json()["code"]
    finally:
        stop_server(server)
    assert f"kapcsolati kód {published}" in Path(server.log.name).read_text()
    server = start_server(database_url, data_dir, "--demo")
    stop_server(server)
    banner = Path(server.log.name).read_text()
    citizen = next(line for line in banner.splitlines() if "demopolgar " in line)
    assert citizen.split()[-1] == code and published not in banner


def test_metrics_add_up_across_worker_processes(database_url: str, tmp_path: Path) -> None:
    from prometheus_client.parser import text_string_to_metric_families

    data_dir = tmp_path / "data"
    data_dir.mkdir()
    server = start_server(database_url, data_dir, "--workers", "2")
    try:
        with httpx.Client(base_url=server.url) as client:
            for _ in range(20):
                # A new connection each time, so both workers get some of them.
                assert httpx.get(f"{server.url}/ready").status_code == 200
            # A request is counted once its answer has been sent (its duration includes the
            # sending), so a scrape answered by the other worker can come just before the last
            # one's count: scrape again for a moment.
            deadline = time.monotonic() + 5
            while True:
                scraped = client.get("/metrics").text
                counted = sum(
                    sample.value for family in text_string_to_metric_families(scraped)
                    for sample in family.samples
                    if sample.name == "kapu_http_requests_total"
                    and sample.labels["route"] == "/ready")
                if counted >= 20 or time.monotonic() > deadline:
                    break
                time.sleep(0.05)
        assert counted >= 20
        # Both workers counted some of them: the scrape added up two processes' files.
        assert len(list((data_dir / "metrics").glob("counter_*.db"))) >= 2
    finally:
        stop_server(server)


# SQLite only: the race is in the blob directory, and the starts on each database would double
# the cost of a test that is already the slowest here.
@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_two_workers_always_start(database_url: str, tmp_path: Path) -> None:
    """Was: one worker's start-up recovery listed blobs/tmp while the other worker's readiness
    probe created and removed ``probe-…`` there; stat() raised FileNotFoundError, the worker
    failed to start and uvicorn stopped the whole server (exit 0, about one start in 30).
    Here a readiness probe of the same store runs without pause beside every start (the other
    worker's, or another host's on a shared directory: the window is then always open), and
    two workers start three times with uploads and probes of their own running."""
    data_dir = tmp_path / "data"
    store = FileBlobStore(data_dir / "blobs")
    for n in range(100):
        (store.tmp_dir / f"{n:03d}.part").write_bytes(b"")  # young: another's, left alone
    sender, office = register_org(database_url, data_dir), register_org(database_url, data_dir)
    stop = threading.Event()

    async def probe_until_stopped() -> None:
        while not stop.is_set():
            await store.check()

    async def traffic(url: str) -> list[int]:
        async with httpx.AsyncClient(base_url=url, timeout=30) as client:
            answers = await asyncio.gather(
                *(upload(client, sender, office, f"start {n}".encode(), f"{n}.txt")
                  for n in range(4)),
                *(client.get("/ready") for _ in range(20)))
        return [answer.status_code for answer in answers]

    prober = threading.Thread(target=asyncio.run, args=(probe_until_stopped(),))
    prober.start()
    started = time.monotonic()
    try:
        for round_number in range(3):
            server = start_server(database_url, data_dir, "--workers", "2",
                                  env={"KAPU_PROBE_INTERVAL_SECONDS": "0.01"})
            try:
                statuses = asyncio.run(traffic(server.url))
                time.sleep(0.3)  # the slower worker's start-up is over by now
                assert server.process.poll() is None, f"round {round_number}: server stopped"
                assert statuses == [201] * 4 + [200] * 20, (round_number, statuses)
            finally:
                stop_server(server)
            log = Path(server.log.name).read_text()
            assert "failed to start" not in log and "Traceback" not in log, log
            assert time.monotonic() - started < 240, "three starts take about half a minute"
    finally:
        stop.set()
        prober.join()
    assert len(list(store.tmp_dir.glob("*.part"))) == 100


def test_files_kapu_writes_are_its_own_users_only(tmp_path: Path) -> None:
    """Was: under the usual umask 022 the database, blobs, mail and certificates were created
    readable by every user of the machine. The embedded installation, all of it made by kapu
    under the data directory: its SQLite database and keys of its own (not the session's)."""
    data_dir = tmp_path / "data"
    database_url = f"sqlite+aiosqlite:///{data_dir / 'kapu.db'}"
    own = {"KAPU_KEYS_DIR": str(data_dir / "keys")}
    server = start_server(database_url, data_dir, env=own)
    try:
        sender = register_org(database_url, data_dir)
        added = subprocess.run(
            [sys.executable, "-m", "gateway", "citizen", "add", "--name", "Titkos Teréz",
             "--email", "terez@example.hu", "--json"],
            env=kapu_env(database_url, data_dir) | own, capture_output=True, text=True,
            timeout=120, check=True)
        citizen = json.loads(added.stdout)
        to = Account(citizen["username"], citizen["password"], code=citizen["code"])
        with httpx.Client(base_url=server.url, timeout=30) as client:
            accepted = client.post("/api/v1/documents", auth=sender.auth,
                                   data=upload_form(to), files={"file": ("a.pdf", PDF)})
        assert accepted.status_code == 201, accepted.text
        mail = data_dir / "mail"
        deadline = time.monotonic() + 30
        while not list(mail.glob("*.eml")) and time.monotonic() < deadline:
            time.sleep(0.1)  # the background jobs write the notice
        assert list(mail.glob("*.eml"))
    finally:
        stop_server(server)
    shared = {str(path.relative_to(tmp_path)): oct(path.stat().st_mode & 0o777)
              for path in [data_dir, *data_dir.rglob("*")]
              if path.stat().st_mode & 0o077}
    assert shared == {}
    kinds = {path.suffix or path.name for path in data_dir.rglob("*") if path.is_file()}
    assert {".db", ".eml", ".pem"} <= kinds and any(
        len(path.name) == 64 for path in (data_dir / "blobs").rglob("*"))
