"""A batch registered in one statement that commits itself: its counter rows are held for that
statement and its commit alone.

- As forecast (the registry's ``register_as_forecast``): the numbers are those forecast
  (``forecast.py``), for which the receipts were signed while the uploads waited; the receipts
  are written in the same statement.
- Before its receipts (``register_before_receipts``), when the forecast did not hold (two
  hosts numbering one office, most often): the counters give what they give, and the receipts
  are signed and written after the commit, so no counter row is held while a receipt is
  signed. Each document is listed as owing its receipt until then; if the upload stops in
  between, a starting server or the background jobs sign it from the document's row
  (:func:`sign_owed`).

Anything else (a document to a person, whose first notice is queued in its transaction; one
without a timestamp; a statement that failed) is left to the registrar's transaction."""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from gateway.domain.audit import AuditEvent
from gateway.domain.documents import NewDocument, Numbering
from gateway.domain.receipts import ReceiptKind
from gateway.domain.registration import sequence_of
from gateway.errors import DailySequenceExhausted, Unavailable
from gateway.services import mail
from gateway.services.acceptance_receipts import (
    acceptance_content,
    acceptance_receipts,
    accepted_event,
)
from gateway.services.evidence import signed
from gateway.services.forecast import CounterKey
from gateway.services.pending import Pending
from gateway.services.ports.slices import OwedReceiptPorts, RegistrarPorts

log = logging.getLogger(__name__)


async def registered_as_forecast(ports: RegistrarPorts,
                                 batch: list[Pending]) -> tuple[dict[int, str], str]:
    """The uploads of ``batch`` whose counters gave the numbers forecast, registered in one
    statement that commits itself: their indexes and numbers, and the outcome (``held``,
    ``missed``, or ``none`` when not every receipt was signed early, or a document sends a
    notice: the outbox's row is written in the document's transaction)."""
    forecast = _as_forecast(ports, batch)
    if forecast is None:
        return {}, "none"
    try:
        async with ports.statement_uow() as uow:
            # The counter rows are locked from this statement until it has committed.
            counter_taken = time.perf_counter()
            numbers = await uow.documents.register_as_forecast(ReceiptKind.ACCEPTANCE, forecast)
            await uow.commit()
    except Unavailable:
        ports.forecast.forget([pending.counter for pending in batch])
        raise
    except Exception:
        # Nothing of the statement was written: the transaction numbers them all.
        log.warning("a batch of %d uploads failed as forecast", len(batch), exc_info=True)
        return {}, "missed"
    registered = {index: number for index, number in enumerate(numbers) if number is not None}
    ports.telemetry.counter_held(time.perf_counter() - counter_taken, len(registered),
                                 len({pending.counter for pending in batch}))
    done = [(pending, number) for pending, number in zip(batch, numbers, strict=True)
            if number is not None]
    early = settle_forecast(ports, [pending for pending, _ in done],
                            [number for _, number in done])
    ports.telemetry.signed_early(*early)
    return registered, "held" if len(registered) == len(batch) else "missed"


def _as_forecast(
    ports: RegistrarPorts, batch: list[Pending],
) -> list[tuple[NewDocument, Numbering, str, bytes, AuditEvent]] | None:
    """The batch as the registry's ``register_as_forecast`` takes it, when every upload's
    receipt was signed early, without fault, for the number forecast, and none sends a
    notice; otherwise None."""
    forecast = []
    for pending in batch:
        if pending.presigned is None:
            return None
        signing, number = pending.presigned.receipt, pending.presigned.registration_number
        if (not signing.done() or signing.cancelled() or signing.exception() is not None
                or mail.arrival_notices(ports, pending.sender, pending.recipient, pending.new,
                                        number)):
            return None
        [receipt] = signing.result()
        forecast.append((pending.new, pending.numbering, number, receipt,
                         accepted_event(pending.sender, pending.new, number, pending.person)))
    return forecast


def settle_forecast(ports: RegistrarPorts, batch: list[Pending],
                    numbers: list[str | None]) -> tuple[int, int]:
    """Tell the forecast the last sequence each counter gave, and whether it was wrong.
    Returns how many early receipts name their document's number, and how many do not."""
    last: dict[CounterKey, int] = {}
    forecasts: Counter[CounterKey] = Counter()
    missed: Counter[CounterKey] = Counter()
    for pending, number in zip(batch, numbers, strict=True):
        if number is None:
            continue
        last[pending.counter] = max(last.get(pending.counter, 0), sequence_of(number))
        if pending.presigned is not None:
            forecasts[pending.counter] += 1
            missed[pending.counter] += pending.presigned.registration_number != number
    for key, sequence in last.items():
        ports.forecast.settle(key, sequence, forecasts[key], missed[key])
    ports.forecast.forget([pending.counter for pending in batch
                           if pending.counter not in last])
    return sum(forecasts.values()) - missed.total(), missed.total()


