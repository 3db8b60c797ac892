"""Uploads that arrive together are registered together (group commit), on SQLite and
PostgreSQL: every number once and in order, every receipt signed for its own document, every
byte in place; a document refused inside a batch is refused alone."""

from __future__ import annotations

import asyncio
import time
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from lxml import etree
from prometheus_client.parser import text_string_to_metric_families

from gateway.domain.audit import AuditAction, AuditEvent
from gateway.domain.documents import NewDocument, UploadRequest
from gateway.domain.parties import PartyKind
from gateway.domain.receipts import ReceiptKind
from gateway.domain.registration import (
    MAX_DAILY_SEQUENCE,
    make_registration_number,
    registration_day,
)
from gateway.services.acceptance import accept_document, start_upload
from gateway.services.audit import link_pending
from gateway.services.ports.operations import NoTelemetry
from gateway.services.registrar import numbering_for
from tests.helpers import Account, new_citizen, new_org, sequence_of, sha256, stored_files, upload
from tests.integration.conftest import Gateway
from tests.integration.test_evidence import IGAZOLAS, xmlsec_verify


class BatchSizes(NoTelemetry):
    def __init__(self) -> None:
        self.sizes: list[int] = []

    def registered_batch(self, size: int) -> None:
        self.sizes.append(size)


def _pdf(index: int) -> bytes:
    return b"%PDF-1.7\n" + f"document {index}\n".encode() * 50 + b"%%EOF\n"


async def test_uploads_sent_at_once_share_batches_and_each_keeps_its_number_receipt_bytes(
    gw: Gateway, tmp_path: Path
) -> None:
    telemetry = BatchSizes()
    gw.ports.telemetry = telemetry
    sender = await new_org(gw.ports)
    offices = [await new_org(gw.ports), await new_org(gw.ports)]
    citizen = await new_citizen(gw.ports, email="csoport@example.hu")
    addressees: list[Account] = [offices[i % 2] for i in range(20)] + [citizen] * 4
    answers = await asyncio.gather(*(
        upload(gw.client, sender, to, _pdf(i), file_name=f"level-{i}.pdf")
        for i, to in enumerate(addressees)))
    assert [a.status_code for a in answers] == [201] * 24, [a.text for a in answers]
    numbers = [a.json()["registration_number"] for a in answers]

    assert max(telemetry.sizes) > 1, telemetry.sizes  # they did share transactions
    assert sum(telemetry.sizes) == 24
    # Per KRID, each number once, with no gap; a citizen's documents carry the sender's KRID.
    for krid in (offices[0].krid, offices[1].krid, sender.krid):
        assert krid is not None
        sequences = sorted(sequence_of(n) for n in numbers if n.startswith(krid))
        assert sequences == list(range(1, len(sequences) + 1))
    assert sorted(len([n for n in numbers if n.startswith(k or "")])
                  for k in (offices[0].krid, offices[1].krid, sender.krid)) == [4, 10, 10]

    ca = (await gw.client.get("/api/v1/trust")).content
    for index, (number, to) in enumerate(zip(numbers, addressees, strict=True)):
        receipt = await gw.client.get(f"/api/v1/documents/{number}/receipts/acceptance",
                                      auth=sender.auth)
        root = etree.fromstring(receipt.content)
        assert root.findtext("i:ErkeztetesiSzam", namespaces=IGAZOLAS) == number
        assert root.findtext("i:Lenyomat", namespaces=IGAZOLAS) == sha256(_pdf(index))
        if index % 6 == 0:  # the real xmlsec1 on a sample: one process each
            assert xmlsec_verify(receipt.content, ca, tmp_path, gw.clock.now())
        content = await gw.client.get(f"/api/v1/documents/{number}/content", auth=to.auth)
        assert content.content == _pdf(index)

    await link_pending(gw.ports)
    async with gw.ports.uow() as uow:
        entries = await uow.audit.entries(None, 1_000_000)
    accepted = [e.registration_number for e in entries
                if e.action == AuditAction.ACCEPTED.value and e.actor == sender.username]
    assert sorted(accepted) == sorted(numbers)
    async with gw.ports.uow() as uow:
        person = await uow.parties.by_username(citizen.username)
        assert person is not None
        mails = await uow.mail.of_party(person.id, 100)
    # Each of the citizen's documents queued its first notice in its batch.
    assert sorted(m.registration_number or "" for m in mails) == sorted(numbers[20:])


