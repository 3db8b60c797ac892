"""The audit chain: every entry's hash covers its content and the previous entry's hash, so
changing, removing or reordering any entry breaks every hash after it."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum

GENESIS = "0" * 64


class AuditAction(StrEnum):
    ACCEPTED = "accepted"
    REFUSED = "refused"
    DOWNLOADED = "downloaded"
    ACKNOWLEDGED = "acknowledged"
    EXPIRED = "expired"
    KEY_FILED = "key_filed"
    KEY_REMOVED = "key_removed"


@dataclass(frozen=True)
class AuditEvent:
    at: datetime
    actor: str  # the acting party's username, or "system"
    action: AuditAction
    registration_number: str | None = None
    sha256: str | None = None
    detail: str | None = None  # a refusal's code, a key's fingerprint


@dataclass(frozen=True)
class AuditEntry:
    sequence: int
    event: AuditEvent
    previous_hash: str
    hash: str


def entry_hash(sequence: int, event: AuditEvent, previous_hash: str) -> str:
    canonical = json.dumps({
        "sequence": sequence,
        "at": event.at.astimezone(UTC).isoformat(),
        "actor": event.actor,
        "action": event.action.value,
        "registration_number": event.registration_number,
        "sha256": event.sha256,
        "detail": event.detail,
        "previous": previous_hash,
    }, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


@dataclass(frozen=True)
class ChainFault:
    sequence: int
    reason: str


def verify_chain(
    entries: list[AuditEntry], head_sequence: int, head_hash: str, start_hash: str = GENESIS,
    start_sequence: int = 1,
) -> ChainFault | None:
    """The first entry that does not hold, or None when the chain is intact up to the head."""
    expected_previous, expected_sequence = start_hash, start_sequence
    for entry in entries:
        if entry.sequence != expected_sequence:
            return ChainFault(expected_sequence, "entry missing")
        if entry.previous_hash != expected_previous:
            return ChainFault(entry.sequence, "previous hash does not match")
        if entry_hash(entry.sequence, entry.event, entry.previous_hash) != entry.hash:
            return ChainFault(entry.sequence, "content does not match its hash")
        expected_previous, expected_sequence = entry.hash, expected_sequence + 1
    if expected_sequence - 1 != head_sequence or expected_previous != head_hash:
        return ChainFault(expected_sequence, "entries after this one are missing")
    return None
