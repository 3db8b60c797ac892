"""What every command shares: argument checks, one-line errors, settings, migrations, and
running one service call with the installation's ports."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any, NoReturn, TypeVar

from pydantic import ValidationError

from gateway.config import Settings
from gateway.errors import GatewayError, Unavailable

if TYPE_CHECKING:
    from gateway.services.ports import Ports

T = TypeVar("T")


class Parser(argparse.ArgumentParser):
    """argparse that reports a bad argument in one line on stderr and exits 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")


def argument(check: Callable[[str], str]) -> Callable[[str], str]:
    def convert(value: str) -> str:
        try:
            return check(value)
        except ValueError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from exc
    return convert


def instant(value: str) -> datetime:
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not an ISO 8601 time: {value!r}") from exc
    if parsed.tzinfo is None:
        raise argparse.ArgumentTypeError(f"give the offset too, e.g. {value}+01:00")
    return parsed


def seconds(value: str) -> float:
    try:
        amount = float(value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {value!r}") from exc
    if not 0 <= amount < float("inf"):
        raise argparse.ArgumentTypeError(f"give 0 or more seconds, not {value}")
    return amount


def fail(status: int, message: str) -> NoReturn:
    print(f"kapu: error: {message}", file=sys.stderr)
    raise SystemExit(status)


def load_settings() -> Settings:
    try:
        return Settings()
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        if not where:  # a rule over several settings: its message names them
            fail(2, str(first.get("ctx", {}).get("error", first["msg"])))
        fail(2, f"bad setting {where.upper()}: {first['msg']}")


def migrate(settings: Settings, *, announce: bool = True) -> None:
    from gateway.storage.database import upgrade

    if announce:
        print("kapu: applying database migrations…", file=sys.stderr)
    try:
        upgrade(settings.database_url)
    except Exception as exc:
        fail(1, f"cannot migrate the database at KAPU_DATABASE_URL: {exc}")


def with_ports(settings: Settings, work: Callable[[Ports], Awaitable[T]]) -> T:
    from gateway.wiring import build_runtime

    async def run() -> T:
        from gateway.services import sandbox

        # No command authenticates or renders a PDF: their libraries stay unimported.
        runtime = build_runtime(settings)
        try:
            if runtime.ports.sandbox_clock is not None:
                # Record on the installation's test clock, as the server does.
                await sandbox.refresh(runtime.ports)
            return await work(runtime.ports)
        finally:
            await runtime.ports.blobs.close()
            await runtime.engine.dispose()

    try:
        return asyncio.run(run())
    except Unavailable as exc:
        fail(1, exc.detail)
    except GatewayError as exc:
        fail(2, exc.detail)


def show(data: dict[str, Any], as_json: bool) -> None:
    if as_json:
        print(json.dumps(data, ensure_ascii=False))
    else:
        for key, value in data.items():
            print(f"{key}: {value}")
