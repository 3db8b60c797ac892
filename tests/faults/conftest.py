"""The fault suite: the in-process app (the integration tier's fixtures) and real servers.

``KAPU_FAULTS_SCALE`` (``make faults``) multiplies rounds and sizes for the longer runs."""

from __future__ import annotations

import asyncio
import os
import shutil
from pathlib import Path

import pytest

from gateway.app import build_runtime
from gateway.config import Settings
from tests.helpers import Account, new_org
from tests.integration.conftest import gw, settings

SCALE = max(1, int(os.environ.get("KAPU_FAULTS_SCALE", "1")))

__all__ = ["SCALE", "gw", "organisations", "server_dirs", "settings"]


@pytest.fixture
def server_dirs(tmp_path: Path, keys_dir: Path) -> Path:
    """The data directory for real servers, beside the session's keys (where
    tests.e2e.conftest's servers look), so no server spends seconds making its own."""
    shutil.copytree(keys_dir, tmp_path / "keys")
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    return data_dir


def organisations(database_url: str, data_dir: Path, count: int) -> list[Account]:
    """Register organisations in-process (a CLI run per party costs seconds)."""

    async def register() -> list[Account]:
        runtime = build_runtime(Settings(database_url=database_url, data_dir=data_dir,
                                         keys_dir=data_dir.parent / "keys",
                                         background_jobs=False))
        try:
            return [await new_org(runtime.ports) for _ in range(count)]
        finally:
            await runtime.engine.dispose()

    return asyncio.run(register())
