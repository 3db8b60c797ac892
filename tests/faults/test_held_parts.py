"""HKP authenticates before bytes: a SOAP-with-Attachments request with a wrong password that
holds its parts open (the rest of its body paused) stages nothing and is answered Szam 10 while
it is still sending, on a real server over a raw socket."""

from __future__ import annotations

import socket
from pathlib import Path
from urllib.parse import urlsplit

from lxml import etree

from tests.e2e.conftest import start_server, stop_server
from tests.faults.conftest import SCALE, organisations
from tests.hkp_helpers import NS, document_xml, envelope, upload_form

PART_BYTES = 8 * 1024 * 1024
PARTS = 3
SENT_OF_FIRST_PART = 32 * 1024  # what the client sends before it pauses
BOUNDARY = "----=_Part_held"


def _staged(blob_dir: Path) -> list[Path]:
    tmp = blob_dir / "tmp"
    return [path for path in tmp.rglob("*") if path.is_file()] if tmp.exists() else []


def _held_request(username: str, password: str, krid: str) -> tuple[bytes, bytes]:
    """The request's head with the whole body's length, and the body's first bytes: the
    envelope part and the start of the first of three 8 MiB parts."""
    items = "".join(document_xml(krid=krid, content=b"", href=f"csat-{n}", lenyomat="0" * 64)
                     for n in range(PARTS))
    soap = envelope("UjDokumentumokFeltolteseGepiInterfeszAltal", upload_form(items),
                    username=username, password=password)
    root = (f"--{BOUNDARY}\r\nContent-Type: text/xml; charset=utf-8\r\n"
            f"Content-ID: <envelope.xml>\r\n\r\n").encode() + soap + b"\r\n"
    parts = [(f"--{BOUNDARY}\r\nContent-Type: application/pdf\r\nContent-ID: <csat-{n}>\r\n"
              "Content-Transfer-Encoding: binary\r\n\r\n").encode() for n in range(PARTS)]
    length = (len(root) + sum(len(head) + PART_BYTES + 2 for head in parts)
              + len(f"--{BOUNDARY}--\r\n"))
    head = (f"POST /hkp HTTP/1.1\r\nHost: kapu.test\r\nContent-Length: {length}\r\n"
            f'Content-Type: multipart/related; type="text/xml"; start="<envelope.xml>"; '
            f'boundary="{BOUNDARY}"\r\n\r\n').encode()
    return head, root + parts[0] + b"%PDF-1.7\n" + b"\0" * (SENT_OF_FIRST_PART - 9)


def _read_answer(sock: socket.socket) -> tuple[bytes, bytes]:
    """The answer's status line and body (by its Content-Length)."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        assert chunk, f"the server closed without an answer: {data!r}"
        data += chunk
    head, body = data.split(b"\r\n\r\n", 1)
    lines = head.split(b"\r\n")
    length = next(int(line.split(b":", 1)[1]) for line in lines[1:]
                  if line.lower().startswith(b"content-length:"))
    while len(body) < length:
        chunk = sock.recv(65536)
        assert chunk, "the server closed in the middle of its answer"
        body += chunk
    return lines[0], body


def test_held_parts_with_a_wrong_password_stage_nothing(
    database_url: str, server_dirs: Path
) -> None:
    # A sender per attempt: a sixth wrong password of one username from one address would
    # be throttled (Szam 12).
    *senders, office = organisations(database_url, server_dirs, SCALE + 1)
    assert office.krid is not None
    server = start_server(database_url, server_dirs)
    try:
        address = urlsplit(server.url)
        for sender in senders:
            head, first_bytes = _held_request(sender.username, "rossz", office.krid)
            with socket.create_connection((address.hostname, address.port), timeout=10) as sock:
                sock.sendall(head + first_bytes)
                # The client now holds the rest of its three parts; the answer must not wait
                # for them.
                try:
                    status, body = _read_answer(sock)
                except TimeoutError:
                    raise AssertionError("no answer while the parts are held; staged: "
                                         f"{_staged(server_dirs / 'blobs')}") from None
                assert _staged(server_dirs / "blobs") == []  # still sending, nothing staged
            assert status.startswith(b"HTTP/1.1 200"), status
            valasz = etree.fromstring(body)
            assert valasz.findtext(".//iop:HibaUzenet/iop:Szam", namespaces=NS) == "10"
        assert _staged(server_dirs / "blobs") == []
    finally:
        stop_server(server)
