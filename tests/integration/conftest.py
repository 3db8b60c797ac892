"""The real app in-process (ASGI) on a real database, with the test clock."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from gateway.app import create_app
from gateway.config import Settings
from gateway.services.ports import Ports
from tests.conftest import FixedClock
from tests.helpers import PDF, Account, new_org

# The tartós tár of the ``small`` gateway: room for exactly three documents of PDF's size.
SMALL_QUOTA = 3 * len(PDF)


@dataclass
class Gateway:
    client: httpx.AsyncClient
    ports: Ports
    blob_root: Path
    clock: FixedClock
    app: FastAPI  # for a second client, e.g. from another client address
    clock_keeper: Account | None = None  # the party moving the test clock (sandbox_auth)


async def sandbox_auth(gw: Gateway) -> tuple[str, str]:
    """Credentials for the sandbox's routes, which need an authenticated party."""
    if gw.clock_keeper is None:
        gw.clock_keeper = await new_org(gw.ports)
    return gw.clock_keeper.auth


async def _start(settings: Settings, clock: FixedClock, *,
                 signing_process: bool = False) -> AsyncIterator[Gateway]:
    # Signed in threads unless a test asks for the child process kapu serve uses: a child
    # for each of the suite's gateways cost about 0.25 s of CPU, some 450 times. The child
    # signs for every test of real processes (tests/e2e) and in test_signing_process.py.
    app = create_app(settings, clock=clock, signing_process=signing_process)
    async with app.router.lifespan_context(app):
        if settings.sandbox:
            # On PostgreSQL the session's tests share one database, so one stored offset, and
            # the clock never moves backwards: each test starts from its own clock.
            ports: Ports = app.state.ports
            async with ports.write_uow() as uow:
                await uow.sandbox_clock.set_offset(0)
                await uow.commit()
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://kapu.test") as client:
            yield Gateway(client, app.state.ports, settings.blob_dir, clock, app)


@pytest.fixture
def settings(database_url: str, tmp_path: Path, keys_dir: Path) -> Settings:
    # Deadline jobs run when a test asks (run_due), not in the background.
    return Settings(database_url=database_url, data_dir=tmp_path / "data",
                    max_document_bytes=64 * 1024, keys_dir=keys_dir, background_jobs=False)


@pytest.fixture
async def gw(settings: Settings, clock: FixedClock) -> AsyncIterator[Gateway]:
    async for gateway in _start(settings, clock):
        yield gateway


@pytest.fixture
async def sandbox(
    database_url: str, tmp_path: Path, keys_dir: Path, clock: FixedClock
) -> AsyncIterator[Gateway]:
    # The sandbox's test clock runs from the test's clock, not the machine's date.
    settings = Settings(database_url=database_url, data_dir=tmp_path / "data", sandbox=True,
                        keys_dir=keys_dir, background_jobs=False)
    async for gateway in _start(settings, clock):
        yield gateway


@pytest.fixture
async def small(
    database_url: str, tmp_path: Path, keys_dir: Path, clock: FixedClock
) -> AsyncIterator[Gateway]:
    settings = Settings(database_url=database_url, data_dir=tmp_path / "data",
                        keys_dir=keys_dir, background_jobs=False,
                        permanent_storage_bytes=SMALL_QUOTA)
    async for gateway in _start(settings, clock):
        yield gateway
