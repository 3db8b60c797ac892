"""A citizen's tartós tár (contract section 18): keeping is opening, the quota holds under
concurrency, a kept copy outlives the original's expiry, and nobody else sees it."""

from __future__ import annotations

import asyncio
import secrets
from typing import Any

from gateway.services.deadlines import run_due
from tests.helpers import (
    PDF,
    Account,
    new_citizen,
    new_org,
    sequence_of,
    sha256,
    stored_files,
    upload,
)
from tests.integration.conftest import SMALL_QUOTA as QUOTA
from tests.integration.conftest import Gateway


def unique_pdf(size: int = len(PDF)) -> bytes:
    """A PDF of exactly ``size`` bytes no other test shares (PostgreSQL is per session)."""
    tail = b"\n%%EOF\n"
    body = b"%PDF-1.7\n" + secrets.token_hex(16).encode()
    return body + b"x" * (size - len(body) - len(tail)) + tail


async def _send(gw: Gateway, sender: Account, to: Account, content: bytes = PDF,
                **fields: str) -> str:
    sent = await upload(gw.client, sender, to, content, **fields)
    assert sent.status_code == 201, sent.text
    return str(sent.json()["registration_number"])


async def _receipts(gw: Gateway, sender: Account, number: str) -> list[str]:
    listed = await gw.client.get(f"/api/v1/documents/{number}/receipts", auth=sender.auth)
    return [r["kind"] for r in listed.json()["items"]]


async def _storage(gw: Gateway, who: Account) -> dict[str, Any]:
    answer = await gw.client.get("/api/v1/storage", auth=who.auth)
    assert answer.status_code == 200, answer.text
    body: dict[str, Any] = answer.json()
    return body


async def test_keeping_lists_the_document_and_opens_it_once(gw: Gateway) -> None:
    office, citizen = await new_org(gw.ports), await new_citizen(gw.ports)
    number = await _send(gw, office, citizen, return_receipt="true")
    assert await _storage(gw, citizen) == {"items": [], "used_bytes": 0,
                                           "quota_bytes": 31_457_280}

    kept = await gw.client.post(f"/api/v1/documents/{number}/keep", auth=citizen.auth)
    assert kept.status_code == 200, kept.text
    item = kept.json()
    assert item["registration_number"] == number and item["size"] == len(PDF)
    assert item["sha256"] == sha256(PDF) and item["file_name"] == "level.pdf"
    assert item["sender"]["krid"] == office.krid and item["delivery_state"] == "downloaded"

    storage = await _storage(gw, citizen)
    assert storage["items"] == [item] and storage["used_bytes"] == len(PDF)
    # Keeping is opening: acknowledged, one download receipt, one system message.
    state = (await gw.client.get(f"/api/v1/documents/{number}", auth=office.auth)).json()
    assert state["delivery_state"] == "downloaded" and state["acknowledged_at"]
    assert await _receipts(gw, office, number) == ["acceptance", "download"]
    # Keeping twice answers the same item and issues nothing more.
    again = await gw.client.post(f"/api/v1/documents/{number}/keep", auth=citizen.auth)
    assert again.status_code == 200 and again.json() == item
    assert await _receipts(gw, office, number) == ["acceptance", "download"]
    system = (await gw.client.get("/api/v1/mailbox?sender_type=system",
                                  auth=office.auth)).json()["items"]
    assert [m["reference_number"] for m in system] == [number]
    assert (await _storage(gw, citizen))["used_bytes"] == len(PDF)


async def test_the_quota_admits_exactly_full_and_refuses_one_byte_over(small: Gateway) -> None:
    gw = small
    office, citizen = await new_org(gw.ports), await new_citizen(gw.ports)
    first, second = await _send(gw, office, citizen), await _send(gw, office, citizen)
    for number in (first, second):
        assert (await gw.client.post(f"/api/v1/documents/{number}/keep",
                                     auth=citizen.auth)).status_code == 200
    over = await _send(gw, office, citizen, unique_pdf(len(PDF) + 1))
    refused = await gw.client.post(f"/api/v1/documents/{over}/keep", auth=citizen.auth)
    assert refused.status_code == 413 and refused.json()["code"] == "quota_exceeded"
    # Nothing changed: not kept, still unopened, no download receipt.
    storage = await _storage(gw, citizen)
    assert storage["used_bytes"] == 2 * len(PDF) and storage["quota_bytes"] == QUOTA
    assert over not in [i["registration_number"] for i in storage["items"]]
    state = (await gw.client.get(f"/api/v1/documents/{over}", auth=citizen.auth)).json()
    assert state["delivery_state"] == "waiting" and state["acknowledged_at"] is None
    assert await _receipts(gw, office, over) == ["acceptance"]

    exact = await _send(gw, office, citizen, unique_pdf(len(PDF)))
    assert (await gw.client.post(f"/api/v1/documents/{exact}/keep",
                                 auth=citizen.auth)).status_code == 200
    assert (await _storage(gw, citizen))["used_bytes"] == QUOTA


async def test_two_keeps_at_once_cannot_both_squeeze_in(small: Gateway) -> None:
    gw = small
    office, citizen = await new_org(gw.ports), await new_citizen(gw.ports)
    big = len(PDF) * 3 // 2 + 1  # two of these are over the quota, one fits
    numbers = [await _send(gw, office, citizen, unique_pdf(big)) for _ in range(2)]
    answers = await asyncio.gather(*(
        gw.client.post(f"/api/v1/documents/{n}/keep", auth=citizen.auth) for n in numbers))
    assert sorted(a.status_code for a in answers) == [200, 413]
    storage = await _storage(gw, citizen)
    assert storage["used_bytes"] == big and len(storage["items"]) == 1


