"""A batch registered in one statement that commits itself (the registry's
``register_as_forecast``): its counter rows are held for that statement and its commit alone.
The numbers come from the forecast, for which the receipts were signed while the uploads
waited, or, where this process has no forecast (another process or host numbers the same
KRID), from the counters as read just before, the receipts then signed for them. Uploads whose
counter was not at the number given are left to the registrar's transaction."""

from __future__ import annotations

import logging
import time
from collections import Counter

from gateway.domain.audit import AuditEvent
from gateway.domain.documents import NewDocument, Numbering
from gateway.domain.receipts import ReceiptKind
from gateway.domain.registration import MAX_DAILY_SEQUENCE, make_registration_number, sequence_of
from gateway.errors import Unavailable
from gateway.services import mail
from gateway.services.acceptance_receipts import acceptance_content, accepted_event
from gateway.services.evidence import signed
from gateway.services.forecast import CounterKey
from gateway.services.pending import Pending
from gateway.services.ports.slices import RegistrarPorts

log = logging.getLogger(__name__)


async def registered_as_forecast(ports: RegistrarPorts, batch: list[Pending]
                                  ) -> tuple[dict[int, str], str]:
    """The uploads of ``batch`` whose counters gave the numbers forecast, registered in one
    statement that commits itself: their indexes and numbers, and the outcome (``held``,
    ``missed``, or ``none`` when not every receipt was signed early, or a document sends a
    notice: the outbox's row is written in the document's transaction)."""
    forecast = _as_forecast(ports, batch)
    if forecast is None:
        return {}, "none"
    numbers = await _register_in_one_statement(ports, batch, forecast)
    if numbers is None:
        return {}, "missed"
    registered = {index: number for index, number in enumerate(numbers) if number is not None}
    done = [(pending, number) for pending, number in zip(batch, numbers, strict=True)
            if number is not None]
    early = settle_forecast(ports, [pending for pending, _ in done],
                             [number for _, number in done])
    ports.telemetry.signed_early(*early)
    return registered, "held" if len(registered) == len(batch) else "missed"


async def registered_as_read(ports: RegistrarPorts,
                              batch: list[Pending]) -> dict[int, str] | None:
    """Uploads that had no forecast, numbered after their counters' values as read now
    (without a lock), their receipts signed for those numbers, then registered in one
    statement as forecasts are: their indexes and numbers. So the counter rows stay held for
    that statement alone, not for the signatures, when another process or host numbers the
    same KRID. A counter moved meanwhile is left to the transaction (its receipts are signed
    again there). None when not tried: an upload has no receipt or sends a notice, the day's
    numbers run out, or a receipt cannot be signed (the transaction finds which)."""
    if (any(pending.new.timestamp_token is None for pending in batch)
            or not ports.forecast.may_read({pending.counter for pending in batch})):
        return None
    async with ports.statement_uow() as uow:
        following = {key: await uow.counters.last(*key) + 1
                     for key in sorted({pending.counter for pending in batch})}
    numbers: list[str] = []
    for pending in batch:
        sequence = following[pending.counter]
        following[pending.counter] = sequence + 1
        if sequence > MAX_DAILY_SEQUENCE:
            return None  # the transaction refuses what the day cannot number
        numbers.append(make_registration_number(pending.numbering.krid,
                                                pending.new.registered_at, sequence))
        if mail.arrival_notices(ports, pending.sender, pending.recipient, pending.new,
                                numbers[-1]):
            return None  # a notice's outbox row is written in the document's transaction
    try:
        receipts = await signed(ports, [
            acceptance_content(pending.sender, pending.recipient, pending.new, number)
            for pending, number in zip(batch, numbers, strict=True)])
    except Unavailable:
        raise
    except Exception:
        log.warning("receipts for numbers as read failed", exc_info=True)
        return None
    taken = await _register_in_one_statement(ports, batch, [
        (pending.new, pending.numbering, number, receipt,
         accepted_event(pending.sender, pending.new, number, pending.person))
        for pending, number, receipt in zip(batch, numbers, receipts, strict=True)])
    if taken is None:
        return {}
    last: dict[CounterKey, int] = {}
    for pending, number in zip(batch, taken, strict=True):
        if number is not None:
            last[pending.counter] = max(last.get(pending.counter, 0), sequence_of(number))
    for key in {pending.counter for pending in batch}:
        ports.forecast.read_settled(key, missed=key not in last)
    for key, sequence in last.items():
        # Not forecasts: a pause after wrong ones goes on (they would be wrong again).
        ports.forecast.settle(key, sequence, forecasts=0, missed=0)
    return {index: number for index, number in enumerate(taken) if number is not None}


async def _register_in_one_statement(
    ports: RegistrarPorts, batch: list[Pending],
    numbered: list[tuple[NewDocument, Numbering, str, bytes, AuditEvent]],
) -> list[str | None] | None:
    """``register_as_forecast`` in a statement that commits itself: per upload its number,
    or None where its counter was not at the number given; None if the statement failed
    (nothing of it was written). An outage fails the batch."""
    try:
        async with ports.statement_uow() as uow:
            # The counter rows are locked from this statement until it has committed.
            counter_taken = time.perf_counter()
            numbers = await uow.documents.register_as_forecast(ReceiptKind.ACCEPTANCE, numbered)
            await uow.commit()
    except Unavailable:
        ports.forecast.forget([pending.counter for pending in batch])
        raise
    except Exception:
        # Nothing of the statement was written: the transaction numbers them all.
        log.warning("a batch of %d uploads failed in one statement", len(batch),
                    exc_info=True)
        return None
    ports.telemetry.counter_held(time.perf_counter() - counter_taken,
                                 sum(number is not None for number in numbers),
                                 len({pending.counter for pending in batch}))
    return numbers


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
