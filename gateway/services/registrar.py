"""The registrar: numbers accepted uploads. Uploads that arrive while one is registered wait
and are registered together (group commit, ``batching.py``). A batch whose receipts were all
signed early for the forecast numbers (``forecast.py``) is registered in one statement that
commits itself, counter by counter where the forecast held (``statement_registration.py``);
the rest in a transaction that takes each counter once and uses the early receipts that name
the right number. One upload's fault never fails another's, and a refused or failed registration
skips no number."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from datetime import datetime

from gateway.domain.documents import NewDocument, Numbering
from gateway.domain.parties import Party
from gateway.domain.receipts import ReceiptKind
from gateway.domain.registration import (
    MAX_DAILY_SEQUENCE,
    make_registration_number,
    registration_day,
    registration_prefix,
)
from gateway.errors import DailySequenceExhausted, Unavailable
from gateway.services import mail
from gateway.services.acceptance_receipts import acceptance_content, acceptance_evidence
from gateway.services.evidence import signed
from gateway.services.pending import Pending, Presigned, counter_of
from gateway.services.ports.outbox import NewMail
from gateway.services.ports.slices import RegistrarPorts
from gateway.services.ports.storage import StagedContent, UnitOfWork
from gateway.services.statement_registration import (
    registered_as_forecast,
    registered_before_receipts,
    settle_forecast,
    write_owed_receipts,
)

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Registered:
    """A document just registered, in the acceptance's transaction."""

    document_id: int
    registration_number: str
    new: NewDocument


@dataclass(frozen=True)
class Registering:
    """What a service adds to a document's acceptance (services/acceptance.py) when the
    document is more than bytes for a mailbox: e-Papír names its PDF by its number; a
    hirdetmény is published, and the portal takes it at once.

    ``file_name``: the document's name, given once its number is known (the receipt names
    it too); None keeps the sender's. ``also``: writes of its own in the acceptance's
    transaction, which may return a system message's staged bytes, placed once it commits.
    ``valid_until``: how long the content is kept, when not the configured retention. Such
    an upload is registered in a unit of work of its own, not in a group commit's batch."""

    file_name: Callable[[str], str] | None = None
    also: Callable[[UnitOfWork, Registered], Awaitable[StagedContent | None]] | None = None
    valid_until: datetime | None = None


def presigned(ports: RegistrarPorts, sender: Party, recipient: Party, new: NewDocument,
               numbering: Numbering) -> Presigned | None:
    """Join the forecast and start signing the receipt for the forecast number, if any."""
    sequence = ports.forecast.join(counter_of(numbering))
    if new.timestamp_token is None or sequence is None or sequence > MAX_DAILY_SEQUENCE:
        return None
    number = make_registration_number(numbering.krid, new.registered_at, sequence)
    signing = asyncio.ensure_future(signed(ports, [
        acceptance_content(sender, recipient, new, number)]))
    # An unused or failed early signature is never read: read here, so asyncio does not
    # report a lost exception (the batch signs again).
    signing.add_done_callback(lambda done: done.cancelled() or done.exception())
    return Presigned(number, signing)


async def register_batch(ports: RegistrarPorts, batch: list[Pending]) -> list[str | BaseException]:
    """Register every upload of ``batch``: where every receipt was signed early for the
    number forecast, in one statement that commits itself (:func:`registered_as_forecast`);
    the rest, or all, in one transaction (:func:`_register_together`). One upload's fault must
    not fail the others (a value the database or the receipt cannot hold, …): when the
    transaction fails, each upload is registered again in one of its own, and only the faulty
    one is answered with its error. Every failed statement or transaction rolled back its
    counters, so no number is skipped. Then their bytes move into the store; a refused
    upload's bytes are discarded."""
    ports.forecast.leave([pending.counter for pending in batch])
    answers: list[str | BaseException | None] = [None] * len(batch)
    try:
        # The receipts signed early are waited for before any counter is taken: every host
        # shares those rows, and they are then held for the statements and the commit alone.
        early_signing = [pending.presigned.receipt for pending in batch
                         if pending.presigned is not None]
        if early_signing:
            await asyncio.wait(early_signing)
        registered, outcome = await registered_as_forecast(ports, batch)
        ports.telemetry.registered_as_forecast(outcome)
        for index, number in registered.items():
            answers[index] = number
        rest = [index for index, answer in enumerate(answers) if answer is None]
        if rest:
            # Not as forecast: registered before their receipts, in one statement.
            before, owed = await registered_before_receipts(
                ports, [batch[index] for index in rest], _exhausted)
            for place, taken in before.items():
                answers[rest[place]] = taken
            rest = [index for index in rest if answers[index] is None]
            await write_owed_receipts(ports, owed)
        if rest:
            try:
                rest_answers = await _register_rest(ports, [batch[index] for index in rest])
            except Exception as failure:
                if len(rest) == len(batch):
                    raise
                # The uploads registered as forecast are committed: they stand.
                rest_answers = [failure] * len(rest)
            for index, answer in zip(rest, rest_answers, strict=True):
                answers[index] = answer
    except BaseException:
        # What committed keeps its bytes; the rest are removed.
        await asyncio.gather(*(
            pending.content.place() if isinstance(answer, str) else pending.content.discard()
            for pending, answer in zip(batch, answers, strict=True)))
        raise
    done = [answer for answer in answers if answer is not None]
    # Side by side (an object store checks each object over the network); the next batch
    # waits for this.
    await asyncio.gather(*(
        pending.content.discard() if isinstance(answer, BaseException)
        else pending.content.place() for pending, answer in zip(batch, done, strict=True)))
    ports.telemetry.registered_batch(len(batch))
    return done


