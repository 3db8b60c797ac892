"""The command line's ports are the server's (one wiring, gateway/wiring.py), the AVDH seal
and the beadvány renderer made at their first use in both, and a command imports nothing of
the server."""

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
from gateway.crypto.cms import CmsEncryptor
from gateway.crypto.receipts import ReceiptSigner
from gateway.crypto.timestamps import TimestampAuthority
from gateway.pdf.beadvany import BeadvanyRenderer
from gateway.services.ports import Ports
from gateway.wiring import LazyAuthenticator, LazyRenderer, Runtime, build_runtime

# Made per process, so not compared: the server's and the command's are alike, not equal.
PER_PROCESS = {"uow", "write_uow", "statement_uow", "blobs", "clock", "telemetry", "calendar",
               "mail_transport", "offices", "registrations", "forecast", "past_days",
               "sandbox_clock"}
# Made at first use, in both: the port's attribute holding what is made, and its class.
MADE_AT_FIRST_USE = {"timestamper": ("_authority", TimestampAuthority),
                     "receipt_signer": ("_signer", ReceiptSigner),
                     "encryptor": ("_encryptor", CmsEncryptor)}


@pytest.fixture(params=[False, True], ids=["plain", "sandbox"])
def both(request: pytest.FixtureRequest, tmp_path: Path,
         keys_dir: Path) -> Iterator[tuple[Ports, Ports]]:
    settings = Settings(database_url=f"sqlite+aiosqlite:///{tmp_path}/k.db",
                        data_dir=tmp_path, keys_dir=keys_dir, sandbox=request.param,
                        public_url="http://kapu.example:8080", retention_days=91)
    server: Runtime = build_runtime(settings)
    command: Runtime = build_runtime(settings)
    yield server.ports, command.ports
    for runtime in (server, command):
        asyncio.run(runtime.engine.dispose())


def test_every_port_is_wired_as_the_server_wires_it(both: tuple[Ports, Ports]) -> None:
    server, command = both
    for field in dataclasses.fields(Ports):
        mine, theirs = getattr(command, field.name), getattr(server, field.name)
        if field.name == "authenticator":
            assert isinstance(mine, LazyAuthenticator) and isinstance(theirs, LazyAuthenticator)
            seal, other = mine._seal, theirs._seal  # made at first use
            assert isinstance(seal, AvdhSeal) and isinstance(other, AvdhSeal)
            # The same keys, limits and TSA.
            assert dataclasses.replace(seal, timestamp=other.timestamp) == other
            assert seal.timestamp.__func__ is other.timestamp.__func__  # type: ignore[attr-defined]
        elif field.name == "submission_renderer":
            assert isinstance(mine, LazyRenderer) and isinstance(theirs, LazyRenderer)
            assert isinstance(mine._renderer, BeadvanyRenderer)
        elif field.name in MADE_AT_FIRST_USE:
            attribute, made = MADE_AT_FIRST_USE[field.name]
            assert type(mine) is type(theirs), field.name
            assert isinstance(getattr(mine, attribute), made), field.name
            assert isinstance(getattr(theirs, attribute), made), field.name
        elif field.name in PER_PROCESS:
            assert type(mine) is type(theirs), field.name
        else:
            assert mine == theirs, field.name
    assert command.trust_pem == server.trust_pem
    assert command.calendar.is_working_day(server.clock.now().date()) == \
        server.calendar.is_working_day(server.clock.now().date())


def test_a_server_start_imports_no_pdf_library(tmp_path: Path, keys_dir: Path) -> None:
    """pyHanko and fpdf2 are most of a second of every start; the first authentication or
    e-Papír imports them."""
    script = (
        "import sys; from pathlib import Path; from gateway.config import Settings; "
        "from gateway.app import create_app; "
        f"create_app(Settings(database_url='sqlite+aiosqlite:///{tmp_path}/k.db', "
        f"data_dir=Path('{tmp_path}'), keys_dir=Path('{keys_dir}'))); "
        "print(' '.join(sorted(sys.modules)))")
    loaded = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                            check=True).stdout.split()
    assert "gateway.app" in loaded
    for heavy in ("pyhanko", "fpdf", "gateway.crypto.avdh", "gateway.pdf.beadvany"):
        assert heavy not in loaded, heavy


def test_a_command_does_not_import_the_server() -> None:
    """What makes ``kapu …`` start in about a second rather than three."""
    loaded = subprocess.run(
        [sys.executable, "-c", "import sys, gateway.wiring, gateway.cli; "
         "print(' '.join(sorted(sys.modules)))"],
        capture_output=True, text=True, check=True).stdout.split()
    for heavy in ("gateway.app", "fastapi", "pyhanko", "fpdf", "aiobotocore", "zeep"):
        assert heavy not in loaded, heavy


def test_a_runtime_imports_what_a_command_may_not_need_at_its_first_use(
        tmp_path: Path, keys_dir: Path) -> None:
    """holidays (it imports every country's calendar with Hungary's, about 0.1 s), the
    evidence's libraries (asn1crypto, lxml, xmlsec) and SMTP's: a command that counts no
    deadline and signs nothing does without them."""
    script = (
        "import sys; from datetime import date, datetime, timezone; from pathlib import Path; "
        "from gateway.config import Settings; from gateway.wiring import build_runtime; "
        f"ports = build_runtime(Settings(database_url='sqlite+aiosqlite:///{tmp_path}/k.db', "
        f"data_dir=Path('{tmp_path}'), keys_dir=Path('{keys_dir}'), "
        "smtp_url='smtp://mail.example:25')).ports; "
        "loaded = lambda: [m for m in ('holidays', 'asn1crypto', 'lxml', 'xmlsec', "
        "'aiosmtplib') if m in sys.modules]; "
        "print(*loaded()); "
        "print(ports.calendar.is_working_day(date(2027, 3, 15)), *loaded()); "
        "at = datetime(2027, 3, 16, tzinfo=timezone.utc); "
        "token = ports.timestamper.timestamp('00' * 32, at); "
        "print(token[:1].hex(), *loaded())")
    shown = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                           check=True).stdout.splitlines()
    # 15 March, a national holiday: a Monday that is no working day. A timestamp token is DER
    # (a SEQUENCE, 0x30).
    assert shown == ["", "False holidays", "30 holidays asn1crypto lxml xmlsec"]
