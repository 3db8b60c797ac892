"""Builds the FastAPI app and wires everything: the one place that knows every concrete class."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import gc
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI, Request, Response
from sqlalchemy.ext.asyncio import AsyncEngine

import gateway
from gateway.clock import SandboxClock, SystemClock
from gateway.config import Settings
from gateway.crypto.avdh import AvdhSeal
from gateway.crypto.cms import CmsEncryptor
from gateway.crypto.receipts import ReceiptSigner as XmlReceiptSigner
from gateway.crypto.setup import gateway_keys
from gateway.crypto.signing_process import SigningProcess
from gateway.crypto.timestamps import TimestampAuthority
from gateway.domain.calendar import WorkingCalendar
from gateway.errors import Unavailable
from gateway.hkp import router as hkp
from gateway.mailer import mailer_for
from gateway.ops import health, metrics
from gateway.ops.admission import Admission, AdmissionControl, Limits, Priority
from gateway.ops.metrics import PrometheusTelemetry
from gateway.ops.requests import RequestContext, configure_logging
from gateway.pdf.beadvany import BeadvanyRenderer
from gateway.resources import resource_dir
from gateway.rest import (
    apidocs,
    authentication,
    documents,
    epapir,
    evidence,
    lifecycle,
    problems,
    rny,
    storage,
)
from gateway.services import sandbox
from gateway.services.acceptance import recover_interrupted_uploads
from gateway.services.auth import CredentialCache
from gateway.services.blob_gc import content_needed
from gateway.services.notifications import DeliveryPolicy
from gateway.services.ports import Ports
from gateway.services.ports.operations import Clock
from gateway.services.ports.storage import BlobStore
from gateway.storage.blobs import FileBlobStore
from gateway.storage.database import create_engine, reading_engine
from gateway.storage.s3blobs import S3BlobStore, S3Location
from gateway.storage.scratch import LockedTemporaryDirectories
from gateway.storage.uow import SqlUnitOfWork
from gateway.web import router as web
from gateway.webhook_client import HttpxPoster
from gateway.worker import BlobGc, run_forever

log = logging.getLogger(__name__)
CallNext = Callable[[Request], Awaitable[Response]]


@dataclass
class Runtime:
    engine: AsyncEngine
    ports: Ports


def blob_store_of(settings: Settings) -> BlobStore:
    """The filesystem store (the embedded default) or an S3-compatible one (section 21)."""
    if not settings.blobs_in_s3:
        return FileBlobStore(settings.blob_dir)
    assert settings.blob_url is not None
    secret = settings.s3_secret_access_key
    return S3BlobStore(S3Location.parse(settings.blob_url), settings.s3_access_key_id,
                       secret.get_secret_value() if secret else None, settings.spool_dir)


def build_runtime(settings: Settings, *, clock: Clock | None = None,
                  signing_process: bool = False) -> Runtime:
    """Engine, blob store and ports for ``settings`` (shared by the app and the CLI).
    ``signing_process``: sign evidence in a child process (the server); otherwise in worker
    threads (a command signs a few receipts at most)."""
    engine = create_engine(settings.database_url, pool_size=settings.database_pool_size)
    read_engine = reading_engine(engine)
    write_lock = asyncio.Lock() if settings.is_sqlite else None
    base_clock = clock or SystemClock()
    # The sandbox's test clock runs from the given clock (the system's, or a test's).
    sandbox_clock = SandboxClock(base_clock) if settings.sandbox else None
    keys = gateway_keys(settings, now=base_clock.now())
    metrics.certificates_expire({
        "ca": keys.ca_cert.not_valid_after_utc.timestamp(),
        "signing": keys.signing_cert.not_valid_after_utc.timestamp(),
        "timestamping": keys.tsa_cert.not_valid_after_utc.timestamp(),
        "avdh": keys.avdh_cert.not_valid_after_utc.timestamp(),
    })
    calendar_file = settings.calendar_file or resource_dir("calendar") / "hu.toml"
    ports = Ports(
        uow=lambda: SqlUnitOfWork(read_engine, write=False),
        write_uow=lambda: SqlUnitOfWork(engine, write=True, write_lock=write_lock),
        blobs=blob_store_of(settings),
        clock=sandbox_clock or base_clock,
        retention_days=settings.retention_days,
        max_document_bytes=settings.max_document_bytes,
        timestamper=TimestampAuthority(keys.tsa_key, keys.tsa_cert),
        authenticator=AvdhSeal(keys.avdh_key, keys.avdh_cert, keys.ca_cert,
                               TimestampAuthority(keys.tsa_key, keys.tsa_cert).timestamp,
                               settings.avdh_pdf_max_bytes),
        receipt_signer=XmlReceiptSigner(keys.signing_key, keys.signing_cert),
        evidence_signer=SigningProcess(keys.tsa_key, keys.tsa_cert, keys.signing_key,
                                       keys.signing_cert) if signing_process else None,
        encryptor=CmsEncryptor(),
        trust_pem=keys.ca_pem,
        temporary=LockedTemporaryDirectories(settings.temporary_dir),
        telemetry=PrometheusTelemetry(),
        acceptance_evidence=settings.acceptance_evidence,
        calendar=WorkingCalendar.from_file(calendar_file),
        sandbox_clock=sandbox_clock,
        mail_transport=mailer_for(settings),
        mail_from=settings.mail_from,
        public_url=settings.public_url,
        second_notice_working_days=settings.second_notice_working_days,
        presumption_working_days=settings.presumption_working_days,
        mail_max_attempts=settings.mail_max_attempts,
        mail_backoff_seconds=settings.mail_backoff_seconds,
        permanent_storage_bytes=settings.permanent_storage_bytes,
        webhook_allow_private=settings.webhook_allow_private,
        avdh_max_bytes=settings.avdh_max_bytes,
        epapir_max_bytes=settings.epapir_max_bytes,
        submission_renderer=BeadvanyRenderer(),
    )
    if isinstance(ports.blobs, S3BlobStore):
        ports.blobs.needed = functools.partial(content_needed, ports)
    return Runtime(engine, ports)


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
    return Admission(limits, settings.admission_patience_seconds)


def create_app(settings: Settings | None = None, *, clock: Clock | None = None) -> FastAPI:
    """The gateway as an ASGI app. Migrations are applied by the caller (``kapu serve``)."""
    settings = settings or Settings()
    configure_logging()
    runtime = build_runtime(settings, clock=clock, signing_process=True)

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
    app.include_router(lifecycle.router)
    app.include_router(lifecycle.sandbox_router)
    app.include_router(storage.router)
    app.include_router(authentication.router)
    apidocs.install(app)
    # The pages' assets first: the pages' router ends in a catch-all for /ui/….
    app.mount("/ui/static", web.static, name="ui-static")
    app.include_router(web.router)
    app.include_router(web.root)
    return app
