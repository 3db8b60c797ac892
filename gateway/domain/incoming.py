"""What every upload does as bytes arrive (a blob store's staged document, a file on its way to
AVDH): count them against the limit, hash them, keep the first bytes for the format check."""

from __future__ import annotations

import hashlib

from gateway.domain.formats import HEAD_BYTES
from gateway.errors import TooLarge


class IncomingBytes:
    # What a refusal calls the bytes: "the document is larger than …".
    noun = "document"

    def __init__(self, max_bytes: int) -> None:
        self._max_bytes = max_bytes
        self._head = bytearray()
        self._sha256 = hashlib.sha256()
        self._size = 0
        self._digest: str | None = None

    @property
    def size(self) -> int:
        return self._size

    @property
    def sha256(self) -> str:
        if self._digest is None:
            raise RuntimeError("the upload is not finished")
        return self._digest

    @property
    def head(self) -> bytes:
        return bytes(self._head)

    def _count(self, chunk: bytes | memoryview) -> None:
        """Take ``chunk`` into the size, the hash and the head; raises TooLarge past the
        limit (before anything of it is taken)."""
        if self._size + len(chunk) > self._max_bytes:
            raise TooLarge(f"the {self.noun} is larger than {self._max_bytes} bytes",
                           field="file")
        self._sha256.update(chunk)
        if len(self._head) < HEAD_BYTES:
            self._head += chunk[: HEAD_BYTES - len(self._head)]
        self._size += len(chunk)

    def seal(self) -> str:
        """All bytes are in: the SHA-256 is known (sealing again changes nothing)."""
        if self._digest is None:
            self._digest = self._sha256.hexdigest()
        return self._digest
