"""Several ``kapu serve`` hosts on one PostgreSQL database and one S3 store (SeaweedFS), each
a process with a data directory of its own; shared by the e2e tests and the fault suite."""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import subprocess
import sys
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import httpx

from gateway.config import Settings
from gateway.wiring import build_runtime
from tests.e2e.conftest import Server, kapu_env, start_server, stop_server
from tests.helpers import Account, new_org
from tests.seaweed import ACCESS_KEY, SECRET_KEY, SeaweedServer


@dataclass
class Hosts:
    database_url: str
    seaweed: SeaweedServer
    bucket: str
    prefix: str
    root: Path
    keys_dir: Path  # every host signs with the same keys
    servers: list[Server]

    @property
    def env(self) -> dict[str, str]:
        return self.seaweed.env(self.bucket, self.prefix) | {"KAPU_KEYS_DIR": str(self.keys_dir)}

    def data_dir(self, number: int) -> Path:
        directory = self.root / f"host{number}" / "data"
        directory.mkdir(parents=True, exist_ok=True)
        return directory

    def start(self, number: int) -> Server:
        server = start_server(self.database_url, self.data_dir(number), env=self.env)
        self.servers.append(server)
        return server

    def kapu(self, *args: str, number: int = 1) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "gateway", *args],
            env=kapu_env(self.database_url, self.data_dir(number)) | self.env,
            capture_output=True, text=True, timeout=300)

    def gc(self, grace: float = 0) -> dict[str, int]:
        done = self.kapu("blobs", "gc", "--grace", str(grace), "--json")
        assert done.returncode == 0, done.stderr
        answer: dict[str, int] = json.loads(done.stdout)
        return answer

    def stop(self) -> None:
        with ThreadPoolExecutor(max(1, len(self.servers))) as pool:
            list(pool.map(_stop, self.servers))


def _stop(server: Server) -> None:
    if server.process.poll() is None:
        stop_server(server)
    elif not server.log.closed:
        server.log.close()


def several_hosts(database_url: str, seaweed: SeaweedServer, root: Path, keys_dir: Path,
                  count: int = 2) -> Iterator[Hosts]:
    hosts = Hosts(database_url, seaweed, "kapu-hosts", secrets.token_hex(6), root, keys_dir, [])
    try:
        with ThreadPoolExecutor(count) as pool:  # they start side by side
            list(pool.map(hosts.start, range(1, count + 1)))
        hosts.servers.sort(key=lambda server: server.data_dir)
        yield hosts
    finally:
        hosts.stop()


def organisations(hosts: Hosts, count: int) -> list[Account]:
    """Parties registered in-process (a CLI run per party costs seconds)."""

    async def register() -> list[Account]:
        runtime = build_runtime(Settings(
            database_url=hosts.database_url, data_dir=hosts.data_dir(1),
            keys_dir=hosts.keys_dir, background_jobs=False))
        try:
            return [await new_org(runtime.ports) for _ in range(count)]
        finally:
            await runtime.engine.dispose()

    return asyncio.run(register())


def upload_form(to: Account) -> dict[str, str]:
    assert to.krid is not None
    return {"recipient_krid": to.krid, "doc_type_office": "TESZT", "doc_type_id": "LEVEL",
            "doc_type_description": "Levél"}


def upload(server: Server, sender: Account, to: Account, content: bytes | Path,
           name: str = "level.txt") -> httpx.Response:
    with httpx.Client(base_url=server.url, timeout=600) as client:
        if isinstance(content, Path):
            with open(content, "rb") as file:
                return client.post("/api/v1/documents", auth=sender.auth,
                                   data=upload_form(to), files={"file": (name, file)})
        return client.post("/api/v1/documents", auth=sender.auth, data=upload_form(to),
                           files={"file": (name, content)})


async def bucket_listing(hosts: Hosts) -> tuple[list[str], list[str]]:
    """The keys of the hosts' objects, and of their unfinished multipart uploads (both
    without the hosts' prefix), as the store lists them."""
    from aiobotocore.session import get_session
    from botocore.config import Config

    async with get_session().create_client(
            "s3", endpoint_url=hosts.seaweed.endpoint, region_name="us-east-1",
            aws_access_key_id=ACCESS_KEY, aws_secret_access_key=SECRET_KEY,
            config=Config(s3={"addressing_style": "path"})) as client:
        listed = await client.list_objects_v2(Bucket=hosts.bucket, Prefix=hosts.prefix + "/")
        uploads = await client.list_multipart_uploads(Bucket=hosts.bucket,
                                                      Prefix=hosts.prefix + "/")
    start = len(hosts.prefix) + 1
    return ([item["Key"][start:] for item in listed.get("Contents", [])],
            [item["Key"][start:] for item in uploads.get("Uploads", [])])


def random_file(path: Path, size: int) -> Path:
    with open(path, "wb") as file:
        left = size
        while left:
            block = os.urandom(min(left, 1 << 20))
            file.write(block)
            left -= len(block)
    return path


def rss_kib(pid: int, field: str = "VmRSS") -> int:
    """A process's resident memory (VmRSS), or its peak so far (VmHWM), in KiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise LookupError(field)
