"""A batch registered in one statement that commits itself (the registry's
``register_as_forecast``): its counter rows are held for that statement and its commit alone.
The numbers are those forecast (``forecast.py``), for which the receipts were signed while the
uploads waited. Uploads whose counter was not at the number forecast are left to the
registrar's transaction."""

from __future__ import annotations

import logging
import time
from collections import Counter

from gateway.domain.audit import AuditEvent
from gateway.domain.documents import NewDocument, Numbering
from gateway.domain.receipts import ReceiptKind
from gateway.domain.registration import sequence_of
from gateway.errors import Unavailable
from gateway.services import mail
from gateway.services.acceptance_receipts import accepted_event
from gateway.services.forecast import CounterKey
from gateway.services.pending import Pending
from gateway.services.ports.slices import RegistrarPorts

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
