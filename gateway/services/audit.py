"""The audit chain: linking written entries into it, and checking it end to end.

An entry is written in its request's own transaction without its link, so no request waits
for the chain's single head. The linker (``link_pending``, every second in the background
jobs of each process, one at a time by the head's row lock) gives the committed entries their
places after the head in the order they were written, each hashed over its content and the
previous entry's hash, as a transparency log merges entries within a bounded delay; the
delay is shown in ``/metrics`` (``kapu_audit_link_lag_seconds``). An entry whose transaction
commits late is linked in a later round: the chain's order is the order of linking.
"""

from __future__ import annotations

from gateway.domain.audit import ChainFault, ChainVerifier, entry_hash
from gateway.services.ports.evidence import AuditLink
from gateway.services.ports.slices import AuditPorts

PAGE = 5000
LINK_BATCH = 2000


async def link_pending(ports: AuditPorts) -> int:
    """Link every entry committed (and not yet in the chain) when this starts; returns how
    many were linked."""
    async with ports.uow() as uow:  # most rounds find nothing: no write transaction then
        if not await uow.audit.unlinked(1):
            return 0
    linked = 0
    while True:
        async with ports.write_uow() as uow:
            sequence, previous = await uow.audit.lock_head()
            pending = await uow.audit.unlinked(LINK_BATCH)
            if not pending:
                return linked
            links = []
            for entry_id, event in pending:
                sequence += 1
                digest = entry_hash(sequence, event, previous)
                links.append(AuditLink(entry_id, sequence, previous, digest))
                previous = digest
            await uow.audit.link(links, sequence, previous)
            await uow.commit()
        linked += len(links)
        if len(links) < LINK_BATCH:
            # Everything committed when it was read is linked; what committed since waits for
            # the next round. Chasing it under steady uploads kept the linker in a write
            # transaction of a few entries after another, each taking the chain's head (and
            # on SQLite the one writer) in turn with the uploads' batches.
            return linked


async def link_lag(ports: AuditPorts) -> tuple[int, float]:
    """Entries waiting to be linked, and how long the oldest has waited (seconds)."""
    async with ports.uow() as uow:
        waiting, oldest = await uow.audit.oldest_unlinked()
    if oldest is None:
        return waiting, 0.0
    return waiting, max(0.0, (ports.clock.now() - oldest).total_seconds())


async def verify_audit(ports: AuditPorts) -> tuple[int, ChainFault | None]:
    """(entries checked, the first fault or None). Links what is pending first, then reads the
    chain in pages up to the head read then, so entries appended meanwhile do not count as
    faults; then looks for entries outside the chain (past the current head, or before the
    first), which the linker never writes."""
    try:
        await link_pending(ports)
        async with ports.uow() as uow:
            head_sequence, head_hash = await uow.audit.head()
    except ValueError:  # the head row's sequence altered into something that is no number
        return 0, ChainFault(0, "the chain's head (audit_head) is unreadable")
    verifier = ChainVerifier()
    after: int | None = None
    while verifier.next_sequence <= head_sequence:
        async with ports.uow() as uow:
            # The first page reads from the very first entry, whatever its sequence, so an
            # entry inserted before 1 is met; none reads past the head read above.
            page = await uow.audit.entries(
                after, min(PAGE, head_sequence - (after if after is not None else 0)))
        if not page:
            break
        fault = verifier.feed(page)
        if fault is not None:
            return verifier.checked, fault
        after = verifier.next_sequence - 1
    fault = verifier.finish(head_sequence, head_hash)
    if fault is None:
        async with ports.uow() as uow:
            outside = await uow.audit.first_outside_chain()
        if outside is not None:
            fault = ChainFault(outside if isinstance(outside, int) else head_sequence + 1,
                               f"an entry outside the chain (sequence {outside!r}) was inserted")
    return verifier.checked, fault
