"""Parties: organisations (Hivatali kapu, Cégkapu, Perkapu), citizens and the system."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from enum import StrEnum

_KRID = re.compile(r"^\d{9}$")
_SHORT_NAME = re.compile(r"^[A-Z0-9]{2,20}$")
_MAK_CODE = re.compile(r"^\d{9}$")


class PartyKind(StrEnum):
    """What a sender or addressee is; also the values of ``sender_type``."""

    HIVATALI = "hivatali"
    CEG = "ceg"
    PER = "per"
    CITIZEN = "citizen"
    SYSTEM = "system"

    @property
    def is_organisation(self) -> bool:
        return self in ORGANISATION_KINDS


ORGANISATION_KINDS = frozenset({PartyKind.HIVATALI, PartyKind.CEG, PartyKind.PER})


@dataclass(frozen=True)
class Party:
    id: int
    kind: PartyKind
    name: str
    username: str
    krid: str | None = None
    short_name: str | None = None
    mak_code: str | None = None
    code: str | None = None  # kapcsolati kód, citizens only
    email: str | None = None

    @property
    def is_organisation(self) -> bool:
        return self.kind.is_organisation


def check_krid(value: str) -> str:
    if not _KRID.match(value):
        raise ValueError(f"KRID must be exactly 9 digits, got {value!r}")
    return value


def check_short_name(value: str) -> str:
    if not _SHORT_NAME.match(value):
        raise ValueError(
            f"short name must be 2–20 upper-case letters or digits, got {value!r}"
        )
    return value


def check_mak_code(value: str) -> str:
    if not _MAK_CODE.match(value):
        raise ValueError(f"MÁK code must be exactly 9 digits, got {value!r}")
    return value


def check_email(value: str) -> str:
    # Deliberately shallow: an address is proven only by the mail reaching it.
    if len(value) > 254 or any(c.isspace() or ord(c) < 32 for c in value):
        raise ValueError(f"not an e-mail address: {value!r}")
    if value.count("@") != 1 or value.startswith("@") or value.endswith("@") or " " in value:
        raise ValueError(f"not an e-mail address: {value!r}")
    return value


def on_behalf(person: Party, mailbox: Party) -> str | None:
    """The person acting for ``mailbox``, an office's (its audit entries name them), or None
    in their own tárhely, where they act as themselves."""
    return None if mailbox.id == person.id else person.username


class StaffRole(StrEnum):
    """A person's role on an organisation's mailbox (the KR's browser interface)."""

    ADMIN = "admin"  # hivatali kapu megbízott: manages the staff
    CLERK = "clerk"  # ügykezelő: reads, downloads, acknowledges, sends


# At most this many admins per organisation; the last one cannot be removed.
MAX_ADMINS = 5


def fold_name(text: str) -> str:
    """A name as the directory searches it: case-folded and without accents, so that
    ``tura`` finds "Túra Hivatal" and ``TÚRA`` does too. The same function folds the stored
    name (``parties.name_folded``) and the search text, so both sides always agree; folding
    in Python because SQLite's ``lower()`` and ``LIKE`` fold ASCII only."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(c for c in decomposed if not unicodedata.combining(c))
