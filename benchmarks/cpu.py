"""CPU per accepted upload in every process, and the serial fraction (issue 32).

    python -m benchmarks.cpu [--duration 10] [--warm-up 3] [--offices 100] [--rounds 1]
                             [--only TEXT ...]

On a scratch PostgreSQL database, one server process as shipped (and the bare endpoint of
benchmarks/bare.py, the yardstick), 16 wrk connections uploading 10 KiB documents (and a last
window at one connection, where the counter's hold is the transaction's own, and one with
two servers numbering the one office, as two hosts would). Around a
window of ``--duration`` seconds, after a warm-up, the CPU time (utime + stime from /proc) of

- the server process, and its child processes (the signing process),
- the PostgreSQL backends connected to the scratch database,
- PostgreSQL's shared processes (walwriter, checkpointer, background writer, autovacuum),
  which also serve any other database of the cluster during the window,

divided by the uploads accepted in the window (rows in the table, before and after). REST
uploads to one office, REST uploads spread over ``--offices`` offices, and the same two over
HKP (SOAP with Attachments); the bare endpoint has REST only.

The serial fraction s is the time per upload the registration counter rows were held
(``kapu_registration_counter_held_seconds``, read from /metrics around the window) over the
upload's CPU time in all processes; Amdahl's law then predicts at most 1 / (s + (1 - s) / n)
times one host's rate on n hosts. That hold is timed by the server around its statements, so
it also holds the event loop's turns before the server reads PostgreSQL's answer - time in
which the row is already free. The hold is therefore measured a second time in PostgreSQL
itself, as another host would meet it: a connection of its own asks ``pgrowlocks`` every
2 ms how many counter rows a running transaction has locked, without waiting for or taking
any lock. The mean over the window times the window is the row-seconds held. wrk, this script
and that connection are not counted. With ``--rounds`` above 1 the whole set of windows runs
again, each round's ratios against its own bare window, and the medians are printed last: the
bare endpoint's CPU per upload moves by a quarter between runs on this machine. Results are
printed and written to benchmarks/results/.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import hashlib
import io
import json
import os
import random
import secrets
import shutil
import statistics
import subprocess
import sys
import threading
import time
import urllib.request
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path

import asyncpg
from argon2 import profiles
from prometheus_client.parser import text_string_to_metric_families

from benchmarks.run import (
    BOUNDARY,
    ROOT,
    SPLIT,
    SWA_CONTENT_TYPE,
    Load,
    Scratch,
    scratch_database,
    start_bare,
    start_server,
    swa_upload_parts,
    wrk,
)
from gateway.app import create_app
from gateway.config import Settings
from gateway.crypto import passwords
from gateway.services.parties import Registered, register_organisation

TICKS_PER_SECOND = os.sysconf("SC_CLK_TCK")
HOSTS = (4, 8, 16)
# The connection that samples the row locks: known by name, so its CPU is not the uploads'.
SAMPLER_NAME = "kapu-bench-row-locks"
SAMPLE_EVERY_SECONDS = 0.002
BARE = "bare endpoint, REST"
# Uploads a second one server cannot pass on this machine: bodies enough for a window.
MAX_RATE = 600


@dataclass
class Cost:
    """One window: CPU milliseconds per accepted upload, by process kind."""

    kind: str
    accepted: int = 0
    seconds: float = 0.0
    requests_not_2xx: int = 0
    server_ms: float = 0.0
    children_ms: float = 0.0
    backends_ms: float = 0.0
    postgres_shared_ms: float = 0.0
    total_ms: float = 0.0
    # kapu_registration_counter_held_seconds over the window: per accepted upload, and how
    # many observations it made (one per accepted upload); none for the bare endpoint.
    counter_held_ms: float | None = None
    counter_held_observations: int | None = None
    serial_fraction: float | None = None
    amdahl: dict[int, float] = field(default_factory=dict)
    # kapu_registration_counter_row_seconds over the window, per accepted upload and per
    # office the load was spread over: one row's hold per upload (the rows are held evenly,
    # the uploads going to the offices in turn). Another host waits only for the rows its
    # own uploads need, so this is the serial fraction's numerator when the load is spread.
    offices: int = 1
    row_held_ms: float | None = None
    row_serial_fraction: float | None = None
    row_amdahl: dict[int, float] = field(default_factory=dict)
    # The same, measured in PostgreSQL (RowLockSampler): counter rows locked on average over
    # the window, how many samples that mean took, and one row's hold per upload from it.
    pg_rows_locked: float | None = None
    pg_samples: int = 0
    pg_row_held_ms: float | None = None
    pg_row_serial_fraction: float | None = None
    pg_row_amdahl: dict[int, float] = field(default_factory=dict)
    children: list[str] = field(default_factory=list)
    uploads_per_second: float = 0.0
    round: int = 1
    # Batches in the window by forecast outcome (kapu_registration_batches_total): "held"
    # registered in one statement as forecast, "missed" and "none" after it; and "before
    # receipts" (kapu_registration_before_receipts_total): how many of those were registered
    # in one statement before their receipts, the rest in a transaction.
    forecast_batches: dict[str, float] = field(default_factory=dict)


@dataclass
class Result:
    duration: int
    warm_up: int
    offices: int
    load_average_before: str
    rounds: int = 1
    costs: list[Cost] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def cpu_seconds(pid: int) -> float:
    """utime + stime of a live process; 0 for one that is gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return 0.0
    # The fields after the command name (which may hold spaces), from field 3 (state) on.
    fields = stat.rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS_PER_SECOND


