"""Several hosts (section 21): two ``kapu serve`` processes with data directories of their own
on one PostgreSQL database and one S3 store (a real SeaweedFS). The long versions (200 MiB,
300 uploads, kill -9) are in tests/faults/test_several_hosts.py."""

from __future__ import annotations

import asyncio
import hashlib
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from tests.e2e.conftest import kapu_env
from tests.helpers import sequence_of
from tests.hkp_helpers import NS, document_xml, envelope, read_answer, swa
from tests.hkp_helpers import upload_form as hkp_upload_form
from tests.hosts import Hosts, bucket_listing, organisations, upload, upload_form

# SigV4 signatures and file times carry the real date, which faketime does not move.
pytestmark = pytest.mark.outside_clock


def download(url: str, auth: httpx.BasicAuth, number: str,
             headers: dict[str, str] | None = None) -> httpx.Response:
    with httpx.Client(base_url=url, timeout=60) as client:
        return client.get(f"/api/v1/documents/{number}/content", auth=auth, headers=headers)


def test_uploaded_on_one_host_downloads_on_the_other_and_resumes_from_the_middle(
        hosts: Hosts) -> None:
    sender, office = organisations(hosts, 2)
    content = os.urandom(10 * 1024)
    accepted = upload(hosts.servers[0], sender, office, content)
    assert accepted.status_code == 201, accepted.text
    number = accepted.json()["registration_number"]

    whole = download(hosts.servers[1].url, office.auth, number)
    assert whole.status_code == 200
    assert whole.content == content
    assert whole.headers["accept-ranges"] == "bytes"
    # A download cut off in the middle resumes there, on either host.
    middle = len(content) // 2
    rest = download(hosts.servers[1].url, office.auth, number, {"Range": f"bytes={middle}-"})
    assert rest.status_code == 206
    assert rest.headers["content-range"] == f"bytes {middle}-{len(content) - 1}/{len(content)}"
    assert whole.content[:middle] + rest.content == content
    past = download(hosts.servers[0].url, office.auth, number,
                    {"Range": f"bytes={len(content)}-"})
    assert past.status_code == 416
    assert past.json()["code"] == "range_not_satisfiable"
    assert past.headers["content-range"] == f"bytes */{len(content)}"


def test_concurrent_uploads_over_both_hosts_number_without_gap_and_keep_the_chain(
        hosts: Hosts) -> None:
    count = 16
    sender, office = organisations(hosts, 2)
    contents = [os.urandom(1024) + i.to_bytes(4, "big") for i in range(count)]

    def send(index: int) -> httpx.Response:
        return upload(hosts.servers[index % 2], sender, office, contents[index])

    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(send, range(count)))
    assert [a.status_code for a in answers] == [201] * count, [a.text for a in answers]
    numbers = [a.json()["registration_number"] for a in answers]
    assert sorted(sequence_of(n) for n in numbers) == list(range(1, count + 1))
    for index, number in enumerate(numbers):
        got = download(hosts.servers[(index + 1) % 2].url, office.auth, number)
        assert hashlib.sha256(got.content).digest() == hashlib.sha256(contents[index]).digest()
    verified = hosts.kapu("audit", "verify", "--json")
    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert '"intact": true' in verified.stdout


def _post_with_a_look_midway(hosts: Hosts, url: str, body: bytes, headers: dict[str, str],
                             midway: list[list[str]],
                             auth: httpx.BasicAuth | None = None) -> httpx.Response:
    """POST ``body`` in two halves; in between, once the store lists a multipart upload
    begun, ``midway`` gets the unfinished uploads' keys."""
    half = len(body) // 2

    def halves() -> Iterator[bytes]:
        yield body[:half]
        deadline = time.monotonic() + 30
        while not (uploads := asyncio.run(bucket_listing(hosts))[1]):
            assert time.monotonic() < deadline, "no multipart upload began"
            time.sleep(0.1)
        midway.append(uploads)
        yield body[half:]

    with httpx.Client(timeout=120) as client:
        return client.post(url, auth=auth, content=halves(), headers=headers)


