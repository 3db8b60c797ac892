"""AVDH and e-Papír (contract 23–24), on PostgreSQL (or SQLite), one server process:

- authentications per second of a 10 KiB file (a TXT, which becomes a new PDF with the original
  embedded) and of a 10 KiB PDF (signed as it is), CLIENTS at once;
- e-Papír submissions per second (a short text and one 10 KiB attachment) against plain 10 KiB
  uploads to the same office, rounds interleaved in the same run: the ratio's goal is >= 0.3;
- the server's resident memory while it authenticates a BIG_MIB (45) MiB file: growth < 64 MiB.

    python -m benchmarks.avdh [--database postgresql|sqlite] [--duration 10] [--clients 8]
                              [--rounds 2] [--big-mib 45]

The load comes from httpx clients in this process (the bodies are multipart forms, the same
client for both sides of the ratio). Results are printed and written to benchmarks/results/.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import shutil
import statistics
import tempfile
import time
from contextlib import ExitStack
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from benchmarks.run import ROOT, PeakSampler, kapu, rss_mib, scratch_database, start_server

SMALL = 10 * 1024


@dataclass
class Rate:
    per_second: float = 0.0
    p50_ms: float = 0.0
    p99_ms: float = 0.0
    errors: int = 0

    def line(self) -> str:
        return (f"{self.per_second:.1f}/s, p50 {self.p50_ms:.0f} ms, p99 {self.p99_ms:.0f} ms, "
                f"errors {self.errors}")


@dataclass
class Result:
    database: str
    clients: int
    authenticate_txt: Rate = field(default_factory=Rate)
    authenticate_pdf: Rate = field(default_factory=Rate)
    upload_rounds: list[Rate] = field(default_factory=list)
    epapir_rounds: list[Rate] = field(default_factory=list)
    epapir_to_upload: float = 0.0
    big_mib: int = 0
    big_seconds: float = 0.0
    rss_before_mib: float = 0.0
    rss_peak_mib: float = 0.0


def small_pdf() -> bytes:
    """A real PDF of about 10 KiB, made with the same generator the gateway uses."""
    from fpdf import FPDF

    pdf = FPDF()
    pdf.set_compression(False)
    pdf.add_page()
    pdf.set_font("helvetica", size=9)
    for line in range(110):
        pdf.cell(0, 4, f"Benchmark document {line:03d}, authenticated as it is.",
                 new_x="LMARGIN", new_y="NEXT")
    return bytes(pdf.output())


async def _load(url: str, auth: tuple[str, str], request: dict[str, Any], expect: int,
                clients: int, seconds: float) -> Rate:
    latencies: list[float] = []
    errors = 0
    deadline = time.perf_counter() + seconds

    async def client() -> None:
        nonlocal errors
        async with httpx.AsyncClient(base_url=url, auth=auth, timeout=120) as http:
            while time.perf_counter() < deadline:
                started = time.perf_counter()
                answer = await http.post(**request)
                if answer.status_code == expect:
                    latencies.append(time.perf_counter() - started)
                else:
                    errors += 1

    started = time.perf_counter()
    await asyncio.gather(*(client() for _ in range(clients)))
    elapsed = time.perf_counter() - started
    ordered = sorted(latencies) or [0.0]
    return Rate(len(latencies) / elapsed, statistics.median(ordered) * 1000,
                ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] * 1000, errors)


def load(url: str, auth: tuple[str, str], request: dict[str, Any], expect: int, clients: int,
         seconds: float) -> Rate:
    return asyncio.run(_load(url, auth, request, expect, clients, seconds))


def mean(rates: list[Rate]) -> float:
    return statistics.fmean(rate.per_second for rate in rates)


def run(database: str, duration: int, clients: int, rounds: int, big_mib: int) -> Result:
    result = Result(database, clients, big_mib=big_mib)
    with ExitStack() as stack:
        if database == "postgresql":
            scratch = stack.enter_context(scratch_database("kapu_bench_avdh"))
            env, workdir = scratch.env, scratch.workdir
        else:
            workdir = Path(tempfile.mkdtemp(prefix="kapu-bench-avdh-"))
            env = {**os.environ, "KAPU_DATA_DIR": str(workdir), "KAPU_BACKGROUND_JOBS": "0",
                   "KAPU_DATABASE_URL": f"sqlite+aiosqlite:///{workdir}/kapu.db"}
        stack.callback(shutil.rmtree, workdir, True)
        env = {**env, "KAPU_AVDH_MAX_BYTES": str((big_mib + 1) * 1024 * 1024)}
        office = kapu(env, "org", "add", "--krid", "900000031", "--short-name", "AVDHOFFICE",
                      "--name", "AVDH Bench Hivatal")
        citizen = kapu(env, "citizen", "add", "--name", "Bench Polgár",
                       "--email", "polgar@example.hu")
        port = 18000 + secrets.randbelow(1000)
        url = f"http://127.0.0.1:{port}"
        server = start_server(env, port)
        stack.callback(server.wait, 30)
        stack.callback(server.terminate)
        auth = (citizen["username"], citizen["password"])
        text_file = ("bench.txt", os.urandom(SMALL // 2).hex().encode())
        print(f"[{database}] authentications of 10 KiB, {clients} clients, {duration} s …",
              flush=True)
        result.authenticate_txt = load(url, auth, {
            "url": "/api/v1/authenticate", "files": {"file": text_file}}, 200, clients, duration)
        result.authenticate_pdf = load(url, auth, {
            "url": "/api/v1/authenticate", "files": {"file": ("bench.pdf", small_pdf())}},
            200, clients, duration)
        upload = {"url": "/api/v1/documents", "files": {"file": text_file},
                  "data": {"recipient_krid": office["krid"], "doc_type_office": "BENCH",
                           "doc_type_id": "LEVEL", "doc_type_description": "Bench"}}
        epapir = {"url": "/api/v1/epapir", "files": [("attachment", text_file)],
                  "data": {"recipient_krid": office["krid"], "topic": "ALTALANOS",
                           "subject": "Kérelem", "text": "Tisztelt Hivatal! " * 30}}
        for round_number in range(1, rounds + 1):
            print(f"[{database}] round {round_number}: uploads, then e-Papír …", flush=True)
            result.upload_rounds.append(load(url, auth, upload, 201, clients, duration))
            result.epapir_rounds.append(load(url, auth, epapir, 201, clients, duration))
        result.epapir_to_upload = mean(result.epapir_rounds) / mean(result.upload_rounds)
        print(f"[{database}] one {big_mib} MiB authentication …", flush=True)
        big = workdir / "big.txt"
        with big.open("wb") as out:
            for _ in range(big_mib):
                out.write(os.urandom(512 * 1024).hex().encode())
        result.rss_before_mib = rss_mib(server.pid)
        with PeakSampler(server.pid) as sampler, big.open("rb") as source:
            started = time.perf_counter()
            answer = httpx.post(f"{url}/api/v1/authenticate", auth=auth, timeout=600,
                                files={"file": ("big.txt", source)})
            result.big_seconds = time.perf_counter() - started
        if answer.status_code != 200:
            raise RuntimeError(f"the {big_mib} MiB authentication answered "
                               f"{answer.status_code}: {answer.text[:300]}")
        result.rss_peak_mib = sampler.peak
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database", choices=["postgresql", "sqlite"], default="postgresql")
    parser.add_argument("--duration", type=int, default=10, help="seconds per measurement")
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--big-mib", type=int, default=45)
    args = parser.parse_args()
    result = run(args.database, args.duration, args.clients, args.rounds, args.big_mib)
    out_dir = ROOT / "benchmarks" / "results"
    out_dir.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    (out_dir / f"avdh-{stamp}.json").write_text(json.dumps(asdict(result), indent=2))
    growth = result.rss_peak_mib - result.rss_before_mib
    print(f"\n== AVDH and e-Papír, {result.database}, {result.clients} clients ==")
    print(f"authenticate 10 KiB TXT (new PDF): {result.authenticate_txt.line()}")
    print(f"authenticate 10 KiB PDF (as it is): {result.authenticate_pdf.line()}")
    for upload, epapir in zip(result.upload_rounds, result.epapir_rounds, strict=True):
        print(f"  upload {upload.line()}\n  e-Papír {epapir.line()}")
    print(f"e-Papír / upload: {result.epapir_to_upload:.2f} (goal >= 0.3)")
    print(f"{result.big_mib} MiB authentication: {result.big_seconds:.1f} s, server RSS "
          f"{result.rss_before_mib:.0f} -> {result.rss_peak_mib:.0f} MiB, growth "
          f"{growth:.0f} MiB (goal < 64)")


if __name__ == "__main__":
    main()