def descendants(pid: int) -> dict[int, str]:
    """Every process under ``pid``, with its command name."""
    parents: dict[int, tuple[int, str]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            name, rest = stat.split("(", 1)[1].rsplit(")", 1)
            parents[int(entry.name)] = int(rest.split()[1]), name
    found: dict[int, str] = {}
    frontier = [pid]
    while frontier:
        parent = frontier.pop()
        for child, (ppid, name) in parents.items():
            if ppid == parent and child not in found:
                found[child] = name
                frontier.append(child)
    return found


async def postgres_processes(dsn: str) -> tuple[list[int], list[int]]:
    """The backends connected to the scratch database (this query's own left out), and the
    cluster's shared processes (those of no database, and autovacuum workers)."""
    connection = await asyncpg.connect(dsn, timeout=5)
    try:
        rows = await connection.fetch(
            "SELECT pid, datname = current_database() AS ours, backend_type "
            "FROM pg_stat_activity WHERE pid <> pg_backend_pid() "
            "AND application_name IS DISTINCT FROM $1", SAMPLER_NAME)
    finally:
        await connection.close()
    backends = [row["pid"] for row in rows
                if row["ours"] and row["backend_type"] == "client backend"]
    shared = [row["pid"] for row in rows
              if row["backend_type"] != "client backend"
              and (row["ours"] is None or row["backend_type"] == "autovacuum worker")]
    return backends, shared


async def count_rows(dsn: str, table: str) -> int:
    connection = await asyncpg.connect(dsn, timeout=5)
    try:
        return int(await connection.fetchval(f"SELECT count(*) FROM {table}"))
    finally:
        await connection.close()


def counter_held(url: str) -> tuple[float, float, float, dict[str, float]] | None:
    """kapu_registration_counter_held_seconds: (sum, count),
    kapu_registration_counter_row_seconds_total, and the batches by forecast outcome
    (kapu_registration_batches_total); None without /metrics."""
    try:
        text = urllib.request.urlopen(f"{url}/metrics", timeout=10).read().decode()
    except OSError:
        return None
    samples = {sample.name: sample.value for family in text_string_to_metric_families(text)
               for sample in family.samples}
    batches = {sample.labels["forecast"]: sample.value
               for family in text_string_to_metric_families(text)
               for sample in family.samples if sample.name == "kapu_registration_batches_total"}
    if "kapu_registration_before_receipts_total" in samples:
        batches["before receipts"] = samples["kapu_registration_before_receipts_total"]
    return (samples["kapu_registration_counter_held_seconds_sum"],
            samples["kapu_registration_counter_held_seconds_count"],
            samples["kapu_registration_counter_row_seconds_total"], batches)


class RowLockSampler:
    """How many registration counter rows running transactions hold locked, sampled every
    2 ms from a connection of its own while the ``with`` block runs. ``pgrowlocks`` reads the
    rows' lock state without waiting for a lock or taking one, so sampling does not lengthen
    the holds it measures. The row stays locked until its transaction's commit is flushed,
    however late the server then reads the answer."""

    def __init__(self, dsn: str) -> None:
        self._dsn = dsn
        self._stop = threading.Event()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=lambda: asyncio.run(self._sample()), daemon=True)
        self._failure: BaseException | None = None
        self.samples = 0
        self.locked = 0

    @property
    def mean_locked(self) -> float:
        return self.locked / self.samples if self.samples else 0.0

    def __enter__(self) -> RowLockSampler:
        self._thread.start()
        self._ready.wait(10)
        if self._failure is not None:
            raise RuntimeError("the row-lock sampler did not start") from self._failure
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join(10)

    async def _sample(self) -> None:
        try:
            connection = await asyncpg.connect(
                self._dsn, timeout=5, server_settings={"application_name": SAMPLER_NAME})
        except BaseException as exc:
            self._failure = exc
            self._ready.set()
            raise
        try:
            count = await connection.prepare(
                "SELECT count(*) FROM pgrowlocks('registration_counters')")
            self._ready.set()
            while not self._stop.is_set():
                self.locked += int(await count.fetchval())
                self.samples += 1
                await asyncio.sleep(SAMPLE_EVERY_SECONDS)
        finally:
            await connection.close()


