"""Overload (admission control): the upload rate alone, then with about three times the upload
capacity offered as a mix — 16 upload clients and 48 mailbox-listing clients — in the same run.

    python -m benchmarks.overload [--duration 15] [--rounds 2] [--database sqlite|postgresql]
                                  [--deadlines-limit N]

The listing clients ask for the mailbox and the office directory in turn. Targets (issue 32):
uploads keep >= 80 % of the rate they reach alone beside listing clients that honour
Retry-After (2 s at most), >= 70 % beside clients that send again at once; no upload refused,
every shed listing a clean ``503 overloaded`` with ``Retry-After`` (shed.lua checks each answer)
and no request without an answer (wrk's socket errors). The same mixes are measured against a
server without the adaptive sheddable limit (``KAPU_ADMISSION_TARGET_SECONDS=0``, the "before")
and, for comparison, with admission control off (``KAPU_ADMISSION_CONTROL=0``). Rounds are
interleaved so that the shared machine's drift falls on all alike. One server process
(``--workers 1``: admission limits are per process); the load generator runs on the same
2-core machine. ``--deadlines-limit 32`` gives uploads more slots than they have clients: then
slots never bind them, and only their latency shows that listings take their CPU.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import re
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path

from benchmarks.run import (
    ROOT,
    Load,
    kapu,
    mean,
    parse_wrk,
    scratch_database,
    start_server,
)


@dataclass
class Mix:
    uploads: Load
    listed: int = 0
    shed: int = 0
    unclean: int = 0
    # Requests that got no answer at all (wrk's socket errors: connect, read, write; and
    # those still unanswered after wrk's --timeout), uploads and listings together.
    unanswered: int = 0


@dataclass
class Result:
    database: str
    started: str
    load_average: str
    alone: list[Load] = field(default_factory=list)
    deadlines_limit: int | None = None
    mix: list[Mix] = field(default_factory=list)
    polite: list[Mix] = field(default_factory=list)
    mix_before: list[Mix] = field(default_factory=list)
    polite_before: list[Mix] = field(default_factory=list)
    unprotected: list[Mix] = field(default_factory=list)


@contextmanager
def database_env(database: str, workdir: Path) -> Iterator[dict[str, str]]:
    """The environment of a server on a fresh, migrated database (deadline jobs off)."""
    if database == "postgresql":
        with scratch_database("kapu_overload") as scratch:
            yield scratch.env
        return
    env = {**os.environ, "KAPU_DATABASE_URL": f"sqlite+aiosqlite:///{workdir}/kapu.db",
           "KAPU_DATA_DIR": str(workdir / "data"), "KAPU_BACKGROUND_JOBS": "0"}
    subprocess.run([sys.executable, "-m", "gateway", "db", "upgrade"], env=env, check=True,
                   capture_output=True)
    yield env


def wrk_process(url: str, script: str, env: dict[str, str], duration: int, threads: int,
                connections: int) -> subprocess.Popen[str]:
    return subprocess.Popen(
        ["wrk", f"-t{threads}", f"-c{connections}", f"-d{duration}s", "--latency",
         # Long enough that a slow answer is not counted as none.
         "--timeout", "30s", "-s",
         str(ROOT / "benchmarks" / script), url],
        env={**os.environ, **env}, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def finished(process: subprocess.Popen[str]) -> str:
    out, err = process.communicate()
    if process.returncode != 0:
        raise RuntimeError(f"wrk failed: {err}")
    return out


def run_mix(url: str, upload_env: dict[str, str], list_env: dict[str, str],
            duration: int) -> Mix:
    uploads = wrk_process(url, "upload.lua", upload_env, duration, 1, 16)
    # wrk's delay() is per thread: a thread per client when they honour Retry-After; else two
    # threads, as 48 busy threads would take the shared cores' time from the server.
    threads = 48 if list_env.get("BENCH_HONOUR_RETRY_AFTER") else 2
    listings = wrk_process(url, "shed.lua", list_env, duration, threads, 48)
    upload_out, list_out = finished(uploads), finished(listings)
    counted = re.search(r"KAPU-SHED ok=(\d+) shed=(\d+) unclean=(\d+)", list_out)
    assert counted, list_out
    return Mix(parse_wrk(upload_out), *(int(value) for value in counted.groups()),
               unanswered=socket_errors(upload_out) + socket_errors(list_out))


def socket_errors(out: str) -> int:
    """wrk's count of requests without an answer (0 when it reports none)."""
    found = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)",
                      out)
    if found:
        print(f"  wrk: {found.group(0)}", flush=True)
    return sum(int(value) for value in found.groups()) if found else 0


def alone(url: str, upload_env: dict[str, str], duration: int) -> Load:
    return parse_wrk(finished(wrk_process(url, "upload.lua", upload_env, duration, 1, 16)))


