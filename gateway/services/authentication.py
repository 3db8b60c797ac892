"""AVDH (contract 23): authenticate a file for a person, verify a PDF, and the record of every
authentication (hashes only) that lets a verification say ``issued_here``."""

from __future__ import annotations

from gateway.domain.audit import AuditAction, AuditEvent
from gateway.services.ports.evidence import AuthenticationRecord
from gateway.services.ports.storage import UnitOfWork


async def record_authentication(uow: UnitOfWork, record: AuthenticationRecord, *,
                                actor: str, office_krid: str | None) -> None:
    """Record an authentication and audit it as ``document_authenticated`` (the result's
    SHA-256), in the caller's write transaction: ``actor`` is the person's username, and
    ``office_krid`` the office they acted for, if any."""
    await uow.authentications.add(record)
    await uow.audit.append(AuditEvent(
        at=record.authenticated_at, actor=actor, action=AuditAction.DOCUMENT_AUTHENTICATED,
        sha256=record.result_sha256, detail=record.original_sha256, office_krid=office_krid))