async def enable_row_lock_sampling(dsn: str) -> None:
    connection = await asyncpg.connect(dsn, timeout=5)
    try:
        await connection.execute("CREATE EXTENSION IF NOT EXISTS pgrowlocks")
    finally:
        await connection.close()


def held_together(held: list[tuple[float, float, float, dict[str, float]] | None]
                  ) -> tuple[float, float, float, dict[str, float]] | None:
    """Several servers' counter figures added up; None if one has none."""
    known = [one for one in held if one is not None]
    if not known or len(known) < len(held):
        return None
    batches: Counter[str] = Counter()
    for one in known:
        batches.update(one[3])
    return (sum(one[0] for one in known), sum(one[1] for one in known),
            sum(one[2] for one in known), dict(batches))


@dataclass
class Snapshot:
    rows: int
    server: float  # the servers together
    children: dict[int, float]
    backends: dict[int, float]
    shared: dict[int, float]
    held: tuple[float, float, float, dict[str, float]] | None
    at: float


def snapshot(dsn: str, table: str, pids: list[int], urls: list[str]) -> Snapshot:
    backends, shared = asyncio.run(postgres_processes(dsn))
    return Snapshot(
        rows=asyncio.run(count_rows(dsn, table)),
        server=sum(cpu_seconds(pid) for pid in pids),
        children={child: cpu_seconds(child) for pid in pids for child in descendants(pid)},
        backends={backend: cpu_seconds(backend) for backend in backends},
        shared={process: cpu_seconds(process) for process in shared},
        held=held_together([counter_held(url) for url in urls]), at=time.perf_counter())


