"""Hirdetmény forms for the tests: a valid form with any field changed, and its upload."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import httpx

from gateway.domain.public_notices import NoticeForm
from gateway.notice_form import write_form
from gateway.services.ports import Ports
from tests.helpers import Account

PORTAL = Account("", "", krid="100000000")


def notice_form(at: datetime, **overrides: Any) -> NoticeForm:
    """A notice shown from ``at`` for 30 days; ``overrides`` replace any field."""
    fields: dict[str, Any] = {
        "identifier": "H-1", "correction": False, "category": "Építésügy",
        "subject": "Árvízvédelmi gát építése", "authority": "Teszt Járási Hivatal",
        "applicant": "Gátépítő Kft.", "case_number": "BP/123-4/2026",
        "settlement": "Szentendre", "case_worker": "Kovács Éva",
        "display_from": at, "display_until": at + timedelta(days=30),
        "text": "Az árvízvédelmi gát építési engedélyének kérelméről.",
    }
    fields.update(overrides)
    return NoticeForm(**fields)


def notice_xml(at: datetime, attachments: list[tuple[str, bytes]] | None = None,
               **overrides: Any) -> bytes:
    return write_form(notice_form(at, **overrides), attachments or [])


async def publish(client: httpx.AsyncClient, office: Account, content: bytes,
                  doc_type_id: str = "HIRDETMENY", file_name: str = "hirdetmeny.xml",
                  ) -> httpx.Response:
    """Send a form to the portal over REST, as an office's DMS does."""
    return await client.post(
        "/api/v1/documents", auth=office.auth,
        data={"recipient_krid": PORTAL.krid, "doc_type_office": "HIRDETMENY",
              "doc_type_id": doc_type_id, "doc_type_description": "Hirdetmény"},
        files={"file": (file_name, content, "application/xml")})


async def id_of_notice(ports: Ports, office: Account, identifier: str) -> int:
    """The id of an office's notice by its Azonosito, read where no public door shows it
    (before its display starts, say)."""
    async with ports.uow() as uow:
        party = await uow.parties.by_krid(office.krid or "")
        assert party is not None
        found = await uow.public_notices.of_office(party.id, identifier)
    assert found is not None
    return found.id
