"""Uploads whose numbers were not forecast (two hosts numbering one office, or the first
upload to it) are registered in one statement before their acceptance receipts, which are
signed and written just after the commit; a document whose upload stopped in between owes its
receipt, and the background jobs sign it from the document's row, byte for byte the receipt
its upload would have written. On SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import Select, func, select

from gateway.app import create_app
from gateway.config import Settings
from gateway.domain.audit import AuditAction, AuditEvent
from gateway.domain.documents import NewDocument, Numbering
from gateway.domain.parties import Party, PartyKind
from gateway.domain.receipts import ReceiptContent, ReceiptKind
from gateway.domain.registration import MAX_DAILY_SEQUENCE, registration_day
from gateway.services import operations
from gateway.services.audit import link_pending
from gateway.services.evidence import receipt_party, signed, timestamp
from gateway.services.registrar import numbering_for
from gateway.services.statement_registration import OWED_GRACE, sign_owed
from gateway.storage.tables import acceptance_receipts_owed, documents
from gateway.storage.uow import SqlUnitOfWork
from gateway.worker import run_jobs_once
from tests.conftest import FixedClock
from tests.helpers import Account, new_org, sequence_of, sha256, upload
from tests.integration.conftest import Gateway
from tests.integration.test_evidence import xmlsec_verify
from tests.integration.test_group_commit import EarlySignatures, _pdf


async def _count(gw: Gateway, statement: Select[tuple[int]]) -> int:
    async with gw.ports.uow() as uow:
        assert isinstance(uow, SqlUnitOfWork) and uow._connection is not None
        return int((await uow._connection.execute(statement)).scalar_one())


async def _owed(gw: Gateway, *document_ids: int) -> int:
    """How many of these documents owe their acceptance receipts (the PostgreSQL database is
    shared with other tests)."""
    return await _count(gw, select(func.count()).select_from(acceptance_receipts_owed).where(
        acceptance_receipts_owed.c.document_id.in_(document_ids)))


async def _parties(gw: Gateway, *accounts: Account) -> list[Party]:
    found = []
    async with gw.ports.uow() as uow:
        for account in accounts:
            party = await uow.parties.by_username(account.username)
            assert party is not None
            found.append(party)
    return found


async def _party_ids(gw: Gateway, *accounts: Account) -> list[int]:
    return [party.id for party in await _parties(gw, *accounts)]


async def _stopped_upload(gw: Gateway, sender: Account, office: Account, content: bytes,
                          numbering: Numbering) -> tuple[int, str, NewDocument]:
    """An upload registered before its receipt, whose server stopped before writing it."""
    sender_id, office_id = await _party_ids(gw, sender, office)
    at = gw.clock.now()
    new = NewDocument(
        registered_at=at, valid_until=at + timedelta(days=30), sender_id=sender_id,
        recipient_id=office_id, sender_kind=PartyKind.HIVATALI, reference_number=None,
        doc_type_office="TESZT", doc_type_id="LEVEL", doc_type_description="Levél", note=None,
        file_name="félbehagyott.pdf", size=len(content), sha256=sha256(content),
        reply_encryption=False, return_receipt=False,
        timestamp_token=await timestamp(gw.ports, sha256(content), at))
    event = AuditEvent(at=at, actor=sender.username, action=AuditAction.ACCEPTED,
                       sha256=new.sha256)
    async with gw.ports.statement_uow() as uow:
        [registered] = await uow.documents.register_before_receipts([(new, numbering, event)])
        await uow.commit()
    assert registered is not None
    return registered[0], registered[1], new


class BeforeReceipts(EarlySignatures):
    def __init__(self) -> None:
        super().__init__()
        self.before_receipts = 0

    def registered_before_receipts(self) -> None:
        self.before_receipts += 1


async def test_the_first_upload_to_an_office_is_registered_before_its_receipt_which_follows(
    gw: Gateway, tmp_path: Path
) -> None:
    telemetry = BeforeReceipts()
    gw.ports.telemetry = telemetry
    sender, office = await new_org(gw.ports), await new_org(gw.ports)
    answers = await asyncio.gather(*(upload(gw.client, sender, office, _pdf(index))
                                     for index in range(3)))
    assert [answer.status_code for answer in answers] == [201] * 3
    # Nothing to forecast from: the batch went past the forecast's statement, not into a
    # transaction, and owes nothing once answered.
    assert telemetry.forecasts[0] == "none"
    assert telemetry.before_receipts == len(telemetry.forecasts) - telemetry.forecasts.count(
        "held") >= 1
    numbers = [answer.json()["registration_number"] for answer in answers]
    async with gw.ports.uow() as uow:
        ids = [document.id for number in numbers
               if (document := await uow.documents.by_number(number)) is not None]
    assert len(ids) == 3 and await _owed(gw, *ids) == 0
    ca = (await gw.client.get("/api/v1/trust")).content
    assert sorted(sequence_of(number) for number in numbers) == [1, 2, 3]
    for number in numbers:
        receipt = await gw.client.get(f"/api/v1/documents/{number}/receipts/acceptance",
                                      auth=sender.auth)
        assert receipt.status_code == 200
        assert number.encode() in receipt.content
        assert xmlsec_verify(receipt.content, ca, tmp_path, gw.clock.now())
    await link_pending(gw.ports)
    async with gw.ports.uow() as uow:
        entries = await uow.audit.entries(None, 1_000_000)
    assert sorted(entry.registration_number or "" for entry in entries
                  if entry.actor == sender.username) == sorted(numbers)


async def test_a_batch_is_numbered_after_whatever_its_counters_stood_at_up_to_the_days_last(
    gw: Gateway
) -> None:
    """The statement on its own: each counter gives its documents the next numbers in the
    batch's order, another counter's documents between them; one past the day's last number
    is neither inserted nor owed, and its counter's earlier documents stand."""
    sender, busy, full = await new_org(gw.ports), await new_org(gw.ports), await new_org(
        gw.ports)
    assert busy.krid is not None and full.krid is not None
    sender_id, busy_id, full_id = await _party_ids(gw, sender, busy, full)
    at = gw.clock.now()
    today = registration_day(at)
    async with gw.ports.write_uow() as uow:
        await uow.counters.take(busy.krid, today, 41)
        await uow.counters.take(full.krid, today, MAX_DAILY_SEQUENCE - 1)
        await uow.commit()
    order = [busy, full, busy, full, busy]
    batch = []
    for index, office in enumerate(order):
        content = f"{office.krid} {index} {at.isoformat()}".encode()
        recipient_id = busy_id if office is busy else full_id
        new = NewDocument(
            registered_at=at, valid_until=at + timedelta(days=30), sender_id=sender_id,
            recipient_id=recipient_id, sender_kind=PartyKind.HIVATALI, reference_number=None,
            doc_type_office="TESZT", doc_type_id="LEVEL", doc_type_description="Levél",
            note=None, file_name=f"level-{index}.pdf", size=len(content),
            sha256=sha256(content), reply_encryption=False, return_receipt=False,
            timestamp_token=b"token")
        assert office.krid is not None
        batch.append((new, numbering_for(office.krid, at),
                      AuditEvent(at=at, actor=sender.username, action=AuditAction.ACCEPTED,
                                 sha256=new.sha256)))
    async with gw.ports.statement_uow() as uow:
        registered = await uow.documents.register_before_receipts(batch)
        await uow.commit()
    numbers = [None if found is None else found[1] for found in registered]
    assert [None if number is None else sequence_of(number) for number in numbers] == [
        42, MAX_DAILY_SEQUENCE, 43, None, 44]
    assert numbers[0] is not None and numbers[0].startswith(busy.krid)
    assert numbers[1] is not None and numbers[1].startswith(full.krid)
    assert await _owed(gw, *(found[0] for found in registered if found is not None)) == 4
    assert await _count(gw, select(func.count()).select_from(documents).where(
        documents.c.recipient_id == full_id)) == 1
    await link_pending(gw.ports)
    async with gw.ports.uow() as uow:
        for found in registered:
            if found is not None:
                document = await uow.documents.by_id(found[0])
                assert document is not None and document.registration_number == found[1]
        entries = await uow.audit.entries(None, 1_000_000)
    assert sorted(entry.registration_number or "" for entry in entries
                  if entry.actor == sender.username) == sorted(n for n in numbers if n)
    # Their receipts (made up here) written, nothing is left owed for other tests' sweeps.
    async with gw.ports.write_uow() as uow:
        await uow.receipts.add_owed([(found[0], at, b"<receipt/>") for found in registered
                                     if found is not None])
        await uow.commit()
    assert await _owed(gw, *(found[0] for found in registered if found is not None)) == 0


