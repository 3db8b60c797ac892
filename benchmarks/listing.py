"""Mailbox listing with 1,000,000 documents on PostgreSQL: 100,000 in the listed office's
mailbox, the rest spread over nine other offices.

    python -m benchmarks.listing [--documents 1000000] [--offices 10] [--duration 10]

The documents are bulk-loaded with one SQL statement (generate_series), not through the API;
a fifth of them wait (the ``new`` list), the rest are downloaded, interleaved by id as a busy
office's mailbox is. Each carries a real RFC 3161 token of the gateway's own TSA (the same
bytes in every row), so rows are as wide as an accepted document's. One server process
answers ``GET /api/v1/mailbox?limit=50`` under wrk: the ``new`` list's first page with one
client (latency) and four (rate), and a page of the whole mailbox (``state=all``) 90 % of the
way through it, reached by its cursor.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import hashlib
import json
import os
import re
import secrets
import subprocess
import time
from datetime import UTC, datetime

import asyncpg

from benchmarks.run import ROOT, Scratch, kapu, parse_ms, scratch_database, start_server
from gateway.crypto.keys import ensure_keys
from gateway.crypto.timestamps import TimestampAuthority

# Office i (0-based, in the order of $2) receives documents g with g % offices == i; every
# fifth group of ten is waiting. Senders alternate between the two senders.
SEED = """
INSERT INTO documents (registration_number, registered_at, valid_until, sender_id,
    recipient_id, sender_kind, doc_type_office, doc_type_id, doc_type_description, file_name,
    size, sha256, reply_encryption, return_receipt, system_message, delivery_state,
    warning_due_at, timestamp_token)
SELECT lpad(g::text, 27, '0'),
    now() - make_interval(secs => $4 - g), now() + interval '30 days',
    ($1::bigint[])[1 + g % 2], ($2::bigint[])[1 + g % $3], 'hivatali', 'BENCH', 'LEVEL',
    'Benchmark', 'bench-' || g || '.pdf', 10240, md5(g::text) || md5((-g)::text),
    false, false, false,
    CASE WHEN g % 50 < 10 THEN 'waiting' ELSE 'downloaded' END,
    now() + interval '3 days', $5::bytea
FROM generate_series(1, $4) AS g
"""


async def _seed(dsn: str, senders: list[str], offices: list[str], count: int,
                token: bytes) -> None:
    connection = await asyncpg.connect(dsn)
    try:
        ids = {row["username"]: row["id"] for row in await connection.fetch(
            "SELECT id, username FROM parties WHERE username = ANY($1::text[])",
            senders + offices)}
        await connection.execute(SEED, [ids[s] for s in senders], [ids[o] for o in offices],
                                 len(offices), count, token)
        await connection.execute("VACUUM ANALYZE documents")
    finally:
        await connection.close()


async def _cursor_at(dsn: str, office: str, fraction: float) -> str:
    """The cursor of the page that starts ``fraction`` of the way through the mailbox (the
    cursor is the last listed document's id, as the gateway encodes it)."""
    connection = await asyncpg.connect(dsn)
    try:
        after_id = await connection.fetchval(
            "SELECT d.id FROM documents d JOIN parties p ON p.id = d.recipient_id "
            "WHERE p.username = $1 ORDER BY d.id OFFSET $2 LIMIT 1",
            office, int(await connection.fetchval(
                "SELECT count(*) FROM documents d JOIN parties p ON p.id = d.recipient_id "
                "WHERE p.username = $1", office) * fraction))
    finally:
        await connection.close()
    return base64.urlsafe_b64encode(f"d{after_id}".encode()).decode().rstrip("=")


def _figures(out: str) -> dict[str, float]:
    found = {p: re.search(rf"\s{p}%\s+([\d.]+\w+)", out) for p in ("50", "99")}
    rate = re.search(r"Requests/sec:\s+([\d.]+)", out)
    errors = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    return {
        "per_second": round(float(rate.group(1)), 1) if rate else float("nan"),
        **{f"p{p}_ms": round(parse_ms(m.group(1)), 2) if m else float("nan")
           for p, m in found.items()},
        "errors": int(errors.group(1)) if errors else 0,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--documents", type=int, default=1_000_000)
    parser.add_argument("--offices", type=int, default=10)
    parser.add_argument("--duration", type=int, default=10, help="seconds per measurement")
    args = parser.parse_args()
    with scratch_database("kapu_listing") as scratch:
        _run(args, scratch)


def _run(args: argparse.Namespace, scratch: Scratch) -> None:
    env = scratch.env
    senders = ["LISTSENDER1", "LISTSENDER2"]
    offices = [f"LISTOFFICE{i}" for i in range(args.offices)]
    for number, name in enumerate(senders, start=1):
        kapu(env, "org", "add", "--krid", f"90000010{number}", "--short-name", name,
             "--name", f"Listing Sender {number}")
    passwords = {}
    for number, name in enumerate(offices):
        passwords[name] = kapu(env, "org", "add", "--krid", f"9000002{number:02d}",
                               "--short-name", name, "--name", f"Listing Office {number}")
    # The server reads these keys (KAPU_DATA_DIR/keys) when it starts.
    keys, _ = ensure_keys(scratch.workdir / "keys")
    token = TimestampAuthority(keys.tsa_key, keys.tsa_cert).timestamp(
        hashlib.sha256(b"bench").hexdigest(), datetime.now(UTC))
    print(f"seeding {args.documents:,} documents, a {len(token):,}-byte timestamp token "
          "each …", flush=True)
    started = time.perf_counter()
    asyncio.run(_seed(scratch.dsn, senders, offices, args.documents, token))
    print(f"seeded in {time.perf_counter() - started:.1f} s", flush=True)
    listed = offices[0]
    deep_cursor = asyncio.run(_cursor_at(scratch.dsn, listed, 0.9))

    port = 18000 + secrets.randbelow(1000)
    server = start_server(env, port)
    try:
        auth = base64.b64encode(f"{listed}:{passwords[listed]['password']}".encode()).decode()

        def load(path: str, connections: int) -> dict[str, float]:
            wrk_env = {**os.environ, "BENCH_PATH": path, "BENCH_AUTH": auth}
            command = ["wrk", "-t1", f"-c{connections}", f"-d{args.duration}s", "--latency",
                       "-s", str(ROOT / "benchmarks" / "get.lua"), f"http://127.0.0.1:{port}"]
            return _figures(subprocess.run(command, env=wrk_env, capture_output=True,
                                           text=True, check=True).stdout)

        first_page = "/api/v1/mailbox?limit=50"
        load(first_page, 1)  # warm-up: argon2 for the first request, the pool, the caches
        result = {
            "documents": args.documents,
            "in_listed_mailbox": args.documents // args.offices,
            "new_first_page_1_client": load(first_page, 1),
            "new_first_page_4_clients": load(first_page, 4),
            "all_page_at_90_percent_1_client": load(
                f"/api/v1/mailbox?state=all&limit=50&cursor={deep_cursor}", 1),
        }
        print(json.dumps(result, indent=2))
    finally:
        server.terminate()
        server.wait(timeout=30)


if __name__ == "__main__":
    main()
