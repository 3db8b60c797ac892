"""An upload waiting in the registration queue for its batch (services/registrar.py), and the
receipt being signed for it meanwhile, for the number forecast (services/forecast.py)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from gateway.domain.documents import NewDocument, Numbering
from gateway.domain.parties import Party
from gateway.services.forecast import CounterKey
from gateway.services.ports.storage import StagedContent


@dataclass(frozen=True)
class Presigned:
    """An acceptance receipt being signed, while its upload waits, for the number forecast."""

    registration_number: str
    receipt: asyncio.Future[list[bytes]]


@dataclass(frozen=True)
class Pending:
    """An upload waiting for its number in the next batch."""

    new: NewDocument
    numbering: Numbering
    sender: Party
    recipient: Party
    person: str | None
    content: StagedContent  # the batch places it once registered, or discards it
    presigned: Presigned | None = None

    @property
    def counter(self) -> CounterKey:
        return counter_of(self.numbering)


def counter_of(numbering: Numbering) -> CounterKey:
    return numbering.krid, numbering.day
