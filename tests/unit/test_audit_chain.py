from dataclasses import replace
from datetime import UTC, datetime

from gateway.domain.audit import (
    GENESIS,
    AuditAction,
    AuditEntry,
    AuditEvent,
    entry_hash,
    verify_chain,
)


def _chain(length: int) -> list[AuditEntry]:
    entries, previous = [], GENESIS
    for sequence in range(1, length + 1):
        event = AuditEvent(at=datetime(2026, 11, 24, 9, sequence, tzinfo=UTC), actor="HIVATAL",
                           action=AuditAction.ACCEPTED, registration_number=f"{sequence:027d}",
                           sha256="ab" * 32)
        digest = entry_hash(sequence, event, previous)
        entries.append(AuditEntry(sequence, event, previous, digest))
        previous = digest
    return entries


def test_intact_chain() -> None:
    chain = _chain(5)
    assert verify_chain(chain, 5, chain[-1].hash) is None


def test_changed_content_is_named() -> None:
    chain = _chain(5)
    chain[2] = replace(chain[2], event=replace(chain[2].event, actor="MASIK"))
    fault = verify_chain(chain, 5, chain[-1].hash)
    assert fault is not None and fault.sequence == 3 and "content" in fault.reason


def test_rehashed_entry_breaks_the_next_link() -> None:
    chain = _chain(5)
    forged = replace(chain[2].event, detail="forged")
    chain[2] = replace(chain[2], event=forged,
                       hash=entry_hash(3, forged, chain[2].previous_hash))
    fault = verify_chain(chain, 5, chain[-1].hash)
    assert fault is not None and fault.sequence == 4


def test_removed_entries_are_found() -> None:
    chain = _chain(5)
    fault = verify_chain(chain[:2] + chain[3:], 5, chain[-1].hash)
    assert fault is not None and fault.sequence == 3 and fault.reason == "entry missing"
    tail_cut = verify_chain(chain[:4], 5, chain[-1].hash)
    assert tail_cut is not None and tail_cut.sequence == 5
