"""A driver for the REST API used by the integration and end-to-end tests."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from gateway.domain.parties import PartyKind
from gateway.domain.registration import sequence_of as sequence_of
from gateway.services.parties import register_citizen, register_organisation
from gateway.services.ports import Ports
from tests.conftest import fresh_krid, fresh_short_name

PDF = b"%PDF-1.7\n" + b"hello from the office\n" * 20 + b"%%EOF\n"


@dataclass(frozen=True)
class Account:
    username: str
    password: str
    krid: str | None = None
    code: str | None = None

    @property
    def auth(self) -> tuple[str, str]:
        return (self.username, self.password)


async def new_org(ports: Ports, kind: PartyKind = PartyKind.HIVATALI, name: str = "",
                  mak_code: str | None = None) -> Account:
    krid = fresh_krid()
    registered = await register_organisation(
        ports, krid=krid, short_name=fresh_short_name(), name=name or f"Teszt Hivatal {krid}",
        kind=kind, mak_code=mak_code,
    )
    return Account(registered.username, registered.password, krid=krid)


async def new_citizen(ports: Ports, email: str = "polgar@example.hu") -> Account:
    registered = await register_citizen(ports, name="Teszt Polgár", email=email)
    return Account(registered.username, registered.password, code=registered.code)


def upload_form(to: Account, **overrides: Any) -> dict[str, str]:
    fields = {"doc_type_office": "TESZT", "doc_type_id": "LEVEL",
              "doc_type_description": "Levél"}
    if to.krid:
        fields["recipient_krid"] = to.krid
    else:
        assert to.code is not None
        fields["recipient_code"] = to.code
    fields.update({k: v for k, v in overrides.items() if v is not None})
    return fields


async def upload(
    client: httpx.AsyncClient,
    sender: Account,
    to: Account,
    content: bytes = PDF,
    file_name: str = "level.pdf",
    headers: dict[str, str] | None = None,
    **fields: Any,
) -> httpx.Response:
    return await client.post(
        "/api/v1/documents", auth=sender.auth, data=upload_form(to, **fields),
        files={"file": (file_name, content)}, headers=headers,
    )


def stored_files(blob_root: Path) -> list[str]:
    """Every file under the blob store, temporary ones included."""
    return sorted(str(p.relative_to(blob_root)) for p in blob_root.rglob("*") if p.is_file())


def temporary_files(directory: Path) -> list[str]:
    """Every file under ``directory`` (a data directory's ``tmp/avdh`` or ``tmp/epapir``, or
    all of ``tmp``) but each process's own ``.lock``: what requests left behind."""
    return sorted(str(p.relative_to(directory)) for p in directory.rglob("*")
                  if p.is_file() and p.name != ".lock")


def sha256(content: bytes) -> str:
    return hashlib.sha256(content).hexdigest()


