"""An office's e-Papír topics (contract 24)."""

from __future__ import annotations

from gateway.domain.epapir import GENERAL_TOPIC_CODE, GENERAL_TOPIC_NAME
from gateway.domain.parties import Party
from gateway.services.ports.parties import Topic
from gateway.services.ports.storage import UnitOfWork


async def topics_in(uow: UnitOfWork, office: Party) -> list[Topic]:
    """The topics ``office`` offers: its own, or ``ALTALANOS`` when it set none."""
    topics = await uow.topics.of_office(office.id)
    return topics or [Topic(GENERAL_TOPIC_CODE, GENERAL_TOPIC_NAME)]
