"""Removing blobs that no committed row names (contract section 21), in either store."""

from __future__ import annotations

import functools
from collections.abc import Callable

from gateway.services.ports.slices import BlobGcPorts
from gateway.services.ports.storage import BlobGcReport


async def collect_blob_garbage(
    ports: BlobGcPorts, grace_seconds: float,
    progress: Callable[[BlobGcReport], None] | None = None,
) -> BlobGcReport:
    """Remove stored and staged content older than ``grace_seconds`` that no document needs
    (a document that has not expired, or a kept copy, names it); place staged content whose
    row committed just before a crash. Never touches content a row needs, nor a younger file
    (an upload in flight). Several processes may run it at once."""

    return await ports.blobs.collect_garbage(
        functools.partial(content_needed, ports), grace_seconds, progress)


async def content_needed(ports: BlobGcPorts, sha256: str) -> bool:
    """Whether a document that has not expired, or a kept copy, names this content."""
    async with ports.uow() as uow:
        return await uow.documents.content_needed(sha256)