def _declared_upload(hosts: Hosts, server_url: str, auth: httpx.BasicAuth,
                     fields: dict[str, str], content: bytes,
                     midway: list[list[str]]) -> httpx.Response:
    """A REST upload whose form fields (``sha256`` among them) come before the file."""
    boundary = "kapu-declared-boundary"
    head = "".join(f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n'
                   f"{value}\r\n" for name, value in fields.items())
    head += (f'--{boundary}\r\nContent-Disposition: form-data; name="file"; '
             'filename="nagy.txt"\r\n\r\n')
    body = head.encode() + content + f"\r\n--{boundary}--\r\n".encode()
    return _post_with_a_look_midway(
        hosts, f"{server_url}/api/v1/documents", body,
        {"Content-Type": f"multipart/form-data; boundary={boundary}"}, midway, auth)


def test_a_declared_sha256_sends_the_upload_straight_to_its_content_key(hosts: Hosts) -> None:
    """Its parts are uploaded under blobs/<sha256> itself, nothing under tmp/; a sha256 the
    bytes do not have is refused and leaves the object of that name as it was."""
    sender, office = organisations(hosts, 2)
    server = hosts.servers[0]
    content = os.urandom(12 << 20)
    digest = hashlib.sha256(content).hexdigest()
    midway: list[list[str]] = []
    accepted = _declared_upload(hosts, server.url, sender.auth,
                                {**upload_form(office), "sha256": digest}, content, midway)
    assert accepted.status_code == 201, accepted.text
    assert midway == [[f"blobs/{digest}"]]
    keys, uploads = asyncio.run(bucket_listing(hosts))
    assert f"blobs/{digest}" in keys
    assert [key for key in keys if not key.startswith("blobs/")] == [] and uploads == []

    refused = _declared_upload(hosts, server.url, sender.auth,
                               {**upload_form(office), "sha256": digest}, content[::-1], midway)
    assert refused.status_code == 422, refused.text
    assert refused.json()["code"] == "hash_mismatch"
    assert midway[1] == [f"blobs/{digest}"]
    assert asyncio.run(bucket_listing(hosts)) == (keys, [])
    number = accepted.json()["registration_number"]
    assert download(hosts.servers[1].url, office.auth, number).content == content


def test_an_hkp_attachment_whose_lenyomat_the_envelope_declares_goes_to_its_content_key(
        hosts: Hosts) -> None:
    sender, office = organisations(hosts, 2)
    content = b"%PDF-1.7\n" + os.urandom(12 << 20)
    digest = hashlib.sha256(content).hexdigest()
    root = envelope("UjDokumentumokFeltolteseGepiInterfeszAltal", hkp_upload_form(
        document_xml(krid=office.krid, content=content, href="cid:nagy")),
        username=sender.username, password=sender.password)
    body, content_type = swa(root, [("nagy", content, "binary")])
    midway: list[list[str]] = []
    answer = read_answer(_post_with_a_look_midway(
        hosts, f"{hosts.servers[0].url}/hkp", body, {"Content-Type": content_type}, midway))
    assert answer.hiba is None, answer.hiba
    assert answer.form.findtext("hkp:DokumentumTarolasEredmeny/hkp:Lenyomat",
                                namespaces=NS) == digest
    assert midway == [[f"blobs/{digest}"]]
    keys, uploads = asyncio.run(bucket_listing(hosts))
    assert f"blobs/{digest}" in keys
    assert [key for key in keys if not key.startswith("blobs/")] == [] and uploads == []


def test_a_host_with_other_keys_refuses_to_start(hosts: Hosts, tmp_path: Path) -> None:
    other = tmp_path / "other" / "data"
    other.mkdir(parents=True)
    env = kapu_env(hosts.database_url, other) | hosts.env | {
        "KAPU_KEYS_DIR": str(tmp_path / "other" / "keys")}  # made afresh: another CA
    started = subprocess.run([sys.executable, "-m", "gateway", "serve", "--port", "9"],
                             env=env, capture_output=True, text=True, timeout=120)
    assert started.returncode != 0
    assert "is not the one every host of this database signs with" in started.stderr
    assert "refusing to start" in started.stderr
    # The hosts with the recorded keys go on serving.
    assert httpx.get(f"{hosts.servers[0].url}/health").status_code == 200
