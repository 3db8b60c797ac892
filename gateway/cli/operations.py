"""``kapu maintenance announce`` and ``kapu incident open|close|certificate``."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING, Any

from gateway.cli.common import migrate, show, with_ports
from gateway.config import Settings

if TYPE_CHECKING:
    from gateway.services.operations import OutageCertificate


def certificate_fields(certificate: OutageCertificate) -> dict[str, Any]:
    """What the certificate states, each value as its XML writes it, and the XML itself."""
    from gateway.crypto.receipts import OUTAGE_KIND, iso_duration
    from gateway.domain.registration import budapest_local

    statement = certificate.statement
    extension = statement.deadline_extension
    return {"id": statement.incident_id, "kind": OUTAGE_KIND,
            "start": budapest_local(statement.start).isoformat(),
            "end": budapest_local(statement.end).isoformat(),
            "duration": iso_duration(statement.end - statement.start),
            "affected": statement.affected,
            "deadline_extension": extension.isoformat() if extension is not None else None,
            "issued_at": budapest_local(statement.issued_at).isoformat(),
            "xml": certificate.xml.decode()}


def announce_or_record(settings: Settings, args: argparse.Namespace) -> int:
    from gateway.domain.registration import budapest_local
    from gateway.services import operations

    migrate(settings, announce=False)
    if args.command == "maintenance":
        window = with_ports(settings, lambda ports: operations.announce_maintenance(
            ports, args.start, args.end, args.reason))
        show({"id": window.id, "start": budapest_local(window.start_at).isoformat(),
              "end": budapest_local(window.end_at).isoformat(), "reason": window.reason},
             args.json)
        return 0
    if args.incident_command == "certificate":
        certificate = with_ports(settings, lambda ports: operations.outage_certificate(
            ports, args.id))
        if args.json:
            show(certificate_fields(certificate), as_json=True)
        else:
            sys.stdout.buffer.write(certificate.xml)
            sys.stdout.flush()
        return 0
    if args.incident_command == "open":
        affected = args.affected if args.affected is not None else operations.WHOLE_SERVICE
        found = with_ports(settings, lambda ports: operations.open_incident(
            ports, args.title, outage=not args.degraded, affected=affected))
    else:
        found = with_ports(settings, lambda ports: operations.close_incident(ports, args.id))
    show({"id": found.id, "title": found.title, "outage": found.outage,
          "affected": found.affected, "opened_at": budapest_local(found.opened_at).isoformat(),
          "closed_at": budapest_local(found.closed_at).isoformat()
          if found.closed_at else None}, args.json)
    return 0
