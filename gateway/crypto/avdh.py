"""AVDH: the hitelesített PDF (contract 23), made and checked with pyHanko.

Pure and synchronous: bytes and files in, bytes and verdicts out. The service
(``services/authentication.py``) runs these in a worker thread and records what they made.

- :func:`authenticate` turns any allowed file into a hitelesített PDF: a PDF up to
  ``pdf_max_bytes`` that is not encrypted is signed *as it is* (an incremental update whose
  prefix is the original, the záradék as the signature's visible stamp on page 1); anything else
  becomes a new PDF whose page 1 is the záradék and which embeds the original unchanged
  (``/EmbeddedFiles``, ``AFRelationship /Source``), then signed the same way.
- :func:`seal_pdf` signs a PDF the gateway made itself (the e-Papír beadvány) as it is.
- :func:`verify` says whether a PDF is one of this gateway's, intact, and by whom and when.

The signature is PAdES B-T: CMS (``ETSI.CAdES.detached``), SHA-256, by the AVDH seal key,
with a signature timestamp from the gateway's own TSA dated on the gateway's clock.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import BinaryIO

from cryptography import x509

from gateway.crypto.keys import SigningKey

# (SHA-256 hex of the data to stamp, the moment) -> DER TimeStampToken: the gateway's TSA,
# TimestampAuthority.timestamp.
Timestamp = Callable[[str, datetime], bytes]


@dataclass(frozen=True)
class Original:
    """What was authenticated: the file as the person gave it."""

    file_name: str
    size: int
    sha256: str


@dataclass(frozen=True)
class Clause:
    """The záradék: who authenticated what, and when (Budapest time on the stamp)."""

    person_name: str
    username: str
    # "Name (KRID 123456789)" when staff authenticate for an office; None for a citizen.
    office: str | None
    at: datetime
    original: Original
    # Where anyone can check it: KAPU_PUBLIC_URL + /ui/verify.
    verify_url: str


@dataclass(frozen=True)
class Seal:
    """The AVDH seal key and certificate, the CA above them, and the gateway's TSA."""

    key: SigningKey
    certificate: x509.Certificate
    ca_certificate: x509.Certificate
    timestamp: Timestamp


class Kind(enum.StrEnum):
    SIGNED_AS_IS = "signed_as_is"  # a PDF, incrementally signed
    EMBEDDED = "embedded"  # a new PDF with a záradék page, the original embedded


class PdfRefused(ValueError):
    """The file cannot be authenticated as given; the message says why (an encrypted PDF,
    an unreadable one). The service answers ``invalid_request`` with it."""


def authenticate(source: Path, clause: Clause, seal: Seal, output: BinaryIO, *,
                 media_type: str, pdf_max_bytes: int) -> Kind:
    """Write the hitelesített PDF of ``source`` (the original, ``clause.original``) to
    ``output``; ``media_type`` is the original's MIME type for the embedded file."""
    raise NotImplementedError


def seal_pdf(source: BinaryIO, clause: Clause, seal: Seal, output: BinaryIO) -> None:
    """Sign a PDF as it is (an incremental update) with the záradék as the visible stamp."""
    raise NotImplementedError


class Reason(enum.StrEnum):
    """Why a PDF is not a valid hitelesített PDF of this gateway, as a person can act on it."""

    NOT_SIGNED = "not_signed"
    SIGNED_BY_SOMEONE_ELSE = "signed_by_someone_else"
    CHANGED_AFTER_SIGNING = "changed_after_signing"
    TIMESTAMP_MISSING = "timestamp_missing"


@dataclass(frozen=True)
class Verdict:
    valid: bool
    reason: Reason | None  # None when valid
    # The signature's /Name (the person who authenticated, as the záradék names them).
    authenticated_by: str | None
    # The signature timestamp's time (the TSA's genTime), when there is one.
    authenticated_at: datetime | None
    # From the PDF itself: the embedded original, or for a PDF signed as it is the revision
    # before the signature (its size and SHA-256; its file name from the signature).
    original: Original | None
    # SHA-256 of the whole file given, for the gateway's record (issued_here).
    sha256: str


class NotAPdf(ValueError):
    """The file is not a PDF at all (``not_authenticated_pdf``)."""


def verify(source: Path, ca_certificate: x509.Certificate, *, at: datetime) -> Verdict:
    """Check ``source`` against the gateway CA at the moment ``at`` (the gateway's clock)."""
    raise NotImplementedError
