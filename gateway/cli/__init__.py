"""The command line: ``kapu …`` and ``python -m gateway …``. Thin: parses, calls services.

One module per group of commands (``serve``, ``parties``, ``dispositions``, ``integrity``,
``operations``); their arguments and --help are all in ``parser``, what they share in
``common``."""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence

from gateway.cli.common import load_settings, migrate
from gateway.cli.parser import build_parser

# Files and directories Kapu makes (database, blobs, mail, keys, metrics) are its own user's
# only: 0600 and 0700. Set once for the process, so it holds for every library writing on its
# behalf (SQLite, the key files) and for the server's worker processes, which inherit it.
PRIVATE_UMASK = 0o077


def main(argv: Sequence[str] | None = None) -> int:
    # Each command's module is imported when that command runs: --help and a refused argument
    # need none of them (and no command needs the server's modules, see gateway/wiring.py).
    os.umask(PRIVATE_UMASK)
    args = build_parser().parse_args(argv)
    settings = load_settings()
    if args.command == "serve":
        from gateway.cli import serve

        serve.serve(args, settings)
        return 0
    if args.command == "db":
        migrate(settings)
        print("kapu: the database is up to date", file=sys.stderr)
        return 0
    if args.command == "worker":
        from gateway.cli import serve

        return serve.worker(settings)
    if args.command == "disposition":
        from gateway.cli import dispositions

        return dispositions.show(settings, args)
    if args.command in ("org", "citizen", "staff", "office"):
        from gateway.cli import parties

        if args.command == "org":
            return parties.add_organisation(settings, args)
        if args.command == "citizen":
            return parties.add_citizen(settings, args)
        if args.command == "staff":
            return parties.staff(settings, args)
        return parties.office_topics(settings, args)
    if args.command in ("maintenance", "incident"):
        from gateway.cli import operations

        return operations.announce_or_record(settings, args)
    from gateway.cli import integrity

    if args.command == "keys":
        return integrity.keys_init(settings, args.json)
    if args.command == "audit":
        return integrity.audit_verify(settings, args.json)
    assert args.command == "blobs"
    return integrity.blobs_gc(settings, args.grace, args.json)
