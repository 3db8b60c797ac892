"""AVDH (contract 23): what a záradék says, and what a verification found. Pure values; the
PDF work is crypto/avdh.py's, the records services/authentication.py's."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime


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


class Kind(enum.StrEnum):
    SIGNED_AS_IS = "signed_as_is"  # a PDF, incrementally signed
    EMBEDDED = "embedded"  # a new PDF with a záradék page, the original embedded


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


class PdfRefused(ValueError):
    """The file cannot be authenticated as given; the message says why (an encrypted PDF,
    an unreadable one). The service answers ``invalid_request`` with it."""


class NotAPdf(ValueError):
    """Verification was given a file that is not a PDF at all (``not_authenticated_pdf``)."""
