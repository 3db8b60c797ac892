"""Authentication: argon2 hashes, the per-process credential cache and its expiry."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import update

from gateway.crypto.passwords import hash_password
from gateway.domain.parties import Party
from gateway.errors import Unauthorized
from gateway.services.auth import CredentialCache, authenticate
from gateway.storage.tables import parties
from gateway.storage.uow import SqlUnitOfWork
from tests.helpers import new_org
from tests.integration.conftest import Gateway


async def _authenticate(gw: Gateway, cache: CredentialCache, username: str,
                        password: str) -> Party:
    return await authenticate(gw.ports, cache, username, password, address="192.0.2.1")


async def _set_password(gw: Gateway, username: str, password: str) -> None:
    async with gw.ports.write_uow() as uow:
        assert isinstance(uow, SqlUnitOfWork)
        await uow._connection.execute(  # type: ignore[union-attr]
            update(parties).where(parties.c.username == username)
            .values(password_hash=hash_password(password))
        )
        await uow.commit()


async def test_stored_hash_is_argon2_never_the_password(gw: Gateway) -> None:
    org = await new_org(gw.ports)
    async with gw.ports.uow() as uow:
        found = await uow.parties.credentials(org.username)
    assert found is not None
    assert found[1].startswith("$argon2id$")
    assert org.password not in found[1]


async def test_changed_password_is_seen_after_the_lookup_expires_despite_traffic(
    gw: Gateway,
) -> None:
    org = await new_org(gw.ports)
    cache = CredentialCache(lookup_ttl=0.3)
    await _authenticate(gw, cache, org.username, org.password)
    await _set_password(gw, org.username, "a-new-password-123")
    # Within the lookup's lifetime the old password still works (documented 5 s by default) …
    await _authenticate(gw, cache, org.username, org.password)
    # … and steady traffic does not keep the stale lookup alive.
    for _ in range(5):
        await asyncio.sleep(0.1)
        try:
            await _authenticate(gw, cache, org.username, org.password)
        except Unauthorized:
            break
    with pytest.raises(Unauthorized):
        await _authenticate(gw, cache, org.username, org.password)
    party = await _authenticate(gw, cache, org.username, "a-new-password-123")
    assert party.username == org.username


async def test_concurrent_first_requests_share_one_verification(gw: Gateway) -> None:
    org = await new_org(gw.ports)
    cache = CredentialCache()
    found = await asyncio.gather(*(_authenticate(gw, cache, org.username, org.password)
                                   for _ in range(20)))
    assert {p.username for p in found} == {org.username}
    wrong = await asyncio.gather(
        *(_authenticate(gw, cache, org.username, "wrong") for _ in range(3)),
        return_exceptions=True,
    )
    assert all(isinstance(result, Unauthorized) for result in wrong)
    with pytest.raises(Unauthorized):
        await _authenticate(gw, cache, "nobody-by-this-name", org.password)
