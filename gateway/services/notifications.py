"""The notifications outbox: listing, webhooks, and delivery with retries and back-off."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta
from urllib.parse import urlsplit

from gateway.domain.parties import Party
from gateway.errors import InvalidRequest
from gateway.services.ports import Notification, Ports, WebhookPoster

log = logging.getLogger(__name__)
LEASE = timedelta(minutes=2)
BATCH = 50


@dataclass(frozen=True)
class DeliveryPolicy:
    max_attempts: int = 8
    backoff_seconds: float = 2.0  # doubled after every failed attempt

    def retry_after(self, attempts: int) -> timedelta | None:
        """When to try again after ``attempts`` failures, or None: give up (dead letter)."""
        if attempts >= self.max_attempts:
            return None
        return timedelta(seconds=self.backoff_seconds * 2 ** (attempts - 1))


async def list_notifications(
    ports: Ports, party: Party, after_id: int = 0, limit: int = 100
) -> list[Notification]:
    if not 1 <= limit <= 500:
        raise InvalidRequest("limit must be between 1 and 500", field="limit")
    async with ports.uow() as uow:
        return await uow.notifications.of_party(party.id, after_id, limit)


async def set_webhook(ports: Ports, party: Party, url: str | None) -> None:
    """Where the party's notifications are POSTed (None: nowhere, they wait in the outbox)."""
    if url is not None:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise InvalidRequest("the webhook must be an http or https URL with a host",
                                 field="url")
    async with ports.write_uow() as uow:
        await uow.parties.set_webhook(party.id, url)
        await uow.commit()


async def deliver_due(ports: Ports, poster: WebhookPoster, policy: DeliveryPolicy) -> int:
    """POST every pending notification whose party has a webhook and whose time has come;
    returns how many were delivered. Off the request path (worker loop)."""
    delivered = 0
    while True:
        now = ports.clock.now()
        async with ports.write_uow() as uow:
            leased = await uow.notifications.lease_due(now, now + LEASE, BATCH)
            await uow.commit()
        if not leased:
            return delivered
        for delivery in leased:
            body = {"id": delivery.id, **delivery.payload}
            try:
                await poster.post(delivery.url, body)
            except Exception as exc:
                attempts = delivery.attempts + 1
                retry = policy.retry_after(attempts)
                async with ports.write_uow() as uow:
                    await uow.notifications.failed(
                        delivery.id, attempts, f"{type(exc).__name__}: {exc}",
                        ports.clock.now() + retry if retry is not None else None)
                    await uow.commit()
                if retry is None:
                    log.warning("notification %d dead after %d attempts", delivery.id, attempts)
                continue
            async with ports.write_uow() as uow:
                await uow.notifications.delivered(delivery.id, ports.clock.now())
                await uow.commit()
            delivered += 1
