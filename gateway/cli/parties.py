"""``kapu org``, ``kapu citizen``, ``kapu staff`` and ``kapu office``: parties, their staff
and an office's e-Papír topics."""

from __future__ import annotations

import argparse
import json

from gateway.cli.common import fail, migrate, show, with_ports
from gateway.config import Settings
from gateway.domain.epapir import TopicRefusal, read_topics
from gateway.domain.parties import PartyKind, StaffRole
from gateway.services import parties as party_service


def add_organisation(settings: Settings, args: argparse.Namespace) -> int:
    migrate(settings, announce=False)
    org = with_ports(settings, lambda ports: party_service.register_organisation(
        ports, krid=args.krid, short_name=args.short_name, name=args.name,
        kind=PartyKind(args.type), mak_code=args.mak_code,
    ))
    show({"krid": org.krid, "short_name": org.short_name, "username": org.username,
          "password": org.password}, args.json)
    return 0


def add_citizen(settings: Settings, args: argparse.Namespace) -> int:
    migrate(settings, announce=False)
    citizen = with_ports(settings, lambda ports: party_service.register_citizen(
        ports, name=args.name, email=args.email,
    ))
    show({"code": citizen.code, "username": citizen.username,
          "password": citizen.password}, args.json)
    return 0


def staff(settings: Settings, args: argparse.Namespace) -> int:
    from gateway.services import staff as staff_service

    migrate(settings, announce=False)
    if args.staff_command == "list":
        office, members = with_ports(
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
        change = with_ports(settings, lambda ports: staff_service.grant_role(
            ports, krid=args.krid, username=args.person, role=StaffRole(args.role)))
    else:
        change = with_ports(settings, lambda ports: staff_service.revoke_role(
            ports, krid=args.krid, username=args.person))
    show({"krid": change.office.krid, "person": change.person.username,
          "role": change.role.value if change.role else None}, args.json)
    return 0


def office_topics(settings: Settings, args: argparse.Namespace) -> int:
    """``kapu office topics set|list``: replace or show the office's e-Papír topics."""
    from gateway.services import topics as topic_service
    from gateway.services.ports.parties import Topic
    from gateway.services.staff import COMMAND_LINE

    if args.topics_command == "set":
        pairs = read_topics(args.topics)
        if isinstance(pairs, TopicRefusal):  # refused before the database is touched
            fail(2, pairs.describe())
        migrate(settings, announce=False)
        office, topics = with_ports(settings, lambda ports: topic_service.set_topics(
            ports, args.krid, [Topic(code, name) for code, name in pairs],
            actor=COMMAND_LINE))
        krid = office.krid
    else:
        migrate(settings, announce=False)
        topics = with_ports(settings, lambda ports: topic_service.office_topics(
            ports, args.krid))
        krid = args.krid
    items = [{"code": topic.code, "name": topic.name} for topic in topics]
    if args.json:
        print(json.dumps({"krid": krid, "items": items}, ensure_ascii=False))
    else:
        for item in items:
            print(f"{item['code']:32} {item['name']}")
    return 0
