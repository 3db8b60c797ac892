"""The ports for a ``Settings``: the one place that wires every concrete class behind them,
for the server (``gateway.app``) and the command line alike.

It imports nothing of the server (FastAPI, the doors): a ``kapu …`` command starts in about
0.7 s. What only some processes need is imported where it is made: the signing process (the
server), boto (an S3 store), and, at their first use, the AVDH seal (pyHanko) and the
beadvány renderer (fpdf2): no command uses them, and a server start need not import them (most
of a second of CPU) before the first authentication or e-Papír asks for them. The TSA, the
receipt signer and the CMS encryptor (asn1crypto, lxml, xmlsec; about 30 ms) are made at their
first use too: few commands sign or encrypt."""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

from sqlalchemy.ext.asyncio import AsyncEngine

from gateway.clock import SandboxClock, SystemClock
from gateway.config import Settings
from gateway.crypto.keys import GatewayKeys
from gateway.crypto.setup import gateway_keys
from gateway.domain.calendar import WorkingCalendar
from gateway.mailer import mailer_for
from gateway.ops import metrics
from gateway.ops.metrics import PrometheusTelemetry
from gateway.resources import resource_dir
from gateway.services.ports import Ports
from gateway.services.ports.operations import Clock
from gateway.services.ports.storage import BlobStore
from gateway.storage.blobs import FileBlobStore
from gateway.storage.database import create_engine, reading_engine
from gateway.storage.scratch import LockedTemporaryDirectories
from gateway.storage.uow import SqlUnitOfWork

if TYPE_CHECKING:
    from collections.abc import Iterable

    from gateway.domain.authentication import Clause, Kind, Verdict
    from gateway.domain.epapir import Submission, SubmissionAttachment
    from gateway.domain.outages import OutageStatement
    from gateway.domain.receipts import ReceiptContent
    from gateway.services.ports.evidence import (
        Encryptor,
        PdfAuthenticator,
        ReceiptSigner,
        SubmissionRenderer,
        Timestamper,
    )


@dataclass
class Runtime:
    engine: AsyncEngine
    ports: Ports


class LazyAuthenticator:
    """The AVDH seal (``crypto.avdh.AvdhSeal``), made at its first use."""

    def __init__(self, make: Callable[[], PdfAuthenticator]) -> None:
        self._make = make

    @functools.cached_property
    def _seal(self) -> PdfAuthenticator:
        return self._make()

    def authenticate(self, source: Path, clause: Clause, output: BinaryIO, *,
                     media_type: str) -> Kind:
        return self._seal.authenticate(source, clause, output, media_type=media_type)

    def seal(self, source: BinaryIO, clause: Clause, output: BinaryIO) -> None:
        self._seal.seal(source, clause, output)

    def verify(self, source: Path, *, at: datetime) -> Verdict:
        return self._seal.verify(source, at=at)


class LazyRenderer:
    """The beadvány renderer (``pdf.beadvany.BeadvanyRenderer``), made at its first use."""

    @functools.cached_property
    def _renderer(self) -> SubmissionRenderer:
        return _renderer()

    def render(self, submission: Submission, attachments: list[SubmissionAttachment],
               output: BinaryIO) -> None:
        self._renderer.render(submission, attachments, output)


class LazyTimestamper:
    """The TSA (``crypto.timestamps.TimestampAuthority``), made at its first token: it imports
    asn1crypto and signs a reference token when made, which no command but a few needs."""

    def __init__(self, keys: GatewayKeys) -> None:
        self._keys = keys

    @functools.cached_property
    def _authority(self) -> Timestamper:
        from gateway.crypto.timestamps import TimestampAuthority

        return TimestampAuthority(self._keys.tsa_key, self._keys.tsa_cert)

    def timestamp(self, sha256_hex: str, at: datetime) -> bytes:
        return self._authority.timestamp(sha256_hex, at)