async def test_in_a_batch_only_the_uploads_past_the_days_last_number_are_refused(
    gw: Gateway
) -> None:
    sender, office = await new_org(gw.ports), await new_org(gw.ports)
    assert office.krid is not None
    async with gw.ports.write_uow() as uow:
        await uow.counters.take(office.krid, registration_day(gw.clock.now()),
                                MAX_DAILY_SEQUENCE - 2)
        await uow.commit()
    before = set(stored_files(gw.blob_root))
    answers = await asyncio.gather(*(
        upload(gw.client, sender, office, _pdf(i), file_name=f"level-{i}.pdf")
        for i in range(5)))
    accepted = sorted(sequence_of(a.json()["registration_number"])
                      for a in answers if a.status_code == 201)
    refused = [a.json()["code"] for a in answers if a.status_code != 201]
    assert accepted == [MAX_DAILY_SEQUENCE - 1, MAX_DAILY_SEQUENCE]
    assert refused == ["daily_sequence_exhausted"] * 3
    # The two accepted documents' bytes are in the store; nothing of the refused three is.
    assert len(set(stored_files(gw.blob_root)) - before) == 2


def _counter_held(metrics: str) -> tuple[float, float, float]:
    """kapu_registration_counter_held_seconds as scraped: (count, sum), and
    kapu_registration_counter_row_seconds_total."""
    samples = {sample.name: sample.value for family in text_string_to_metric_families(metrics)
               for sample in family.samples}
    return (samples["kapu_registration_counter_held_seconds_count"],
            samples["kapu_registration_counter_held_seconds_sum"],
            samples["kapu_registration_counter_row_seconds_total"])


async def test_the_counter_hold_is_observed_once_per_accepted_upload(gw: Gateway) -> None:
    """Batched uploads, an upload registered alone (Idempotency-Key) and uploads refused in
    their batch (the day's numbers ran out): one observation per accepted upload, their sum
    the time the counter rows were held, which is within the time the uploads took; each
    row's hold added up is at least that."""
    sender, office, full = await new_org(gw.ports), await new_org(gw.ports), await new_org(
        gw.ports)
    assert full.krid is not None
    async with gw.ports.write_uow() as uow:
        await uow.counters.take(full.krid, registration_day(gw.clock.now()),
                                MAX_DAILY_SEQUENCE - 1)
        await uow.commit()
    count_before, sum_before, rows_before = _counter_held((await gw.client.get("/metrics")).text)
    started = time.perf_counter()
    answers = await asyncio.gather(
        *(upload(gw.client, sender, office, _pdf(i), file_name=f"level-{i}.pdf")
          for i in range(8)),
        *(upload(gw.client, sender, full, _pdf(i), file_name=f"full-{i}.pdf")
          for i in range(8, 11)),
        upload(gw.client, sender, office, _pdf(11), headers={"Idempotency-Key": "egyszer"}))
    took = time.perf_counter() - started
    assert [answer.status_code == 201 for answer in answers].count(True) == 10
    assert sorted(answer.json().get("code", "") for answer in answers
                  if answer.status_code != 201) == ["daily_sequence_exhausted"] * 2
    count_after, sum_after, rows_after = _counter_held((await gw.client.get("/metrics")).text)
    assert count_after - count_before == 10
    assert 0 < sum_after - sum_before < took
    # Each transaction held one or both offices' rows (and one refused its uploads alone).
    assert sum_after - sum_before <= rows_after - rows_before < 2 * took


class EarlySignatures(NoTelemetry):
    def __init__(self) -> None:
        self.used = self.signed_again = 0
        self.forecasts: list[str] = []
        self.transactions = 0  # statements or transactions that numbered uploads

    def registered_as_forecast(self, outcome: str) -> None:
        self.forecasts.append(outcome)

    def counter_held(self, seconds: float, uploads: int, rows: int = 1) -> None:
        self.transactions += 1

    def signed_early(self, used: int, signed_again: int) -> None:
        self.used += used
        self.signed_again += signed_again


