"""Ports of the outboxes: webhook notifications and e-mail notices, and what sends them."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol


@dataclass(frozen=True)
class NewMail:
    """An e-mail notice to queue: the message is built once, sent as these bytes."""

    party_id: int
    to_address: str
    kind: str  # arrival_notice, second_notice, mailbox_warning
    registration_number: str | None
    subject: str
    message: bytes
    created_at: datetime


@dataclass(frozen=True)
class LeasedMail:
    """A queued e-mail leased for one sending attempt."""

    id: int
    to_address: str
    message: bytes
    attempts: int


@dataclass(frozen=True)
class MailRecord:
    """A queued e-mail as the sandbox console lists it."""

    id: int
    to_address: str
    kind: str
    registration_number: str | None
    subject: str
    message: bytes
    created_at: datetime
    state: str  # pending, sent, dead
    attempts: int
    sent_at: datetime | None


@dataclass(frozen=True)
class OfficeWarnings:
    """An office's mailbox warnings: sent to its admins, their subject naming the office."""

    admin_ids: list[int]
    subject_start: str


@dataclass(frozen=True)
class NewNotification:
    party_id: int
    kind: str
    payload: dict[str, object]
    created_at: datetime


@dataclass(frozen=True)
class Notification:
    id: int
    kind: str
    payload: dict[str, object]
    created_at: datetime
    state: str
    attempts: int


@dataclass(frozen=True)
class Delivery:
    """A notification leased for one delivery attempt."""

    id: int
    party_id: int
    url: str
    kind: str
    payload: dict[str, object]
    attempts: int


class NotificationRepository(Protocol):
    async def add_many(self, notifications: list[NewNotification]) -> None: ...
    async def of_party(self, party_id: int, after_id: int, limit: int) -> list[Notification]: ...
    async def lease_due(self, now: datetime, lease_until: datetime, limit: int, *,
                        skip_parties: Collection[int] = (),
                        party_id: int | None = None) -> list[Delivery]:
        """The oldest due notification of each of up to ``limit`` parties with a webhook (of
        ``party_id`` only, if given), none of ``skip_parties``, leased until ``lease_until``
        (rows another transaction holds are skipped)."""
        ...
    async def delivered(self, notification_id: int, at: datetime) -> None: ...
    async def failed(self, notification_id: int, attempts: int, error: str,
                     retry_at: datetime | None) -> None:
        """A failed attempt; ``retry_at=None`` gives up (dead letter)."""
        ...


class MailOutbox(Protocol):
    async def add_many(self, mails: list[NewMail]) -> None: ...
    async def lease_due(self, now: datetime, lease_until: datetime,
                        limit: int) -> list[LeasedMail]:
        """Pending mails whose time has come, leased until ``lease_until`` (rows another
        transaction holds are skipped)."""
        ...
    async def delivered(self, mail_id: int, at: datetime) -> None:
        """Handed over: the message is ``sent``."""
        ...
    async def failed(self, mail_id: int, attempts: int, error: str,
                     retry_at: datetime | None) -> None:
        """Record a failed attempt: retry at ``retry_at``, or None: dead letter."""
        ...
    async def addressed_to(self, party_id: int, office_warnings: list[OfficeWarnings],
                           limit: int) -> list[MailRecord]:
        """The newest messages queued for the party, and the warnings that speak for each
        of ``office_warnings``' offices to its admins."""
        ...
    async def of_party(self, party_id: int, limit: int) -> list[MailRecord]: ...


class WebhookPoster(Protocol):
    async def post(self, url: str, body: dict[str, object]) -> None:
        """Deliver; raise on any failure (network, timeout, non-2xx)."""
        ...


class MailTransport(Protocol):
    async def send(self, message: bytes, mail_from: str, to: str) -> None:
        """Hand one message over (SMTP, or a file in the embedded default); raises on
        failure."""
        ...
