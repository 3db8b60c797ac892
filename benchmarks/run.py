"""Measure the gateway on SQLite and PostgreSQL: small-upload throughput and latency, and a
200 MiB upload and download with the server's peak memory.

    python -m benchmarks.run [--only sqlite|postgresql] [--duration 15] [--big-mib 200]

Needs ``wrk`` (Debian package) for the small-upload load and ``curl`` for the large transfer.
One server process; the load generator runs on the same 2-core machine, so the figures are a
floor for a dedicated server. Results are printed and written to benchmarks/results/.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import re
import secrets
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import asyncpg

ROOT = Path(__file__).resolve().parent.parent
ADMIN_DSN = os.environ.get("KAPU_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test")


@dataclass
class Result:
    database: str
    uploads_per_second: float = 0.0
    p50_ms: float = 0.0
    p90_ms: float = 0.0
    p99_ms: float = 0.0
    upload_errors: int = 0
    big_mib: int = 0
    big_upload_seconds: float = 0.0
    big_upload_mb_per_s: float = 0.0
    sha256sum_mb_per_s: float = 0.0
    upload_vs_sha256sum: float = 0.0
    big_download_seconds: float = 0.0
    big_download_mb_per_s: float = 0.0
    rss_baseline_mib: float = 0.0
    rss_growth_upload_mib: float = 0.0
    rss_growth_download_mib: float = 0.0
    notes: list[str] = field(default_factory=list)


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


class PeakSampler:
    """Samples a process's resident memory every 10 ms while a transfer runs."""

    def __init__(self, pid: int) -> None:
        self.pid, self.peak, self._stop = pid, 0.0, threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, rss_mib(self.pid))
            time.sleep(0.01)

    def __enter__(self) -> PeakSampler:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()


def kapu(env: dict[str, str], *args: str) -> dict[str, str]:
    out = subprocess.run([sys.executable, "-m", "gateway", *args, "--json"], env=env,
                         capture_output=True, text=True, check=True)
    shown: dict[str, str] = json.loads(out.stdout)
    return shown


def start_server(env: dict[str, str], port: int) -> subprocess.Popen[bytes]:
    import urllib.request

    server = subprocess.Popen([sys.executable, "-m", "gateway", "serve", "--port", str(port)],
                              env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(300):
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=1)
            return server
        except OSError:
            time.sleep(0.1)
    server.kill()
    raise RuntimeError("server did not start")


def parse_ms(text: str) -> float:
    value, unit = re.match(r"([\d.]+)(us|ms|s)", text).groups()  # type: ignore[union-attr]
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


def small_uploads(url: str, auth: str, krid: str, duration: int, result: Result) -> None:
    env = {**os.environ, "BENCH_KRID": krid, "BENCH_AUTH": auth}
    # One warm-up second (connections, credential cache), then the measured run.
    subprocess.run(["wrk", "-t1", "-c16", "-d2s", "-s", str(ROOT / "benchmarks/upload.lua"), url],
                   env=env, capture_output=True, check=True)
    out = subprocess.run(
        ["wrk", "-t1", "-c16", f"-d{duration}s", "--latency", "-s",
         str(ROOT / "benchmarks/upload.lua"), url],
        env=env, capture_output=True, text=True, check=True,
    ).stdout
    result.uploads_per_second = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    for percentile, name in (("50", "p50_ms"), ("90", "p90_ms"), ("99", "p99_ms")):
        match = re.search(rf"\s{percentile}%\s+([\d.]+\w+)", out)
        setattr(result, name, parse_ms(match.group(1)) if match else float("nan"))
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    result.upload_errors = int(errors.group(1)) if errors else 0


def big_transfer(url: str, user: str, password: str, krid: str, pid: int, mib: int,
                 workdir: Path, result: Result) -> None:
    big = workdir / "big.pdf"
    with open(big, "wb") as file:
        file.write(b"%PDF-1.7\n")
        for _ in range(mib):
            file.write(os.urandom(1 << 20))
    size_mb = big.stat().st_size / 1e6
    started = time.perf_counter()
    subprocess.run(["sha256sum", str(big)], capture_output=True, check=True)
    result.sha256sum_mb_per_s = size_mb / (time.perf_counter() - started)

    result.big_mib = mib
    result.rss_baseline_mib = rss_mib(pid)
    with PeakSampler(pid) as sampler:
        started = time.perf_counter()
        out = subprocess.run(
            ["curl", "-sS", "-u", f"{user}:{password}", "-F", f"file=@{big}",
             "-F", f"recipient_krid={krid}", "-F", "doc_type_office=BENCH",
             "-F", "doc_type_id=NAGY", "-F", "doc_type_description=Nagy dokumentum",
             f"{url}/api/v1/documents"],
            capture_output=True, text=True, check=True,
        ).stdout
        result.big_upload_seconds = time.perf_counter() - started
    accepted = json.loads(out)
    result.big_upload_mb_per_s = size_mb / result.big_upload_seconds
    result.upload_vs_sha256sum = result.big_upload_mb_per_s / result.sha256sum_mb_per_s
    result.rss_growth_upload_mib = sampler.peak - result.rss_baseline_mib

    baseline = rss_mib(pid)
    with PeakSampler(pid) as sampler:
        started = time.perf_counter()
        subprocess.run(
            ["curl", "-sS", "-u", f"{user}:{password}", "-o", str(workdir / "down.bin"),
             f"{url}/api/v1/documents/{accepted['registration_number']}/content"],
            check=True,
        )
        result.big_download_seconds = time.perf_counter() - started
    result.big_download_mb_per_s = size_mb / result.big_download_seconds
    result.rss_growth_download_mib = sampler.peak - baseline
    if (workdir / "down.bin").stat().st_size != big.stat().st_size:
        result.notes.append("download size differs from upload!")