async def _receipts_name_their_own_documents(gw: Gateway, sender: Account, numbers: list[str],
                                             contents: list[bytes], tmp_path: Path) -> None:
    ca = (await gw.client.get("/api/v1/trust")).content
    for number, content in zip(numbers, contents, strict=True):
        receipt = (await gw.client.get(f"/api/v1/documents/{number}/receipts/acceptance",
                                       auth=sender.auth)).content
        root = etree.fromstring(receipt)
        assert root.findtext("i:ErkeztetesiSzam", namespaces=IGAZOLAS) == number
        assert root.findtext("i:Lenyomat", namespaces=IGAZOLAS) == sha256(content)
        assert xmlsec_verify(receipt, ca, tmp_path, gw.clock.now())


async def test_a_wrong_number_forecast_costs_a_second_signature_never_a_wrong_receipt(
    gw: Gateway, tmp_path: Path
) -> None:
    telemetry = EarlySignatures()
    gw.ports.telemetry = telemetry
    sender, office = await new_org(gw.ports), await new_org(gw.ports)
    assert office.krid is not None

    async def send(indexes: range) -> list[str]:
        answers = await asyncio.gather(*(
            upload(gw.client, sender, office, _pdf(i), file_name=f"level-{i}.pdf")
            for i in indexes))
        assert [a.status_code for a in answers] == [201] * len(indexes)
        return [a.json()["registration_number"] for a in answers]

    first = await send(range(1))  # nothing to forecast from yet
    assert (telemetry.used, telemetry.signed_again) == (0, 0)
    assert telemetry.forecasts == ["none"]
    # The forecast knows the counter now: six uploads at once, each receipt signed while it
    # waits, for the number it then gets; each batch is inserted in its counter's statement.
    forecast = await send(range(1, 7))
    assert (telemetry.used, telemetry.signed_again) == (6, 0)
    assert set(telemetry.forecasts[1:]) == {"held"}
    batches = len(telemetry.forecasts)
    # Another process takes the next number: every forecast made before this process sees
    # it is one too low, and those receipts are signed again for the numbers given.
    async with gw.ports.write_uow() as uow:
        await uow.counters.take(office.krid, registration_day(gw.clock.now()), 1)
        await uow.commit()
    wrong = await send(range(7, 13))
    assert telemetry.used == 6 and telemetry.signed_again >= 1
    # The first batch after it took the numbers, found them not those forecast, and
    # inserted its documents after signing their receipts again.
    assert telemetry.forecasts[batches] == "missed"
    numbers = first + forecast + wrong
    assert sorted(sequence_of(n) for n in numbers) == [*range(1, 8), *range(9, 15)]
    await _receipts_name_their_own_documents(gw, sender, numbers,
                                             [_pdf(i) for i in range(13)], tmp_path)


async def test_uploads_to_an_office_numbered_elsewhere_meanwhile_keep_their_neighbours_numbers(
    gw: Gateway, tmp_path: Path
) -> None:
    """Uploads to two offices at once, after another process took one office's next number:
    the other office's uploads are registered as forecast, the moved office's are numbered
    after; every number once, every receipt and every byte its own document's."""
    telemetry = EarlySignatures()
    gw.ports.telemetry = telemetry
    sender, steady, moved = await new_org(gw.ports), await new_org(gw.ports), await new_org(
        gw.ports)
    assert moved.krid is not None
    addressees = [steady, moved]
    for index, to in enumerate(addressees):  # the forecast learns both counters
        assert (await upload(gw.client, sender, to, _pdf(index))).status_code == 201
    async with gw.ports.write_uow() as uow:
        await uow.counters.take(moved.krid, registration_day(gw.clock.now()), 1)
        await uow.commit()
    addressees += [steady, moved] * 4
    answers = await asyncio.gather(*(
        upload(gw.client, sender, to, _pdf(index), file_name=f"level-{index}.pdf")
        for index, to in enumerate(addressees) if index >= 2))
    assert [a.status_code for a in answers] == [201] * 8, [a.text for a in answers]
    numbers = [a.json()["registration_number"] for a in answers]
    assert sorted(sequence_of(n) for n in numbers[::2]) == [2, 3, 4, 5]
    assert sorted(sequence_of(n) for n in numbers[1::2]) == [3, 4, 5, 6]
    # Some uploads were registered in their counters' statement: in a batch of their own, or
    # beside the moved office's, which were then numbered in a transaction of their own.
    assert "missed" in telemetry.forecasts
    assert "held" in telemetry.forecasts or telemetry.transactions > len(telemetry.forecasts)
    await _receipts_name_their_own_documents(gw, sender, numbers,
                                             [_pdf(i) for i in range(2, 10)], tmp_path)