def seed(url: str, sender: dict[str, str], office: dict[str, str], count: int) -> None:
    """Documents in the office's mailbox, so that a listing has ten to show."""
    import httpx

    with httpx.Client(base_url=url, auth=(sender["username"], sender["password"])) as client:
        for number in range(count):
            client.post("/api/v1/documents", files={"file": ("seed.txt", f"seed {number}")},
                        data={"recipient_krid": office["krid"], "doc_type_office": "BENCH",
                              "doc_type_id": "LEVEL", "doc_type_description": "Seed"},
                        ).raise_for_status()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=int, default=10, help="seconds per phase")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--database", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--deadlines-limit", type=int, default=None,
                        help="KAPU_ADMISSION_DEADLINES_LIMIT of every server (default: its own)")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("the benchmark needs wrk: apt-get install wrk")
    workdir = Path(tempfile.mkdtemp(prefix="kapu-overload-"))
    result = Result(args.database, time.strftime("%Y-%m-%d %H:%M:%S %Z"),
                    Path("/proc/loadavg").read_text().strip(),
                    deadlines_limit=args.deadlines_limit)
    servers: list[subprocess.Popen[bytes]] = []
    try:
        with database_env(args.database, workdir) as env:
            sender = kapu(env, "org", "add", "--krid", "900000001", "--short-name",
                          "BENCHSENDER", "--name", "Bench Sender")
            office = kapu(env, "org", "add", "--krid", "900000002", "--short-name",
                          "BENCHOFFICE", "--name", "Bench Office")
            basic = {name: base64.b64encode(f"{party['username']}:{party['password']}"
                                            .encode()).decode()
                     for name, party in (("sender", sender), ("office", office))}
            upload_env = {"BENCH_KRID": office["krid"], "BENCH_AUTH": basic["sender"]}
            # The mailbox and the office directory in turn (the directory lists every office).
            list_env = {"BENCH_PATH": "/api/v1/mailbox?limit=10;/api/v1/offices",
                        "BENCH_AUTH": basic["office"]}

            if args.deadlines_limit is not None:
                env = {**env, "KAPU_ADMISSION_DEADLINES_LIMIT": str(args.deadlines_limit)}

            def serve(extra: dict[str, str]) -> str:
                port = 18000 + secrets.randbelow(1000)
                servers.append(start_server({**env, **extra}, port, workers=1))
                url = f"http://127.0.0.1:{port}"
                urllib.request.urlopen(f"{url}/ready", timeout=10)
                return url

            url = serve({"KAPU_ADMISSION_TARGET_SECONDS": "0.05"})
            seed(url, sender, office, 20)
            finished(wrk_process(url, "upload.lua", upload_env, 2, 1, 16))  # warm-up
            before_url = serve({"KAPU_ADMISSION_TARGET_SECONDS": "0"})
            finished(wrk_process(before_url, "upload.lua", upload_env, 2, 1, 16))  # warm-up
            unprotected_url = serve({"KAPU_ADMISSION_CONTROL": "0"})
            polite_env = {**list_env, "BENCH_HONOUR_RETRY_AFTER": "1"}
            for round_number in range(1, args.rounds + 1):
                print(f"round {round_number}: uploads alone, {args.duration} s …", flush=True)
                result.alone.append(alone(url, upload_env, args.duration))
                for server, mixes, polite, kind in ((url, result.mix, result.polite, "adaptive"),
                                                    (before_url, result.mix_before,
                                                     result.polite_before, "fixed limits")):
                    print(f"round {round_number}: {kind}, 16 upload + 48 listing clients …",
                          flush=True)
                    mixes.append(run_mix(server, upload_env, list_env, args.duration))
                    print(f"round {round_number}: {kind}, listing clients honour Retry-After …",
                          flush=True)
                    polite.append(run_mix(server, upload_env, polite_env, args.duration))
                print(f"round {round_number}: mix without admission control …", flush=True)
                result.unprotected.append(run_mix(unprotected_url, upload_env, list_env,
                                                  args.duration))
    finally:
        for server in servers:
            server.terminate()
            server.wait(timeout=30)
        shutil.rmtree(workdir, ignore_errors=True)
    report(result, args.duration)


def report(result: Result, duration: int) -> None:
    out_dir = ROOT / "benchmarks" / "results"
    out_dir.mkdir(exist_ok=True)
    stamp = time.strftime("%Y%m%dT%H%M%S")
    (out_dir / f"overload-{stamp}.json").write_text(json.dumps(asdict(result), indent=2))
    base = mean(result.alone)
    slots = (f"; KAPU_ADMISSION_DEADLINES_LIMIT={result.deadlines_limit}"
             if result.deadlines_limit is not None else "")
    print(f"\n== overload, {result.database}, {result.started}; load average before: "
          f"{result.load_average}{slots} ==")
    print(f"uploads alone (16 clients): {base.line()}")
    failures = []
    targets = {"16 upload + 48 listing clients": 0.7, "listing clients honour Retry-After": 0.8}
    for name, mixes in (("16 upload + 48 listing clients", result.mix),
                        ("listing clients honour Retry-After", result.polite),
                        ("before: fixed limits, 48 listing clients", result.mix_before),
                        ("before: fixed limits, clients honour Retry-After",
                         result.polite_before),
                        ("admission control off", result.unprotected)):
        uploads = mean([mix.uploads for mix in mixes])
        ratio = uploads.requests_per_second / base.requests_per_second
        listed, shed = sum(m.listed for m in mixes), sum(m.shed for m in mixes)
        unclean = sum(m.unclean for m in mixes)
        unanswered = sum(m.unanswered for m in mixes)
        offered = (listed + shed + unclean) / (duration * len(mixes)) / base.requests_per_second
        print(f"mix, {name}: uploads {uploads.line()} = {ratio:.1%} of alone; listings "
              f"{listed} served, {shed} shed with 503 overloaded, {unclean} other answers; "
              f"{unanswered} unanswered (listings asked: {offered:.1f} x the upload rate alone)")
        if name not in targets:
            continue  # the comparison, not a target
        if ratio < targets[name]:
            failures.append(f"{name}: uploads at {ratio:.1%} of alone "
                            f"(target >= {targets[name]:.0%})")
        if uploads.errors or unclean or unanswered:
            failures.append(f"{name}: {uploads.errors} uploads refused, {unclean} listings "
                            f"answered neither 200 nor a clean 503 overloaded, {unanswered} "
                            "requests without an answer")
    for failure in failures:
        print(f"MISSED: {failure}")
    if failures:
        sys.exit(1)


if __name__ == "__main__":
    main()
