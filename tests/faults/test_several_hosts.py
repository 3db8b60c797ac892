"""Several hosts, the long versions (``make faults``): a 200 MiB document through S3 across
hosts in flat memory, resumed by range; 300 concurrent uploads over both hosts; a host killed
in the middle of a 200 MiB upload. The short versions run in tests/e2e/test_several_hosts.py.
"""

from __future__ import annotations

import hashlib
import os
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import asyncpg
import httpx
import pytest

from tests.helpers import sequence_of
from tests.hosts import Hosts, bucket_listing, organisations, random_file, rss_kib, upload

# The long several-hosts runs: make faults (KAPU_FAULTS_SCALE >= 2); make test leaves them
# out at collection (tests/conftest.py), so they are never counted as skipped.
pytestmark = pytest.mark.faults_long

LARGE = 200 << 20
UPLOADS = 300
MEMORY_GROWTH_LIMIT_KIB = 64 * 1024


def _sha256_of_download(url: str, auth: httpx.BasicAuth, number: str,
                        headers: dict[str, str] | None = None,
                        stop_after: int | None = None) -> tuple[int, bytes, int]:
    """Stream a download: (status, SHA-256 state's digest, bytes read)."""
    digest = hashlib.sha256()
    read = 0
    with httpx.Client(base_url=url, timeout=600) as client, client.stream(
            "GET", f"/api/v1/documents/{number}/content", auth=auth, headers=headers) as answer:
        for chunk in answer.iter_bytes(1 << 20):
            digest.update(chunk)
            read += len(chunk)
            if stop_after is not None and read >= stop_after:
                break
        return answer.status_code, digest.digest(), read


def test_200_mib_crosses_hosts_in_flat_memory_and_resumes_from_the_middle(
        hosts: Hosts, tmp_path: Path) -> None:
    sender, office = organisations(hosts, 2)
    first, second = hosts.servers
    warm = upload(first, sender, office, os.urandom(20 << 20))  # imports, pools, buffers
    assert warm.status_code == 201, warm.text
    _sha256_of_download(second.url, office.auth, warm.json()["registration_number"])
    before = {s.process.pid: rss_kib(s.process.pid) for s in hosts.servers}

    path = random_file(tmp_path / "large.txt", LARGE)
    with open(path, "rb") as file:
        expected = hashlib.file_digest(file, "sha256").digest()
    accepted = upload(first, sender, office, path)
    assert accepted.status_code == 201, accepted.text
    number = accepted.json()["registration_number"]
    status, digest, size = _sha256_of_download(second.url, office.auth, number)
    assert (status, digest, size) == (200, expected, LARGE)

    for pid, rss in before.items():
        growth = rss_kib(pid, "VmHWM") - rss
        print(f"server {pid}: resident {rss} KiB before, peak growth {growth} KiB")
        assert growth < MEMORY_GROWTH_LIMIT_KIB, f"server {pid} grew by {growth} KiB"

    # Cut off at 120 MiB on the first host, resumed there on the second.
    cut = 120 << 20
    with httpx.Client(base_url=first.url, timeout=600) as client, client.stream(
            "GET", f"/api/v1/documents/{number}/content", auth=office.auth) as answer:
        whole = hashlib.sha256()
        read = 0
        for chunk in answer.iter_bytes(1 << 20):
            whole.update(chunk[: cut - read])
            read += len(chunk)
            if read >= cut:
                break
    with httpx.Client(base_url=second.url, timeout=600) as client, client.stream(
            "GET", f"/api/v1/documents/{number}/content", auth=office.auth,
            headers={"Range": f"bytes={cut}-"}) as rest:
        assert rest.status_code == 206
        assert rest.headers["content-range"] == f"bytes {cut}-{LARGE - 1}/{LARGE}"
        for chunk in rest.iter_bytes(1 << 20):
            whole.update(chunk)
    assert whole.digest() == expected


