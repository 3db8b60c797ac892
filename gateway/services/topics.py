"""An office's e-Papír topics (contract 24)."""

from __future__ import annotations

from collections.abc import Sequence

from gateway.domain.audit import AuditAction, AuditEvent, actor_of
from gateway.domain.epapir import GENERAL_TOPIC_CODE, GENERAL_TOPIC_NAME, checked_topics
from gateway.domain.parties import Party, PartyKind, check_krid
from gateway.errors import NotFound
from gateway.services.ports.parties import Topic
from gateway.services.ports.slices import TopicPorts
from gateway.services.ports.storage import UnitOfWork


async def topics_in(uow: UnitOfWork, office: Party) -> list[Topic]:
    """The topics ``office`` offers: its own, or ``ALTALANOS`` when it set none."""
    topics = await uow.topics.of_office(office.id)
    return topics or [Topic(GENERAL_TOPIC_CODE, GENERAL_TOPIC_NAME)]


# The audit entry's detail column holds 255 characters; 50 codes of 32 would not fit.
_DETAIL_CHARS = 255


def _codes(topics: list[Topic]) -> str:
    """The codes for the audit entry: all of them when they fit, else as many as fit and the
    count; "none" when the office set none."""
    if not topics:
        return "none"
    codes = " ".join(topic.code for topic in topics)
    if len(codes) <= _DETAIL_CHARS:
        return codes
    tail = f" … ({len(topics)} topics)"
    return codes[:_DETAIL_CHARS - len(tail)].rsplit(" ", 1)[0] + tail


async def _office(uow: UnitOfWork, krid: str) -> Party:
    try:
        check_krid(krid)  # anything else names no office (and a NUL cannot be looked up)
    except ValueError as exc:
        raise NotFound(f"no office with KRID {krid!r}") from exc
    office = await uow.parties.by_krid(krid)
    if office is None or office.kind is not PartyKind.HIVATALI:
        raise NotFound(f"no office (hivatali kapu) with KRID {krid}")
    return office


async def office_topics(ports: TopicPorts, krid: str) -> list[Topic]:
    """The topics the office with ``krid`` offers (``topics_in``); NotFound for a KRID that is
    no ``hivatali`` organisation."""
    async with ports.uow() as uow:
        return await topics_in(uow, await _office(uow, krid))


async def topics_set(ports: TopicPorts, krid: str) -> list[Topic]:
    """The topics the office set itself (empty when none: it offers ``ALTALANOS``), for its
    admin's form; NotFound for a KRID that is no office."""
    async with ports.uow() as uow:
        return await uow.topics.of_office((await _office(uow, krid)).id)


async def set_topics(ports: TopicPorts, krid: str, topics: Sequence[Topic], *,
                     actor: str, person: str | None = None) -> tuple[Party, list[Topic]]:
    """Replace the office's topics with ``topics`` (in this order; none: the office sets none
    and offers ``ALTALANOS``), audited as ``topics_changed`` with the codes. ``actor`` is who
    changes them (a username, or the command line), ``person`` the staff member acting for
    the office on the web; the entry names the office either way, so its log shows it.
    InvalidRequest naming ``topics`` for a list the rules refuse (domain/epapir.py), NotFound
    for a KRID that is no office."""
    checked = checked_topics([(topic.code, topic.name) for topic in topics])
    replacement = [Topic(code, name) for code, name in checked]
    async with ports.write_uow() as uow:
        office = await _office(uow, krid)
        await uow.topics.replace(office.id, replacement)
        named, _ = actor_of(actor, office.krid, person)
        await uow.audit.append(AuditEvent(
            at=ports.clock.now(), actor=named, action=AuditAction.TOPICS_CHANGED,
            detail=_codes(replacement),
            office_krid=office.krid))
        await uow.commit()
    return office, replacement
