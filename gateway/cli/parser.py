"""``kapu``'s arguments: every command, its options and its --help, in one place."""

from __future__ import annotations

import os

from gateway.cli.common import Parser, argument, instant, seconds
from gateway.domain.epapir import MAX_TOPICS, TOPIC_CODE_MAX_CHARS, TOPIC_NAME_MAX_CHARS
from gateway.domain.parties import StaffRole, check_krid, check_mak_code, check_short_name


def build_parser() -> Parser:
    parser = Parser(prog="kapu", description="Kapu: a stand-in for the KR machine Office Gateway.")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=Parser)

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
    db_commands = db.add_subparsers(dest="db_command", required=True, parser_class=Parser)
    db_commands.add_parser("upgrade", help="apply pending migrations to KAPU_DATABASE_URL")

    org = commands.add_parser("org", help="organisations")
    org_commands = org.add_subparsers(dest="org_command", required=True, parser_class=Parser)
    org_add = org_commands.add_parser("add", help="register an organisation gateway")
    org_add.add_argument("--krid", required=True, type=argument(check_krid),
                         help="9-digit KRID")
    org_add.add_argument("--short-name", required=True, type=argument(check_short_name),
                         help="rövid név: 2–20 upper-case letters or digits")
    org_add.add_argument("--name", required=True, help="full name")
    org_add.add_argument("--type", choices=["hivatali", "ceg", "per"], default="hivatali",
                         help="Hivatali kapu, Cégkapu or Perkapu (default hivatali)")
    org_add.add_argument("--mak-code", type=argument(check_mak_code), help="9-digit MÁK code")
    org_add.add_argument("--json", action="store_true", help="print one JSON object")

    keys = commands.add_parser("keys", help="the gateway's own keys")
    keys_commands = keys.add_subparsers(dest="keys_command", required=True, parser_class=Parser)
    keys_init = keys_commands.add_parser(
        "init", help="create the CA, receipt-signing and TSA keys under KAPU_DATA_DIR/keys "
        "if absent")
    keys_init.add_argument("--json", action="store_true", help="print one JSON object")

    audit = commands.add_parser("audit", help="the audit chain")
    audit_commands = audit.add_subparsers(dest="audit_command", required=True,
                                          parser_class=Parser)
    audit_verify = audit_commands.add_parser(
        "verify", help="check every entry's hash; exit 0 when intact, 1 naming the first that "
        "is not")
    audit_verify.add_argument("--json", action="store_true", help="print one JSON object")

    blobs = commands.add_parser("blobs", help="the blob store")
    blobs_commands = blobs.add_subparsers(dest="blobs_command", required=True,
                                          parser_class=Parser)
    gc = blobs_commands.add_parser(
        "gc", help="remove blob and staged files that no committed row names, once older "
        "than the grace period")
    gc.add_argument("--grace", type=seconds, default=None, metavar="SECONDS",
                    help="leave files younger than this alone: an upload may still be in "
                    "flight (default KAPU_BLOB_GC_GRACE_SECONDS, 3600; 0 when you know none "
                    "is)")
    gc.add_argument("--json", action="store_true", help="print one JSON object")

    maintenance = commands.add_parser("maintenance", help="announced maintenance windows")
    maintenance_commands = maintenance.add_subparsers(dest="maintenance_command", required=True,
                                                      parser_class=Parser)
    announce = maintenance_commands.add_parser(
        "announce", help="announce a window (at least 3 days ahead); it shows on /status")
    announce.add_argument("--start", required=True, type=instant,
                          help="ISO 8601 with offset, e.g. 2027-01-09T22:00:00+01:00")
    announce.add_argument("--end", required=True, type=instant, help="ISO 8601 with offset")
    announce.add_argument("--reason", required=True, help="what is done and why")
    announce.add_argument("--json", action="store_true", help="print one JSON object")

    incident = commands.add_parser("incident", help="the incident log (kept at least 8 years)")
    incident_commands = incident.add_subparsers(dest="incident_command", required=True,
                                                parser_class=Parser)
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
                                          parser_class=Parser)
    grant = staff_commands.add_parser(
        "grant", help="give a person a role (admin: at most 5; replaces another role)")
    revoke = staff_commands.add_parser(
        "revoke", help="take a person's role away (the last admin stays)")
    listed = staff_commands.add_parser("list", help="the organisation's staff")
    for command in (grant, revoke, listed):
        command.add_argument("--krid", required=True, type=argument(check_krid),
                             help="the organisation's KRID")
    for command in (grant, revoke):
        command.add_argument("--person", required=True,
                             help="the person's username (as they log in)")
    grant.add_argument("--role", required=True, choices=[role.value for role in StaffRole],
                       help="admin (manages the staff) or clerk (works the mailbox)")
    for command in (grant, revoke, listed):
        command.add_argument("--json", action="store_true", help="print one JSON object")

    office = commands.add_parser("office", help="an office's (hivatali kapu's) settings")
    office_commands = office.add_subparsers(dest="office_command", required=True,
                                            parser_class=Parser)
    topics = office_commands.add_parser(
        "topics", help="the office's e-Papír topics (témacsoport); none set: ALTALANOS")
    topics_commands = topics.add_subparsers(dest="topics_command", required=True,
                                            parser_class=Parser)
    set_help = ("replace the office's topics with these, in this order (none: clear them, "
                "so the office offers ALTALANOS)")
    topics_set = topics_commands.add_parser(
        "set", help=set_help, description=set_help,
        epilog='example: kapu office topics set --krid 100000001 ADO="Adóügyek" '
        'EPITES="Építésügy"')
    topics_list = topics_commands.add_parser("list", help="the topics the office offers")
    for command in (topics_set, topics_list):
        command.add_argument("--krid", required=True, type=argument(check_krid),
                             help="the office's KRID")
    topics_set.add_argument("topics", nargs="*", metavar="CODE=NAME",
                            help=f"a topic: CODE is 1–{TOPIC_CODE_MAX_CHARS} of A–Z, 0–9 and "
                            f"_, unique; NAME 1–{TOPIC_NAME_MAX_CHARS} characters; at most "
                            f"{MAX_TOPICS} topics")
    for command in (topics_set, topics_list):
        command.add_argument("--json", action="store_true", help="print one JSON object")

    disposition = commands.add_parser(
        "disposition", help="dispositions (ügyintézési rendelkezés) and mandates")
    disposition_commands = disposition.add_subparsers(dest="disposition_command",
                                                      required=True, parser_class=Parser)
    shown_help = ("a party's disposition and the mandates in force, as an office would look "
                  "them up (not recorded as an office's lookup)")
    disposition_show = disposition_commands.add_parser(
        "show", help=shown_help, description=shown_help,
        epilog="example: kapu disposition show 100000001 --at 2027-01-04T09:00:00+01:00")
    disposition_show.add_argument("key", metavar="KEY",
                                  help="a citizen's kapcsolati kód or an organisation's KRID")
    disposition_show.add_argument("--at", type=instant, default=None,
                                  help="as in force at this time, ISO 8601 with offset "
                                  "(default: now)")
    disposition_show.add_argument("--json", action="store_true",
                                  help="print one JSON object, as REST's lookup answers")

    citizen = commands.add_parser("citizen", help="citizens")
    citizen_commands = citizen.add_subparsers(dest="citizen_command", required=True,
                                              parser_class=Parser)
    citizen_add = citizen_commands.add_parser("add", help="register a citizen")
    citizen_add.add_argument("--name", required=True, help="full name")
    citizen_add.add_argument("--email", required=True, help="e-mail address")
    citizen_add.add_argument("--json", action="store_true", help="print one JSON object")
    return parser
