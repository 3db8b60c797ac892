"""The command line's ports are the server's (one wiring, gateway/wiring.py), with the AVDH
seal and the beadvány renderer made at their first use, and a command imports nothing of the
server."""

from __future__ import annotations

import asyncio
import dataclasses
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from gateway.config import Settings
from gateway.crypto.avdh import AvdhSeal
from gateway.pdf.beadvany import BeadvanyRenderer
from gateway.services.ports import Ports
from gateway.wiring import LazyAuthenticator, LazyRenderer, Runtime, build_runtime

# Made per process, so not compared: the server's and the command's are alike, not equal.
PER_PROCESS = {"uow", "write_uow", "blobs", "clock", "timestamper", "receipt_signer",
               "encryptor", "telemetry", "calendar", "mail_transport", "offices",
               "registrations", "forecast", "past_days", "sandbox_clock"}


@pytest.fixture(params=[False, True], ids=["plain", "sandbox"])
def both(request: pytest.FixtureRequest, tmp_path: Path,
         keys_dir: Path) -> Iterator[tuple[Ports, Ports]]:
    settings = Settings(database_url=f"sqlite+aiosqlite:///{tmp_path}/k.db",
                        data_dir=tmp_path, keys_dir=keys_dir, sandbox=request.param,
                        public_url="http://kapu.example:8080", retention_days=91)
    server: Runtime = build_runtime(settings)
    command: Runtime = build_runtime(settings, pdf_at_first_use=True)
    yield server.ports, command.ports
    for runtime in (server, command):
        asyncio.run(runtime.engine.dispose())


def test_every_port_is_wired_as_the_server_wires_it(both: tuple[Ports, Ports]) -> None:
    server, command = both
    for field in dataclasses.fields(Ports):
        mine, theirs = getattr(command, field.name), getattr(server, field.name)
        if field.name == "authenticator":
            assert isinstance(mine, LazyAuthenticator) and isinstance(theirs, AvdhSeal)
            seal = mine._seal  # made at first use: the same keys, limits and TSA
            assert isinstance(seal, AvdhSeal)
            assert dataclasses.replace(seal, timestamp=theirs.timestamp) == theirs
            assert seal.timestamp.__func__ is theirs.timestamp.__func__  # type: ignore[attr-defined]
        elif field.name == "submission_renderer":
            assert isinstance(mine, LazyRenderer) and isinstance(theirs, BeadvanyRenderer)
            assert isinstance(mine._renderer, BeadvanyRenderer)
        elif field.name in PER_PROCESS:
            assert type(mine) is type(theirs), field.name
        else:
            assert mine == theirs, field.name
    assert command.trust_pem == server.trust_pem
    assert command.calendar.is_working_day(server.clock.now().date()) == \
        server.calendar.is_working_day(server.clock.now().date())


def test_a_command_does_not_import_the_server() -> None:
    """What makes ``kapu …`` start in about a second rather than three."""
    loaded = subprocess.run(
        [sys.executable, "-c", "import sys, gateway.wiring, gateway.cli; "
         "print(' '.join(sorted(sys.modules)))"],
        capture_output=True, text=True, check=True).stdout.split()
    for heavy in ("gateway.app", "fastapi", "pyhanko", "fpdf", "aiobotocore", "zeep"):
        assert heavy not in loaded, heavy
