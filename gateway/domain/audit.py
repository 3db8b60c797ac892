"""The audit chain: every entry's hash covers its content and the previous entry's hash, so
changing, removing or reordering any entry breaks every hash after it."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
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
    PRESUMED = "presumed"  # a citizen's unopened document presumed delivered
    KEY_FILED = "key_filed"
    KEY_REMOVED = "key_removed"
    STAFF_GRANTED = "staff_granted"
    STAFF_REVOKED = "staff_revoked"
    ADDRESS_SWAPPED = "address_swapped"
    EMAIL_CHANGED = "email_changed"
    DOCUMENT_AUTHENTICATED = "document_authenticated"  # AVDH (contract 23)
    TOPICS_CHANGED = "topics_changed"  # an office's e-Papír topics (contract 24)
    # The Rendelkezési Nyilvántartás (contract 25)
    DISPOSITION_SET = "disposition_set"
    DISPOSITION_LOOKED_UP = "disposition_looked_up"  # an office asked about a party
    MANDATE_OFFERED = "mandate_offered"
    MANDATE_ACCEPTED = "mandate_accepted"
    MANDATE_REVOKED = "mandate_revoked"
    MANDATE_EXPIRED = "mandate_expired"


@dataclass(frozen=True)
class AuditEvent:
    at: datetime
    actor: str  # the acting party's username, or "system"
    action: AuditAction
    registration_number: str | None = None
    sha256: str | None = None
    detail: str | None = None  # a refusal's code, a key's fingerprint
    office_krid: str | None = None  # the office a person acted for (its napló)


def actor_of(username: str, krid: str | None, person: str | None) -> tuple[str, str | None]:
    """Who an audit entry names, and for which office: the party itself (its ``username``), or
    the ``person`` acting for it (an office's staff in the browser), so that the office's log
    (its ``krid``) shows who did it."""
    return (username, None) if person is None else (person, krid)


def acting_for(principal_username: str) -> str:
    """The ``detail`` of an entry written by an agent acting for a principal under a mandate
    (contract 25): the actor is the agent, this names the principal."""
    return f"for {principal_username}"


def _digest(sequence: int, at: datetime, values: dict[str, object], office: object) -> str:
    # "office" enters the canonical form only when set, so entries written before it existed
    # keep their hashes (test_the_canonical_form_never_changes).
    extra = {} if office is None else {"office": office}
    canonical = json.dumps({
        "sequence": sequence, "at": at.astimezone(UTC).isoformat(), **values, **extra,
    }, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def entry_hash(sequence: int, event: AuditEvent, previous_hash: str) -> str:
    return _digest(sequence, event.at, {
        "actor": event.actor,
        "action": event.action.value,
        "registration_number": event.registration_number,
        "sha256": event.sha256,
        "detail": event.detail,
        "previous": previous_hash,
    }, event.office_krid)


@dataclass(frozen=True)
class StoredEntry:
    """An entry as read back from storage, every value as it is stored and unchecked: the
    verifier must name an entry whose columns were altered into anything at all (a word that
    is no action, text where a number belongs, a time that does not parse), never crash on it.
    ``at`` is an aware datetime when the stored time could be read."""

    sequence: object
    at: object
    actor: object
    action: object
    registration_number: object
    sha256: object
    detail: object
    previous_hash: object
    hash: object
    office_krid: object = None
    id: object = None  # the order it was written in (the napló's order), not hashed

    @classmethod
    def of(cls, sequence: int, event: AuditEvent, previous_hash: str, digest: str) -> StoredEntry:
        return cls(sequence, event.at, event.actor, event.action.value,
                   event.registration_number, event.sha256, event.detail, previous_hash, digest,
                   event.office_krid)

    def recomputed_hash(self) -> str | None:
        """The hash of the stored values, or None when the stored time is unreadable."""
        if not isinstance(self.sequence, int) or not isinstance(self.at, datetime) \
                or self.at.tzinfo is None:
            return None
        return _digest(self.sequence, self.at, {
            "actor": _plain(self.actor),
            "action": _plain(self.action),
            "registration_number": _plain(self.registration_number),
            "sha256": _plain(self.sha256),
            "detail": _plain(self.detail),
            "previous": _plain(self.previous_hash),
        }, _plain(self.office_krid))


def _plain(value: object) -> object:
    """A stored value as JSON can write it; anything else (bytes, say) by its repr, which no
    genuine entry's text equals."""
    if value is None or isinstance(value, str | int | float):
        return value
    return repr(value)


@dataclass(frozen=True)
class ChainFault:
    sequence: int  # the entry that does not hold (for a missing entry: where it should be)
    reason: str


class ChainVerifier:
    """Walks the chain in order, page by page: ``feed`` each page, then ``finish`` at the
    head. Each returns the first fault, or None."""

    def __init__(self) -> None:
        self.previous_hash = GENESIS
        self.next_sequence = 1
        self.checked = 0

    def feed(self, entries: Iterable[StoredEntry]) -> ChainFault | None:
        for entry in entries:
            sequence = entry.sequence
            if not isinstance(sequence, int) or isinstance(sequence, bool):
                return ChainFault(self.next_sequence,
                                  f"the entry's sequence {sequence!r} is not a whole number")
            if sequence < self.next_sequence:
                return ChainFault(sequence, "an entry out of sequence (inserted)")
            if sequence > self.next_sequence:
                return ChainFault(self.next_sequence, "entry missing")
            if entry.previous_hash != self.previous_hash:
                return ChainFault(sequence, "previous hash does not match")
            digest = entry.recomputed_hash()
            if digest is None:
                return ChainFault(sequence, f"the entry's time {entry.at!r} is unreadable")
            if digest != entry.hash:
                return ChainFault(sequence, "content does not match its hash")
            self.previous_hash, self.next_sequence = digest, sequence + 1
            self.checked += 1
        return None

    def finish(self, head_sequence: int, head_hash: str) -> ChainFault | None:
        if self.next_sequence - 1 < head_sequence:
            return ChainFault(self.next_sequence, "entries after this one are missing")
        if self.next_sequence - 1 > head_sequence:
            return ChainFault(head_sequence + 1, "an entry beyond the chain's head (inserted)")
        if self.previous_hash != head_hash:
            return ChainFault(head_sequence, "the chain's head does not match this entry")
        return None


def verify_chain(
    entries: Iterable[StoredEntry], head_sequence: int, head_hash: str
) -> ChainFault | None:
    """The first entry that does not hold, or None when the chain is intact up to the head."""
    verifier = ChainVerifier()
    return verifier.feed(entries) or verifier.finish(head_sequence, head_hash)