async def registered_before_receipts(
    ports: RegistrarPorts, batch: list[Pending],
    exhausted: Callable[[str], DailySequenceExhausted],
) -> tuple[dict[int, str | DailySequenceExhausted], list[Owed]]:
    """The uploads of ``batch`` registered in one statement that commits itself, their
    receipts not yet written: their indexes and numbers (or ``exhausted``'s refusal, for one
    past its day's last number), and the receipts they owe, for :func:`write_owed_receipts`.
    Nothing when a document has no timestamp or goes to a person (whose first notice is
    written in the document's transaction), or when the statement failed: the transaction
    registers them."""
    if any(pending.new.timestamp_token is None or not pending.recipient.is_organisation
           for pending in batch):
        return {}, []
    try:
        async with ports.statement_uow() as uow:
            # The counter rows are locked from this statement until it has committed.
            counter_taken = time.perf_counter()
            registered = await uow.documents.register_before_receipts([
                (pending.new, pending.numbering,
                 accepted_event(pending.sender, pending.new, None, pending.person))
                for pending in batch])
            await uow.commit()
    except Unavailable:
        ports.forecast.forget([pending.counter for pending in batch])
        raise
    except Exception:
        # Nothing of the statement was written: the transaction numbers them all.
        log.warning("a batch of %d uploads failed before its receipts", len(batch),
                    exc_info=True)
        return {}, []
    numbers = [None if found is None else found[1] for found in registered]
    ports.telemetry.registered_before_receipts()
    ports.telemetry.counter_held(time.perf_counter() - counter_taken,
                                 sum(number is not None for number in numbers),
                                 len({pending.counter for pending in batch}))
    done = [(pending, number) for pending, number in zip(batch, numbers, strict=True)
            if number is not None]
    ports.telemetry.signed_early(*settle_forecast(
        ports, [pending for pending, _ in done], [number for _, number in done]))
    owed = [Owed(pending, *found) for pending, found in zip(batch, registered, strict=True)
            if found is not None]
    return {index: number if number is not None else exhausted(pending.numbering.krid)
            for index, (pending, number) in enumerate(zip(batch, numbers, strict=True))}, owed


@dataclass(frozen=True)
class Owed:
    """A document registered before its acceptance receipt."""

    pending: Pending
    document_id: int
    registration_number: str


async def write_owed_receipts(ports: RegistrarPorts, owed: list[Owed]) -> None:
    """Sign the receipts ``owed`` (or take those signed early for the same number) and write
    them. A failure is logged, not raised: the documents stand, numbered and committed, and
    the background jobs sign their receipts from the rows (:func:`sign_owed`)."""
    try:
        await _write_receipts(ports, owed)
    except Exception:
        log.warning("the receipts of %d registered documents are left to the background jobs",
                    len(owed), exc_info=True)


async def _write_receipts(ports: RegistrarPorts, owed: list[Owed]) -> None:
    if not owed:
        return
    receipts = await acceptance_receipts(ports, [
        acceptance_content(document.pending.sender, document.pending.recipient,
                           document.pending.new, document.registration_number)
        for document in owed], [
        presigned.receipt if (presigned := document.pending.presigned) is not None
        and presigned.registration_number == document.registration_number else None
        for document in owed])
    async with ports.statement_uow() as uow:  # one statement on PostgreSQL
        await uow.receipts.add_owed([
            (document.document_id, document.pending.new.registered_at, receipt)
            for document, receipt in zip(owed, receipts, strict=True)])
        await uow.commit()


# How long after its registration a document's receipt is left to its own upload.
OWED_GRACE = timedelta(minutes=1)
OWED_BATCH = 100


async def sign_owed(ports: OwedReceiptPorts, registered_before: datetime) -> int:
    """Sign and write the acceptance receipts still owed by documents registered at or
    before ``registered_before`` (their uploads stopped between the commit and the receipt): each
    from its document's row, as its upload would have. The background jobs leave a document
    :data:`OWED_GRACE` for its own upload; a server starting leaves none (a receipt signed
    twice is written once). Returns how many were written."""
    written = 0
    while True:
        async with ports.uow() as uow:
            owing = await uow.documents.owing_acceptance_receipts(registered_before,
                                                                  OWED_BATCH)
        if not owing:
            return written
        receipts = await signed(ports, [
            acceptance_content(document.sender, document.recipient, document,
                               document.registration_number) for document in owing])
        async with ports.write_uow() as uow:
            await uow.receipts.add_owed([
                (document.id, document.registered_at, receipt)
                for document, receipt in zip(owing, receipts, strict=True)])
            await uow.commit()
        written += len(owing)
        log.warning("signed %d acceptance receipts owed since an upload stopped", len(owing))
        if len(owing) < OWED_BATCH:
            return written

