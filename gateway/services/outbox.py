"""Delivering from an outbox (webhook notifications, e-mail): lease what is due, hand each
item over, record the outcome, retry failures with back-off, give up after the last attempt.

Leasing (``FOR UPDATE SKIP LOCKED`` on PostgreSQL, and the lease time on the row) lets any
number of workers drain one outbox without handing an item over twice; a worker dying after the
hand-over but before recording it hands it over again once the lease ends.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol, TypeVar

from gateway.services.ports.slices import OutboxPorts
from gateway.services.ports.storage import UnitOfWork

log = logging.getLogger(__name__)
LEASE = timedelta(minutes=2)


@dataclass(frozen=True)
class DeliveryPolicy:
    max_attempts: int = 8
    backoff_seconds: float = 2.0  # doubled after every failed attempt

    def retry_after(self, attempts: int) -> timedelta | None:
        """When to try again after ``attempts`` failures, or None: give up (dead letter)."""
        if attempts >= self.max_attempts:
            return None
        return timedelta(seconds=self.backoff_seconds * 2 ** (attempts - 1))


class Leased(Protocol):
    @property
    def id(self) -> int: ...
    @property
    def attempts(self) -> int: ...


class Outcomes(Protocol):
    async def delivered(self, item_id: int, at: datetime) -> None: ...
    async def failed(self, item_id: int, attempts: int, error: str,
                     retry_at: datetime | None) -> None: ...


Item = TypeVar("Item", bound=Leased)


async def drain(
    ports: OutboxPorts, policy: DeliveryPolicy, what: str, *,
    lease: Callable[[UnitOfWork, datetime, datetime], Awaitable[list[Item]]],
    outcomes: Callable[[UnitOfWork], Outcomes],
    hand_over: Callable[[Item], Awaitable[None]],
) -> int:
    """Hand over every item due now; returns how many were delivered."""
    delivered = 0
    while True:
        now = ports.clock.now()
        async with ports.write_uow() as uow:
            leased = await lease(uow, now, now + LEASE)
            await uow.commit()
        if not leased:
            return delivered
        for item in leased:
            if await hand_over_one(ports, policy, what, item, outcomes, hand_over):
                delivered += 1


async def hand_over_one(
    ports: OutboxPorts, policy: DeliveryPolicy, what: str, item: Item,
    outcomes: Callable[[UnitOfWork], Outcomes],
    hand_over: Callable[[Item], Awaitable[None]],
) -> bool:
    """Hand one leased item over and record the outcome: delivered (True), or failed, to be
    tried again after the back-off or, after the last attempt, dead (False)."""
    try:
        await hand_over(item)
    except Exception as exc:
        attempts = item.attempts + 1
        retry = policy.retry_after(attempts)
        async with ports.write_uow() as uow:
            await outcomes(uow).failed(
                item.id, attempts, f"{type(exc).__name__}: {exc}",
                ports.clock.now() + retry if retry is not None else None)
            await uow.commit()
        if retry is None:
            log.warning("%s %d dead after %d attempts", what, item.id, attempts)
        return False
    async with ports.write_uow() as uow:
        await outcomes(uow).delivered(item.id, ports.clock.now())
        await uow.commit()
    return True
