"""Real ``kapu serve`` processes on free local ports."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import httpx
import pytest

from tests.conftest import fresh_krid, fresh_short_name
from tests.helpers import Account


@dataclass
class Server:
    url: str
    process: subprocess.Popen[bytes]
    data_dir: Path
    log: BinaryIO


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def kapu_env(database_url: str, data_dir: Path) -> dict[str, str]:
    return _env(database_url, data_dir)


# The session's keys, when its tests use them: every host of one database signs with the same
# keys (a host with others refuses to start), and the PostgreSQL database is the session's.
_session_keys: list[Path] = []


@pytest.fixture(scope="session", autouse=True)
def session_keys(keys_dir: Path) -> Iterator[None]:
    _session_keys.append(keys_dir)
    yield
    _session_keys.clear()


def _env(database_url: str, data_dir: Path) -> dict[str, str]:
    # The session's keys, else one key directory per data directory's parent (servers of a
    # test share their keys).
    keys = _session_keys[0] if _session_keys else data_dir.parent / "keys"
    return {**os.environ, "KAPU_DATABASE_URL": database_url, "KAPU_DATA_DIR": str(data_dir),
            "KAPU_KEYS_DIR": str(keys)}


def start_server(database_url: str, data_dir: Path, *extra: str,
                 env: dict[str, str] | None = None) -> Server:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log = open(data_dir.parent / f"server-{port}.log", "wb")
    process = subprocess.Popen(
        # One process unless a test asks for more (serve's default is one per CPU).
        [sys.executable, "-m", "gateway", "serve", "--port", str(port),
         *(extra if "--workers" in extra else (*extra, "--workers", "1"))],
        # The address the WSDL and e-mails name: this server's random port.
        env=_env(database_url, data_dir) | {"KAPU_PUBLIC_URL": url} | (env or {}),
        stdout=log, stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            log.close()
            raise RuntimeError(f"kapu serve exited: {Path(log.name).read_text()}")
        try:
            if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                return Server(url, process, data_dir, log)
        except httpx.TransportError:
            time.sleep(0.1)
    process.kill()
    process.wait()
    log.close()
    raise RuntimeError("kapu serve did not become healthy in 60 s")


def stop_server(server: Server) -> None:
    server.process.terminate()
    try:
        server.process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        server.process.kill()
        server.process.wait()
    server.log.close()


@pytest.fixture
def servers(database_url: str, tmp_path: Path) -> Iterator[Callable[[], Server]]:
    """Start any number of servers sharing this test's database and blob directory."""
    started: list[Server] = []
    data_dir = tmp_path / "data"
    data_dir.mkdir()

    def start() -> Server:
        server = start_server(database_url, data_dir)
        started.append(server)
        return server

    yield start
    for server in started:
        stop_server(server)


def register_org(database_url: str, data_dir: Path, name: str = "E2E Hivatal",
                 mak_code: str | None = None) -> Account:
    krid = fresh_krid()
    mak = ["--mak-code", mak_code] if mak_code else []
    result = subprocess.run(
        [sys.executable, "-m", "gateway", "org", "add", "--krid", krid, "--short-name",
         fresh_short_name(), "--name", name, *mak, "--json"],
        env=_env(database_url, data_dir), capture_output=True, text=True, timeout=120,
        check=True,
    )
    shown = json.loads(result.stdout)
    return Account(shown["username"], shown["password"], krid=krid)
