"""The command line: ``kapu …`` and ``python -m gateway …``. Thin: parses, calls services."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import shutil
import sys
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any, NoReturn, TypeVar

from pydantic import ValidationError

from gateway.config import Settings
from gateway.domain.parties import (
    PartyKind,
    StaffRole,
    check_krid,
    check_mak_code,
    check_short_name,
)
from gateway.errors import GatewayError, Unavailable
from gateway.services import parties as party_service
from gateway.services.ports import Ports

if TYPE_CHECKING:
    from gateway.services.operations import OutageCertificate

T = TypeVar("T")


class _Parser(argparse.ArgumentParser):
    """argparse that reports a bad argument in one line on stderr and exits 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")


def _argument(check: Callable[[str], str]) -> Callable[[str], str]:
    def convert(value: str) -> str:
        try:
            return check(value)
        except ValueError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from exc
    return convert


def _instant(value: str) -> datetime:
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not an ISO 8601 time: {value!r}") from exc
    if parsed.tzinfo is None:
        raise argparse.ArgumentTypeError(f"give the offset too, e.g. {value}+01:00")
    return parsed


def _seconds(value: str) -> float:
    try:
        seconds = float(value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {value!r}") from exc
    if not 0 <= seconds < float("inf"):
        raise argparse.ArgumentTypeError(f"give 0 or more seconds, not {value}")
    return seconds


def _parser() -> _Parser:
    parser = _Parser(prog="kapu", description="Kapu: a stand-in for the KR machine Office Gateway.")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    serve = commands.add_parser("serve", help="apply migrations, then serve REST (and SOAP)")
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on")
    serve.add_argument("--port", type=int, default=8080, help="port to listen on")
    serve.add_argument("--demo", action="store_true",
                       help="create the demo parties (idempotent) and print their credentials")
    serve.add_argument("--workers", type=int, default=os.cpu_count() or 1,
                       help="worker processes (default: one per CPU, here %(default)s)")

    commands.add_parser("worker", help="run the deadline sweeps and webhook deliveries "
                        "(without serving HTTP); any number may run at once")

    db = commands.add_parser("db", help="database maintenance")
    db_commands = db.add_subparsers(dest="db_command", required=True, parser_class=_Parser)
    db_commands.add_parser("upgrade", help="apply pending migrations to KAPU_DATABASE_URL")

    org = commands.add_parser("org", help="organisations")
    org_commands = org.add_subparsers(dest="org_command", required=True, parser_class=_Parser)
    org_add = org_commands.add_parser("add", help="register an organisation gateway")
    org_add.add_argument("--krid", required=True, type=_argument(check_krid),
                         help="9-digit KRID")
    org_add.add_argument("--short-name", required=True, type=_argument(check_short_name),
                         help="rövid név: 2–20 upper-case letters or digits")
    org_add.add_argument("--name", required=True, help="full name")
    org_add.add_argument("--type", choices=["hivatali", "ceg", "per"], default="hivatali",
                         help="Hivatali kapu, Cégkapu or Perkapu (default hivatali)")
    org_add.add_argument("--mak-code", type=_argument(check_mak_code), help="9-digit MÁK code")
    org_add.add_argument("--json", action="store_true", help="print one JSON object")

    keys = commands.add_parser("keys", help="the gateway's own keys")
    keys_commands = keys.add_subparsers(dest="keys_command", required=True, parser_class=_Parser)
    keys_init = keys_commands.add_parser(
        "init", help="create the CA, receipt-signing and TSA keys under KAPU_DATA_DIR/keys "
        "if absent")
    keys_init.add_argument("--json", action="store_true", help="print one JSON object")

    audit = commands.add_parser("audit", help="the audit chain")
    audit_commands = audit.add_subparsers(dest="audit_command", required=True,
                                          parser_class=_Parser)
    audit_verify = audit_commands.add_parser(
        "verify", help="check every entry's hash; exit 0 when intact, 1 naming the first that "
        "is not")
    audit_verify.add_argument("--json", action="store_true", help="print one JSON object")

    blobs = commands.add_parser("blobs", help="the blob store")
    blobs_commands = blobs.add_subparsers(dest="blobs_command", required=True,
                                          parser_class=_Parser)
    gc = blobs_commands.add_parser(
        "gc", help="remove blob and staged files that no committed row names, once older "
        "than the grace period")
    gc.add_argument("--grace", type=_seconds, default=None, metavar="SECONDS",
                    help="leave files younger than this alone: an upload may still be in "
                    "flight (default KAPU_BLOB_GC_GRACE_SECONDS, 3600; 0 when you know none "
                    "is)")
    gc.add_argument("--json", action="store_true", help="print one JSON object")

    maintenance = commands.add_parser("maintenance", help="announced maintenance windows")
    maintenance_commands = maintenance.add_subparsers(dest="maintenance_command", required=True,
                                                      parser_class=_Parser)
    announce = maintenance_commands.add_parser(
        "announce", help="announce a window (at least 3 days ahead); it shows on /status")
    announce.add_argument("--start", required=True, type=_instant,
                          help="ISO 8601 with offset, e.g. 2027-01-09T22:00:00+01:00")
    announce.add_argument("--end", required=True, type=_instant, help="ISO 8601 with offset")
    announce.add_argument("--reason", required=True, help="what is done and why")
    announce.add_argument("--json", action="store_true", help="print one JSON object")

    incident = commands.add_parser("incident", help="the incident log (kept at least 8 years)")
    incident_commands = incident.add_subparsers(dest="incident_command", required=True,
                                                parser_class=_Parser)
    opened = incident_commands.add_parser("open", help="record an incident; prints its id")
    opened.add_argument("--title", required=True, help="what is wrong, for the status page")
    opened.add_argument("--degraded", action="store_true",
                        help="service degraded but up: does not count against availability "
                        "and extends no deadline")
    opened.add_argument("--affected", default=None,
                        help="what is affected, as the outage certificate states it "
                        "(default: every service)")
    opened.add_argument("--json", action="store_true", help="print one JSON object")
    closed = incident_commands.add_parser("close", help="close an open incident")
    closed.add_argument("id", type=int, help="the incident's id")
    closed.add_argument("--json", action="store_true", help="print one JSON object")
    certificate = incident_commands.add_parser(
        "certificate", help="print the signed outage certificate (XML) of a closed incident")
    certificate.add_argument("id", type=int, help="the incident's id")
    certificate.add_argument("--json", action="store_true",
                             help="print one JSON object: the certificate's fields and its XML")

    staff = commands.add_parser("staff", help="persons' roles on an organisation's mailbox")
    staff_commands = staff.add_subparsers(dest="staff_command", required=True,
                                          parser_class=_Parser)
    grant = staff_commands.add_parser(
        "grant", help="give a person a role (admin: at most 5; replaces another role)")
    revoke = staff_commands.add_parser(
        "revoke", help="take a person's role away (the last admin stays)")
    listed = staff_commands.add_parser("list", help="the organisation's staff")
    for command in (grant, revoke, listed):
        command.add_argument("--krid", required=True, type=_argument(check_krid),
                             help="the organisation's KRID")
    for command in (grant, revoke):
        command.add_argument("--person", required=True,
                             help="the person's username (as they log in)")
    grant.add_argument("--role", required=True, choices=[role.value for role in StaffRole],
                       help="admin (manages the staff) or clerk (works the mailbox)")
    for command in (grant, revoke, listed):
        command.add_argument("--json", action="store_true", help="print one JSON object")

    citizen = commands.add_parser("citizen", help="citizens")
    citizen_commands = citizen.add_subparsers(dest="citizen_command", required=True,
                                              parser_class=_Parser)
    citizen_add = citizen_commands.add_parser("add", help="register a citizen")
    citizen_add.add_argument("--name", required=True, help="full name")
    citizen_add.add_argument("--email", required=True, help="e-mail address")
    citizen_add.add_argument("--json", action="store_true", help="print one JSON object")
    return parser


def _fail(status: int, message: str) -> NoReturn:
    print(f"kapu: error: {message}", file=sys.stderr)
    raise SystemExit(status)


def _settings() -> Settings:
    try:
        return Settings()
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        if not where:  # a rule over several settings: its message names them
            _fail(2, str(first.get("ctx", {}).get("error", first["msg"])))
        _fail(2, f"bad setting {where.upper()}: {first['msg']}")


def _migrate(settings: Settings, *, announce: bool = True) -> None:
    from gateway.storage.database import upgrade

    if announce:
        print("kapu: applying database migrations…", file=sys.stderr)
    try:
        upgrade(settings.database_url)
    except Exception as exc:
        _fail(1, f"cannot migrate the database at KAPU_DATABASE_URL: {exc}")


def _with_ports(settings: Settings, work: Callable[[Ports], Awaitable[T]]) -> T:
    from gateway.app import build_runtime

    async def run() -> T:
        from gateway.services import sandbox

        runtime = build_runtime(settings)
        try:
            if runtime.ports.sandbox_clock is not None:
                # Record on the installation's test clock, as the server does.
                await sandbox.refresh(runtime.ports)
            return await work(runtime.ports)
        finally:
            await runtime.ports.blobs.close()
            await runtime.engine.dispose()

    try:
        return asyncio.run(run())
    except Unavailable as exc:
        _fail(1, exc.detail)
    except GatewayError as exc:
        _fail(2, exc.detail)


def _print(data: dict[str, Any], as_json: bool) -> None:
    if as_json:
        print(json.dumps(data, ensure_ascii=False))
    else:
        for key, value in data.items():
            print(f"{key}: {value}")


def _serve(args: argparse.Namespace, settings: Settings) -> None:
    import uvicorn

    if args.demo and settings.environment == "production":
        _fail(2, "--demo is refused in production: its passwords are published")
    _migrate(settings)
    _one_set_of_keys(settings)
    if args.demo:
        shown = _with_ports(settings, party_service.ensure_demo_parties)
        print("kapu: demo parties (username / password):", file=sys.stderr)
        for party in shown:
            address = f"KRID {party.krid}" if party.krid else f"kapcsolati kód {party.code}"
            role = f", {party.staff_of}" if party.staff_of else ""
            print(f"  {party.username:14} {party.password:22} {address}{role}", file=sys.stderr)
    if args.workers > 1 and not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        # prometheus-client adds up the workers' metrics through files in this directory;
        # it must be empty at start and set before the workers import it.
        directory = settings.data_dir / "metrics"
        shutil.rmtree(directory, ignore_errors=True)
        directory.mkdir(mode=0o700, parents=True)
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(directory.resolve())
    options: dict[str, Any] = {"factory": True, "host": args.host, "port": args.port,
                               "workers": args.workers, "access_log": False,
                               "log_level": "info"}
    if args.workers == 1:
        uvicorn.run("gateway.app:create_app", **options)  # a failed start exits 3
        return
    config = uvicorn.Config("gateway.app:create_app", **options)
    # uvicorn.run would do the same, but when one worker fails to start it stops every
    # worker and returns as if asked to stop: say so, and exit non-zero.
    from uvicorn.config import STARTUP_FAILURE
    from uvicorn.supervisors import Multiprocess

    supervisor = Multiprocess(config, sockets=[config.bind_socket()])
    supervisor.run()
    failed = [process.pid for process in supervisor.processes
              if process.exitcode == STARTUP_FAILURE]
    if failed:
        _fail(STARTUP_FAILURE, f"worker process {failed[0]} failed to start (its log is above),"
              " so the server stopped")


def _one_set_of_keys(settings: Settings) -> None:
    """Refuse to start a host whose keys are not the other hosts' (section 21)."""
    from gateway.services.operations import check_one_set_of_keys

    try:
        _with_ports(settings, check_one_set_of_keys)
    except SystemExit:
        print("kapu: refusing to start: every host of one database signs with the same keys",
              file=sys.stderr)
        raise


def _certificate_fields(certificate: OutageCertificate) -> dict[str, Any]:
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


def _worker(settings: Settings) -> int:
    from gateway.app import blob_gc_of, build_runtime, delivery_policy, poster_of
    from gateway.worker import run_forever

    async def work() -> None:
        runtime = build_runtime(settings)
        poster = poster_of(settings)
        print("kapu: worker running deadline sweeps and webhook deliveries (Ctrl-C stops)",
              file=sys.stderr)
        try:
            await run_forever(runtime.ports, poster, delivery_policy(settings),
                              settings.jobs_interval_seconds, gc=blob_gc_of(settings))
        finally:
            await poster.close()
            await runtime.engine.dispose()

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(work())
    return 0


def _operations(settings: Settings, args: argparse.Namespace) -> int:
    from gateway.domain.registration import budapest_local
    from gateway.services import operations

    if args.command == "maintenance":
        window = _with_ports(settings, lambda ports: operations.announce_maintenance(
            ports, args.start, args.end, args.reason))
        _print({"id": window.id, "start": budapest_local(window.start_at).isoformat(),
                "end": budapest_local(window.end_at).isoformat(), "reason": window.reason},
               args.json)
        return 0
    if args.incident_command == "certificate":
        certificate = _with_ports(settings, lambda ports: operations.outage_certificate(
            ports, args.id))
        if args.json:
            _print(_certificate_fields(certificate), as_json=True)
        else:
            sys.stdout.buffer.write(certificate.xml)
            sys.stdout.flush()
        return 0
    if args.incident_command == "open":
        affected = args.affected if args.affected is not None else operations.WHOLE_SERVICE
        found = _with_ports(settings, lambda ports: operations.open_incident(
            ports, args.title, outage=not args.degraded, affected=affected))
    else:
        found = _with_ports(settings, lambda ports: operations.close_incident(ports, args.id))
    _print({"id": found.id, "title": found.title, "outage": found.outage,
            "affected": found.affected, "opened_at": budapest_local(found.opened_at).isoformat(),
            "closed_at": budapest_local(found.closed_at).isoformat()
            if found.closed_at else None}, args.json)
    return 0


def _keys_init(settings: Settings, as_json: bool) -> int:
    from gateway.crypto.keys import ensure_keys

    if settings.environment == "production":
        _fail(2, "production uses the key files named in settings; keys init is for "
                 "development and test installations")
    keys, created = ensure_keys(settings.key_directory)
    _print({
        "directory": str(settings.key_directory.resolve()), "created": created,
        "ca_subject": keys.ca_cert.subject.rfc4514_string(),
        "ca_not_after": keys.ca_cert.not_valid_after_utc.isoformat(),
    }, as_json)
    return 0


def _audit_verify(settings: Settings, as_json: bool) -> int:
    from gateway.services.audit import verify_audit

    _migrate(settings, announce=False)
    checked, fault = _with_ports(settings, verify_audit)
    report: dict[str, Any] = {"intact": fault is None, "entries_checked": checked}
    if fault is not None:
        report |= {"first_bad_entry": fault.sequence, "reason": fault.reason}
    if as_json:
        print(json.dumps(report))
    elif fault is None:
        print(f"audit chain intact: {checked} entries")
    else:
        print(f"audit chain BROKEN at entry {fault.sequence}: {fault.reason} "
              f"({checked} entries before it are intact)")
    return 0 if fault is None else 1


def _blobs_gc(settings: Settings, grace: float | None, as_json: bool) -> int:
    from gateway.services.blob_gc import collect_blob_garbage
    from gateway.services.ports.storage import BlobGcReport

    grace = settings.blob_gc_grace_seconds if grace is None else grace

    def progress(done: BlobGcReport) -> None:
        print(f"kapu: blobs gc: {done.examined} examined, {done.removed} removed…",
              file=sys.stderr)

    where = settings.blob_url if settings.blobs_in_s3 else settings.blob_dir
    print(f"kapu: blobs gc: files older than {grace:g} s in {where}", file=sys.stderr)
    done = _with_ports(settings, lambda ports: collect_blob_garbage(ports, grace, progress))
    print(f"kapu: blobs gc: {done.examined} examined, {done.removed} removed, "
          f"{done.placed} placed after an interrupted upload, {done.aborted_uploads} "
          "unfinished multipart uploads aborted", file=sys.stderr)
    if as_json:
        # aborted_uploads: unfinished multipart uploads of an S3 store; none on a filesystem.
        print(json.dumps({"examined": done.examined, "removed": done.removed,
                          "placed": done.placed, "aborted_uploads": done.aborted_uploads}))
    return 0


def _staff(settings: Settings, args: argparse.Namespace) -> int:
    from gateway.services import staff as staff_service

    if args.staff_command == "list":
        office, members = _with_ports(
            settings, lambda ports: staff_service.list_staff(ports, krid=args.krid))
        people = [{"person": m.person.username, "name": m.person.name, "role": m.role.value,
                   "granted_at": m.granted_at.isoformat()} for m in members]
        if args.json:
            print(json.dumps({"krid": office.krid, "short_name": office.short_name,
                              "staff": people}, ensure_ascii=False))
        else:
            for person in people:
                print(f"{person['person']:20} {person['role']:6} {person['name']}")
        return 0
    if args.staff_command == "grant":
        change = _with_ports(settings, lambda ports: staff_service.grant_role(
            ports, krid=args.krid, username=args.person, role=StaffRole(args.role)))
    else:
        change = _with_ports(settings, lambda ports: staff_service.revoke_role(
            ports, krid=args.krid, username=args.person))
    _print({"krid": change.office.krid, "person": change.person.username,
            "role": change.role.value if change.role else None}, args.json)
    return 0


# Files and directories Kapu makes (database, blobs, mail, keys, metrics) are its own user's
# only: 0600 and 0700. Set once for the process, so it holds for every library writing on its
# behalf (SQLite, the key files) and for the server's worker processes, which inherit it.
PRIVATE_UMASK = 0o077


def main(argv: Sequence[str] | None = None) -> int:
    os.umask(PRIVATE_UMASK)
    args = _parser().parse_args(argv)
    settings = _settings()
    if args.command == "serve":
        _serve(args, settings)
        return 0
    elif args.command == "db":
        _migrate(settings)
        print("kapu: the database is up to date", file=sys.stderr)
    elif args.command == "org":
        _migrate(settings, announce=False)
        org = _with_ports(settings, lambda ports: party_service.register_organisation(
            ports, krid=args.krid, short_name=args.short_name, name=args.name,
            kind=PartyKind(args.type), mak_code=args.mak_code,
        ))
        _print({"krid": org.krid, "short_name": org.short_name, "username": org.username,
                "password": org.password}, args.json)
    elif args.command == "worker":
        _migrate(settings)
        _one_set_of_keys(settings)
        return _worker(settings)
    elif args.command in ("maintenance", "incident"):
        _migrate(settings, announce=False)
        return _operations(settings, args)
    elif args.command == "keys":
        return _keys_init(settings, args.json)
    elif args.command == "audit":
        return _audit_verify(settings, args.json)
    elif args.command == "blobs":
        _migrate(settings, announce=False)
        return _blobs_gc(settings, args.grace, args.json)
    elif args.command == "staff":
        _migrate(settings, announce=False)
        return _staff(settings, args)
    elif args.command == "citizen":
        _migrate(settings, announce=False)
        citizen = _with_ports(settings, lambda ports: party_service.register_citizen(
            ports, name=args.name, email=args.email,
        ))
        _print({"code": citizen.code, "username": citizen.username,
                "password": citizen.password}, args.json)
    return 0
