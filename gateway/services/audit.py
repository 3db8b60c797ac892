"""Checking the audit chain end to end."""

from __future__ import annotations

from gateway.domain.audit import GENESIS, ChainFault, verify_chain
from gateway.services.ports import Ports

PAGE = 5000


async def verify_audit(ports: Ports) -> tuple[int, ChainFault | None]:
    """(entries checked, the first fault or None). Reads the chain in pages against the head
    read first, so entries appended meanwhile do not count as faults."""
    async with ports.uow() as uow:
        head_sequence, head_hash = await uow.audit.head()
    previous, after, checked = GENESIS, 0, 0
    while after < head_sequence:
        async with ports.uow() as uow:
            page = await uow.audit.entries(after, min(PAGE, head_sequence - after))
        if not page:
            break
        last = page[-1]
        # Within the page the chain must hold and end where the page ends; the final page
        # must end at the head.
        target = (last.sequence, last.hash) if last.sequence < head_sequence \
            else (head_sequence, head_hash)
        fault = verify_chain(page, *target, start_hash=previous, start_sequence=after + 1)
        if fault is not None:
            return checked + fault.sequence - after - 1, fault
        checked += len(page)
        previous, after = last.hash, last.sequence
    if after != head_sequence or previous != head_hash:
        return checked, ChainFault(after + 1, "entries after this one are missing")
    return checked, None
