"""Every acceptance, refusal, download, acknowledgement and key change appends one entry."""

from __future__ import annotations

from gateway.domain.audit import StoredEntry
from gateway.services.audit import verify_audit
from tests.certificates import make_certificate
from tests.helpers import PDF, new_org, sha256, upload
from tests.integration.conftest import Gateway


async def _entries_of(gw: Gateway, actors: set[str]) -> list[StoredEntry]:
    async with gw.ports.uow() as uow:
        entries = await uow.audit.entries(None, 100_000)
    return [e for e in entries if e.actor in actors]


async def test_each_action_is_chained(gw: Gateway) -> None:
    sender, office = await new_org(gw.ports), await new_org(gw.ports)
    number = (await upload(gw.client, sender, office)).json()["registration_number"]
    refused = await upload(gw.client, sender, office, b"not a pdf", "x.pdf")
    assert refused.status_code == 415
    await gw.client.get(f"/api/v1/documents/{number}/content", auth=office.auth)
    await gw.client.post(f"/api/v1/documents/{number}/ack", auth=office.auth)
    await gw.client.post(f"/api/v1/documents/{number}/ack", auth=office.auth)  # no new entry
    await gw.client.put("/api/v1/keys/me", content=make_certificate(gw.clock.now()).pem,
                        auth=office.auth)
    await gw.client.delete("/api/v1/keys/me", auth=office.auth)
    await gw.client.delete("/api/v1/keys/me", auth=office.auth)  # nothing to remove

    entries = await _entries_of(gw, {sender.username, office.username})
    assert [(e.actor, e.action) for e in entries] == [
        (sender.username, "accepted"), (sender.username, "refused"),
        (office.username, "downloaded"), (office.username, "acknowledged"),
        (office.username, "key_filed"), (office.username, "key_removed"),
    ]
    accepted, refusal, downloaded = entries[:3]
    assert accepted.registration_number == number
    assert accepted.sha256 == sha256(PDF)
    assert refusal.detail == "format_mismatch"
    assert refusal.registration_number is None
    assert downloaded.registration_number == number
    checked, fault = await verify_audit(gw.ports)
    assert fault is None and checked >= 6


async def test_a_rolled_back_change_leaves_no_entry(gw: Gateway) -> None:
    sender, office = await new_org(gw.ports), await new_org(gw.ports)
    async with gw.ports.uow() as uow:
        before, _ = await uow.audit.head()
    # Refused before any transaction of its own: only the refusal entry is written.
    await upload(gw.client, sender, office, sha256="0" * 64)
    async with gw.ports.uow() as uow:
        after, _ = await uow.audit.head()
        (entry,) = await uow.audit.entries(before, 10)
    assert after == before + 1
    assert entry.action == "refused" and entry.detail == "hash_mismatch"