async def test_keep_copy_on_upload_and_over_quota_takes_no_number(small: Gateway) -> None:
    gw = small
    citizen, office = await new_citizen(gw.ports), await new_org(gw.ports)
    first = await _send(gw, citizen, office, unique_pdf(2 * len(PDF)), keep_copy="true")
    storage = await _storage(gw, citizen)
    assert [i["registration_number"] for i in storage["items"]] == [first]
    assert storage["used_bytes"] == 2 * len(PDF)
    # Keeping one's own sent copy opens nothing: the office has not downloaded it.
    state = (await gw.client.get(f"/api/v1/documents/{first}", auth=office.auth)).json()
    assert state["delivery_state"] == "waiting"

    files_before = stored_files(gw.blob_root)
    refused = await upload(gw.client, citizen, office, unique_pdf(len(PDF) + 1),
                           keep_copy="true")
    assert refused.status_code == 413 and refused.json()["code"] == "quota_exceeded"
    assert stored_files(gw.blob_root) == files_before  # the staged bytes are gone
    assert (await _storage(gw, citizen))["used_bytes"] == 2 * len(PDF)
    # No number was consumed: the next upload takes the very next one.
    following = await _send(gw, citizen, office, unique_pdf(), keep_copy="false")
    assert sequence_of(following) == sequence_of(first) + 1
    # An organisation has no tartós tár.
    refused = await upload(gw.client, office, citizen, keep_copy="true")
    assert refused.status_code == 403 and refused.json()["code"] == "forbidden"


async def test_a_kept_copy_outlives_the_originals_expiry(gw: Gateway) -> None:
    citizen, office = await new_citizen(gw.ports), await new_org(gw.ports)
    content = unique_pdf()
    number = await _send(gw, citizen, office, content, keep_copy="true")
    digest = sha256(content)
    blob = gw.blob_root / digest[:2] / digest[2:4] / digest
    gw.clock.advance(days=31)  # past valid_until (30 days' retention)
    report = await run_due(gw.ports)
    assert report.expired >= 1

    state = (await gw.client.get(f"/api/v1/documents/{number}", auth=citizen.auth)).json()
    assert state["delivery_state"] == "expired"
    assert blob.exists()
    copy = await gw.client.get(f"/api/v1/documents/{number}/content", auth=citizen.auth)
    assert copy.status_code == 200 and copy.content == content
    # The office never kept it: for them it expired as usual.
    gone = await gw.client.get(f"/api/v1/documents/{number}/content", auth=office.auth)
    assert gone.status_code == 410 and gone.json()["code"] == "expired"
    # Taking it out of the tartós tár lets the bytes go, as expiry would have.
    assert (await gw.client.delete(f"/api/v1/storage/{number}",
                                   auth=citizen.auth)).status_code == 204
    assert not blob.exists()
    gone = await gw.client.get(f"/api/v1/documents/{number}/content", auth=citizen.auth)
    assert gone.status_code == 410
    # An expired document cannot be kept any more.
    late = await gw.client.post(f"/api/v1/documents/{number}/keep", auth=citizen.auth)
    assert late.status_code == 410 and late.json()["code"] == "expired"


async def test_deleting_frees_the_room(gw: Gateway) -> None:
    office, citizen = await new_org(gw.ports), await new_citizen(gw.ports)
    numbers = [await _send(gw, office, citizen) for _ in range(2)]
    for number in numbers:
        await gw.client.post(f"/api/v1/documents/{number}/keep", auth=citizen.auth)
    assert (await _storage(gw, citizen))["used_bytes"] == 2 * len(PDF)

    deleted = await gw.client.delete(f"/api/v1/storage/{numbers[0]}", auth=citizen.auth)
    assert deleted.status_code == 204
    storage = await _storage(gw, citizen)
    assert storage["used_bytes"] == len(PDF)
    assert [i["registration_number"] for i in storage["items"]] == [numbers[1]]
    again = await gw.client.delete(f"/api/v1/storage/{numbers[0]}", auth=citizen.auth)
    assert again.status_code == 404 and again.json()["code"] == "not_found"
    # The document itself stays in the tárhely, downloadable (it was downloaded, not expired).
    still = await gw.client.get(f"/api/v1/documents/{numbers[0]}/content", auth=citizen.auth)
    assert still.status_code == 200 and still.content == PDF


async def test_another_party_sees_nothing_of_it(gw: Gateway) -> None:
    office, citizen, other = (await new_org(gw.ports), await new_citizen(gw.ports),
                              await new_citizen(gw.ports))
    number = await _send(gw, office, citizen)
    await gw.client.post(f"/api/v1/documents/{number}/keep", auth=citizen.auth)

    assert (await _storage(gw, other))["items"] == []
    refused = await gw.client.post(f"/api/v1/documents/{number}/keep", auth=other.auth)
    assert refused.status_code == 404 and refused.json()["code"] == "not_found"
    missing = await gw.client.post("/api/v1/documents/123456789202601010000999999/keep",
                                   auth=other.auth)
    assert missing.json() == {**refused.json(), "detail": missing.json()["detail"]}
    assert (await gw.client.delete(f"/api/v1/storage/{number}",
                                   auth=other.auth)).status_code == 404
    assert len((await _storage(gw, citizen))["items"]) == 1
    # Organisations have no tartós tár, and cannot keep for one.
    assert (await gw.client.get("/api/v1/storage", auth=office.auth)).status_code == 403
    assert (await gw.client.post(f"/api/v1/documents/{number}/keep",
                                 auth=office.auth)).status_code == 403

