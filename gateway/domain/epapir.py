"""e-Papír (contract 24): what a submission says, as the beadvány PDF shows it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

# An office that set no topics offers this one (contract 24).
GENERAL_TOPIC_CODE = "ALTALANOS"
GENERAL_TOPIC_NAME = "általános ügy"
SUBJECT_MAX_CHARS = 200
TEXT_MAX_CHARS = 10_000
MAX_ATTACHMENTS = 10
DOC_TYPE_OFFICE = "EPAPIR"


@dataclass(frozen=True)
class Submission:
    """The beadvány's words and who it is from and to."""

    sender_name: str
    # "kapcsolati kód …" of a citizen, or "KRID …" of the organisation staff write for.
    sender_address: str
    # The person who wrote it when staff write for an organisation; None for a citizen.
    acting_person: str | None
    office_name: str
    office_krid: str
    topic_code: str
    topic_name: str
    subject: str
    text: str
    at: datetime  # the gateway's clock; shown in Budapest time
    reference_number: str | None


@dataclass(frozen=True)
class SubmissionAttachment:
    """One attachment, staged on disk, embedded unchanged."""

    path: Path
    file_name: str
    media_type: str
    size: int
    sha256: str
