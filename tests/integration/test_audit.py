"""Every acceptance, refusal, download, acknowledgement and key change appends one entry."""

from __future__ import annotations

import asyncio
import secrets
from dataclasses import replace
from pathlib import Path

import pytest

from gateway.config import Settings
from gateway.domain.audit import AuditAction, AuditEvent, StoredEntry
from gateway.services import audit as audit_service
from gateway.services.audit import link_lag, link_pending, verify_audit
from tests.certificates import make_certificate
from tests.conftest import FixedClock
from tests.helpers import PDF, new_org, sha256, upload
from tests.integration.conftest import Gateway, _start


async def _entries_of(gw: Gateway, actors: set[str]) -> list[StoredEntry]:
    await link_pending(gw.ports)  # as the background jobs do within a second
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
    await link_pending(gw.ports)
    async with gw.ports.uow() as uow:
        before, _ = await uow.audit.head()
    # Refused before any transaction of its own: only the refusal entry is written.
    await upload(gw.client, sender, office, sha256="0" * 64)
    assert await link_pending(gw.ports) == 1
    async with gw.ports.uow() as uow:
        after, _ = await uow.audit.head()
        (entry,) = await uow.audit.entries(before, 10)
    assert after == before + 1
    assert entry.action == "refused" and entry.detail == "hash_mismatch"


async def test_entries_are_linked_once_by_concurrent_linkers_in_the_order_written(
    gw: Gateway, settings: Settings, clock: FixedClock
) -> None:
    await link_pending(gw.ports)
    async with gw.ports.uow() as uow:
        head_before, _ = await uow.audit.head()

    async def append(number: int) -> None:
        async with gw.ports.write_uow() as uow:
            await uow.audit.append(AuditEvent(
                at=clock.now(), actor="LINKTESZT", action=AuditAction.ACCEPTED,
                registration_number=f"{number:027d}"))
            await uow.commit()

    await asyncio.gather(*(append(number) for number in range(60)))
    waiting, lag = await link_lag(gw.ports)
    assert waiting >= 60 and lag == 0.0  # written at the clock's time
    clock.advance(seconds=3)
    assert (await link_lag(gw.ports))[1] >= 3.0  # the lag /metrics shows
    # A second process links at the same time: each entry gets one place, none is skipped.
    async for other in _start(settings, clock):
        linked = await asyncio.gather(link_pending(gw.ports), link_pending(other.ports))
    assert sum(linked) >= 60
    assert await link_lag(gw.ports) == (0, 0.0)
    async with gw.ports.uow() as uow:
        head, _ = await uow.audit.head()
        chain = await uow.audit.entries(head_before, 100_000)
    mine = [e for e in chain if e.actor == "LINKTESZT"]
    assert sorted(e.registration_number for e in mine) == [f"{n:027d}" for n in range(60)]
    assert [e.sequence for e in chain] == list(range(head_before + 1, head + 1))
    assert [e.id for e in mine] == sorted(e.id for e in mine)  # linked in the order written
    checked, fault = await verify_audit(gw.ports)
    assert fault is None and checked == head


