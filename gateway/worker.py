"""Background jobs of ``kapu serve`` and ``kapu worker``: deadline sweeps and e-mail every
few seconds, webhook deliveries in a task of their own, all off the request path; the blob
store's garbage now and then. Several processes may run them at once."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass

from gateway.errors import Unavailable
from gateway.ops import metrics
from gateway.services import (
    audit,
    blob_gc,
    deadlines,
    mail,
    mandates,
    notifications,
    operations,
    sandbox,
)
from gateway.services.ports import Ports
from gateway.services.ports.outbox import WebhookPoster
from gateway.services.statement_registration import OWED_GRACE, sign_owed

log = logging.getLogger(__name__)


async def run_jobs_once(ports: Ports) -> None:
    if ports.sandbox_clock is not None:
        await sandbox.refresh(ports)
    await audit.link_pending(ports)
    try:
        await sign_owed(ports, ports.clock.now() - OWED_GRACE)
    except Unavailable:
        raise
    except Exception:
        # A receipt that cannot be signed must not hold up the deadlines below: it stays
        # owed, is tried again next time, and the alert on kapu_acceptance_receipts_owed fires.
        log.exception("signing owed acceptance receipts failed; trying again next time")
    await deadlines.run_due(ports)
    await mandates.notice_expired(ports)  # queues both sides' e-mail, sent just below
    await mail.deliver_due(ports)


GAUGES_EVERY = 15.0


async def _probe(ports: Ports) -> None:
    """A readiness probe, and this month's availability with it (both change only here)."""
    metrics.READY.set(1 if await operations.record_probe(ports) else 0)
    percent = await operations.month_availability(ports)
    if percent is not None:
        metrics.AVAILABILITY.set(percent)


async def _observe(ports: Ports, sample: Callable[[], None] | None) -> None:
    backlog, lag = await operations.backlog_and_lag(ports)
    metrics.BACKLOG.set(backlog)
    metrics.DEADLINE_LAG.set(lag)
    for channel, (waiting, dead) in (await operations.outbox_counts(ports)).items():
        metrics.OUTBOX_BACKLOG.labels(channel=channel).set(waiting)
        metrics.OUTBOX_DEAD.labels(channel=channel).set(dead)
    metrics.RECEIPTS_OWED.set(await operations.acceptance_receipts_owed(ports))
    unlinked, link_lag = await audit.link_lag(ports)
    metrics.AUDIT_UNLINKED.set(unlinked)
    metrics.AUDIT_LINK_LAG.set(link_lag)
    if sample is not None:
        sample()


@dataclass(frozen=True)
class BlobGc:
    """How often the background jobs collect the blob store's garbage, and the grace."""

    interval_seconds: float = 900.0
    grace_seconds: float = 3600.0


async def run_forever(ports: Ports, poster: WebhookPoster, policy: notifications.DeliveryPolicy,
                      interval: float, probe_interval: float = 60.0,
                      sample: Callable[[], None] | None = None,
                      gc: BlobGc | None = None) -> None:
    """Deadline sweeps and e-mail every ``interval``; a readiness probe (for the
    availability figure) every ``probe_interval``; gauges every 15 s; the blob store's
    garbage every ``gc.interval_seconds``, the first time one interval after start. Webhooks
    in a task of their own (``notifications.WebhookSender``), so that a slow endpoint never
    holds up a deadline sweep."""
    webhooks = asyncio.create_task(
        notifications.WebhookSender(ports, poster, policy).run_forever(interval))
    try:
        await _run_jobs(ports, interval, probe_interval, sample, gc or BlobGc())
    finally:
        webhooks.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await webhooks


async def _run_jobs(ports: Ports, interval: float, probe_interval: float,
                    sample: Callable[[], None] | None, gc: BlobGc) -> None:
    loop = asyncio.get_running_loop()
    next_probe = next_gauges = loop.time()
    next_gc = loop.time() + gc.interval_seconds
    while True:
        try:
            if loop.time() >= next_gc:
                next_gc = loop.time() + gc.interval_seconds
                done = await blob_gc.collect_blob_garbage(ports, gc.grace_seconds)
                if done.removed or done.placed or done.aborted_uploads:
                    log.warning("blob store: removed %d and placed %d of %d old files, "
                                "aborted %d unfinished uploads", done.removed, done.placed,
                                done.examined, done.aborted_uploads)
            if loop.time() >= next_probe:
                next_probe = loop.time() + probe_interval
                await _probe(ports)
            await run_jobs_once(ports)
            if loop.time() >= next_gauges:
                next_gauges = loop.time() + GAUGES_EVERY
                await _observe(ports, sample)
        except Unavailable:
            log.warning("background jobs: database unavailable; retrying")
        except Exception:
            log.exception("background jobs failed; retrying")
        await asyncio.sleep(interval)
