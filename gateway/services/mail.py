"""The e-mail outbox: notices queued in the transaction that decides them, sent later.

A notice is queued in the same transaction as what it tells of (an arrival, a second notice,
a warning), so a rolled-back acceptance sends nothing and a committed one is never without its
notice. Sending leases the due messages (``FOR UPDATE SKIP LOCKED`` on PostgreSQL), so any
number of workers share them and each message is handed to the transport once; a failed
attempt is retried with back-off, and a message still failing after the last attempt is kept
as a dead letter. A process dying between the hand-over and recording it sends that message
again after the lease: the one duplicate SMTP itself cannot rule out.
"""

from __future__ import annotations

import logging
from datetime import datetime
from email.message import EmailMessage

from gateway.domain.documents import Document, NewDocument
from gateway.domain.notices import (
    Envelope,
    arrival_notice,
    mailbox_warning,
    mandate_notice,
    second_notice,
    warning_subject_start,
)
from gateway.domain.parties import Party, StaffRole
from gateway.domain.rny import Mandate
from gateway.services.outbox import DeliveryPolicy, drain
from gateway.services.ports.outbox import LeasedMail, MailRecord, NewMail, OfficeWarnings
from gateway.services.ports.slices import MailPorts, NoticePorts

log = logging.getLogger(__name__)
BATCH = 50


def _queued(party_id: int, kind: str, registration_number: str | None,
            message: EmailMessage, at: datetime) -> NewMail:
    return NewMail(party_id=party_id, to_address=str(message["To"]), kind=kind,
                   registration_number=registration_number, subject=str(message["Subject"]),
                   message=message.as_bytes(), created_at=at)


def _link(ports: NoticePorts, path: str) -> str:
    return ports.public_url.rstrip("/") + path


def arrival(ports: NoticePorts, recipient: Party, sender_name: str, registration_number: str,
            valid_until: datetime, at: datetime) -> NewMail | None:
    """The first notice of a document in ``recipient``'s tárhely (None: no address on
    file)."""
    if not recipient.email:
        return None
    message = arrival_notice(Envelope(ports.mail_from, recipient.email, at), sender_name,
                             registration_number, valid_until,
                             _link(ports, f"/ui/documents/{registration_number}"))
    return _queued(recipient.id, "arrival_notice", registration_number, message, at)


def second(ports: NoticePorts, document: Document, presumed_at: datetime,
           at: datetime) -> NewMail | None:
    """The second notice of a document still unopened."""
    email = document.recipient.email
    if not email:
        return None
    message = second_notice(Envelope(ports.mail_from, email, at), document.sender.name,
                            document.registration_number, document.valid_until, presumed_at,
                            _link(ports, f"/ui/documents/{document.registration_number}"))
    return _queued(document.recipient_id, "second_notice", document.registration_number,
                   message, at)


def arrival_notices(ports: NoticePorts, sender: Party, recipient: Party, new: NewDocument,
                    number: str) -> list[NewMail]:
    """A citizen's first notice (225/2009 Korm. r. 35. § (1) c)), queued with the document;
    none for an organisation."""
    if recipient.is_organisation:
        return []
    notice = arrival(ports, recipient, sender.name, number, new.valid_until, new.registered_at)
    return [notice] if notice is not None else []


def warning(ports: NoticePorts, admin: Party, office: Party, registration_numbers: list[str],
            at: datetime) -> NewMail | None:
    """An office admin's 3-working-day warning."""
    if not admin.email:
        return None
    message = mailbox_warning(Envelope(ports.mail_from, admin.email, at), office.name,
                              registration_numbers, _link(ports, f"/ui/mailbox/{office.krid}"))
    return _queued(admin.id, "mailbox_warning", None, message, at)


def mandate_notices(ports: NoticePorts, mandate: Mandate, change: str, actor: Party | None,
                    at: datetime) -> list[NewMail]:
    """Both sides' notice that a mandate was ``offered``, ``accepted``, ``revoked`` (by
    ``actor``) or ``expired``; none to a side with no address on file."""
    notices = []
    for party in (mandate.principal, mandate.agent):
        if not party.email:
            continue
        message = mandate_notice(Envelope(ports.mail_from, party.email, at), change,
                                 mandate.principal.name, mandate.agent.name,
                                 actor.name if actor else None, _link(ports, "/ui/mandates"))
        notices.append(_queued(party.id, f"mandate_{change}", None, message, at))
    return notices


async def deliver_due(ports: MailPorts) -> int:
    """Send every queued message whose time has come; returns how many were sent. Off the
    request path (worker loop, or the sandbox's run-due). Without a transport nothing is
    sent and the messages wait."""
    transport = ports.mail_transport
    if transport is None:
        return 0

    async def send(leased: LeasedMail) -> None:
        await transport.send(leased.message, ports.mail_from, leased.to_address)

    return await drain(
        ports, DeliveryPolicy(ports.mail_max_attempts, ports.mail_backoff_seconds), "e-mail",
        lease=lambda uow, now, until: uow.mail.lease_due(now, until, BATCH),
        outcomes=lambda uow: uow.mail, hand_over=send)


async def addressed_to(ports: MailPorts, person: Party, limit: int = 50) -> list[MailRecord]:
    """The newest queued and sent messages a person may read on the sandbox console: those
    queued for them, and the mailbox warnings of each office where they hold a role (sent to
    its admins). Matched by the party a message was queued for, never by the address it went
    to: a person who entered someone else's address would otherwise read that one's mail."""
    async with ports.uow() as uow:
        offices = [OfficeWarnings(
            [member.person.id for member in await uow.staff.members(office.id)
             if member.role is StaffRole.ADMIN], warning_subject_start(office.name))
            for office, _role in await uow.staff.offices_of(person.id)]
        return await uow.mail.addressed_to(person.id, offices, limit)
