"""The Rendelkezési Nyilvántartás (contract 25): a citizen's disposition (ügyintézési
rendelkezés) and mandates (meghatalmazás) by which one citizen acts for another.

Pure values and rules; services/rny.py keeps them, and decides who may do what."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from gateway.domain.parties import Party, check_krid


class OfficialAddressKind(StrEnum):
    """Where a party is to be written to: a citizen's KÜNY tárhely, or an organisation's
    own mailbox."""

    TARHELY = "tarhely"
    MAILBOX = "mailbox"


@dataclass(frozen=True)
class Disposition:
    """A party's disposition as in force from ``since``: a citizen's from their latest
    declaration (or, having declared nothing, from their registration); an organisation's is
    always electronic, to its own mailbox."""

    electronic_contact: bool
    official_address: OfficialAddressKind
    since: datetime | None  # None: not declared (a default, or an organisation's duty)
    declared: bool = True  # False: the default of a citizen who declared nothing (yet)


# Organisations are obliged to electronic contact (E-ügyintézési tv. 9. §), to their own
# mailbox, always.
ORGANISATION_DISPOSITION = Disposition(True, OfficialAddressKind.MAILBOX, None, declared=False)
# A citizen who declared nothing has not accepted electronic contact.
UNDECLARED_DISPOSITION = Disposition(False, OfficialAddressKind.TARHELY, None, declared=False)


class MandateState(StrEnum):
    PENDING = "pending"  # offered, not yet accepted by the agent
    ACTIVE = "active"  # accepted; in force within its validity window
    REVOKED = "revoked"  # revoked (or, while pending, declined) by either side
    EXPIRED = "expired"  # its valid_until passed


# The most offices one mandate may list (each is looked up when it is offered).
MAX_SCOPE_OFFICES = 100


@dataclass(frozen=True)
class MandateScope:
    """What a mandate covers: every office (``offices`` None), or the offices of the list,
    by KRID."""

    offices: frozenset[str] | None = None

    @property
    def everything(self) -> bool:
        return self.offices is None

    def covers(self, krid: str | None) -> bool:
        """Whether a party with this KRID (None: no organisation) is within scope."""
        return self.offices is None or (krid is not None and krid in self.offices)

    def overlaps(self, other: MandateScope) -> bool:
        if self.offices is None or other.offices is None:
            return True
        return bool(self.offices & other.offices)

    def stored(self) -> str | None:
        """The scope as one column holds it: None for all, else the KRIDs, sorted, by commas."""
        return None if self.offices is None else ",".join(sorted(self.offices))

    @classmethod
    def from_stored(cls, value: str | None) -> MandateScope:
        return cls(None if value is None else frozenset(filter(None, value.split(","))))

    @classmethod
    def of(cls, offices: list[str] | None) -> MandateScope:
        """A scope from a request: None for all offices, else a non-empty list of KRIDs
        (ValueError naming the first that is not one)."""
        if offices is None:
            return cls(None)
        if not offices:
            raise ValueError("a mandate's list of offices must name at least one office")
        if len(offices) > MAX_SCOPE_OFFICES:
            raise ValueError(f"a mandate names at most {MAX_SCOPE_OFFICES} offices")
        for krid in offices:
            check_krid(krid)
        return cls(frozenset(offices))


@dataclass(frozen=True)
class Mandate:
    """A mandate: ``principal`` authorises ``agent`` for ``scope`` from ``valid_from`` until
    ``valid_until`` (None: without end), once the agent accepted it."""

    id: int
    principal: Party
    agent: Party
    scope: MandateScope
    valid_from: datetime
    valid_until: datetime | None
    created_at: datetime
    accepted_at: datetime | None = None
    revoked_at: datetime | None = None
    revoked_by_id: int | None = None

    def state_at(self, at: datetime) -> MandateState:
        if self.revoked_at is not None and self.revoked_at <= at:
            return MandateState.REVOKED
        if self.valid_until is not None and self.valid_until <= at:
            return MandateState.EXPIRED
        return MandateState.ACTIVE if self.accepted_at is not None else MandateState.PENDING

    def in_force(self, at: datetime) -> bool:
        """Whether the agent may act under it at ``at``: accepted, not revoked, and within
        its validity window."""
        return (self.state_at(at) is MandateState.ACTIVE and self.valid_from <= at
                and self.accepted_at is not None and self.accepted_at <= at)

    def open_at(self, at: datetime) -> bool:
        """Pending or active at ``at``: a mandate a new one may conflict with."""
        return self.state_at(at) in (MandateState.PENDING, MandateState.ACTIVE)

    def overlaps(self, scope: MandateScope, valid_from: datetime,
                 valid_until: datetime | None) -> bool:
        """Whether a mandate for the same agent with this scope and window would overlap."""
        before_end = self.valid_until is None or valid_from < self.valid_until
        after_start = valid_until is None or self.valid_from < valid_until
        return before_end and after_start and self.scope.overlaps(scope)


@dataclass(frozen=True)
class Agency:
    """An agent acting for a principal at one moment, under the mandates in force then (one
    or more, whose scopes add up)."""

    principal: Party
    agent: Party
    mandates: tuple[Mandate, ...]

    def covers(self, krid: str | None) -> bool:
        """Whether the party with this KRID (None: no organisation) is within scope."""
        return any(mandate.scope.covers(krid) for mandate in self.mandates)

    @property
    def offices(self) -> frozenset[str] | None:
        """The offices within scope together; None: every office."""
        if any(mandate.scope.everything for mandate in self.mandates):
            return None
        return frozenset().union(*(mandate.scope.offices or () for mandate in self.mandates))

    def sees(self, sender_id: int, sender_krid: str | None, recipient_id: int,
             recipient_krid: str | None) -> bool:
        """Whether a document from and to these parties exists for the agent: one in the
        principal's tárhely from a sender within scope, or one the principal sent to an
        office within scope."""
        return ((recipient_id == self.principal.id and self.covers(sender_krid))
                or (sender_id == self.principal.id and self.covers(recipient_krid)))


_MANDATE_ID = re.compile(r"^[1-9][0-9]{0,17}$")


def mandate_id(value: str) -> int | None:
    """A mandate's id as a path gives it, or None for what names no mandate."""
    return int(value) if _MANDATE_ID.match(value) else None