async def _accept_below_the_doors(gw: Gateway, sender: Account, to: Account, content: bytes,
                                  file_name: str, person: str | None = None) -> str:
    """An upload handed to the acceptance service directly, as no door would hand it."""
    async with gw.ports.uow() as uow:
        party = await uow.parties.by_username(sender.username)
    assert party is not None
    staged = start_upload(gw.ports)
    staged.write(content)
    accepted = await accept_document(gw.ports, party, UploadRequest(
        file_name=file_name, doc_type_office="TESZT", doc_type_id="LEVEL",
        doc_type_description="Levél", recipient_krid=to.krid), staged, person=person)
    return accepted.registration_number


async def test_one_partys_faulty_uploads_fail_alone_in_the_batches_they_share(
    gw: Gateway, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Uploads that no database can store (a lone surrogate in the file name, or in the name
    of the person who sent it) share batches with an honest company's uploads to the same
    office: each faulty one is answered with its own error, every honest one is registered
    with the next number, its receipt and its bytes, and nothing of the faulty ones stays."""
    honest, hostile, office = (await new_org(gw.ports), await new_org(gw.ports),
                               await new_org(gw.ports))
    assert office.krid is not None
    before = set(stored_files(gw.blob_root))
    contents = [_pdf(i) for i in range(12)]
    faulty = [("rossz\ud800.pdf", None), ("rossz.pdf", "Rossz \udc00Ember")] * 2
    answers, failures = await asyncio.gather(
        asyncio.gather(*(upload(gw.client, honest, office, content, file_name=f"level-{i}.pdf")
                         for i, content in enumerate(contents))),
        asyncio.gather(*(_accept_below_the_doors(gw, hostile, office, _pdf(100 + i), name,
                                                 person)
                         for i, (name, person) in enumerate(faulty)), return_exceptions=True))

    assert [a.status_code for a in answers] == [201] * len(contents), [a.text for a in answers]
    assert all(isinstance(failure, Exception) for failure in failures), failures
    # They did share a batch: it failed, and its uploads were registered one by one.
    assert "registering each on its own" in caplog.text
    numbers = [a.json()["registration_number"] for a in answers]
    # The office's numbers are the honest twelve, with no gap where a faulty one failed.
    assert sorted(sequence_of(n) for n in numbers) == list(range(1, len(contents) + 1))
    mailbox = (await gw.client.get("/api/v1/mailbox", auth=office.auth)).json()["items"]
    assert sorted(d["registration_number"] for d in mailbox) == sorted(numbers)
    assert len(set(stored_files(gw.blob_root)) - before) == len(contents)
    await _receipts_name_their_own_documents(gw, honest, numbers[::4], contents[::4], tmp_path)


async def test_many_counters_are_taken_in_one_statement_and_given_back_by_a_rollback(
    gw: Gateway
) -> None:
    first, second = await new_org(gw.ports), await new_org(gw.ports)
    assert first.krid is not None and second.krid is not None
    today = registration_day(gw.clock.now())
    tomorrow = today.fromordinal(today.toordinal() + 1)
    async with gw.ports.write_uow() as uow:
        assert await uow.counters.take(first.krid, today, 5) == 5
        await uow.commit()
    counts = [(second.krid, today, 2), (first.krid, tomorrow, 1), (first.krid, today, 3)]
    async with gw.ports.write_uow() as uow:
        # An existing counter goes on from its last number; new ones start at the count.
        assert await uow.counters.take_many(counts) == {
            (first.krid, today): 8, (second.krid, today): 2, (first.krid, tomorrow): 1}
        # Not committed: the numbers are given back.
    async with gw.ports.write_uow() as uow:
        assert await uow.counters.take_many(counts) == {
            (first.krid, today): 8, (second.krid, today): 2, (first.krid, tomorrow): 1}
        await uow.commit()
    async with gw.ports.write_uow() as uow:
        assert await uow.counters.take_many([(first.krid, today, 1)]) == {
            (first.krid, today): 9}
        await uow.commit()


def _new_document(sender_id: int, recipient_id: int, at: datetime, content: bytes) -> NewDocument:
    return NewDocument(
        registered_at=at, valid_until=at + timedelta(days=30), sender_id=sender_id,
        recipient_id=recipient_id, sender_kind=PartyKind.HIVATALI, reference_number=None,
        doc_type_office="TESZT", doc_type_id="LEVEL", doc_type_description="Levél", note=None,
        file_name="level.pdf", size=len(content), sha256=sha256(content), reply_encryption=False,
        return_receipt=False, timestamp_token=b"token")


async def test_only_the_counters_as_forecast_are_taken_and_only_their_documents_written(
    gw: Gateway
) -> None:
    """The statement that registers a batch as forecast, on its own: a counter is taken, and
    its documents written with their receipts and audit entries, only when it gives them the
    very numbers forecast; any other counter is left as it was, with nothing written for it."""
    sender = await new_org(gw.ports)
    offices = {name: await new_org(gw.ports) for name in
               ("goes_on", "starts", "missing", "behind", "gapped")}
    async with gw.ports.uow() as uow:
        ids = {name: (await uow.parties.by_username(account.username))
               for name, account in [("sender", sender), *offices.items()]}
    party_id = {name: party.id for name, party in ids.items() if party is not None}
    krid = {name: account.krid or "" for name, account in offices.items()}
    at = gw.clock.now()
    today = registration_day(at)
    async with gw.ports.write_uow() as uow:
        await uow.counters.take(krid["goes_on"], today, 5)
        await uow.counters.take(krid["behind"], today, 2)
        await uow.counters.take(krid["gapped"], today, 1)
        await uow.commit()
    forecast_sequences = [("goes_on", 6), ("starts", 1), ("goes_on", 7), ("missing", 4),
                          ("behind", 5), ("gapped", 2), ("gapped", 4)]
    forecast = []
    for name, sequence in forecast_sequences:
        number = make_registration_number(krid[name], at, sequence)
        # Its own content's hash: the shared database's other tests look documents up by it.
        new = _new_document(party_id["sender"], party_id[name], at, number.encode())
        event = AuditEvent(at=at, actor=sender.username, office_krid=sender.krid,
                           action=AuditAction.ACCEPTED, registration_number=number,
                           sha256=new.sha256)
        forecast.append((new, numbering_for(krid[name], at), number,
                         f"<receipt>{number}</receipt>".encode(), event))
    async with gw.ports.statement_uow() as uow:
        registered = await uow.documents.register_as_forecast(ReceiptKind.ACCEPTANCE,
                                                              forecast)
        await uow.commit()
    await link_pending(gw.ports)
    taken = {"goes_on", "starts"}
    assert registered == [number if name in taken else None
                          for (name, _), (_, _, number, _, _)
                          in zip(forecast_sequences, forecast, strict=True)]
    async with gw.ports.uow() as uow:
        assert {name: await uow.counters.last(krid[name], today) for name in krid} == {
            "goes_on": 7, "starts": 1, "missing": 0, "behind": 2, "gapped": 1}
        for (name, _), (_, _, number, receipt, _) in zip(forecast_sequences, forecast,
                                                         strict=True):
            document = await uow.documents.by_number(number)
            assert (document is not None) == (name in taken), number
            if document is not None:
                assert await uow.receipts.content(document.id,
                                                  ReceiptKind.ACCEPTANCE) == receipt
        entries = await uow.audit.entries(None, 1_000_000)
    assert sorted(e.registration_number or "" for e in entries
                  if e.actor == sender.username) == sorted(n for n in registered if n)
