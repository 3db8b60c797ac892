"""E-mail notices (értesítések): what each one says, built with the standard ``email`` package.

A notice names the sender, the registration number, ``valid_until`` and the link to the
document. It never carries the document, its file name or its note (they may be confidential,
and e-mail is not a delivery channel). Hungarian first, then the same in English, as two
``text/plain`` parts marked with their ``Content-Language``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid

from gateway.domain.registration import budapest_local


@dataclass(frozen=True)
class Envelope:
    """Who a notice goes from and to, and when it is written."""

    mail_from: str
    to: str
    at: datetime


def _when(at: datetime) -> str:
    return budapest_local(at).strftime("%Y-%m-%d %H:%M")


def _message(envelope: Envelope, subject: str, hungarian: str, english: str) -> EmailMessage:
    message = EmailMessage()
    message["From"] = envelope.mail_from
    message["To"] = envelope.to
    message["Subject"] = subject
    message["Date"] = format_datetime(budapest_local(envelope.at))
    domain = envelope.mail_from.rpartition("@")[2] or "kapu.invalid"
    message["Message-ID"] = make_msgid(domain=domain)
    message["Auto-Submitted"] = "auto-generated"  # RFC 3834: no auto-replies to a notice
    message.make_mixed()
    for language, text in (("hu", hungarian), ("en", english)):
        part = EmailMessage()
        part.set_content(text, charset="utf-8")
        part["Content-Language"] = language
        message.attach(part)
    return message


def arrival_notice(envelope: Envelope, sender_name: str, registration_number: str,
                   valid_until: datetime, link: str) -> EmailMessage:
    """The first notice: a document arrived in the citizen's tárhely."""
    until = _when(valid_until)
    return _message(
        envelope, f"Új dokumentum érkezett a tárhelyére ({registration_number})",
        f"Tisztelt Ügyfelünk!\n\n{sender_name} dokumentumot küldött az értesítési "
        f"tárhelyére.\n\nÉrkeztetési szám: {registration_number}\nLetölthető eddig: {until}\n"
        f"Megnyitás: {link}\n\nA dokumentum megnyitása a kézbesítés. Ha nem nyitja meg, "
        "második értesítést küldünk, majd a dokumentum kézbesítettnek tekintendő.\n",
        f"A document from {sender_name} arrived in your notification storage.\n\n"
        f"Registration number: {registration_number}\nDownloadable until: {until}\n"
        f"Open it: {link}\n\nOpening the document is its delivery. If it is not opened, a "
        "second notice follows, and then it is presumed delivered.\n",
    )


def second_notice(envelope: Envelope, sender_name: str, registration_number: str,
                  valid_until: datetime, presumed_at: datetime, link: str) -> EmailMessage:
    """The second notice: the document is still unopened; when it will be presumed
    delivered."""
    until, presumed = _when(valid_until), _when(presumed_at)
    return _message(
        envelope, f"Második értesítés: megnyitatlan dokumentum ({registration_number})",
        f"Tisztelt Ügyfelünk!\n\n{sender_name} dokumentumát még nem nyitotta meg.\n\n"
        f"Érkeztetési szám: {registration_number}\nLetölthető eddig: {until}\n"
        f"Megnyitás: {link}\n\nHa addig nem nyitja meg, {presumed} időponttól a dokumentum "
        "kézbesítettnek tekintendő (kézbesítési vélelem).\n",
        f"The document from {sender_name} has not been opened yet.\n\n"
        f"Registration number: {registration_number}\nDownloadable until: {until}\n"
        f"Open it: {link}\n\nUnless it is opened before then, it is presumed delivered from "
        f"{presumed}.\n",
    )


def warning_subject_start(office_name: str) -> str:
    """How a mailbox warning's subject begins: it names the office it speaks for."""
    return f"{office_name}: "


def mailbox_warning(envelope: Envelope, office_name: str, registration_numbers: list[str],
                    link: str) -> EmailMessage:
    """To an office's admins: documents have waited 3 working days without download."""
    numbers = "\n".join(f"  {number}" for number in registration_numbers)
    count = len(registration_numbers)
    return _message(
        envelope, f"{warning_subject_start(office_name)}{count} dokumentum 3 munkanapja "
        "letöltetlen",
        f"{office_name} hivatali tárhelyén {count} dokumentum 3 munkanapja vár letöltésre:\n"
        f"{numbers}\n\nPostafiók: {link}\n",
        f"{count} document(s) have waited 3 working days in the mailbox of {office_name}:\n"
        f"{numbers}\n\nMailbox: {link}\n",
    )


def warning_text(office_name: str, registration_numbers: list[str], at: datetime) -> bytes:
    """The same warning as a system message's file (plain text) in an admin's tárhely."""
    numbers = "\n".join(registration_numbers)
    return (
        f"Figyelmeztetés ({_when(at)}): {office_name} hivatali tárhelyén az alábbi "
        f"dokumentumok 3 munkanapja várnak letöltésre.\n{numbers}\n\n"
        f"Warning ({_when(at)}): these documents have waited 3 working days in the mailbox "
        f"of {office_name}.\n{numbers}\n"
    ).encode()


# What happened to a mandate, as the notice to both sides says it (contract 25).
_MANDATE_CHANGES = {
    "offered": ("meghatalmazást ajánlott", "offered a mandate"),
    "accepted": ("elfogadta a meghatalmazást", "accepted the mandate"),
    "revoked": ("visszavonta a meghatalmazást", "revoked the mandate"),
}


def mandate_notice(envelope: Envelope, change: str, principal_name: str, agent_name: str,
                   actor_name: str | None, link: str) -> EmailMessage:
    """A mandate between ``principal_name`` and ``agent_name`` was offered, accepted or
    revoked (by ``actor_name``), or ran out (``expired``, no actor)."""
    who = (f"Meghatalmazó: {principal_name}\nMeghatalmazott: {agent_name}\n",
           f"Principal: {principal_name}\nAgent: {agent_name}\n")
    if change == "expired":
        hungarian = "A meghatalmazás érvényessége lejárt."
        english = "The mandate has run out."
        subject = "Meghatalmazás lejárt"
    else:
        verb_hu, verb_en = _MANDATE_CHANGES[change]
        hungarian, english = f"{actor_name} {verb_hu}.", f"{actor_name} {verb_en}."
        subject = {"offered": "Meghatalmazás ajánlása", "accepted": "Meghatalmazás elfogadva",
                   "revoked": "Meghatalmazás visszavonva"}[change]
    return _message(
        envelope, subject,
        f"Tisztelt Ügyfelünk!\n\n{hungarian}\n\n{who[0]}Részletek: {link}\n",
        f"{english}\n\n{who[1]}Details: {link}\n",
    )
