"""Several uploads staged at once, for a door that reads them all before it accepts any."""

from __future__ import annotations

from types import TracebackType

from gateway.services.acceptance import StagedUpload
from gateway.services.ports.slices import AcceptancePorts


class StagedUploads:
    """Several uploads staged before any is accepted, for a door that reads them all in one
    pass of its body (an HKP request's attachments, then its documents taken in one by one):
    ``stage`` opens one more :class:`StagedUpload`; leaving the block removes the bytes of
    every one not handed over to acceptance (refused, malformed, or named by no document).

        async with StagedUploads(ports) as uploads:
            message = await receive_related(..., uploads.stage, ...)
            acceptance = await message.attachments[cid].accept(sender, request)
    """

    def __init__(self, ports: AcceptancePorts) -> None:
        self._ports = ports
        self._open: list[StagedUpload] = []

    def stage(self) -> StagedUpload:
        # Those handed over are acceptance's: not held here until the block ends.
        self._open = [upload for upload in self._open if not upload.handed_over]
        upload = StagedUpload(self._ports)
        self._open.append(upload)
        return upload

    async def __aenter__(self) -> StagedUploads:
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None,
                        exc: BaseException | None, tb: TracebackType | None) -> None:
        opened, self._open = self._open, []
        for upload in opened:
            await upload.__aexit__(exc_type, exc, tb)

