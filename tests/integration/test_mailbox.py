"""Mailbox listing: filters, keyset pagination while documents arrive, idempotent retries."""

from __future__ import annotations

from gateway.domain.parties import PartyKind
from tests.helpers import PDF, new_citizen, new_org, stored_files, upload
from tests.integration.conftest import Gateway


async def test_pagination_loses_and_repeats_nothing_while_documents_arrive(gw: Gateway) -> None:
    sender, office = await new_org(gw.ports), await new_org(gw.ports)
    sent = [(await upload(gw.client, sender, office, f"doc {i}".encode(), f"{i}.txt"))
            .json()["registration_number"] for i in range(7)]

    seen: list[str] = []
    cursor = None
    pages = 0
    while True:
        params = {"limit": 3} | ({"cursor": cursor} if cursor else {})
        page = (await gw.client.get("/api/v1/mailbox", params=params, auth=office.auth)).json()
        seen += [d["registration_number"] for d in page["items"]]
        pages += 1
        if pages <= 2:  # two more documents arrive between pages
            gw.clock.advance(minutes=1)
            response = await upload(gw.client, sender, office, f"late {pages}".encode(),
                                    f"late{pages}.txt")
            sent.append(response.json()["registration_number"])
        # Acknowledging what was read does not shift the next page either.
        for item in page["items"][:1]:
            await gw.client.post(f"/api/v1/documents/{item['registration_number']}/ack",
                                 auth=office.auth)
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == sent
    assert len(set(seen)) == 9


async def test_listing_filters_and_limit(gw: Gateway) -> None:
    office = await new_org(gw.ports)
    company = await new_org(gw.ports, kind=PartyKind.CEG)
    citizen = await new_citizen(gw.ports)
    await upload(gw.client, company, office, doc_type_id="SZAMLA")
    await upload(gw.client, citizen, office, doc_type_id="KERELEM")
    await upload(gw.client, citizen, office, doc_type_id="SZAMLA")

    async def numbers(**params: object) -> list[str]:
        response = await gw.client.get("/api/v1/mailbox", params=params, auth=office.auth)
        assert response.status_code == 200, response.text
        return [f"{d['sender']['kind']}:{d['doc_type_id']}" for d in response.json()["items"]]

    assert await numbers() == ["ceg:SZAMLA", "citizen:KERELEM", "citizen:SZAMLA"]
    assert await numbers(sender_type="citizen") == ["citizen:KERELEM", "citizen:SZAMLA"]
    assert await numbers(sender_type="ceg") == ["ceg:SZAMLA"]
    assert await numbers(doc_type_id="SZAMLA") == ["ceg:SZAMLA", "citizen:SZAMLA"]
    assert await numbers(sender_type="citizen", doc_type_id="SZAMLA") == ["citizen:SZAMLA"]
    assert await numbers(limit=1) == ["ceg:SZAMLA"]
    for bad in ({"limit": 0}, {"limit": 501}, {"state": "old"}, {"sender_type": "alien"},
                {"cursor": "!!!"}):
        response = await gw.client.get("/api/v1/mailbox", params=bad, auth=office.auth)
        assert response.status_code == 422, bad
        assert response.json()["code"] == "invalid_request"


async def test_idempotent_retry_returns_the_first_answer(gw: Gateway) -> None:
    sender, office = await new_org(gw.ports), await new_org(gw.ports)
    key = {"Idempotency-Key": "dms-outbox-4711"}
    first = await upload(gw.client, sender, office, headers=key)
    retry = await upload(gw.client, sender, office, headers=key)
    assert first.status_code == 201 and retry.status_code == 201
    assert retry.json() == first.json()
    mailbox = (await gw.client.get("/api/v1/mailbox", auth=office.auth)).json()["items"]
    assert len(mailbox) == 1
    files = stored_files(gw.blob_root)

    reused = await upload(gw.client, sender, office, PDF + b"changed", headers=key)
    assert reused.status_code == 409
    assert reused.json()["code"] == "idempotency_conflict"
    other_fields = await upload(gw.client, sender, office, headers=key, note="más")
    assert other_fields.status_code == 409
    assert stored_files(gw.blob_root) == files
    # The key belongs to its sender: another sender's same key is a new document.
    other = await new_org(gw.ports)
    theirs = await upload(gw.client, other, office, headers=key)
    assert theirs.json()["registration_number"] != first.json()["registration_number"]
    # Nothing was consumed by the retries: the next number follows directly.
    fresh = await upload(gw.client, sender, office, b"next", "n.txt")
    assert fresh.json()["registration_number"][-6:] == "000003"
