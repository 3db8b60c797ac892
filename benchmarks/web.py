"""The browser's mailbox page while the office holds 100,000 documents, and a 200 MiB file sent
through the browser's send form, on PostgreSQL.

    python -m benchmarks.web [--documents 100000] [--connections 1] [--big-mib 200]

The documents are inserted with one SQL statement (generate_series). A clerk logs in through
the login form; wrk then loads /ui/mailbox/KRID with the session's cookies: the first page of 50
rows, a free-text search that every document matches, and one that none does (every row read).
Finally curl posts a 200 MiB file to /ui/send as a browser would (multipart/form-data with the
form's token), while the server's resident memory is sampled.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import secrets
import subprocess
import time
from pathlib import Path

import asyncpg
import httpx

from benchmarks.deadlines import SEED
from benchmarks.run import ROOT, PeakSampler, Scratch, kapu, parse_ms, rss_mib, scratch_database
from benchmarks.run import start_server as start

CLERK_PASSWORD = "bench-ugyintezo-jelszo"  # a throwaway benchmark database


async def _seed(dsn: str, count: int) -> None:
    connection = await asyncpg.connect(dsn)
    try:
        ids = {row["username"]: row["id"] for row in await connection.fetch(
            "SELECT id, username FROM parties WHERE username IN ('WEBSENDER', 'WEBOFFICE')")}
        await connection.execute(SEED, ids["WEBSENDER"], ids["WEBOFFICE"], count)
        await connection.execute("ANALYZE documents")
    finally:
        await connection.close()


async def _clerk(url: str, data_dir: Path) -> None:
    from gateway.config import Settings
    from gateway.domain.parties import StaffRole
    from gateway.services import staff
    from gateway.services.parties import register_citizen
    from gateway.wiring import build_runtime

    runtime = build_runtime(Settings(database_url=url, data_dir=data_dir))
    try:
        await register_citizen(runtime.ports, name="Bench Ügyintéző", email="b@example.hu",
                               username="benchclerk", password=CLERK_PASSWORD)
        await staff.grant_role(runtime.ports, krid="900000022", username="benchclerk",
                               role=StaffRole.CLERK)
    finally:
        await runtime.engine.dispose()


def _log_in(base: str) -> tuple[str, str]:
    """The session's Cookie header and the forms' token, through the real login form."""
    with httpx.Client(base_url=base) as client:
        page = client.get("/ui/login")
        token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
        assert token is not None
        answer = client.post("/ui/login", data={"csrf_token": token.group(1),
                                                "username": "benchclerk",
                                                "password": CLERK_PASSWORD})
        assert answer.status_code == 303, answer.text
        cookie = "; ".join(f"{name}={value}" for name, value in client.cookies.items())
        return cookie, client.cookies["kapu_csrf"]


def _load(base: str, path: str, cookie: str, connections: int, seconds: int) -> dict[str, str]:
    command = ["wrk", "-t1", f"-c{connections}", "--latency", "-s",
               str(ROOT / "benchmarks" / "get_cookie.lua"), base]
    env = {**os.environ, "BENCH_PATH": path, "BENCH_COOKIE": cookie}
    subprocess.run([*command, "-d2s"], env=env, capture_output=True, check=True)  # warm-up
    out = subprocess.run([*command, f"-d{seconds}s"], env=env, capture_output=True, text=True,
                         check=True).stdout
    found = {p: re.search(rf"\s{p}%\s+([\d.]+\w+)", out) for p in ("50", "99")}
    rate = re.search(r"Requests/sec:\s+([\d.]+)", out)
    non_2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    return {"rate": f"{float(rate.group(1)) if rate else float('nan'):.0f}/s",
            **{f"p{p}_ms": f"{parse_ms(m.group(1)) if m else float('nan'):.1f}"
               for p, m in found.items()},
            "errors": non_2xx.group(1) if non_2xx else "0"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--documents", type=int, default=100_000)
    parser.add_argument("--connections", type=int, default=1)
    parser.add_argument("--duration", type=int, default=10)
    parser.add_argument("--big-mib", type=int, default=200)
    args = parser.parse_args()
    with scratch_database("kapu_web") as scratch:
        _run(args, scratch)


def _run(args: argparse.Namespace, scratch: Scratch) -> None:
    url, workdir, env = scratch.url, scratch.workdir, scratch.env
    server = None
    try:
        kapu(env, "org", "add", "--krid", "900000021", "--short-name", "WEBSENDER",
             "--name", "Web Sender")
        kapu(env, "org", "add", "--krid", "900000022", "--short-name", "WEBOFFICE",
             "--name", "Web Office")
        asyncio.run(_clerk(url, workdir))
        print(f"seeding {args.documents} documents …", flush=True)
        asyncio.run(_seed(scratch.dsn, args.documents))
        port = 18000 + secrets.randbelow(1000)
        server = start(env, port)
        base = f"http://127.0.0.1:{port}"
        cookie, token = _log_in(base)
        result: dict[str, object] = {"documents": args.documents,
                                     "connections": args.connections}
        print("mailbox page, 50 rows …", flush=True)
        result["mailbox_page_50_rows"] = _load(
            base, "/ui/mailbox/900000022?limit=50", cookie, args.connections, args.duration)
        print("mailbox search …", flush=True)
        result["mailbox_search_matching_all"] = _load(
            base, "/ui/mailbox/900000022?limit=50&q=bench", cookie, args.connections,
            args.duration)
        # The worst case: text that no document holds, so every row of the office is read.
        result["mailbox_search_matching_none"] = _load(
            base, "/ui/mailbox/900000022?limit=50&q=nincs-ilyen", cookie, args.connections,
            args.duration)

        big = workdir / "big.pdf"
        with open(big, "wb") as file:
            file.write(b"%PDF-1.7\n")
            for _ in range(args.big_mib):
                file.write(os.urandom(1 << 20))
        baseline = rss_mib(server.pid)
        with PeakSampler(server.pid) as sampler:
            started = time.perf_counter()
            answer = subprocess.run(
                ["curl", "-sS", "-b", cookie, "-F", f"csrf_token={token}",
                 "-F", "recipient_krid=900000021", "-F", "doc_type_office=BENCH",
                 "-F", "doc_type_id=NAGY", "-F", "doc_type_description=Nagy",
                 "-F", f"file=@{big}", f"{base}/ui/send?box=900000022"],
                capture_output=True, text=True, check=True).stdout
            seconds = time.perf_counter() - started
        accepted = re.search(r'id="registration-number">(\d{27})<', answer)
        result["send_form_upload"] = {
            "mib": args.big_mib, "seconds": round(seconds, 2),
            "mb_per_s": round(big.stat().st_size / 1e6 / seconds),
            "rss_baseline_mib": round(baseline, 1),
            "rss_growth_mib": round(sampler.peak - baseline, 1),
            "accepted": accepted.group(1) if accepted else f"refused: {answer[-300:]}"}
        print(json.dumps(result, indent=2, ensure_ascii=False))
    finally:
        if server is not None:
            server.terminate()
            server.wait(timeout=30)


if __name__ == "__main__":
    main()