def test_300_concurrent_uploads_over_both_hosts(hosts: Hosts) -> None:
    sender, office = organisations(hosts, 2)
    contents = [os.urandom(10 * 1024) for _ in range(UPLOADS)]

    def send(index: int) -> httpx.Response:
        return upload(hosts.servers[index % 2], sender, office, contents[index])

    with ThreadPoolExecutor(16) as pool:
        answers = list(pool.map(send, range(UPLOADS)))
    assert [a.status_code for a in answers] == [201] * UPLOADS
    numbers = [a.json()["registration_number"] for a in answers]
    assert sorted(sequence_of(n) for n in numbers) == list(range(1, UPLOADS + 1))
    verified = hosts.kapu("audit", "verify", "--json")
    assert verified.returncode == 0 and '"intact": true' in verified.stdout, verified.stdout

    def both(index: int) -> None:
        for server in hosts.servers:
            with httpx.Client(base_url=server.url, timeout=60) as client:
                got = client.get(f"/api/v1/documents/{numbers[index]}/content",
                                 auth=office.auth)
            assert got.content == contents[index], (server.url, numbers[index])

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(both, range(UPLOADS)))


async def _named_contents(database_url: str) -> set[str]:
    connection = await asyncpg.connect(database_url.replace("postgresql+asyncpg", "postgresql"))
    try:
        return {row["sha256"] for row in await connection.fetch("SELECT sha256 FROM documents")}
    finally:
        await connection.close()


async def _bucket(hosts: Hosts) -> tuple[list[str], int]:
    keys, uploads = await bucket_listing(hosts)
    return keys, len(uploads)


def test_a_host_killed_mid_upload_leaves_nothing_after_gc_and_the_other_serves(
        hosts: Hosts) -> None:
    import asyncio

    sender, office = organisations(hosts, 2)
    first, second = hosts.servers
    boundary = "kapu-kill-boundary"
    fields = "".join(f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n'
                     f"{value}\r\n" for name, value in
                     {"recipient_krid": office.krid, "doc_type_office": "TESZT",
                      "doc_type_id": "LEVEL", "doc_type_description": "Levél"}.items())
    head = (fields + f'--{boundary}\r\nContent-Disposition: form-data; name="file"; '
            'filename="nagy.txt"\r\n\r\n').encode()
    killed = threading.Event()

    def body() -> Iterator[bytes]:
        yield head
        for sent in range(LARGE >> 20):
            yield os.urandom(1 << 20)
            if sent == (LARGE >> 20) // 2:
                time.sleep(1)  # the parts so far reach the store
                first.process.kill()
                killed.set()
        yield f"\r\n--{boundary}--\r\n".encode()

    with pytest.raises(httpx.TransportError), httpx.Client(
            base_url=first.url, timeout=120) as client:
        client.post("/api/v1/documents", auth=sender.auth, content=body(),
                    headers={"Content-Type": f"multipart/form-data; boundary={boundary}"})
    assert killed.is_set()
    first.process.wait()

    # The other host never stopped: it accepts and serves.
    small = os.urandom(10 * 1024)
    accepted = upload(second, sender, office, small)
    assert accepted.status_code == 201, accepted.text
    with httpx.Client(base_url=second.url, timeout=60) as client:
        listed = client.get("/api/v1/mailbox", auth=office.auth).json()["items"]
        assert [item["registration_number"] for item in listed] == [
            accepted.json()["registration_number"]]  # no row of the killed upload
        got = client.get(f"/api/v1/documents/{listed[0]['registration_number']}/content",
                         auth=office.auth)
        assert got.content == small

    _, uploads_before = asyncio.run(_bucket(hosts))
    assert uploads_before >= 1, "the killed host's multipart upload should be unfinished"
    done = hosts.gc(grace=0)
    assert done["aborted_uploads"] >= 1
    keys, uploads = asyncio.run(_bucket(hosts))
    named = asyncio.run(_named_contents(hosts.database_url))
    assert uploads == 0
    assert all(key.startswith("blobs/") for key in keys), keys  # no staging left
    assert {key.removeprefix("blobs/") for key in keys} <= named
    assert f"blobs/{hashlib.sha256(small).hexdigest()}" in keys
    with httpx.Client(base_url=second.url, timeout=60) as client:
        again = client.get(f"/api/v1/documents/{listed[0]['registration_number']}/content",
                           auth=office.auth)
        assert again.content == small
