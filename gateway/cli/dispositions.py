"""``kapu disposition show``: a party's disposition and the mandates in force, as an office
would look them up (contract 25), for the operator; not audited as an office's lookup."""

from __future__ import annotations

import argparse
import json

from gateway.cli.common import fail, migrate, with_ports
from gateway.config import Settings
from gateway.errors import NotFound
from gateway.services.ports import Ports


def show(settings: Settings, args: argparse.Namespace) -> int:
    from gateway.rest.rny import EARLIEST_AT, LATEST_AT, LookupOut, MailboxAddressOut
    from gateway.services import rny as rny_service

    if args.at is not None and not EARLIEST_AT <= args.at <= LATEST_AT:
        fail(2, f"argument --at: give a time between {EARLIEST_AT:%Y-%m-%d} and "
                f"{LATEST_AT:%Y-%m-%d}")
    migrate(settings, announce=False)

    async def look_up(ports: Ports) -> LookupOut | None:
        try:
            lookup = await rny_service.disposition_of(ports, args.key, args.at)
        except NotFound:
            return None
        return LookupOut.of_lookup(lookup)

    found = with_ports(settings, look_up)
    if found is None:
        fail(1, f"no party with the address {args.key!r} (a kapcsolati kód or a KRID)")
    if args.json:
        print(json.dumps(found.model_dump(mode="json"), ensure_ascii=False))
        return 0
    address = found.official_address
    print(f"electronic_contact: {'yes' if found.electronic_contact else 'no'}")
    print("official_address: " + (f"mailbox {address.krid}"
                                  if isinstance(address, MailboxAddressOut)
                                  else f"tarhely {address.code}"))
    print(f"since: {found.since.isoformat() if found.since else 'not declared'}")
    if not found.mandates:
        print("mandates: none")
    for mandate in found.mandates:
        scope = ("all offices" if isinstance(mandate.scope, str)
                 else "offices " + " ".join(mandate.scope.offices))
        until = mandate.valid_until.isoformat() if mandate.valid_until else "no end"
        print(f"mandate {mandate.id}: agent {mandate.agent.name} ({mandate.agent.code}), "
              f"{scope}, from {mandate.valid_from.isoformat()} until {until}")
    return 0
