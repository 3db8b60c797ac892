"""The e-Papír beadvány (contract 24): the subject and text on pages with the sender, the
office, the topic and the time, and the attachments embedded unchanged. The service seals the
result with AVDH afterwards (crypto/avdh.py)."""

from __future__ import annotations

from typing import BinaryIO

from gateway.domain.epapir import Submission, SubmissionAttachment


class BeadvanyRenderer:
    """Implements the ``SubmissionRenderer`` port."""

    def render(self, submission: Submission, attachments: list[SubmissionAttachment],
               output: BinaryIO) -> None:
        """Write the beadvány PDF (not yet signed) to ``output``."""
        raise NotImplementedError
