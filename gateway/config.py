"""Settings: the only code that reads the environment (prefix ``KAPU_``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal
from urllib.parse import unquote, urlsplit

from pydantic import Field, SecretStr, TypeAdapter, ValidationError, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

SANDBOX_IN_PRODUCTION = (
    "KAPU_SANDBOX=1 is refused with KAPU_ENVIRONMENT=production: the sandbox's test clock "
    "would date production evidence"
)
_FLAG = TypeAdapter(bool)


class Settings(BaseSettings):
    """One validated configuration object, built once and passed down."""

    model_config = SettingsConfigDict(env_prefix="KAPU_", extra="ignore")

    database_url: str = "sqlite+aiosqlite:///./var/kapu.db"
    data_dir: Path = Path("./var")
    max_document_bytes: int = Field(default=314_572_800, gt=0)
    retention_days: int = Field(default=30, gt=0, le=3650)
    # A citizen's tartós tár (contract section 18): 30 MB by default.
    permanent_storage_bytes: int = Field(default=31_457_280, ge=0)
    # AVDH (contract 23): a PDF up to avdh_pdf_max_bytes is signed as it is; other files, and
    # larger PDFs up to avdh_max_bytes, are embedded in a new PDF.
    avdh_pdf_max_bytes: int = Field(default=20 * 1024 * 1024, gt=0)
    avdh_max_bytes: int = Field(default=50 * 1024 * 1024, gt=0)
    # e-Papír (contract 24): the attachments of one submission together.
    epapir_max_bytes: int = Field(default=20 * 1024 * 1024, gt=0)
    sandbox: bool = False
    # Hirdetmények (public notices): the portal's system address, a hivatali organisation
    # kapu creates at start; offices publish by sending it a HIRDETMENY form.
    portal_krid: str = Field(default="100000000", pattern=r"^[0-9]{9}$")
    # "production" refuses the demo parties and their published passwords.
    environment: Literal["development", "production"] = "development"
    # Connections per process; PostgreSQL only (SQLite uses its own small pool).
    database_pool_size: int = Field(default=20, gt=0, le=200)
    # The gateway's keys. Development: created under keys_dir (default data_dir/keys) when
    # absent. Production: named files, PKCS#12 or PEM key + certificate, and the CA certificate.
    keys_dir: Path | None = None
    ca_cert_file: Path | None = None
    signing_p12_file: Path | None = None
    signing_key_file: Path | None = None
    signing_cert_file: Path | None = None
    tsa_p12_file: Path | None = None
    tsa_key_file: Path | None = None
    tsa_cert_file: Path | None = None
    avdh_p12_file: Path | None = None
    avdh_key_file: Path | None = None
    avdh_cert_file: Path | None = None
    key_password: SecretStr | None = None
    # Generated receipt-signing and AVDH seal keys: RSA-2048 (the contract's RSA-SHA256), or
    # ECDSA P-256 (about ten times faster to sign); the TSA key: ECDSA P-256, or RSA-2048.
    # Production files may hold either.
    key_algorithm: Literal["rsa", "ecdsa"] = "rsa"
    tsa_key_algorithm: Literal["rsa", "ecdsa"] = "ecdsa"
    # Off only to measure what proof costs (benchmarks/): acceptance without its timestamp,
    # signed receipt and audit entry. Production refuses it.
    acceptance_evidence: bool = True
    # Working-day corrections (TOML rest_days / working_days); default: the shipped file.
    calendar_file: Path | None = None
    # Run the deadline sweeps and webhook deliveries inside serve (kapu worker always does).
    background_jobs: bool = True
    jobs_interval_seconds: float = Field(default=1.0, gt=0)
    # One POST in all; at most a minute, well inside a delivery's two-minute lease.
    webhook_timeout_seconds: float = Field(default=5.0, gt=0, le=60)
    webhook_max_attempts: int = Field(default=8, ge=1, le=50)
    webhook_backoff_seconds: float = Field(default=2.0, gt=0)
    # Webhooks may reach loopback and private addresses: development and tests only
    # (production refuses it; otherwise any party could make the gateway reach inside).
    webhook_allow_private: bool = False
    # Blob files no row names are removed once older than this (section 21): an upload still
    # in flight, here or on another host, is younger. And how often the background jobs look.
    blob_gc_grace_seconds: float = Field(default=3600.0, ge=0)
    # Where documents' bytes live: file:///path (default data_dir/blobs) or an S3-compatible
    # store, s3://BUCKET/PREFIX?endpoint=http://HOST:PORT&region=REGION (section 21).
    blob_url: str | None = None
    s3_access_key_id: str | None = None
    s3_secret_access_key: SecretStr | None = None
    blob_gc_interval_seconds: float = Field(default=900.0, gt=0)
    # Set: /metrics answers only "Authorization: Bearer <token>" (unset: public).
    metrics_token: SecretStr | None = Field(default=None, min_length=16)
    # How often a process records a readiness probe for the availability figure.
    probe_interval_seconds: float = Field(default=60.0, gt=0)
    # A browser session unused this long is over (on the gateway's clock).
    ui_session_minutes: int = Field(default=30, gt=0, le=24 * 60)
    # ... and however busy, no longer than this after its login (a stolen cookie expires).
    ui_session_max_hours: int = Field(default=12, gt=0, le=24 * 30)
    # E-mail notices: smtp://host:port, smtp+starttls://host:port, smtps://user:pw@host:465
    # (a secret: it may hold a password). Unset: .eml files under data_dir/mail.
    smtp_url: SecretStr | None = None
    mail_from: str = "kapu@localhost"
    smtp_timeout_seconds: float = Field(default=10.0, gt=0)
    # The CA that signed a private relay's certificate (default: the system's trust store).
    smtp_ca_file: Path | None = None
    mail_max_attempts: int = Field(default=10, ge=1, le=50)
    mail_backoff_seconds: float = Field(default=5.0, gt=0)
    # Where the links in e-mail notices point: the address people reach Kapu at.
    public_url: str = "http://127.0.0.1:8080"
    # The two notices and the presumption of delivery (225/2009 Korm. r. 35. §,
    # E-ügyintézési tv. 14. § (4) c)), in working days.
    second_notice_working_days: int = Field(default=5, ge=1, le=60)
    presumption_working_days: int = Field(default=5, ge=1, le=60)
    # Overload (admission control, per process): each class of request has this many slots and
    # this many places to wait; a request finding both full, or finding more urgent requests
    # waiting, is answered 503 overloaded with Retry-After (docs/operations.md).
    admission_control: bool = True
    admission_deadlines_limit: int = Field(default=12, ge=1, le=10_000)
    admission_deadlines_queue: int = Field(default=512, ge=0, le=100_000)
    # A burst of uploads is served late rather than refused (clients wait a minute or two).
    admission_deadlines_wait_seconds: float = Field(default=60.0, gt=0)
    admission_standard_limit: int = Field(default=8, ge=1, le=10_000)
    admission_standard_queue: int = Field(default=64, ge=0, le=100_000)
    admission_standard_wait_seconds: float = Field(default=10.0, gt=0)
    admission_sheddable_limit: int = Field(default=4, ge=1, le=10_000)
    admission_sheddable_queue: int = Field(default=32, ge=0, le=100_000)
    admission_sheddable_wait_seconds: float = Field(default=5.0, gt=0)
    # Lower classes are shed once uploads and acknowledgements have been queueing this long
    # without a break.
    admission_patience_seconds: float = Field(default=0.5, ge=0)
    # The sheddable class's slots, queue and wait shrink (halved per interval, down to one
    # slot) while the median latency of uploads and acknowledgements stays above this target,
    # and grow back a slot per interval under it, up to the limits above. 0 turns it off.
    # Off by default: the latency measured runs from arrival to answer, so it includes the
    # time a client takes to send its upload; on a gateway whose uploads come over slow links
    # a fixed target would keep listings at one slot. Benchmarks and trials set it (0.05).
    admission_target_seconds: float = Field(default=0.0, ge=0)
    admission_interval_seconds: float = Field(default=0.5, gt=0)
    overload_retry_after_seconds: int = Field(default=1, ge=1, le=3600)
    # A refusal waits this long before it is sent, so that clients retrying at once cannot
    # flood the gateway with refusals (ops/admission.py).
    overload_shed_delay_seconds: float = Field(default=0.25, ge=0, le=10)

    @model_validator(mode="before")
    @classmethod
    def _no_sandbox_in_production(cls, values: Any) -> Any:
        # Before every other check, field values included: the test clock could otherwise
        # backdate evidence signed with production keys.
        if isinstance(values, dict) and str(values.get("environment", "")).strip() == "production":
            try:
                sandbox = _FLAG.validate_python(values.get("sandbox", False))
            except ValidationError:
                sandbox = True  # unreadable: refused as if on, rather than a later field error
            if sandbox:
                raise ValueError(SANDBOX_IN_PRODUCTION)
        return values

    @model_validator(mode="after")
    def _known_database(self) -> Settings:
        if not self.database_url.startswith(("sqlite+aiosqlite://", "postgresql+asyncpg://")):
            raise ValueError(
                "KAPU_DATABASE_URL must be sqlite+aiosqlite://… or postgresql+asyncpg://…"
            )
        return self

    @model_validator(mode="after")
    def _known_blob_store(self) -> Settings:
        if self.blob_url is not None:
            parts = urlsplit(self.blob_url)
            if parts.scheme == "file" and not parts.path:
                raise ValueError("KAPU_BLOB_URL file:///path needs a path")
            if parts.scheme == "s3" and not parts.netloc:
                raise ValueError("KAPU_BLOB_URL s3://BUCKET/PREFIX?endpoint=… needs a bucket")
            if parts.scheme not in ("file", "s3"):
                raise ValueError("KAPU_BLOB_URL must be file:///path or s3://BUCKET/PREFIX?…")
        return self

    @model_validator(mode="after")
    def _known_smtp(self) -> Settings:
        if self.smtp_url is not None:
            scheme = urlsplit(self.smtp_url.get_secret_value()).scheme
            if scheme not in ("smtp", "smtp+starttls", "smtps"):
                raise ValueError("KAPU_SMTP_URL must be smtp://…, smtp+starttls://… or smtps://…")
        return self

    @model_validator(mode="after")
    def _production_keys(self) -> Settings:
        if self.environment != "production":
            return self
        if not self.acceptance_evidence:
            raise ValueError("production refuses KAPU_ACCEPTANCE_EVIDENCE=0")
        if self.webhook_allow_private:
            raise ValueError("production refuses KAPU_WEBHOOK_ALLOW_PRIVATE=true (webhooks "
                             "that reach loopback and private addresses)")
        missing = []
        if self.ca_cert_file is None:
            missing.append("KAPU_CA_CERT_FILE")
        for role in ("signing", "tsa", "avdh"):
            has_p12 = getattr(self, f"{role}_p12_file") is not None
            has_pem = getattr(self, f"{role}_key_file") and getattr(self, f"{role}_cert_file")
            if not (has_p12 or has_pem):
                missing.append(f"KAPU_{role.upper()}_P12_FILE or KAPU_{role.upper()}_KEY_FILE "
                               f"+ KAPU_{role.upper()}_CERT_FILE")
        if missing:
            raise ValueError("production needs the gateway's keys: set " + "; ".join(missing))
        return self

    @property
    def key_directory(self) -> Path:
        return self.keys_dir or self.data_dir / "keys"

    @property
    def mail_dir(self) -> Path:
        return self.data_dir / "mail"

    @property
    def blob_dir(self) -> Path:
        """The file store's directory (``KAPU_BLOB_URL=file:///path``, or data_dir/blobs)."""
        if self.blob_url is not None and self.blob_url.startswith("file:"):
            return Path(unquote(urlsplit(self.blob_url).path))
        return self.data_dir / "blobs"

    @property
    def blobs_in_s3(self) -> bool:
        return self.blob_url is not None and self.blob_url.startswith("s3:")

    @property
    def temporary_dir(self) -> Path:
        """AVDH's and e-Papír's temporary files (data_dir/tmp/avdh, data_dir/tmp/epapir)."""
        return self.data_dir / "tmp"

    @property
    def spool_dir(self) -> Path:
        """Local room for uploads on their way into an S3 store."""
        return self.data_dir / "spool"

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")
