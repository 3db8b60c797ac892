"""Parties' public encryption keys (kulcstár): upload, replace, delete, look up.

Every change is kept: replacing or deleting marks the earlier certificate removed, never
erases it.
"""

from __future__ import annotations

from dataclasses import dataclass

from gateway.crypto.certificates import read_certificate
from gateway.domain.audit import AuditAction, AuditEvent
from gateway.domain.limits import has_nul
from gateway.domain.parties import Party
from gateway.errors import Forbidden, InvalidCertificate, KeyNotFound
from gateway.services.ports.evidence import KeyRecord
from gateway.services.ports.slices import KeyPorts

MIN_RSA_BITS = 2048


@dataclass(frozen=True)
class PublicKey:
    certificate_der: bytes
    fingerprint_sha256: str


async def upload_key(ports: KeyPorts, party: Party, certificate: bytes) -> KeyRecord:
    """File ``certificate`` (PEM or DER) as the party's encryption key: RSA of at least 2048
    bits and valid now; anything else is InvalidCertificate."""
    try:
        facts = read_certificate(certificate)
    except ValueError as exc:
        raise InvalidCertificate(f"not an X.509 certificate: {exc}") from exc
    if facts.rsa_bits is None:
        raise InvalidCertificate("the certificate's key must be RSA")
    if facts.rsa_bits < MIN_RSA_BITS:
        raise InvalidCertificate(
            f"the RSA key has {facts.rsa_bits} bits; at least {MIN_RSA_BITS} are required")
    now = ports.clock.now()
    if facts.not_after <= now:
        raise InvalidCertificate(f"the certificate expired on {facts.not_after.isoformat()}")
    if facts.not_before > now:
        raise InvalidCertificate(
            f"the certificate is not valid before {facts.not_before.isoformat()}")
    record = KeyRecord(facts.der, facts.fingerprint_sha256, facts.not_after)
    async with ports.write_uow() as uow:
        await uow.keys.replace(party.id, record, now)
        await uow.audit.append(AuditEvent(at=now, actor=party.username,
                                          action=AuditAction.KEY_FILED,
                                          detail=record.fingerprint_sha256))
        await uow.commit()
    return record


async def delete_key(ports: KeyPorts, party: Party) -> None:
    """Remove the party's key (kept in the history); a later upload is allowed."""
    async with ports.write_uow() as uow:
        now = ports.clock.now()
        if await uow.keys.remove(party.id, now):
            await uow.audit.append(AuditEvent(at=now, actor=party.username,
                                              action=AuditAction.KEY_REMOVED))
        await uow.commit()


async def lookup_key(
    ports: KeyPorts, asker: Party, *, krid: str | None = None, code: str | None = None
) -> KeyRecord:
    """The current key of the party with ``krid`` or kapcsolati kód ``code``. Organisations may
    look up anyone; citizens only organisations. KeyNotFound when none is on file."""
    if has_nul(krid) or has_nul(code):  # names no party (nor can be queried on PostgreSQL)
        raise KeyNotFound("no party with that address has a key on file")
    async with ports.uow() as uow:
        party = await (uow.parties.by_krid(krid) if krid else uow.parties.by_code(code or ""))
        if party is None:
            raise KeyNotFound("no party with that address has a key on file")
        if not asker.is_organisation and not party.is_organisation:
            raise Forbidden("citizens may look up the keys of organisations only")
        record = await uow.keys.current(party.id)
    if record is None or record.not_after <= ports.clock.now():
        raise KeyNotFound(f"{party.name} has no valid public key on file")
    return record