async def test_a_receipt_owed_since_a_stop_is_signed_from_the_row_as_the_upload_would_have(
    gw: Gateway, tmp_path: Path
) -> None:
    sender, office = await new_org(gw.ports), await new_org(gw.ports)
    assert office.krid is not None
    content = _pdf(7)
    document_id, number, new = await _stopped_upload(
        gw, sender, office, content, numbering_for(office.krid, gw.clock.now()))
    assert await _owed(gw, document_id) == 1
    owed_before = await operations.acceptance_receipts_owed(gw.ports)  # what /metrics reports
    assert owed_before >= 1
    answer = await gw.client.get(f"/api/v1/documents/{number}/receipts/acceptance",
                                 auth=sender.auth)
    assert answer.status_code == 404
    # Within the grace its own upload may still write it: the background jobs leave it.
    gw.clock.advance(seconds=OWED_GRACE.total_seconds() - 1)
    await run_jobs_once(gw.ports)
    assert await _owed(gw, document_id) == 1
    gw.clock.advance(seconds=2)
    await run_jobs_once(gw.ports)
    assert await _owed(gw, document_id) == 0
    assert await operations.acceptance_receipts_owed(gw.ports) < owed_before
    receipt = (await gw.client.get(f"/api/v1/documents/{number}/receipts/acceptance",
                                   auth=sender.auth)).content
    sender_party, office_party = await _parties(gw, sender, office)
    [as_the_upload_would] = await signed(gw.ports, [ReceiptContent(
        kind=ReceiptKind.ACCEPTANCE, registration_number=number,
        sender=receipt_party(sender_party), recipient=receipt_party(office_party),
        file_name=new.file_name, sha256=new.sha256,
        at=new.registered_at, timestamp_token=new.timestamp_token or b"")])
    assert receipt == as_the_upload_would
    ca = (await gw.client.get("/api/v1/trust")).content
    assert xmlsec_verify(receipt, ca, tmp_path, gw.clock.now())
    async with gw.ports.uow() as uow:
        records = await uow.receipts.of_document(document_id)
    assert [(record.kind, record.issued_at) for record in records] == [
        (ReceiptKind.ACCEPTANCE, new.registered_at)]
    # Nothing is owed any more: another sweep leaves it as it is.
    await sign_owed(gw.ports, gw.clock.now())
    async with gw.ports.uow() as uow:
        assert await uow.receipts.content(document_id, ReceiptKind.ACCEPTANCE) == receipt
        assert len(await uow.receipts.of_document(document_id)) == 1