def wrk_together(urls: list[str], script: str, load_env: dict[str, str], duration: int,
                 connections: int) -> list[Load]:
    """wrk against every server at once, the connections shared out between them."""
    with ThreadPoolExecutor(len(urls)) as pool:
        return list(pool.map(lambda url: wrk(url, script, load_env, duration,
                                             connections=connections // len(urls)), urls))


def spent(before: dict[int, float], after: dict[int, float]) -> float:
    """CPU seconds the processes used between two snapshots; one started meanwhile counts
    from zero, one that ended meanwhile is lost (none did in the runs recorded)."""
    return sum(seconds - before.get(pid, 0.0) for pid, seconds in after.items())


def measure(kind: str, start: Callable[[int], subprocess.Popen[bytes]], table: str,
            scratch: Scratch, script: str, load_env: dict[str, str],
            prepare: Callable[[], None] | None, duration: int, warm_up: int,
            connections: int = 16, offices: int = 1, servers: int = 1) -> Cost:
    """One window; with ``servers`` above 1, that many server processes on the one database
    (as far as the counters can tell, hosts), each loaded by its share of the connections."""
    ports = random.sample(range(18000, 19000), servers)
    urls = [f"http://127.0.0.1:{port}" for port in ports]
    print(f"{kind}: {warm_up} s warm-up, {duration} s measured …", flush=True)
    started: list[subprocess.Popen[bytes]] = []
    try:
        for port in ports:
            started.append(start(port))
        pids = [server.pid for server in started]
        if prepare is not None:
            prepare()
        wrk_together(urls, script, load_env, warm_up, connections)
        if prepare is not None:  # fresh bodies: a repeated content takes another path
            prepare()
        with RowLockSampler(scratch.dsn) as sampler:
            before = snapshot(scratch.dsn, table, pids, urls)
            loads = wrk_together(urls, script, load_env, duration, connections)
            # Uploads in flight when wrk stopped finish (or not) meanwhile: their rows and
            # their CPU time then fall on the same side of the second snapshot.
            time.sleep(0.5)
            after = snapshot(scratch.dsn, table, pids, urls)
        names = sorted({name for pid in pids for name in descendants(pid).values()})
    finally:
        for server in started:
            server.terminate()
            server.wait(timeout=30)
    accepted = after.rows - before.rows
    per_upload = 1000 / accepted
    cost = Cost(kind, accepted, after.at - before.at, sum(load.errors for load in loads),
                server_ms=(after.server - before.server) * per_upload,
                children_ms=spent(before.children, after.children) * per_upload,
                backends_ms=spent(before.backends, after.backends) * per_upload,
                postgres_shared_ms=spent(before.shared, after.shared) * per_upload,
                children=names, uploads_per_second=accepted / (after.at - before.at),
                offices=offices)
    cost.total_ms = cost.server_ms + cost.children_ms + cost.backends_ms + cost.postgres_shared_ms
    if before.held is not None and after.held is not None:
        # Sum over count of the same scrapes: the rows were read a moment apart, and a batch
        # committed in between falls on one side of one and the other side of the other.
        cost.counter_held_observations = round(after.held[1] - before.held[1])
        cost.counter_held_ms = ((after.held[0] - before.held[0]) * 1000
                                / cost.counter_held_observations)
        serial = cost.counter_held_ms / cost.total_ms
        cost.serial_fraction = serial
        cost.amdahl = amdahl(serial)
        cost.row_held_ms = ((after.held[2] - before.held[2]) * 1000 / offices
                            / cost.counter_held_observations)
        cost.row_serial_fraction = cost.row_held_ms / cost.total_ms
        cost.row_amdahl = amdahl(cost.row_serial_fraction)
        cost.forecast_batches = {outcome: count - before.held[3].get(outcome, 0.0)
                                 for outcome, count in after.held[3].items()}
        # The sampler ran a moment longer than the snapshots' interval, idle at both ends.
        cost.pg_rows_locked, cost.pg_samples = sampler.mean_locked, sampler.samples
        cost.pg_row_held_ms = (sampler.mean_locked * (after.at - before.at) * 1000
                               / offices / accepted)
        cost.pg_row_serial_fraction = cost.pg_row_held_ms / cost.total_ms
        cost.pg_row_amdahl = amdahl(cost.pg_row_serial_fraction)
    return cost


def amdahl(serial: float) -> dict[int, float]:
    """Amdahl's prediction per number of hosts; none at s >= 1 (no speed-up at all)."""
    if serial >= 1:
        return {}
    return {hosts: 1 / (serial + (1 - serial) / hosts) for hosts in HOSTS}


def soap_bodies(path: Path, sender: Registered, krids: list[str], count: int) -> None:
    """``count`` 10 KiB SwA uploads to ``krids`` in turn, each with content no earlier call
    wrote and its own correct Lenyomat."""
    run = secrets.token_hex(4)
    with open(path, "wb") as file:
        for number in range(count):
            content = f"{run} {number:>23}".encode() + b"y" * (10240 - 32)
            before, after = swa_upload_parts(sender.username, sender.password,
                                             krids[number % len(krids)],
                                             hashlib.sha256(content).hexdigest(), BOUNDARY)
            file.write(before + content + after + SPLIT.encode())


async def register_parties(settings: Settings, offices: int) -> tuple[Registered, list[str]]:
    """The sender and ``offices`` offices, through the service in this process."""
    app = create_app(settings)
    # The app logs as JSON lines on standard output: not this report's.
    with contextlib.redirect_stdout(io.StringIO()):
        async with app.router.lifespan_context(app):
            ports = app.state.ports
            sender = await register_organisation(ports, krid="900000001",
                                                 short_name="CPUSENDER", name="CPU Sender")
            # The offices never log in: argon2's cheapest profile spares most of a minute.
            passwords.use_parameters(profiles.CHEAPEST)
            krids = []
            for number in range(offices):
                office = await register_organisation(
                    ports, krid=f"9001{number:05d}", short_name=f"CPUOFFICE{number}",
                    name=f"CPU Office {number}")
                assert office.krid is not None
                krids.append(office.krid)
    return sender, krids


def run(scratch: Scratch, duration: int, warm_up: int, offices: int, rounds: int,
        only: list[str] | None = None) -> Result:
    result = Result(duration, warm_up, offices, Path("/proc/loadavg").read_text().strip(),
                    rounds)
    # As shipped: background jobs on, as `kapu serve` runs them (the scratch default is off).
    env = {**scratch.env, "KAPU_BACKGROUND_JOBS": "1"}
    settings = Settings(database_url=scratch.url, data_dir=scratch.workdir,
                        background_jobs=False, admission_control=False)
    sender, krids = asyncio.run(register_parties(settings, offices))
    asyncio.run(enable_row_lock_sampling(scratch.dsn))
    auth = base64.b64encode(f"{sender.username}:{sender.password}".encode()).decode()
    bodies = scratch.workdir / "soap-bodies.bin"
    bare_env = {**env, "BARE_DATABASE_URL": scratch.url, "BARE_DIR": str(scratch.workdir / "bare")}
    count = MAX_RATE * max(duration, warm_up)

    def rest(to: list[str]) -> dict[str, str]:
        return {"BENCH_KRIDS": ",".join(to), "BENCH_AUTH": auth}

    def soap(to: list[str]) -> tuple[dict[str, str], Callable[[], None]]:
        return ({"BENCH_BODIES": str(bodies), "BENCH_SPLIT": SPLIT, "BENCH_PATH": "/hkp",
                 "BENCH_CONTENT_TYPE": SWA_CONTENT_TYPE},
                lambda: soap_bodies(bodies, sender, to, count))

    def shipped(port: int) -> subprocess.Popen[bytes]:
        return start_server(env, port)

    one, spread = krids[:1], krids
    soap_one, soap_spread = soap(one), soap(spread)
    plan: list[tuple[str, Callable[[int], subprocess.Popen[bytes]], str, str, dict[str, str],
                     Callable[[], None] | None, int]] = [
        (BARE, lambda port: start_bare(bare_env, port), "bare_uploads",
         "upload.lua", rest(one), None, 1),
        ("as shipped, REST, 1 office", shipped, "documents", "upload.lua", rest(one), None, 1),
        (f"as shipped, REST, {offices} offices", shipped, "documents", "upload.lua",
         rest(spread), None, offices),
        ("as shipped, HKP, 1 office", shipped, "documents", "replay.lua", *soap_one, 1),
        (f"as shipped, HKP, {offices} offices", shipped, "documents", "replay.lua",
         *soap_spread, offices),
    ]
    def chosen(kind: str) -> bool:  # the bare window is every round's yardstick
        return kind == BARE or not only or any(text in kind for text in only)

    for round_number in range(1, rounds + 1):
        costs = [measure(kind, start, table, scratch, script, load_env, prepare, duration,
                         warm_up, offices=spread_over)
                 for kind, start, table, script, load_env, prepare, spread_over in plan
                 if chosen(kind)]
        # One connection: no other request's work between the batch's awaits, so the hold is
        # the transaction's own (round trips, the signing wait), not the loop's turns.
        if chosen(kind := "as shipped, REST, 1 office, 1 conn"):
            costs.append(measure(kind, shipped, "documents", scratch, "upload.lua", rest(one),
                                 None, duration, warm_up, 1))
        # Two servers numbering the same office, as two hosts would, 8 connections each: each
        # forecasts from its own last batch, so the forecasts seldom hold, and most batches
        # are registered in a transaction, which holds the row while it signs the receipts.
        if chosen(kind := "as shipped, REST, 1 office, 2 servers"):
            costs.append(measure(kind, shipped, "documents", scratch, "upload.lua", rest(one),
                                 None, duration, warm_up, servers=2))
        for cost in costs:
            cost.round = round_number
        result.costs.extend(costs)
    for cost in result.costs:
        # More apart than a batch (64 at most) would mean an upload observed twice or never.
        if (cost.counter_held_observations is not None
                and abs(cost.counter_held_observations - cost.accepted) > 64):
            result.notes.append(f"{cost.kind}: {cost.counter_held_observations} counter-held "
                                f"observations for {cost.accepted} accepted uploads")
        if cost.requests_not_2xx:
            result.notes.append(f"{cost.kind}: {cost.requests_not_2xx} answers not 2xx")
    return result


def report(result: Result) -> None:
    for round_number in range(1, result.rounds + 1):
        costs = [cost for cost in result.costs if cost.round == round_number]
        if result.rounds > 1:
            print(f"\n=== round {round_number} of {result.rounds} ===")
        report_round(result, costs)
    if result.rounds > 1:
        report_medians(result)
    for cost in result.costs:
        if cost.children and cost.round == 1:
            print(f"{cost.kind}: child processes {', '.join(cost.children)}")
    for note in result.notes:
        print(f"NOTE: {note}")


def report_medians(result: Result) -> None:
    print(f"\nMedians over {result.rounds} rounds (each round's ratio against its own bare "
          "window)")
    print(f"{'':34} {'total ms':>8} {'/ bare':>7} {'s held':>7} {'s row':>7} {'s pg row':>8}")
    bare = {cost.round: cost.total_ms for cost in result.costs if cost.kind == BARE}
    kinds = list(dict.fromkeys(cost.kind for cost in result.costs))
    for kind in kinds:
        costs = [cost for cost in result.costs if cost.kind == kind]

        def median(values: list[float | None]) -> str:
            known = [value for value in values if value is not None]
            return f"{statistics.median(known):.2%}" if known else "-"

        print(f"{kind:34} {statistics.median(c.total_ms for c in costs):8.2f} "
              f"{statistics.median(c.total_ms / bare[c.round] for c in costs):7.2f} "
              f"{median([c.serial_fraction for c in costs]):>7} "
              f"{median([c.row_serial_fraction for c in costs]):>7} "
              f"{median([c.pg_row_serial_fraction for c in costs]):>8}")
    print("(s held: all rows' hold as the server times it; s row: one row's; s pg row: one "
          "row's, measured in PostgreSQL)")


def report_round(result: Result, costs: list[Cost]) -> None:
    print(f"\nCPU ms per accepted upload ({result.duration} s window after {result.warm_up} s "
          f"warm-up, 16 connections, 10 KiB; load average before the run: "
          f"{result.load_average_before})")
    print(f"{'':34} {'uploads/s':>9} {'server':>7} {'child':>7} {'pg back':>7} "
          f"{'pg shrd':>7} {'total':>7} {'/ bare':>7}")
    bare = costs[0].total_ms
    for cost in costs:
        print(f"{cost.kind:34} {cost.uploads_per_second:9.0f} {cost.server_ms:7.2f} "
              f"{cost.children_ms:7.2f} {cost.backends_ms:7.2f} "
              f"{cost.postgres_shared_ms:7.2f} {cost.total_ms:7.2f} {cost.total_ms / bare:7.2f}")
    print("(target: as shipped / bare <= 1.5, all processes together; HKP is compared with "
          "the bare endpoint's REST upload)")
    print(f"\nSerial fraction: counter rows held per upload / CPU per upload; Amdahl's "
          f"prediction on {', '.join(map(str, HOSTS))} hosts")
    for cost in costs:
        if cost.serial_fraction is None:
            continue
        predicted = ", ".join(f"{hosts}: {speedup:.1f}x" for hosts, speedup
                              in cost.amdahl.items()) or "none (s >= 1)"
        assert cost.counter_held_ms is not None
        assert cost.counter_held_observations is not None
        busy = cost.counter_held_ms * cost.counter_held_observations / 1000 / cost.seconds
        print(f"{cost.kind:34} held {cost.counter_held_ms:.3f} ms of {cost.total_ms:.2f} ms "
              f"= s {cost.serial_fraction:.1%}   S(n) {predicted}   (rows held {busy:.0%} of "
              f"the window; at most {1000 / cost.counter_held_ms:.0f} uploads/s to one "
              f"counter on any number of hosts)")
    print("\nSpread over offices, one row's hold per upload (rows held x time, added up, over "
          "the offices and the uploads) / CPU per upload: another host waits only for the "
          "rows its own uploads need")
    for cost in costs:
        if cost.row_serial_fraction is None or cost.offices == 1:
            continue
        assert cost.row_held_ms is not None
        predicted = ", ".join(f"{hosts}: {speedup:.1f}x" for hosts, speedup
                              in cost.row_amdahl.items()) or "none (s >= 1)"
        print(f"{cost.kind:34} row held {cost.row_held_ms:.4f} ms of {cost.total_ms:.2f} ms "
              f"= s {cost.row_serial_fraction:.2%}   S(n) {predicted}")
    print("\nBatches by forecast outcome (held: one statement as forecast; missed, none: not as "
          "forecast, of which 'before receipts' in one statement before their receipts, the "
          "rest in a transaction)")
    for cost in costs:
        if cost.forecast_batches:
            print(f"{cost.kind:34} " + ", ".join(
                f"{outcome} {count:.0f}" for outcome, count
                in sorted(cost.forecast_batches.items())))
    print(f"\nMeasured in PostgreSQL (pgrowlocks every {SAMPLE_EVERY_SECONDS * 1000:.0f} ms): "
          "counter rows locked on average, and one row's hold per upload / CPU per upload")
    for cost in costs:
        if cost.pg_row_serial_fraction is None:
            continue
        assert cost.pg_row_held_ms is not None and cost.pg_rows_locked is not None
        predicted = ", ".join(f"{hosts}: {speedup:.1f}x" for hosts, speedup
                              in cost.pg_row_amdahl.items()) or "none (s >= 1)"
        print(f"{cost.kind:34} {cost.pg_rows_locked:.3f} rows locked ({cost.pg_samples} "
              f"samples), row held {cost.pg_row_held_ms:.4f} ms of {cost.total_ms:.2f} ms = s "
              f"{cost.pg_row_serial_fraction:.2%}   S(n) {predicted}")
    print("(targets: s <= 10 % to one office, <= 2 % spread; >= 6x at 8 hosts spread)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=int, default=10, help="seconds measured")
    parser.add_argument("--warm-up", type=int, default=3, help="seconds before each window")
    parser.add_argument("--offices", type=int, default=100,
                        help="offices the spread uploads go to in turn")
    parser.add_argument("--rounds", type=int, default=1,
                        help="times the whole set of windows runs; medians printed last")
    parser.add_argument("--only", action="append", metavar="TEXT",
                        help="run only the windows whose names contain TEXT (may be given "
                        "again; the bare endpoint's window always runs)")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("benchmarks need wrk: apt-get install wrk")
    with scratch_database("kapu_bench_cpu") as scratch:
        result = run(scratch, args.duration, args.warm_up, args.offices, args.rounds,
                     args.only)
    out_dir = ROOT / "benchmarks" / "results"
    out_dir.mkdir(exist_ok=True)
    path = out_dir / f"cpu-{time.strftime('%Y%m%dT%H%M%S')}.json"
    path.write_text(json.dumps(asdict(result), indent=2))
    report(result)
    print(f"\nwritten to {path.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