async def _register_rest(ports: RegistrarPorts, batch: list[Pending]) -> list[str | BaseException]:
    """``batch`` in one transaction; if it fails, each upload in one of its own."""
    try:
        return await _register_together(ports, batch)
    except Exception as failure:
        ports.forecast.forget([pending.counter for pending in batch])
        # An outage fails each upload alike: trying them one by one would only wait again.
        if len(batch) == 1 or isinstance(failure, Unavailable):
            raise
        log.warning("a batch of %d uploads failed; registering each on its own",
                    len(batch), exc_info=True)
        return [await _register_alone(ports, pending) for pending in batch]


async def _register_alone(ports: RegistrarPorts, pending: Pending) -> str | BaseException:
    """One upload of a failed batch in a transaction of its own: its number, or its error."""
    try:
        [answer] = await _register_together(ports, [pending])
    except Exception as failure:
        ports.forecast.forget([pending.counter])
        log.warning("upload to %s refused on its own", pending.numbering.krid, exc_info=True)
        return failure
    return answer


async def _register_together(ports: RegistrarPorts,
                             batch: list[Pending]) -> list[str | BaseException]:
    """``batch`` in one transaction: each counter taken once, then the documents inserted with
    their receipts (those signed early, for the number forecast, where it held) and audit
    entries. Per upload its number, or its refusal (the day's numbers ran out)."""
    answers: list[str | BaseException] = []
    async with ports.write_uow() as uow:
        # The counter rows are locked from this statement until the commit ends.
        counter_taken = time.perf_counter()
        numbers = await uow.documents.number_many([pending.numbering for pending in batch])
        early = settle_forecast(ports, batch, numbers)
        plain: list[tuple[NewDocument, str]] = []
        to_sign: list[tuple[Pending, str]] = []
        notices: list[NewMail] = []
        for pending, number in zip(batch, numbers, strict=True):
            if number is None:
                answers.append(_exhausted(pending.numbering.krid))
                continue
            answers.append(number)
            notices += mail.arrival_notices(ports, pending.sender, pending.recipient,
                                        pending.new, number)
            if pending.new.timestamp_token is not None:
                to_sign.append((pending, number))
            else:
                plain.append((pending.new, number))
        presigned = [pending.presigned.receipt if pending.presigned is not None
                     and pending.presigned.registration_number == number else None
                     for pending, number in to_sign]
        receipts, events = await acceptance_evidence(ports, [
            (pending.sender, pending.recipient, pending.new, number, pending.person)
            for pending, number in to_sign], presigned)
        await uow.documents.add_many(plain)
        await uow.documents.add_many_accepted(ReceiptKind.ACCEPTANCE, [
            (pending.new, number, receipt, event) for (pending, number), receipt, event
            in zip(to_sign, receipts, events, strict=True)])
        await uow.mail.add_many(notices)
        await uow.commit()
    ports.telemetry.counter_held(time.perf_counter() - counter_taken,
                                 sum(isinstance(answer, str) for answer in answers),
                                 len({pending.counter for pending in batch}))
    ports.telemetry.signed_early(*early)
    return answers


def numbering_for(krid: str, registered_at: datetime) -> Numbering:
    return Numbering(krid=krid, day=registration_day(registered_at),
                     prefix=registration_prefix(krid, registered_at))


def _exhausted(krid: str) -> DailySequenceExhausted:
    return DailySequenceExhausted(
        f"KRID {krid} has used all {MAX_DAILY_SEQUENCE} numbers of today")


async def register(uow: UnitOfWork, new: NewDocument, numbering_krid: str) -> tuple[int, str]:
    registered = await uow.documents.register(new, numbering_for(numbering_krid, new.registered_at))
    if registered is None:
        raise _exhausted(numbering_krid)
    return registered


async def register_named(uow: UnitOfWork, new: NewDocument, numbering_krid: str,
                         file_name: Callable[[str], str]) -> tuple[int, str, NewDocument]:
    """:func:`register` for a document whose file name carries its own number (e-Papír's
    ``epapir-<number>.pdf``): the number is taken first, then the row is inserted under the
    name ``file_name`` gives for it. Returns the id, the number and the document as named."""
    [number] = await uow.documents.number_many([numbering_for(numbering_krid,
                                                              new.registered_at)])
    if number is None:
        raise _exhausted(numbering_krid)
    named = replace(new, file_name=file_name(number))
    [document_id] = await uow.documents.add_many([(named, number)])
    return document_id, number, named
