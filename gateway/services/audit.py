"""Checking the audit chain end to end."""

from __future__ import annotations

from gateway.domain.audit import ChainFault, ChainVerifier
from gateway.services.ports import Ports

PAGE = 5000


async def verify_audit(ports: Ports) -> tuple[int, ChainFault | None]:
    """(entries checked, the first fault or None). Reads the chain in pages up to the head
    read first, so entries appended meanwhile do not count as faults; then looks for entries
    outside the chain (past the current head, or before the first), which no append writes."""
    try:
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
