from dataclasses import replace
from datetime import UTC, datetime

from gateway.domain.audit import (
    GENESIS,
    AuditAction,
    AuditEvent,
    StoredEntry,
    entry_hash,
    verify_chain,
)


def _chain(length: int) -> list[StoredEntry]:
    entries, previous = [], GENESIS
    for sequence in range(1, length + 1):
        event = AuditEvent(at=datetime(2026, 11, 24, 9, sequence, tzinfo=UTC), actor="HIVATAL",
                           action=AuditAction.ACCEPTED, registration_number=f"{sequence:027d}",
                           sha256="ab" * 32)
        digest = entry_hash(sequence, event, previous)
        entries.append(StoredEntry.of(sequence, event, previous, digest))
        previous = digest
    return entries


def test_intact_chain() -> None:
    chain = _chain(5)
    assert verify_chain(chain, 5, str(chain[-1].hash)) is None


def test_changed_content_is_named() -> None:
    chain = _chain(5)
    chain[2] = replace(chain[2], actor="MASIK")
    fault = verify_chain(chain, 5, str(chain[-1].hash))
    assert fault is not None and fault.sequence == 3 and "content" in fault.reason


def test_rehashed_entry_breaks_the_next_link() -> None:
    chain = _chain(5)
    forged = AuditEvent(at=datetime(2026, 11, 24, 9, 3, tzinfo=UTC), actor="HIVATAL",
                        action=AuditAction.ACCEPTED, registration_number=f"{3:027d}",
                        sha256="ab" * 32, detail="forged")
    chain[2] = replace(chain[2], detail="forged",
                       hash=entry_hash(3, forged, str(chain[2].previous_hash)))
    fault = verify_chain(chain, 5, str(chain[-1].hash))
    assert fault is not None and fault.sequence == 4


def test_removed_entries_are_found() -> None:
    chain = _chain(5)
    fault = verify_chain(chain[:2] + chain[3:], 5, str(chain[-1].hash))
    assert fault is not None and fault.sequence == 3 and fault.reason == "entry missing"
    tail_cut = verify_chain(chain[:4], 5, str(chain[-1].hash))
    assert tail_cut is not None and tail_cut.sequence == 5


def test_values_of_any_type_are_named_not_crashed_on() -> None:
    """What an altered row can hold: a word that is no action, text where a number or a time
    belongs, bytes, a number where text belongs, nothing at all."""
    for field, value in [("action", "refXsed"), ("action", None), ("sequence", "harom"),
                         ("sequence", 3.0), ("at", "not a time"), ("at", None),
                         ("at", datetime(2026, 11, 24, 9, 3)), ("actor", b"HIVATAL"),
                         ("actor", 42), ("registration_number", 3), ("sha256", None),
                         ("previous_hash", None), ("hash", 7), ("detail", "x")]:
        chain = _chain(5)
        chain[2] = replace(chain[2], **{field: value})
        fault = verify_chain(chain, 5, str(chain[-1].hash))
        assert fault is not None and fault.sequence == 3, (field, value, fault)


def test_inserted_entries_are_named() -> None:
    chain = _chain(5)
    before = replace(chain[0], sequence=0)
    fault = verify_chain([before, *chain], 5, str(chain[-1].hash))
    assert fault is not None and fault.sequence == 0 and "inserted" in fault.reason
    longer = _chain(6)  # a sixth entry that fits the chain, but the head says five
    beyond = verify_chain(longer, 5, str(longer[4].hash))
    assert beyond is not None and beyond.sequence == 6 and "inserted" in beyond.reason


def test_the_canonical_form_never_changes() -> None:
    """Chains already in databases must keep verifying: the hash of a fixed entry is pinned."""
    event = AuditEvent(at=datetime(2026, 11, 24, 8, 30, tzinfo=UTC), actor="HIVATAL",
                       action=AuditAction.ACCEPTED, registration_number="1" * 27,
                       sha256="ab" * 32)
    assert entry_hash(7, event, GENESIS) == \
        "c4827ac5e3a41b0c3c0b74614e41afa63a8b26624f350d2f9a11f9e45ed2dcfe"
