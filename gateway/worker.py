"""Background jobs of ``kapu serve`` and ``kapu worker``: deadline sweeps and webhook
deliveries, every few seconds, off the request path. Several processes may run them at once."""

from __future__ import annotations

import asyncio
import logging

import httpx

from gateway.errors import Unavailable
from gateway.services import deadlines, notifications, sandbox
from gateway.services.ports import Ports

log = logging.getLogger(__name__)


class HttpxPoster:
    """Webhook deliveries as JSON POSTs; any non-2xx answer is a failure."""

    def __init__(self, timeout: float) -> None:
        self._client = httpx.AsyncClient(timeout=timeout, follow_redirects=False)

    async def post(self, url: str, body: dict[str, object]) -> None:
        response = await self._client.post(url, json=body,
                                           headers={"User-Agent": "Kapu-webhook/1"})
        response.raise_for_status()

    async def close(self) -> None:
        await self._client.aclose()


async def run_jobs_once(ports: Ports, poster: HttpxPoster,
                        policy: notifications.DeliveryPolicy) -> None:
    if ports.sandbox_clock is not None:
        await sandbox.refresh(ports)
    await deadlines.run_due(ports)
    await notifications.deliver_due(ports, poster, policy)


async def run_forever(ports: Ports, poster: HttpxPoster, policy: notifications.DeliveryPolicy,
                      interval: float) -> None:
    while True:
        try:
            await run_jobs_once(ports, poster, policy)
        except Unavailable:
            log.warning("background jobs: database unavailable; retrying")
        except Exception:
            log.exception("background jobs failed; retrying")
        await asyncio.sleep(interval)
