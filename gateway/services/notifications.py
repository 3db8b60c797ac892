"""The notifications outbox: listing, webhooks, and delivery with retries and back-off."""

from __future__ import annotations

import logging

from gateway.domain.parties import Party
from gateway.errors import InvalidRequest
from gateway.services.outbox import DeliveryPolicy, drain
from gateway.services.ports import Delivery, Notification, Ports, WebhookPoster
from gateway.services.webhook_addresses import check_webhook_url

__all__ = ["DeliveryPolicy", "deliver_due", "list_notifications", "set_webhook"]

log = logging.getLogger(__name__)
BATCH = 50


async def list_notifications(
    ports: Ports, party: Party, after_id: int = 0, limit: int = 100
) -> list[Notification]:
    if not 1 <= limit <= 500:
        raise InvalidRequest("limit must be between 1 and 500", field="limit")
    async with ports.uow() as uow:
        return await uow.notifications.of_party(party.id, after_id, limit)


async def set_webhook(ports: Ports, party: Party, url: str | None) -> None:
    """Where the party's notifications are POSTed (None: nowhere, they wait in the outbox).
    Security: only http(s) to a public address, without credentials in the URL (server-side
    request forgery; ``webhook_addresses.check_webhook_url``)."""
    if url is not None:
        await check_webhook_url(url, ports.webhook_allow_private)
    async with ports.write_uow() as uow:
        await uow.parties.set_webhook(party.id, url)
        await uow.commit()


async def deliver_due(ports: Ports, poster: WebhookPoster, policy: DeliveryPolicy) -> int:
    """POST every pending notification whose party has a webhook and whose time has come;
    returns how many were delivered. Off the request path (worker loop)."""

    async def post(delivery: Delivery) -> None:
        await poster.post(delivery.url, {"id": delivery.id, **delivery.payload})

    return await drain(
        ports, policy, "notification",
        lease=lambda uow, now, until: uow.notifications.lease_due(now, until, BATCH),
        outcomes=lambda uow: uow.notifications, hand_over=post)