async def test_a_receipt_written_twice_keeps_the_first(gw: Gateway) -> None:
    """The upload and the background jobs may both write a document's receipt: the first
    stays, and the document owes nothing."""
    sender, office = await new_org(gw.ports), await new_org(gw.ports)
    assert office.krid is not None
    document_id, _, new = await _stopped_upload(
        gw, sender, office, _pdf(8), numbering_for(office.krid, gw.clock.now()))
    for content in (b"<first/>", b"<second/>"):
        async with gw.ports.write_uow() as uow:
            await uow.receipts.add_owed([(document_id, new.registered_at, content)])
            await uow.commit()
    async with gw.ports.uow() as uow:
        assert await uow.receipts.content(document_id, ReceiptKind.ACCEPTANCE) == b"<first/>"
    assert await _owed(gw, document_id) == 0


async def test_a_server_starting_signs_the_receipts_owed_at_once(
    gw: Gateway, settings: Settings, clock: FixedClock
) -> None:
    """A restart after a stop between a commit and its receipt: the starting server writes
    the receipt before it serves, without waiting out the grace."""
    sender, office = await new_org(gw.ports), await new_org(gw.ports)
    assert office.krid is not None
    document_id, number, _ = await _stopped_upload(
        gw, sender, office, _pdf(9), numbering_for(office.krid, gw.clock.now()))
    restarted = create_app(settings, clock=clock)
    async with restarted.router.lifespan_context(restarted):
        assert await _owed(gw, document_id) == 0
        async with gw.ports.uow() as uow:
            receipt = await uow.receipts.content(document_id, ReceiptKind.ACCEPTANCE)
        assert receipt is not None and number.encode() in receipt


@pytest.mark.parametrize("later_seconds", [5, 0])
async def test_an_acceptance_receipt_written_after_a_download_receipt_is_listed_first(
    gw: Gateway, later_seconds: int
) -> None:
    """A quick addressee may acknowledge a document while its acceptance receipt is owed: the
    sender's list still gives the receipts in the order of what they attest, also when both
    bear the same time (a clock that did not move between them, as the test clock)."""
    sender, office = await new_org(gw.ports), await new_org(gw.ports)
    assert office.krid is not None
    document_id, number, _ = await _stopped_upload(
        gw, sender, office, _pdf(10), numbering_for(office.krid, gw.clock.now()))
    gw.clock.advance(seconds=later_seconds)
    acknowledged = await gw.client.post(f"/api/v1/documents/{number}/ack", auth=office.auth)
    assert acknowledged.status_code == 200, acknowledged.text
    assert await sign_owed(gw.ports, gw.clock.now()) >= 1
    listed = (await gw.client.get(f"/api/v1/documents/{number}/receipts",
                                  auth=sender.auth)).json()["items"]
    assert [item["kind"] for item in listed] == ["acceptance", "download"]
    async with gw.ports.uow() as uow:
        [records] = (await uow.receipts.of_documents([document_id])).values()
    assert [record.kind for record in records] == [ReceiptKind.ACCEPTANCE, ReceiptKind.DOWNLOAD]
