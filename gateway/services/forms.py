"""One click, one effect: the one-time keys of the web's state-changing forms.

Every such form carries a random ``form_key`` issued with its page. The first POST with a key
claims it (committed before it does anything, so of two POSTs racing with one key exactly one
acts) and, when it succeeds, settles it with its outcome: the page its answer redirects to. A
later POST with the key (a double click, a browser's resend, a retry after a lost answer) does
nothing and is sent to that page. A POST that is refused releases its key: nothing happened,
and the corrected form may be sent again.
"""

from __future__ import annotations

import asyncio
import re
import secrets
from datetime import timedelta

from gateway.domain.parties import Party
from gateway.errors import Conflict
from gateway.services.ports.slices import FormPorts

# A person's keys are forgotten a day after they were used: a page left open longer is sent
# again as a new form, which is what a person returning to it after a day would expect.
KEY_LIFETIME = timedelta(days=1)
# What new_key makes (32 URL-safe characters), with room to change that.
_WELL_FORMED = re.compile(r"[A-Za-z0-9_-]{16,64}")
# How long a repeat waits for the first POST with its key to finish (a send of a large file
# takes seconds), polling at this pace.
_PATIENCE = timedelta(seconds=60)
_POLL_SECONDS = 0.05


def new_key() -> str:
    """A fresh key for one form of a page."""
    return secrets.token_urlsafe(24)


def well_formed(key: object) -> bool:
    return isinstance(key, str) and _WELL_FORMED.fullmatch(key) is not None


async def claim(ports: FormPorts, person: Party, key: str) -> str | None:
    """Claim ``key`` for the POST about to act for ``person``: None when this POST claimed it
    (it must then ``settle`` or ``release`` it); else the outcome of the first POST with the
    key, waited for while that POST is still at work. Raises Conflict when it is still at
    work after a minute."""
    for _ in range(round(_PATIENCE.total_seconds() / _POLL_SECONDS)):
        now = ports.clock.now()
        async with ports.write_uow() as uow:
            claimed, outcome = await uow.form_submissions.claim(
                person.id, key, now, forget_before=now - KEY_LIFETIME)
            await uow.commit()
        if claimed:
            return None
        if outcome is not None:
            return outcome
        # The first POST is at work; if it is refused it releases the key, and this one
        # claims it at the next turn.
        await asyncio.sleep(_POLL_SECONDS)
    raise Conflict("the first submission of this form is still at work")


async def settle(ports: FormPorts, person: Party, key: str, outcome: str) -> None:
    """Record the claimed key's outcome: the page every later POST with it is sent to."""
    async with ports.write_uow() as uow:
        await uow.form_submissions.settle(person.id, key, outcome)
        await uow.commit()


async def release(ports: FormPorts, person: Party, key: str) -> None:
    """Give up a claimed key whose POST did nothing: the form may be sent again."""
    async with ports.write_uow() as uow:
        await uow.form_submissions.release(person.id, key)
        await uow.commit()
