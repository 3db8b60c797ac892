"""Receipts (igazolások): what each one states. Signing is crypto/receipts.py's."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum


class ReceiptKind(StrEnum):
    ACCEPTANCE = "acceptance"  # befogadási igazolás, at once
    DOWNLOAD = "download"  # letöltési igazolás, when the addressee acknowledges
    NOT_COLLECTED = "not_collected"  # a citizen did not take it within 5 working days
    EXPIRED = "expired"  # retention ran out before download
    # a citizen's document unopened after two notices (kézbesítési vélelem)
    PRESUMED_DELIVERY = "presumed_delivery"


# The file name and document type of a receipt delivered as a system message.
RECEIPT_TITLES = {
    ReceiptKind.ACCEPTANCE: "Befogadási igazolás",
    ReceiptKind.DOWNLOAD: "Letöltési igazolás",
    ReceiptKind.NOT_COLLECTED: "Meghiúsulási igazolás",
    ReceiptKind.EXPIRED: "Lejárati igazolás",
    ReceiptKind.PRESUMED_DELIVERY: "Kézbesítési vélelem igazolás",
}


@dataclass(frozen=True)
class ReceiptParty:
    name: str
    krid: str | None = None
    code: str | None = None


@dataclass(frozen=True)
class ReceiptContent:
    kind: ReceiptKind
    registration_number: str
    sender: ReceiptParty
    recipient: ReceiptParty
    file_name: str
    sha256: str
    at: datetime
    timestamp_token: bytes
    # presumed_delivery only: (first notice, second notice, moment of presumption)
    notices: tuple[datetime, datetime, datetime] | None = None
    # The person who acted for the addressee (an agent under a mandate, contract 25): the
    # receipt's Eljaro, present only then.
    acting: ReceiptParty | None = None