class LazyReceiptSigner:
    """The receipt signer (``crypto.receipts.ReceiptSigner``: lxml and xmlsec), made at its
    first receipt."""

    def __init__(self, keys: GatewayKeys) -> None:
        self._keys = keys

    @functools.cached_property
    def _signer(self) -> ReceiptSigner:
        from gateway.crypto.receipts import ReceiptSigner as XmlReceiptSigner

        return XmlReceiptSigner(self._keys.signing_key, self._keys.signing_cert)

    def sign(self, content: ReceiptContent) -> bytes:
        return self._signer.sign(content)

    def sign_outage(self, statement: OutageStatement) -> bytes:
        return self._signer.sign_outage(statement)


class LazyEncryptor:
    """The CMS encryptor (``crypto.cms.CmsEncryptor``: asn1crypto), made at its first use."""

    @functools.cached_property
    def _encryptor(self) -> Encryptor:
        from gateway.crypto.cms import CmsEncryptor

        return CmsEncryptor()

    def enveloped_size(self, size: int, certificate_der: bytes) -> int:
        return self._encryptor.enveloped_size(size, certificate_der)

    def envelope(self, chunks: Iterable[bytes], size: int, certificate_der: bytes,
                 write: Callable[[bytes], None]) -> None:
        self._encryptor.envelope(chunks, size, certificate_der, write)


def _renderer() -> SubmissionRenderer:
    from gateway.pdf.beadvany import BeadvanyRenderer  # fpdf2

    return BeadvanyRenderer()


def blob_store_of(settings: Settings) -> BlobStore:
    """The filesystem store (the embedded default) or an S3-compatible one (section 21)."""
    if not settings.blobs_in_s3:
        return FileBlobStore(settings.blob_dir)
    from gateway.storage.s3blobs import S3BlobStore, S3Location  # boto: only for S3

    assert settings.blob_url is not None
    secret = settings.s3_secret_access_key
    return S3BlobStore(S3Location.parse(settings.blob_url), settings.s3_access_key_id,
                       secret.get_secret_value() if secret else None, settings.spool_dir)


def build_runtime(settings: Settings, *, clock: Clock | None = None,
                  signing_process: bool = False) -> Runtime:
    """Engine, blob store and ports for ``settings``. ``signing_process``: sign evidence in a
    child process (the server); otherwise in worker threads (a command signs a few receipts
    at most). The AVDH seal, the beadvány renderer, the TSA, the receipt signer and the
    encryptor are made (and their libraries imported) when first used."""
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

    def avdh_seal() -> PdfAuthenticator:
        from gateway.crypto.avdh import AvdhSeal  # pyHanko
        from gateway.crypto.timestamps import TimestampAuthority

        return AvdhSeal(keys.avdh_key, keys.avdh_cert, keys.ca_cert,
                        TimestampAuthority(keys.tsa_key, keys.tsa_cert).timestamp,
                        settings.avdh_pdf_max_bytes)

    evidence_signer = None
    if signing_process:
        from gateway.crypto.signing_process import SigningProcess

        evidence_signer = SigningProcess(keys.tsa_key, keys.tsa_cert, keys.signing_key,
                                         keys.signing_cert)
    calendar_file = settings.calendar_file or resource_dir("calendar") / "hu.toml"
    ports = Ports(
        uow=lambda: SqlUnitOfWork(read_engine, write=False),
        write_uow=lambda: SqlUnitOfWork(engine, write=True, write_lock=write_lock),
        statement_uow=lambda: SqlUnitOfWork(engine, write=True, write_lock=write_lock,
                                            each_statement_commits=True),
        blobs=blob_store_of(settings),
        clock=sandbox_clock or base_clock,
        retention_days=settings.retention_days,
        max_document_bytes=settings.max_document_bytes,
        timestamper=LazyTimestamper(keys),
        authenticator=LazyAuthenticator(avdh_seal),
        receipt_signer=LazyReceiptSigner(keys),
        evidence_signer=evidence_signer,
        encryptor=LazyEncryptor(),
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
        submission_renderer=LazyRenderer(),
        portal_krid=settings.portal_krid,
    )
    if settings.blobs_in_s3:
        from gateway.services.blob_gc import content_needed
        from gateway.storage.s3blobs import S3BlobStore

        assert isinstance(ports.blobs, S3BlobStore)
        ports.blobs.needed = functools.partial(content_needed, ports)
    return Runtime(engine, ports)
