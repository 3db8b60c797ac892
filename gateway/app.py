"""Builds the FastAPI app: its doors, middleware and background jobs, on the ports that
gateway/wiring.py wires (the one place that knows every concrete class behind them)."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request, Response
from sqlalchemy.ext.asyncio import AsyncEngine

import gateway
from gateway.config import Settings
from gateway.errors import Unavailable
from gateway.hkp import router as hkp
from gateway.ops import health, metrics
from gateway.ops.admission import Admission, AdmissionControl, Priority
from gateway.ops.requests import RequestContext, configure_logging
from gateway.ops.shedding import Health, Limits
from gateway.rest import (
    apidocs,
    authentication,
    documents,
    epapir,
    evidence,
    lifecycle,
    problems,
    public_notices,
    rny,
    storage,
)
from gateway.services import sandbox
from gateway.services.acceptance import recover_interrupted_uploads
from gateway.services.auth import CredentialCache
from gateway.services.notifications import DeliveryPolicy
from gateway.services.ports.operations import Clock
from gateway.services.public_notices import ensure_portal
from gateway.services.statement_registration import sign_owed
from gateway.web import public_notices as notice_pages
from gateway.web import router as web
from gateway.webhook_client import HttpxPoster
from gateway.wiring import build_runtime
from gateway.worker import BlobGc, run_forever

log = logging.getLogger(__name__)
CallNext = Callable[[Request], Awaitable[Response]]


def sample_pool(engine: AsyncEngine) -> None:
    pool: Any = engine.pool
    if hasattr(pool, "checkedout"):
        metrics.POOL_IN_USE.set(pool.checkedout())
        metrics.POOL_SIZE.set(pool.size())


def blob_gc_of(settings: Settings) -> BlobGc:
    return BlobGc(settings.blob_gc_interval_seconds, settings.blob_gc_grace_seconds)


def delivery_policy(settings: Settings) -> DeliveryPolicy:
    return DeliveryPolicy(settings.webhook_max_attempts, settings.webhook_backoff_seconds)


def poster_of(settings: Settings) -> HttpxPoster:
    return HttpxPoster(settings.webhook_timeout_seconds,
                       allow_private=settings.webhook_allow_private)


def admission_of(settings: Settings) -> Admission:
    limits = {priority: Limits(*(getattr(settings, f"admission_{priority.label}_{name}")
                                 for name in ("limit", "queue", "wait_seconds")))
              for priority in Priority}
    health = (Health(settings.admission_target_seconds, settings.admission_interval_seconds)
              if settings.admission_target_seconds > 0 else None)
    return Admission(limits, settings.admission_patience_seconds, health)


def create_app(settings: Settings | None = None, *, clock: Clock | None = None,
               signing_process: bool = True) -> FastAPI:
    """The gateway as an ASGI app. Migrations are applied by the caller (``kapu serve``).

    ``signing_process``: evidence is signed in a child process, as ``kapu serve`` does. The
    in-process test suite signs in worker threads instead (the same signatures): it builds
    hundreds of apps, and each child's start costs about 0.25 s of CPU."""
    settings = settings or Settings()
    configure_logging()
    runtime = build_runtime(settings, clock=clock, signing_process=signing_process)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        try:
            await asyncio.to_thread(runtime.ports.temporary.sweep)
        except OSError:
            # Leftovers only take room: the next start removes them.
            log.exception("start-up removal of leftover temporary files failed; serving anyway")
        try:
            placed = await recover_interrupted_uploads(runtime.ports)
        except Exception:
            # Housekeeping the blob collector repeats: a worker that cannot do it now (the
            # database not answering yet, say) still serves, and /ready tells how it is.
            log.exception("start-up recovery of interrupted uploads failed; serving anyway, "
                          "the blob collector retries it")
        else:
            if placed:
                log.warning("placed %d blobs left by an interrupted upload", placed)
        try:
            signed = await sign_owed(runtime.ports, runtime.ports.clock.now())
        except Exception:
            log.exception("start-up signing of owed acceptance receipts failed; serving "
                          "anyway, the background jobs retry it")
        else:
            if signed:
                log.warning("signed %d acceptance receipts owed by uploads a stop cut off",
                            signed)
        try:
            await ensure_portal(runtime.ports)
        except Exception:
            log.exception("start-up registration of the hirdetmény portal (KRID %s) failed;"
                          " serving anyway, notices are refused until a start succeeds",
                          settings.portal_krid)
        # Everything loaded so far lives as long as the process: keep it out of the collector's
        # full passes, which otherwise rescan it and stall requests (a p99 effect).
        gc.collect()
        gc.freeze()
        poster = poster_of(settings)
        jobs = None
        if settings.background_jobs:
            jobs = asyncio.create_task(run_forever(
                runtime.ports, poster, delivery_policy(settings),
                settings.jobs_interval_seconds, settings.probe_interval_seconds,
                sample=lambda: sample_pool(runtime.engine), gc=blob_gc_of(settings)))
        yield
        if jobs is not None:
            jobs.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await jobs
        await poster.close()
        if runtime.ports.evidence_signer is not None:
            await runtime.ports.evidence_signer.close()
        await runtime.ports.blobs.close()
        await runtime.engine.dispose()

    app = FastAPI(
        title="Kapu",
        version=gateway.__version__,
        description="A stand-in for the KR machine Office Gateway (gépi Hivatali Kapu).",
        lifespan=lifespan,
        # Served by gateway/rest/apidocs.py from Kapu's own assets, not a CDN's.
        docs_url=None, redoc_url=None,
    )
    app.state.settings = settings
    app.state.ports = runtime.ports
    app.state.credential_cache = CredentialCache()
    problems.install(app)
    if settings.admission_control:
        app.state.admission = admission_of(settings)
        app.add_middleware(AdmissionControl, admission=app.state.admission,
                           retry_after=settings.overload_retry_after_seconds,
                           shed_delay=settings.overload_shed_delay_seconds,
                           throttle=app.state.credential_cache.throttle,
                           clock=runtime.ports.clock)
    app.add_middleware(RequestContext)
    if runtime.ports.sandbox_clock is not None:
        @app.middleware("http")
        async def shared_test_clock(request: Request, call_next: CallNext) -> Response:
            # Another process may have moved the test clock: read the shared offset first.
            with contextlib.suppress(Unavailable):
                await sandbox.refresh(runtime.ports)
            return await call_next(request)

    app.include_router(health.router)
    # Before the REST routers: a SOAP call is matched after the three routes of /hkp, not
    # after some forty of /api/v1.
    app.include_router(hkp.router)
    app.include_router(documents.router)
    app.include_router(epapir.router)
    app.include_router(rny.router)
    app.include_router(evidence.router)
    app.include_router(evidence.public)
    app.include_router(public_notices.router)
    app.include_router(lifecycle.router)
    app.include_router(lifecycle.sandbox_router)
    app.include_router(storage.router)
    app.include_router(authentication.router)
    apidocs.install(app)
    # The pages' assets first: the pages' router ends in a catch-all for /ui/….
    app.mount("/ui/static", web.static, name="ui-static")
    app.include_router(web.router)
    app.include_router(web.root)
    # Public, no login: the hirdetmények at the addresses the contract names (not under /ui).
    app.include_router(notice_pages.router)
    return app
