"""AVDH: the hitelesített PDF (contract 23), made and checked with pyHanko.

Synchronous: files in, files and verdicts out; the services run these in a worker thread
(through the ``PdfAuthenticator`` port, which :class:`AvdhSeal` implements) and record what
they made.

- :meth:`AvdhSeal.authenticate` turns any allowed file into a hitelesített PDF: a PDF up to
  ``pdf_max_bytes`` that is not encrypted is signed *as it is* (an incremental update whose
  prefix is the original, the záradék as the signature's visible stamp on page 1); anything else
  becomes a new PDF whose page 1 is the záradék and which embeds the original unchanged
  (``/EmbeddedFiles``, ``AFRelationship /Source``), then signed the same way.
- :meth:`AvdhSeal.seal` signs a PDF the gateway made itself (the e-Papír beadvány) as it is.
- :meth:`AvdhSeal.verify` says whether a PDF is one of this gateway's, intact, by whom, when.

The signature is PAdES B-T: CMS (``ETSI.CAdES.detached``), SHA-256, by the AVDH seal key,
with a signature timestamp from the gateway's own TSA dated on the gateway's clock.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import BinaryIO

from cryptography import x509

from gateway.crypto.keys import SigningKey
from gateway.domain.authentication import Clause, Kind, Verdict

# (SHA-256 hex of the data to stamp, the moment) -> DER TimeStampToken: the gateway's TSA,
# TimestampAuthority.timestamp.
Timestamp = Callable[[str, datetime], bytes]


@dataclass(frozen=True)
class AvdhSeal:
    """The AVDH seal key and certificate, the CA above them, the gateway's TSA, and the
    size up to which a PDF is signed as it is."""

    key: SigningKey
    certificate: x509.Certificate
    ca_certificate: x509.Certificate
    timestamp: Timestamp
    pdf_max_bytes: int = 20 * 1024 * 1024

    def authenticate(self, source: Path, clause: Clause, output: BinaryIO, *,
                     media_type: str) -> Kind:
        """Write the hitelesített PDF of ``source`` (the original, ``clause.original``) to
        ``output``; ``media_type`` is the original's MIME type for the embedded file.
        Raises ``PdfRefused`` for an encrypted or unreadable PDF."""
        raise NotImplementedError

    def seal(self, source: BinaryIO, clause: Clause, output: BinaryIO) -> None:
        """Sign a PDF as it is (an incremental update), the záradék as the visible stamp."""
        raise NotImplementedError

    def verify(self, source: Path, *, at: datetime) -> Verdict:
        """Check ``source`` against the gateway CA at the moment ``at`` (the gateway's clock).
        Raises ``NotAPdf`` for a file that is not a PDF at all."""
        raise NotImplementedError