async def test_one_round_links_page_after_page_until_a_page_is_not_full(
    gw: Gateway, clock: FixedClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A round links everything committed when it starts, a page of LINK_BATCH at a time; it
    ends at the first page that is not full (what commits later waits for the next round)."""
    await link_pending(gw.ports)
    monkeypatch.setattr(audit_service, "LINK_BATCH", 3)
    async with gw.ports.write_uow() as uow:
        for number in range(7):
            await uow.audit.append(AuditEvent(
                at=clock.now(), actor="LAPOZAS", action=AuditAction.ACCEPTED,
                registration_number=f"{number:027d}"))
        await uow.commit()
    assert await link_pending(gw.ports) == 7  # pages of 3, 3 and 1
    assert await link_lag(gw.ports) == (0, 0.0)
    assert (await verify_audit(gw.ports))[1] is None


async def test_an_entry_committed_late_is_linked_in_a_later_round(
    postgres_url: str, tmp_path: Path, keys_dir: Path, clock: FixedClock
) -> None:
    # Only PostgreSQL lets a later-written entry commit first (SQLite has one writer).
    settings = Settings(database_url=postgres_url, data_dir=tmp_path, keys_dir=keys_dir,
                        background_jobs=False)
    actor = f"LATE{secrets.token_hex(4)}"
    async for gw in _start(settings, clock):
        event = AuditEvent(at=clock.now(), actor=actor, action=AuditAction.REFUSED,
                           detail="format_not_allowed")
        async with gw.ports.write_uow() as early:
            await early.audit.append(event)  # written first, committed last
            async with gw.ports.write_uow() as late:
                await late.audit.append(replace(event, detail="too_large"))
                await late.commit()
            await link_pending(gw.ports)  # links the later one: the earlier is not committed
            async with gw.ports.uow() as uow:
                linked = [e.detail for e in await uow.audit.entries(None, 1_000_000)
                          if e.actor == actor]
            assert linked == ["too_large"]
            await early.commit()
        await link_pending(gw.ports)
        async with gw.ports.uow() as uow:
            chain = await uow.audit.entries(None, 1_000_000)
        assert [e.detail for e in chain if e.actor == actor] == [
            "too_large", "format_not_allowed"]  # the chain's order is the order of linking
        assert (await verify_audit(gw.ports))[1] is None


async def test_a_chain_written_before_linking_existed_keeps_verifying(
    tmp_path: Path, keys_dir: Path, clock: FixedClock
) -> None:
    import sqlalchemy as sa
    from alembic import command

    from gateway.domain.audit import GENESIS, entry_hash
    from gateway.storage.database import alembic_config, upgrade
    from gateway.storage.tables import UTCDateTime

    url = f"sqlite+aiosqlite:///{tmp_path / 'old.db'}"
    await asyncio.to_thread(command.upgrade, alembic_config(url), "0010")
    old_entries = sa.table("audit_entries", *(sa.column(name) for name in (
        "sequence", "actor", "action", "registration_number", "sha256", "detail",
        "previous_hash", "hash", "office_krid")), sa.column("at", UTCDateTime()))
    head = sa.table("audit_head", sa.column("id"), sa.column("sequence"), sa.column("hash"))
    previous, rows = GENESIS, []
    for sequence in (1, 2, 3):
        event = AuditEvent(at=clock.now(), actor="REGI", action=AuditAction.ACCEPTED,
                           registration_number=f"{sequence:027d}", sha256="ab" * 32)
        digest = entry_hash(sequence, event, previous)
        rows.append({"sequence": sequence, "at": event.at, "actor": event.actor,
                     "action": event.action.value,
                     "registration_number": event.registration_number,
                     "sha256": event.sha256, "detail": None, "previous_hash": previous,
                     "hash": digest, "office_krid": None})
        previous = digest
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'old.db'}")
    with engine.begin() as connection:
        connection.execute(sa.insert(old_entries), rows)
        connection.execute(sa.update(head).where(head.c.id == 1)
                           .values(sequence=3, hash=previous))
    engine.dispose()
    # 0011: the entries keep their places; new ones are linked after them.
    await asyncio.to_thread(upgrade, url)
    settings = Settings(database_url=url, data_dir=tmp_path, keys_dir=keys_dir,
                        background_jobs=False)
    async for gw in _start(settings, clock):
        assert await verify_audit(gw.ports) == (3, None)
        async with gw.ports.write_uow() as uow:
            await uow.audit.append(AuditEvent(at=clock.now(), actor="UJ",
                                              action=AuditAction.DOWNLOADED))
            await uow.commit()
        assert await verify_audit(gw.ports) == (4, None)
        async with gw.ports.uow() as uow:
            assert [(e.id, e.sequence, e.actor) for e in await uow.audit.entries(None, 10)] \
                == [(1, 1, "REGI"), (2, 2, "REGI"), (3, 3, "REGI"), (4, 4, "UJ")]