async def _admin(statement: str) -> None:
    connection = await asyncpg.connect(ADMIN_DSN, timeout=5)
    try:
        await connection.execute(statement)
    finally:
        await connection.close()


def run_one(database: str, duration: int, mib: int) -> Result:
    result = Result(database)
    workdir = Path(tempfile.mkdtemp(prefix=f"kapu-bench-{database}-"))
    pg_name = f"kapu_bench_{secrets.token_hex(4)}"
    if database == "sqlite":
        url = f"sqlite+aiosqlite:///{workdir}/kapu.db"
    else:
        asyncio.run(_admin(f'CREATE DATABASE "{pg_name}"'))
        url = f"postgresql+asyncpg://{ADMIN_DSN.split('://', 1)[1].rsplit('/', 1)[0]}/{pg_name}"
    env = {**os.environ, "KAPU_DATABASE_URL": url, "KAPU_DATA_DIR": str(workdir / "data")}
    server = None
    try:
        subprocess.run([sys.executable, "-m", "gateway", "db", "upgrade"], env=env, check=True,
                       capture_output=True)
        sender = kapu(env, "org", "add", "--krid", "900000001", "--short-name", "BENCHSENDER",
                      "--name", "Bench Sender")
        office = kapu(env, "org", "add", "--krid", "900000002", "--short-name", "BENCHOFFICE",
                      "--name", "Bench Office")
        port = 18000 + secrets.randbelow(1000)
        server = start_server(env, port)
        base = f"http://127.0.0.1:{port}"
        auth = base64.b64encode(f"{sender['username']}:{sender['password']}".encode()).decode()
        print(f"[{database}] small uploads, 16 connections, {duration} s …", flush=True)
        small_uploads(base, auth, office["krid"], duration, result)
        print(f"[{database}] {mib} MiB upload and download …", flush=True)
        big_transfer(base, sender["username"], sender["password"], office["krid"],
                     server.pid, mib, workdir, result)
    finally:
        if server is not None:
            server.terminate()
            server.wait(timeout=30)
        shutil.rmtree(workdir, ignore_errors=True)
        if database == "postgresql":
            asyncio.run(_admin(f'DROP DATABASE IF EXISTS "{pg_name}" WITH (FORCE)'))
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", choices=["sqlite", "postgresql"])
    parser.add_argument("--duration", type=int, default=15, help="seconds of small uploads")
    parser.add_argument("--big-mib", type=int, default=200)
    args = parser.parse_args()
    for tool in ("wrk", "curl", "sha256sum"):
        if shutil.which(tool) is None:
            sys.exit(f"benchmarks need {tool}: apt-get install {tool}")
    databases = [args.only] if args.only else ["sqlite", "postgresql"]
    results = [run_one(db, args.duration, args.big_mib) for db in databases]
    out_dir = ROOT / "benchmarks" / "results"
    out_dir.mkdir(exist_ok=True)
    stamp = time.strftime("%Y%m%dT%H%M%S")
    (out_dir / f"{stamp}.json").write_text(json.dumps([asdict(r) for r in results], indent=2))
    for r in results:
        print(f"\n== {r.database} ==")
        print(f"10 KiB uploads, 16 clients: {r.uploads_per_second:.0f}/s, p50 {r.p50_ms:.1f} ms, "
              f"p90 {r.p90_ms:.1f} ms, p99 {r.p99_ms:.1f} ms, errors {r.upload_errors}")
        print(f"{r.big_mib} MiB upload: {r.big_upload_seconds:.2f} s = "
              f"{r.big_upload_mb_per_s:.0f} MB/s ({r.upload_vs_sha256sum:.0%} of sha256sum's "
              f"{r.sha256sum_mb_per_s:.0f} MB/s); server RSS +{r.rss_growth_upload_mib:.1f} MiB "
              f"over {r.rss_baseline_mib:.0f} MiB")
        print(f"{r.big_mib} MiB download: {r.big_download_seconds:.2f} s = "
              f"{r.big_download_mb_per_s:.0f} MB/s; "
              f"server RSS +{r.rss_growth_download_mib:.1f} MiB")
        for note in r.notes:
            print(f"NOTE: {note}")


if __name__ == "__main__":
    main()
