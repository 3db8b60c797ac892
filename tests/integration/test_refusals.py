"""Every refusal names what was wrong, and leaves no row, no blob and no consumed number."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import date

import httpx
import pytest
from sqlalchemy import update

from gateway.storage.tables import registration_counters
from gateway.storage.uow import SqlUnitOfWork
from tests.helpers import PDF, Account, new_citizen, new_org, sequence_of, stored_files, upload
from tests.integration.conftest import Gateway

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64

Attempt = Callable[[Gateway, Account, Account], Awaitable[httpx.Response]]


async def _missing_auth(gw: Gateway, sender: Account, to: Account) -> httpx.Response:
    return await gw.client.post("/api/v1/documents", files={"file": ("a.pdf", PDF)},
                                data={"recipient_krid": to.krid or ""})


async def _wrong_password(gw: Gateway, sender: Account, to: Account) -> httpx.Response:
    wrong = Account(sender.username, "not-the-password", sender.krid)
    return await upload(gw.client, wrong, to)


REFUSALS: dict[str, tuple[Attempt, int, str, str | None]] = {
    # name: (attempt, HTTP status, code, field named)
    "no credentials": (_missing_auth, 401, "unauthorized", None),
    "wrong password": (_wrong_password, 401, "unauthorized", None),
    "executable": (lambda gw, s, t: upload(gw.client, s, t, b"MZ\x90\x00", "virus.exe"),
                   415, "format_not_allowed", "file_name"),
    "no extension": (lambda gw, s, t: upload(gw.client, s, t, b"x", "README"),
                     415, "format_not_allowed", "file_name"),
    "pdf that is not a pdf": (lambda gw, s, t: upload(gw.client, s, t, b"just text", "a.pdf"),
                              415, "format_mismatch", "file"),
    "png that is a pdf": (lambda gw, s, t: upload(gw.client, s, t, PDF, "scan.PNG"),
                          415, "format_mismatch", "file"),
    "docx that is not a zip": (lambda gw, s, t: upload(gw.client, s, t, PNG, "a.docx"),
                               415, "format_mismatch", "file"),
    # 0 bytes are refused as empty before the format check, which an empty .pdf would fail.
    "empty txt": (lambda gw, s, t: upload(gw.client, s, t, b"", "empty.txt"),
                  422, "empty_content", "file"),
    "empty pdf": (lambda gw, s, t: upload(gw.client, s, t, b"", "empty.pdf"),
                  422, "empty_content", "file"),
    "wrong sha256": (lambda gw, s, t: upload(gw.client, s, t, sha256="0" * 64),
                     422, "hash_mismatch", "sha256"),
    "wrong sha1": (lambda gw, s, t: upload(gw.client, s, t, sha1="a" * 40),
                   422, "hash_mismatch", "sha1"),
    "malformed sha256": (lambda gw, s, t: upload(gw.client, s, t, sha256="xyz"),
                         422, "invalid_request", "sha256"),
    "too large": (lambda gw, s, t: upload(gw.client, s, t, b"x" * (64 * 1024 + 1), "big.txt"),
                  413, "too_large", "file"),
    "unknown KRID": (lambda gw, s, t: upload(gw.client, s, Account("x", "y", krid="999999999")),
                     422, "recipient_unknown", "recipient_krid"),
    "unknown code": (lambda gw, s, t: upload(gw.client, s, Account("x", "y", code="nincs")),
                     422, "recipient_unknown", "recipient_code"),
    "no doc_type_id": (lambda gw, s, t: upload(gw.client, s, t, doc_type_id=" "),
                       422, "invalid_request", "doc_type_id"),
    "reference too long": (lambda gw, s, t: upload(gw.client, s, t, reference_number="R" * 51),
                           422, "invalid_request", "reference_number"),
    "both recipients": (lambda gw, s, t: upload(gw.client, s, t, recipient_code="abc"),
                        422, "invalid_request", "recipient_krid"),
    "bad flag": (lambda gw, s, t: upload(gw.client, s, t, return_receipt="maybe"),
                 422, "invalid_request", "return_receipt"),
    "not multipart": (lambda gw, s, t: gw.client.post("/api/v1/documents", auth=s.auth,
                                                      json={"file": "x"}),
                      422, "invalid_request", None),
    "no file part": (lambda gw, s, t: gw.client.post(
        "/api/v1/documents", auth=s.auth,
        files={"other": (None, "x")}, data={"recipient_krid": t.krid or ""}),
        422, "invalid_request", "file"),
}


async def _snapshot(gw: Gateway, to: Account) -> tuple[list[str], list[str]]:
    mailbox = (await gw.client.get("/api/v1/mailbox?state=all", auth=to.auth)).json()
    return [d["registration_number"] for d in mailbox["items"]], stored_files(gw.blob_root)


@pytest.mark.parametrize("case", REFUSALS)
async def test_refusal_leaves_nothing_behind(gw: Gateway, case: str) -> None:
    attempt, status, code, field = REFUSALS[case]
    sender = await new_org(gw.ports)
    office = await new_org(gw.ports)
    first = await upload(gw.client, sender, office)
    assert first.status_code == 201
    before = await _snapshot(gw, office)

    refused = await attempt(gw, sender, office)

    assert refused.status_code == status, refused.text
    assert refused.headers["content-type"] == "application/problem+json"
    problem = refused.json()
    assert problem["code"] == code
    assert problem["status"] == status
    assert problem["detail"]
    if field is not None:
        assert problem["field"] == field
    if status == 401:
        assert refused.headers["www-authenticate"].startswith("Basic")
    assert await _snapshot(gw, office) == before
    # The refusal took no number: the next accepted document continues the sequence.
    after = await upload(gw.client, sender, office)
    assert sequence_of(after.json()["registration_number"]) == 2


async def test_citizen_cannot_send_to_citizen(gw: Gateway) -> None:
    alice, bob = await new_citizen(gw.ports), await new_citizen(gw.ports)
    refused = await upload(gw.client, alice, bob)
    assert refused.status_code == 403
    assert refused.json()["code"] == "forbidden"
    assert (await gw.client.get("/api/v1/mailbox", auth=bob.auth)).json()["items"] == []
    assert stored_files(gw.blob_root) == []


async def test_other_partys_document_looks_missing(gw: Gateway) -> None:
    sender, office, stranger = [await new_org(gw.ports) for _ in range(3)]
    number = (await upload(gw.client, sender, office)).json()["registration_number"]
    missing = "1" * 27
    for path in ("", "/content"):
        theirs = await gw.client.get(f"/api/v1/documents/{number}{path}", auth=stranger.auth)
        absent = await gw.client.get(f"/api/v1/documents/{missing}{path}", auth=stranger.auth)
        assert theirs.status_code == absent.status_code == 404
        assert theirs.json()["code"] == "not_found"
        assert theirs.json()["detail"].replace(number, "N") == \
            absent.json()["detail"].replace(missing, "N")
    ack = await gw.client.post(f"/api/v1/documents/{number}/ack", auth=stranger.auth)
    assert ack.status_code == 404
    # The sender sees it but cannot take it in the addressee's place.
    by_sender = await gw.client.post(f"/api/v1/documents/{number}/ack", auth=sender.auth)
    assert by_sender.status_code == 403
    assert by_sender.json()["code"] == "forbidden"
    still = (await gw.client.get("/api/v1/mailbox", auth=office.auth)).json()["items"]
    assert [d["delivery_state"] for d in still] == ["waiting"]


async def test_daily_sequence_exhausted(gw: Gateway) -> None:
    sender, office = await new_org(gw.ports), await new_org(gw.ports)
    assert (await upload(gw.client, sender, office)).status_code == 201
    async with gw.ports.write_uow() as uow:
        assert isinstance(uow, SqlUnitOfWork)
        await uow._connection.execute(  # type: ignore[union-attr]
            update(registration_counters)
            .where(registration_counters.c.krid == office.krid,
                   registration_counters.c.day == date(2026, 11, 24))
            .values(last_value=999_999)
        )
        await uow.commit()
    files = stored_files(gw.blob_root)

    refused = await upload(gw.client, sender, office, b"other text", "b.txt")

    assert refused.status_code == 503
    assert refused.json()["code"] == "daily_sequence_exhausted"
    assert stored_files(gw.blob_root) == files
    # Tomorrow the KRID starts again at 000001.
    gw.clock.advance(days=1)
    tomorrow = await upload(gw.client, sender, office, b"other text", "b.txt")
    assert tomorrow.json()["registration_number"].endswith("202611250930000001")


async def test_body_without_closing_boundary_leaves_nothing(gw: Gateway) -> None:
    sender, office = await new_org(gw.ports), await new_org(gw.ports)
    boundary = "kapu-cut"
    body = (
        f"--{boundary}\r\nContent-Disposition: form-data; name=\"recipient_krid\"\r\n\r\n"
        f"{office.krid}\r\n--{boundary}\r\n"
        "Content-Disposition: form-data; name=\"file\"; filename=\"a.txt\"\r\n\r\n"
        "half of the conte"
    ).encode()
    refused = await gw.client.post(
        "/api/v1/documents", auth=sender.auth, content=body,
        headers={"Content-Type": f"multipart/form-data; boundary={boundary}"},
    )
    assert refused.status_code == 422
    assert "closing boundary" in refused.json()["detail"]
    assert stored_files(gw.blob_root) == []
    assert (await gw.client.get("/api/v1/mailbox", auth=office.auth)).json()["items"] == []
