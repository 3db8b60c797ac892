"""``kapu serve`` and ``kapu worker``: the server's and the background jobs' processes."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import shutil
import sys
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from gateway.cli.common import fail, migrate, with_ports
from gateway.config import Settings
from gateway.services import parties as party_service
from gateway.services.ports import Ports

T = TypeVar("T")


def serve(args: argparse.Namespace, settings: Settings) -> None:
    import uvicorn

    if args.demo and settings.environment == "production":
        fail(2, "--demo is refused in production: its passwords are published")
    migrate(settings)
    # One runtime (an engine, the keys, the sandbox's clock) for the check and the demo parties.
    shown = one_set_of_keys(settings, then=party_service.ensure_demo_parties if args.demo
                            else None)
    if shown is not None:
        print("kapu: demo parties (username / password):", file=sys.stderr)
        for party in shown:
            address = f"KRID {party.krid}" if party.krid else f"kapcsolati kód {party.code}"
            role = f", {party.staff_of}" if party.staff_of else ""
            print(f"  {party.username:14} {party.password:22} {address}{role}", file=sys.stderr)
        print(f"kapu: offices publish public notices (HIRDETMENY) to KRID {settings.portal_krid};"
              " anyone reads them at /hirdetmenyek", file=sys.stderr)
    if args.workers > 1 and not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        # prometheus-client adds up the workers' metrics through files in this directory;
        # it must be empty at start and set before the workers import it.
        directory = settings.data_dir / "metrics"
        shutil.rmtree(directory, ignore_errors=True)
        directory.mkdir(mode=0o700, parents=True)
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(directory.resolve())
    # ws "none": Kapu has no WebSocket route, and uvicorn's default imports its WebSocket
    # protocol (about 17 ms of each worker's start).
    options: dict[str, Any] = {"factory": True, "host": args.host, "port": args.port,
                               "workers": args.workers, "access_log": False,
                               "log_level": "info", "ws": "none"}
    if args.workers == 1:
        uvicorn.run("gateway.app:create_app", **options)  # a failed start exits 3
        return
    config = uvicorn.Config("gateway.app:create_app", **options)
    # uvicorn.run would do the same, but when one worker fails to start it stops every
    # worker and returns as if asked to stop: say so, and exit non-zero.
    from uvicorn.config import STARTUP_FAILURE
    from uvicorn.supervisors import Multiprocess

    supervisor = Multiprocess(config, sockets=[config.bind_socket()])
    supervisor.run()
    failed = [process.pid for process in supervisor.processes
              if process.exitcode == STARTUP_FAILURE]
    if failed:
        fail(STARTUP_FAILURE, f"worker process {failed[0]} failed to start (its log is above),"
             " so the server stopped")


def one_set_of_keys(settings: Settings, *,
                    then: Callable[[Ports], Awaitable[T]] | None = None) -> T | None:
    """Refuse to start a host whose keys are not the other hosts' (section 21); then, with the
    same ports, run ``then`` and return what it returns."""
    from gateway.services.operations import check_one_set_of_keys

    checked = False

    async def work(ports: Ports) -> T | None:
        nonlocal checked
        await check_one_set_of_keys(ports)
        checked = True
        return None if then is None else await then(ports)

    try:
        return with_ports(settings, work)
    except SystemExit:
        if not checked:
            print("kapu: refusing to start: every host of one database signs with the same "
                  "keys", file=sys.stderr)
        raise


def worker(settings: Settings) -> int:
    from gateway.app import blob_gc_of, delivery_policy, poster_of
    from gateway.wiring import build_runtime
    from gateway.worker import run_forever

    migrate(settings)
    one_set_of_keys(settings)

    async def work() -> None:
        runtime = build_runtime(settings)
        poster = poster_of(settings)
        print("kapu: worker running deadline sweeps and webhook deliveries (Ctrl-C stops)",
              file=sys.stderr)
        try:
            await run_forever(runtime.ports, poster, delivery_policy(settings),
                              settings.jobs_interval_seconds, gc=blob_gc_of(settings))
        finally:
            await poster.close()
            await runtime.engine.dispose()

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(work())
    return 0
