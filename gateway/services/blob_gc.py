"""Removing blob files that no committed row names (contract section 21, filesystem side)."""

from __future__ import annotations

from collections.abc import Callable

from gateway.services.ports import BlobGcReport, Ports


async def collect_blob_garbage(
    ports: Ports, grace_seconds: float,
    progress: Callable[[BlobGcReport], None] | None = None,
) -> BlobGcReport:
    """Remove stored and staged content older than ``grace_seconds`` that no document needs
    (a document that has not expired, or a kept copy, names it); place staged content whose
    row committed just before a crash. Never touches content a row needs, nor a younger file
    (an upload in flight). Several processes may run it at once."""

    async def needed(sha256: str) -> bool:
        async with ports.uow() as uow:
            return await uow.documents.content_needed(sha256)

    return await ports.blobs.collect_garbage(needed, grace_seconds, progress)
