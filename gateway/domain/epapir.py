"""e-Papír (contract 24): what a submission says, as the beadvány PDF shows it."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum
from pathlib import Path

from gateway.domain.limits import forbidden_character
from gateway.errors import InvalidRequest

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


# An office's topics (contract 24): codes as the KR's DokTipusAzonosito takes them, names as
# people read them; the web and the command line write one topic as ``CODE=NAME``.
TOPIC_CODE_MAX_CHARS = 32
TOPIC_NAME_MAX_CHARS = 200
MAX_TOPICS = 50
_TOPIC_CODE = re.compile(rf"[A-Z0-9_]{{1,{TOPIC_CODE_MAX_CHARS}}}")


class TopicFault(StrEnum):
    NO_SEPARATOR = "no_separator"  # an entry without ``=``
    BAD_CODE = "bad_code"
    EMPTY_NAME = "empty_name"
    LONG_NAME = "long_name"
    BAD_CHARACTER = "bad_character"  # a control or format character in the name
    DUPLICATE = "duplicate"
    TOO_MANY = "too_many"


@dataclass(frozen=True)
class TopicRefusal:
    """Why a list of topics is refused: the first fault, the entry's place (from 1; 0 for the
    list as a whole) and the entry as written, for a door to say in its own words."""

    fault: TopicFault
    position: int
    entry: str
    character: str = ""  # the forbidden character, for BAD_CHARACTER

    def describe(self) -> str:
        """The refusal in one English line (the command line's and the REST API's)."""
        if self.fault is TopicFault.TOO_MANY:
            return f"too many topics: {self.position} given, at most {MAX_TOPICS}"
        reason = {
            TopicFault.NO_SEPARATOR: "write it as CODE=NAME",
            TopicFault.BAD_CODE: f"the code must be 1–{TOPIC_CODE_MAX_CHARS} characters of "
                                 "A–Z, 0–9 and _",
            TopicFault.EMPTY_NAME: "the name is empty",
            TopicFault.LONG_NAME: f"the name is longer than {TOPIC_NAME_MAX_CHARS} characters",
            TopicFault.BAD_CHARACTER: f"the name holds U+{ord(self.character or ' '):04X} "
                                      "(a control or format character)",
            TopicFault.DUPLICATE: "that code is given twice",
        }[self.fault]
        # A control or format character is shown escaped: printed, it could turn the line.
        shown = "".join(character if character.isprintable() else f"\\u{ord(character):04x}"
                        for character in self.entry)
        return f'bad topic "{shown}": {reason}'


def _shown(code: str, name: str) -> str:
    return f"{code}={name}"[:80]


def topic_refusal(topics: Sequence[tuple[str, str]]) -> TopicRefusal | None:
    """The first fault of ``topics`` (code, name pairs), or None when every code is 1–32 of
    A–Z, 0–9 and _, unique, every name 1–200 characters with no control or format character,
    and there are at most 50."""
    if len(topics) > MAX_TOPICS:
        return TopicRefusal(TopicFault.TOO_MANY, len(topics), "")
    seen: set[str] = set()
    for position, (code, name) in enumerate(topics, start=1):
        entry = _shown(code, name)
        if _TOPIC_CODE.fullmatch(code) is None:
            return TopicRefusal(TopicFault.BAD_CODE, position, entry)
        if not name.strip():
            return TopicRefusal(TopicFault.EMPTY_NAME, position, entry)
        if len(name) > TOPIC_NAME_MAX_CHARS:
            return TopicRefusal(TopicFault.LONG_NAME, position, entry)
        character = forbidden_character(name)
        if character is not None:
            return TopicRefusal(TopicFault.BAD_CHARACTER, position, entry, character)
        if code in seen:
            return TopicRefusal(TopicFault.DUPLICATE, position, entry)
        seen.add(code)
    return None


def read_topics(entries: Sequence[str]) -> list[tuple[str, str]] | TopicRefusal:
    """``CODE=NAME`` entries (spaces around either side dropped) as code, name pairs, or the
    first fault of them."""
    topics: list[tuple[str, str]] = []
    for position, entry in enumerate(entries, start=1):
        code, separator, name = entry.partition("=")
        if not separator:
            return TopicRefusal(TopicFault.NO_SEPARATOR, position, entry[:80])
        topics.append((code.strip(), name.strip()))
    refusal = topic_refusal(topics)
    if refusal is None:
        return topics
    if refusal.position and refusal.fault is not TopicFault.TOO_MANY:
        # Named as the person wrote it, not as it was read.
        return replace(refusal, entry=entries[refusal.position - 1][:80])
    return refusal


def checked_topics(topics: Sequence[tuple[str, str]],
                   field: str = "topics") -> list[tuple[str, str]]:
    """``topics`` when ``topic_refusal`` finds no fault; else InvalidRequest naming ``field``."""
    refusal = topic_refusal(topics)
    if refusal is not None:
        raise InvalidRequest(f"{field}: {refusal.describe()}", field=field)
    return list(topics)
