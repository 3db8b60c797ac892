"""Deadline sweep over 100,000 waiting documents on PostgreSQL, and mailbox listing latency
while it runs.

    python -m benchmarks.deadlines [--documents 100000] [--connections 4]

The documents are inserted with one SQL statement (generate_series), all past their 3-working-
day warning; one server process answers GET /api/v1/mailbox?limit=50 under wrk while this
process runs the sweep (the same code as kapu worker) and times it.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import re
import secrets
import signal
import subprocess
import time
from pathlib import Path

import asyncpg

from benchmarks.run import ROOT, Scratch, kapu, parse_ms, scratch_database, start_server

SEED = """
INSERT INTO documents (registration_number, registered_at, valid_until, sender_id,
    recipient_id, sender_kind, doc_type_office, doc_type_id, doc_type_description, file_name,
    size, sha256, reply_encryption, return_receipt, system_message, delivery_state,
    warning_due_at)
SELECT lpad(g::text, 27, '0'), now() - interval '10 days', now() + interval '20 days',
    $1, $2, 'hivatali', 'BENCH', 'LEVEL', 'Benchmark', 'bench.txt', 10,
    md5(g::text) || md5(g::text), false, false, false, 'waiting', now() - interval '1 day'
FROM generate_series(1, $3) AS g
"""


async def _seed(dsn: str, count: int) -> None:
    connection = await asyncpg.connect(dsn)
    try:
        ids = {row["username"]: row["id"] for row in await connection.fetch(
            "SELECT id, username FROM parties WHERE username IN ('SWEEPSENDER', 'SWEEPOFFICE')")}
        await connection.execute(SEED, ids["SWEEPSENDER"], ids["SWEEPOFFICE"], count)
        await connection.execute("ANALYZE documents")
    finally:
        await connection.close()


async def _sweep(url: str, data_dir: Path) -> tuple[float, int]:
    from gateway.config import Settings
    from gateway.services.deadlines import run_due
    from gateway.wiring import build_runtime

    runtime = build_runtime(Settings(database_url=url, data_dir=data_dir))
    try:
        started = time.perf_counter()
        report = await run_due(runtime.ports)
        return time.perf_counter() - started, report.warned
    finally:
        await runtime.engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--documents", type=int, default=100_000)
    parser.add_argument("--connections", type=int, default=1,
                        help="wrk connections listing the mailbox during the sweep")
    args = parser.parse_args()
    with scratch_database("kapu_sweep") as scratch:
        _run(args, scratch)


def _run(args: argparse.Namespace, scratch: Scratch) -> None:
    url, workdir, env = scratch.url, scratch.workdir, scratch.env
    server = None
    try:
        kapu(env, "org", "add", "--krid", "900000011", "--short-name", "SWEEPSENDER",
             "--name", "Sweep Sender")
        office = kapu(env, "org", "add", "--krid", "900000012", "--short-name", "SWEEPOFFICE",
                      "--name", "Sweep Office")
        print(f"seeding {args.documents} waiting documents …", flush=True)
        started = time.perf_counter()
        asyncio.run(_seed(scratch.dsn, args.documents))
        print(f"seeded in {time.perf_counter() - started:.1f} s", flush=True)
        port = 18000 + secrets.randbelow(1000)
        server = start_server(env, port)
        auth = base64.b64encode(f"SWEEPOFFICE:{office['password']}".encode()).decode()
        wrk_env = {**os.environ, "BENCH_PATH": "/api/v1/mailbox?limit=50", "BENCH_AUTH": auth}
        command = ["wrk", "-t1", f"-c{args.connections}", "--latency", "-s",
                   str(ROOT / "benchmarks" / "get.lua"), f"http://127.0.0.1:{port}"]
        # Warm-up: the first request verifies the password (argon2) and opens the pool.
        subprocess.run([*command, "-d2s"], env=wrk_env, capture_output=True, check=True)
        idle = subprocess.run([*command, "-d5s"], env=wrk_env, capture_output=True, text=True,
                              check=True).stdout
        load = subprocess.Popen([*command, "-d60s"], env=wrk_env, stdout=subprocess.PIPE,
                                text=True)
        time.sleep(1)
        seconds, warned = asyncio.run(_sweep(url, workdir))
        load.send_signal(signal.SIGINT)  # wrk prints its summary on SIGINT
        during = load.communicate()[0]

        def figures(out: str) -> str:
            found = {p: re.search(rf"\s{p}%\s+([\d.]+\w+)", out) for p in ("50", "99")}
            rate = re.search(r"Requests/sec:\s+([\d.]+)", out)
            return (f"{float(rate.group(1)) if rate else float('nan'):.0f}/s, " + ", ".join(
                f"p{p} {parse_ms(m.group(1)) if m else float('nan'):.1f} ms"
                for p, m in found.items()))

        result = {"documents": args.documents, "sweep_seconds": round(seconds, 2),
                  "warned": warned, "listing_idle": figures(idle),
                  "listing_during_sweep": figures(during)}
        print(json.dumps(result, indent=2))
    finally:
        if server is not None:
            server.terminate()
            server.wait(timeout=30)


if __name__ == "__main__":
    main()
