"""The notifications outbox: listing, webhooks, and delivery with retries, back-off and a
circuit breaker per party."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime, timedelta

from gateway.domain.parties import Party
from gateway.errors import InvalidRequest, Unavailable
from gateway.services.outbox import LEASE, DeliveryPolicy, hand_over_one
from gateway.services.ports.outbox import Delivery, Notification, WebhookPoster
from gateway.services.ports.slices import NotificationPorts
from gateway.services.webhook_addresses import check_webhook_url

__all__ = ["DeliveryPolicy", "SenderLimits", "WebhookSender", "deliver_due",
           "list_notifications", "set_webhook"]

log = logging.getLogger(__name__)


async def list_notifications(
    ports: NotificationPorts, party: Party, after_id: int = 0, limit: int = 100
) -> list[Notification]:
    if not 1 <= limit <= 500:
        raise InvalidRequest("limit must be between 1 and 500", field="limit")
    async with ports.uow() as uow:
        return await uow.notifications.of_party(party.id, after_id, limit)


async def set_webhook(ports: NotificationPorts, party: Party, url: str | None) -> None:
    """Where the party's notifications are POSTed (None: nowhere, they wait in the outbox).
    Security: only http(s) to a public address, without credentials in the URL (server-side
    request forgery; ``webhook_addresses.check_webhook_url``)."""
    if url is not None:
        await check_webhook_url(url, ports.webhook_allow_private)
    async with ports.write_uow() as uow:
        await uow.parties.set_webhook(party.id, url)
        await uow.commit()


@dataclass(frozen=True)
class SenderLimits:
    """How one process delivers webhooks: how many parties at once, and when a party's
    endpoint is left alone for a while (its circuit is open)."""

    parties_at_once: int = 32
    breaker_failures: int = 3  # failures in a row that open a party's circuit
    breaker_seconds: float = 300.0


@dataclass
class _Circuit:
    url: str
    failures: int = 0
    open_until: datetime | None = None


class WebhookSender:
    """Delivers due notifications to the parties' webhooks, each party in a task of its own:
    a slow or dead endpoint delays only its own party, never another party nor the deadline
    sweeps (which run in another task). One delivery at a time per party, up to
    ``limits.parties_at_once`` parties at once; every notification is leased just before its
    own POST (whose time the poster bounds), so a lease never runs out while it is in flight
    and a crash only delays it. After ``breaker_failures`` failures in a row a party's endpoint
    is left alone for ``breaker_seconds``: its notifications stay pending without counting
    attempts, then one is tried again."""

    def __init__(self, ports: NotificationPorts, poster: WebhookPoster, policy: DeliveryPolicy,
                 limits: SenderLimits = SenderLimits()) -> None:
        self._ports, self._poster, self._policy, self._limits = ports, poster, policy, limits
        self._serving: dict[int, asyncio.Task[int]] = {}
        self._circuits: dict[int, _Circuit] = {}

    async def start_due(self) -> list[asyncio.Task[int]]:
        """Start serving each party (up to the limit) with a notification due, not served
        already and with its circuit closed; returns the tasks started (each gives how many
        it delivered)."""
        room = self._limits.parties_at_once - len(self._serving)
        if room <= 0:
            return []
        now = self._ports.clock.now()
        skip = [*self._serving, *(party_id for party_id, circuit in self._circuits.items()
                                  if circuit.open_until is not None and circuit.open_until > now)]
        leased = await self._lease(room, skip_parties=skip)
        started = []
        for delivery in leased:
            task = asyncio.create_task(self._serve(delivery))
            self._serving[delivery.party_id] = task
            task.add_done_callback(self._served)
            started.append(task)
        return started

    def _served(self, task: asyncio.Task[int]) -> None:
        for party_id, serving in list(self._serving.items()):
            if serving is task:
                del self._serving[party_id]

    async def deliver_all_due(self) -> int:
        """Deliver everything due now, and wait for it; returns how many were delivered."""
        delivered = 0
        while started := await self.start_due():
            delivered += sum(await asyncio.gather(*started))
        return delivered

    async def run_forever(self, interval: float) -> None:
        """Look for due notifications every ``interval`` seconds (the worker's task)."""
        try:
            while True:
                try:
                    await self.start_due()
                except Unavailable:
                    log.warning("webhooks: database unavailable; retrying")
                except Exception:
                    log.exception("webhooks: leasing failed; retrying")
                await asyncio.sleep(interval)
        finally:
            # Stopped mid-POST: the lease runs out and the notification is tried again.
            serving = list(self._serving.values())
            for task in serving:
                task.cancel()
            await asyncio.gather(*serving, return_exceptions=True)

    async def _lease(self, limit: int, *, skip_parties: Collection[int] = (),
                     party_id: int | None = None) -> list[Delivery]:
        now = self._ports.clock.now()
        async with self._ports.write_uow() as uow:
            leased = await uow.notifications.lease_due(now, now + LEASE, limit,
                                                       skip_parties=skip_parties,
                                                       party_id=party_id)
            await uow.commit()
        return leased

    async def _serve(self, first: Delivery) -> int:
        """One party's due notifications, one after another, until one fails."""
        delivered = 0
        item: Delivery | None = first
        try:
            while item is not None:
                if not await self._deliver(item):
                    break
                delivered += 1
                leased = await self._lease(1, party_id=item.party_id)
                item = leased[0] if leased else None
        except Exception:  # recording failed (database): the lease runs out, it comes again
            log.exception("webhooks: party %d: delivery not recorded", first.party_id)
        return delivered

    async def _deliver(self, item: Delivery) -> bool:
        async def post(delivery: Delivery) -> None:
            await self._poster.post(delivery.url, {"id": delivery.id, **delivery.payload})

        ok = await hand_over_one(self._ports, self._policy, "notification", item,
                                 lambda uow: uow.notifications, post)
        circuit = self._circuits.get(item.party_id)
        if ok:
            self._circuits.pop(item.party_id, None)
            return True
        if circuit is None or circuit.url != item.url:  # a new URL starts afresh
            circuit = self._circuits[item.party_id] = _Circuit(item.url)
        circuit.failures += 1
        if circuit.failures >= self._limits.breaker_failures:
            circuit.open_until = self._ports.clock.now() + timedelta(
                seconds=self._limits.breaker_seconds)
            log.warning("webhooks: party %d's endpoint failed %d times in a row; left alone "
                        "for %.0f s", item.party_id, circuit.failures,
                        self._limits.breaker_seconds)
        return False


async def deliver_due(ports: NotificationPorts, poster: WebhookPoster,
                      policy: DeliveryPolicy) -> int:
    """POST every pending notification whose party has a webhook and whose time has come,
    and wait for it; returns how many were delivered (the worker runs a ``WebhookSender``)."""
    return await WebhookSender(ports, poster, policy).deliver_all_due()
