"""Measure the gateway on SQLite and PostgreSQL, REST and HKP SOAP in the same run:
10 KiB upload and mailbox-listing throughput and latency with 16 connections, and 200 MiB
uploads (REST multipart and SOAP with Attachments) and download with the server's peak memory.

    python -m benchmarks.run [--only sqlite|postgresql] [--duration 15] [--big-mib 200]

Needs ``wrk`` (Debian package) for the small-upload load and ``curl`` for the large transfer.
One server process; the load generator runs on the same 2-core machine, so the figures are a
floor for a dedicated server. Results are printed and written to benchmarks/results/.
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
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import IO

import asyncpg
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from gateway.crypto.keys import issue_leaf_keys

ROOT = Path(__file__).resolve().parent.parent
ADMIN_DSN = os.environ.get("KAPU_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test")


@dataclass
class Load:
    requests_per_second: float = 0.0
    p50_ms: float = 0.0
    p90_ms: float = 0.0
    p99_ms: float = 0.0
    errors: int = 0

    def line(self) -> str:
        return (f"{self.requests_per_second:.0f}/s, p50 {self.p50_ms:.1f} ms, "
                f"p90 {self.p90_ms:.1f} ms, p99 {self.p99_ms:.1f} ms, errors {self.errors}")


@dataclass
class Result:
    database: str
    # The yardstick (benchmarks/bare.py), the core (no timestamp, receipt or audit entry),
    # Kapu as shipped, and as shipped with ECDSA evidence keys: one Load per round, the
    # rounds interleaved so that the machine's drift falls on all alike.
    bare_rounds: list[Load] = field(default_factory=list)
    core_rounds: list[Load] = field(default_factory=list)
    full_rounds: list[Load] = field(default_factory=list)
    ecdsa_rounds: list[Load] = field(default_factory=list)
    two_worker_rounds: list[Load] = field(default_factory=list)  # kapu serve --workers 2
    # Acceptance receipts signed while their uploads waited, by round kind: [kept, signed
    # again] (kapu_receipts_signed_early_total; a wrong number forecast costs a signature).
    early_receipts: dict[str, list[float]] = field(default_factory=dict)
    core_upload: Load = field(default_factory=Load)
    receipt_verifications_per_second: float = 0.0
    rest_upload: Load = field(default_factory=Load)
    # SOAP uploads, and REST uploads to the same server just before each: the SOAP/REST
    # ratio compares these (the rounds above ran on other servers, at other moments, and
    # this machine's speed drifts by more than the difference being measured), pair by
    # pair and as the pairs' mean rates.
    rest_upload_pairs: list[Load] = field(default_factory=list)
    soap_upload_pairs: list[Load] = field(default_factory=list)
    rest_upload_paired: Load = field(default_factory=Load)
    soap_upload: Load = field(default_factory=Load)
    rest_list: Load = field(default_factory=Load)
    rest_content: Load = field(default_factory=Load)
    soap_list: Load = field(default_factory=Load)
    big_mib: int = 0
    big_upload_seconds: float = 0.0
    big_upload_mb_per_s: float = 0.0
    sha256sum_mb_per_s: float = 0.0
    upload_vs_sha256sum: float = 0.0
    big_download_seconds: float = 0.0
    big_download_mb_per_s: float = 0.0
    big_swa_upload_seconds: float = 0.0
    big_swa_upload_mb_per_s: float = 0.0
    rss_baseline_mib: float = 0.0
    rss_growth_upload_mib: float = 0.0
    rss_growth_download_mib: float = 0.0
    rss_growth_swa_upload_mib: float = 0.0
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


def verify_receipts(url: str, office: dict[str, str], number: str, ca: bytes,
                    seconds: float = 3.0) -> float:
    """Signed receipts checked per second with the xmlsec library (signature and chain)."""
    import xmlsec
    from lxml import etree

    request = urllib.request.Request(
        f"{url}/api/v1/documents/{number}/receipts/acceptance",
        headers={"Authorization": "Basic " + base64.b64encode(
            f"{office['username']}:{office['password']}".encode()).decode()})
    receipt = urllib.request.urlopen(request).read()
    manager = xmlsec.KeysManager()
    manager.load_cert_from_memory(ca, xmlsec.KeyFormat.PEM, xmlsec.KeyDataType.TRUSTED)
    done, started = 0, time.perf_counter()
    while time.perf_counter() - started < seconds:
        root = etree.fromstring(receipt)
        signature = xmlsec.tree.find_node(root, xmlsec.constants.NodeSignature)
        xmlsec.SignatureContext(manager).verify(signature)
        done += 1
    return done / (time.perf_counter() - started)


def start_server(env: dict[str, str], port: int, workers: int = 1) -> subprocess.Popen[bytes]:
    # The server's own output goes to a scratch file, so a server that does not come up
    # says why instead of a bare "did not answer".
    log = tempfile.TemporaryFile()
    server = subprocess.Popen([sys.executable, "-m", "gateway", "serve", "--port", str(port),
                               "--workers", str(workers)],
                              env=env, stdout=subprocess.DEVNULL, stderr=log)
    return answering(server, f"http://127.0.0.1:{port}/health", log)


def answering(server: subprocess.Popen[bytes], url: str,
              log: IO[bytes] | None = None) -> subprocess.Popen[bytes]:
    """``server`` once ``url`` answers (30 s at most); otherwise the end of its ``log``."""
    for _ in range(300):
        try:
            urllib.request.urlopen(url, timeout=1)
            return server
        except OSError:
            if server.poll() is not None:
                break
            time.sleep(0.1)
    server.kill()
    server.wait()
    said = ""
    if log is not None:
        log.seek(0)
        said = "\n" + log.read().decode(errors="replace")[-3000:]
    raise RuntimeError(f"{url} did not answer (exit status {server.returncode}){said}")


def early_receipts(url: str) -> tuple[float, float]:
    """The server's kapu_receipts_signed_early_total: (used, signed again); none for the
    bare endpoint, which has no /metrics."""
    try:
        metrics = urllib.request.urlopen(f"{url}/metrics").read().decode()
    except urllib.error.HTTPError:
        return 0.0, 0.0
    counts = {outcome: float(value) for outcome, value in re.findall(
        r'^kapu_receipts_signed_early_total\{outcome="(\w+)"\} ([\d.e+]+)$', metrics, re.M)}
    return counts.get("used", 0.0), counts.get("signed_again", 0.0)


def parse_ms(text: str) -> float:
    value, unit = re.match(r"([\d.]+)(us|ms|s)", text).groups()  # type: ignore[union-attr]
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


def wrk(url: str, script: str, env: dict[str, str], duration: int, warm_up: int = 0,
        before: Callable[[], None] | None = None, connections: int = 16) -> Load:
    """Run wrk with 16 connections; a warm-up run first fills pools and caches. ``before``
    runs before each of the two (to write fresh request bodies, say)."""
    command = ["wrk", "-t1", f"-c{connections}", "--latency", "-s",
               str(ROOT / "benchmarks" / script), url]
    env = {**os.environ, **env}
    if warm_up:
        if before is not None:
            before()
        subprocess.run([*command, f"-d{warm_up}s"], env=env, capture_output=True, check=True)
    if before is not None:
        before()
    out = subprocess.run([*command, f"-d{duration}s"], env=env, capture_output=True, text=True,
                         check=True).stdout
    return parse_wrk(out)


def parse_wrk(out: str) -> Load:
    """The rate, latency percentiles and non-2xx count of wrk's ``--latency`` report."""
    load = Load(float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)))  # type: ignore[union-attr]
    for percentile, name in (("50", "p50_ms"), ("90", "p90_ms"), ("99", "p99_ms")):
        match = re.search(rf"\s{percentile}%\s+([\d.]+\w+)", out)
        setattr(load, name, parse_ms(match.group(1)) if match else float("nan"))
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    load.errors = int(errors.group(1)) if errors else 0
    return load


SPLIT = "\n#KAPU-BENCH-SPLIT#\n"


def soap_envelope(username: str, password: str, service: str, form: str) -> str:
    module = "Workflow" if service == "GIPostaFiokLekerdezes" else "HivataliModule"
    return (
        '<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/" '
        'xmlns:iop="http://www.iop.hu/2004" xmlns:hkp="http://iop.gov.hu/2008/10/hkp">'
        '<soap:Header><wsse:Security xmlns:wsse="http://docs.oasis-open.org/wss/2004/01/'
        'oasis-200401-wss-wssecurity-secext-1.0.xsd"><wsse:UsernameToken>'
        f"<wsse:Username>{username}</wsse:Username><wsse:Password>{password}</wsse:Password>"
        "</wsse:UsernameToken></wsse:Security></soap:Header><soap:Body><iop:Kerdes>"
        f"<iop:KerdesFejlec><iop:Felhasznalo>{username}</iop:Felhasznalo>"
        "<iop:UzenetIdopont>2026-11-21T10:00:00+01:00</iop:UzenetIdopont></iop:KerdesFejlec>"
        f'<iop:Parancs><iop:Rendszer>HKP</iop:Rendszer><iop:Szolgaltatas Module="{module}">'
        f"{service}</iop:Szolgaltatas></iop:Parancs><iop:Form>{form}</iop:Form>"
        "</iop:Kerdes></soap:Body></soap:Envelope>"
    )


def swa_upload_parts(username: str, password: str, krid: str, sha256: str,
                     boundary: str) -> tuple[bytes, bytes]:
    """The bytes before and after the attachment of a one-document SwA upload."""
    form = (
        '<hkp:DokumentumFeltoltesKerdes><hkp:DokumentumAdatok href="d1">'
        f"<hkp:Cimzett><hkp:KRID>{krid}</hkp:KRID></hkp:Cimzett>"
        "<hkp:DokTipusHivatal>BENCH</hkp:DokTipusHivatal>"
        "<hkp:DokTipusAzonosito>LEVEL</hkp:DokTipusAzonosito>"
        "<hkp:DokTipusLeiras>Benchmark</hkp:DokTipusLeiras><hkp:FileNev>bench.txt</hkp:FileNev>"
        "<hkp:ValaszUtvonal>0</hkp:ValaszUtvonal><hkp:ValaszTitkositas>false"
        "</hkp:ValaszTitkositas><hkp:RendszerUzenet>false</hkp:RendszerUzenet>"
        f"<hkp:ETertiveveny>false</hkp:ETertiveveny><hkp:Lenyomat>{sha256}</hkp:Lenyomat>"
        "</hkp:DokumentumAdatok></hkp:DokumentumFeltoltesKerdes>"
    )
    envelope = soap_envelope(username, password, "UjDokumentumokFeltolteseGepiInterfeszAltal",
                             form)
    before = (f"--{boundary}\r\nContent-Type: text/xml; charset=utf-8\r\n"
              f"Content-ID: <env>\r\n\r\n{envelope}\r\n--{boundary}\r\n"
              "Content-Type: application/octet-stream\r\nContent-Transfer-Encoding: binary\r\n"
              "Content-ID: <d1>\r\n\r\n").encode()
    return before, f"\r\n--{boundary}--\r\n".encode()


BOUNDARY = "kapu-bench-boundary"
SWA_CONTENT_TYPE = f'multipart/related; type="text/xml"; start="<env>"; boundary="{BOUNDARY}"'


def soap_upload_bodies(path: Path, username: str, password: str, krid: str, count: int) -> None:
    """``count`` 10 KiB SwA uploads, each with its own correct Lenyomat, and content no earlier
    call wrote (a repeated content takes the store's other path, dropping the copy)."""
    run = secrets.token_hex(4)
    with open(path, "wb") as file:
        for number in range(count):
            content = f"{run} {number:>23}".encode() + b"y" * (10240 - 32)
            before, after = swa_upload_parts(username, password, krid,
                                             hashlib.sha256(content).hexdigest(), BOUNDARY)
            file.write(before + content + after + SPLIT.encode())


def mean(loads: list[Load]) -> Load:
    """The rounds' mean rate, with the worst round's latencies and all errors."""
    return Load(sum(load.requests_per_second for load in loads) / len(loads),
                max(load.p50_ms for load in loads), max(load.p90_ms for load in loads),
                max(load.p99_ms for load in loads), sum(load.errors for load in loads))


def start_bare(env: dict[str, str], port: int) -> subprocess.Popen[bytes]:
    server = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "--factory", "benchmarks.bare:create_app",
         "--port", str(port), "--no-access-log", "--log-level", "warning"],
        env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return answering(server, f"http://127.0.0.1:{port}/docs")


def ecdsa_keys(workdir: Path) -> Path:
    """A keys directory with ECDSA signing and TSA keys under the CA the database already
    knows: a host with another CA is refused (every host of a database signs alike)."""
    directory, shipped = workdir / "ecdsa-keys", workdir / "data" / "keys"
    if not (directory / "tsa.pem").exists():
        directory.mkdir(parents=True, exist_ok=True)
        for name in ("ca.pem", "ca.key.pem"):
            shutil.copy2(shipped / name, directory / name)
        ca_key = serialization.load_pem_private_key((shipped / "ca.key.pem").read_bytes(), None)
        assert isinstance(ca_key, rsa.RSAPrivateKey)
        issue_leaf_keys(directory, ca_key,
                        x509.load_pem_x509_certificate((shipped / "ca.pem").read_bytes()),
                        now=datetime.now(UTC), algorithm="ecdsa")
    return directory


def upload_rounds(env: dict[str, str], workdir: Path, sender: dict[str, str],
                  office: dict[str, str], duration: int, rounds: int, result: Result) -> None:
    """Interleaved rounds of 10 KiB uploads with 16 connections: the bare endpoint, the core,
    Kapu as shipped, and as shipped with ECDSA keys, one server process each."""
    load_env = {"BENCH_KRID": office["krid"], "BENCH_AUTH": base64.b64encode(
        f"{sender['username']}:{sender['password']}".encode()).decode()}
    bare_env = {**env, "BARE_DATABASE_URL": env["KAPU_DATABASE_URL"],
                "BARE_DIR": str(workdir / "bare")}
    kinds = (
        ("bare", result.bare_rounds, lambda port: start_bare(bare_env, port)),
        ("core", result.core_rounds,
         lambda port: start_server({**env, "KAPU_ACCEPTANCE_EVIDENCE": "0"}, port)),
        ("as shipped", result.full_rounds, lambda port: start_server(env, port)),
        ("as shipped, ECDSA keys", result.ecdsa_rounds, lambda port: start_server(
            {**env, "KAPU_KEY_ALGORITHM": "ecdsa",
             "KAPU_KEYS_DIR": str(ecdsa_keys(workdir))}, port)),
        ("as shipped, 2 worker processes", result.two_worker_rounds,
         lambda port: start_server(env, port, workers=2)),
    )
    for round_number in range(1, rounds + 1):
        for name, loads, start in kinds:
            port = 18000 + secrets.randbelow(1000)
            print(f"[{result.database}] round {round_number}: {name}, {duration} s …",
                  flush=True)
            server = start(port)
            try:
                loads.append(wrk(f"http://127.0.0.1:{port}", "upload.lua", load_env, duration,
                                 2))
                counted = result.early_receipts.setdefault(name, [0.0, 0.0])
                for index, count in enumerate(early_receipts(f"http://127.0.0.1:{port}")):
                    counted[index] += count
            finally:
                server.terminate()
                server.wait(timeout=30)
    result.core_upload = mean(result.core_rounds)
    result.rest_upload = mean(result.full_rounds)


def loads(url: str, sender: dict[str, str], office: dict[str, str], duration: int,
          rounds: int, workdir: Path, result: Result) -> None:
    basic = lambda party: base64.b64encode(  # noqa: E731
        f"{party['username']}:{party['password']}".encode()).decode()
    bodies = workdir / "soap-bodies.bin"

    def fresh_soap_bodies() -> None:
        soap_upload_bodies(bodies, sender["username"], sender["password"], office["krid"],
                           count=1000 * duration)

    # Interleaved pairs, each kind first in every other pair: one pair's ratio swings by
    # ±15 % with this machine's speed, and the first run on a fresh server is the slower one.
    def rest_upload() -> None:
        result.rest_upload_pairs.append(wrk(url, "upload.lua", {
            "BENCH_KRID": office["krid"], "BENCH_AUTH": basic(sender)}, duration, 1))

    def soap_upload() -> None:
        result.soap_upload_pairs.append(wrk(url, "replay.lua", {
            "BENCH_BODIES": str(bodies), "BENCH_SPLIT": SPLIT, "BENCH_PATH": "/hkp",
            "BENCH_CONTENT_TYPE": SWA_CONTENT_TYPE}, duration, 1, fresh_soap_bodies))

    for pair in range(rounds):
        for run in (rest_upload, soap_upload) if pair % 2 == 0 else (soap_upload, rest_upload):
            run()
    result.rest_upload_paired = mean(result.rest_upload_pairs)
    result.soap_upload = mean(result.soap_upload_pairs)
    result.rest_list = wrk(url, "get.lua", {"BENCH_PATH": "/api/v1/mailbox?limit=10",
                                            "BENCH_AUTH": basic(office)}, duration, 1)
    # One document's bytes over REST, to compare "10 documents with their bytes" fairly: the
    # SOAP listing carries them, the REST listing only their metadata.
    first = json.loads(urllib.request.urlopen(urllib.request.Request(
        f"{url}/api/v1/mailbox?limit=1",
        headers={"Authorization": f"Basic {basic(office)}"})).read())["items"][0]
    result.rest_content = wrk(url, "get.lua", {
        "BENCH_PATH": f"/api/v1/documents/{first['registration_number']}/content",
        "BENCH_AUTH": basic(office)}, duration, 1)
    listing = workdir / "soap-list.bin"
    listing.write_text(soap_envelope(
        office["username"], office["password"], "DokumentumokLekerdezeseGepiInterfeszAltal2",
        "<hkp:DokumentumAdatokLetoltesKerdes><hkp:PostafiokAlapjan><hkp:EredmenyekSzama>10"
        "</hkp:EredmenyekSzama></hkp:PostafiokAlapjan></hkp:DokumentumAdatokLetoltesKerdes>",
    ) + SPLIT)
    result.soap_list = wrk(url, "replay.lua", {
        "BENCH_BODIES": str(listing), "BENCH_SPLIT": SPLIT, "BENCH_PATH": "/hkp",
        "BENCH_CONTENT_TYPE": "text/xml; charset=utf-8"}, duration, 1)


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

    # The first request of a party in a process verifies its password with argon2, which
    # takes 64 MiB for a moment by design: done before, so the figure is the download's own.
    subprocess.run(["curl", "-sS", "-o", "/dev/null", "-u", f"{user}:{password}",
                    f"{url}/api/v1/mailbox?limit=1"], check=True)
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

    # The same bytes once more, as SOAP with Attachments.
    with open(big, "rb") as file:
        digest = hashlib.file_digest(file, "sha256").hexdigest()
    before, after = swa_upload_parts(user, password, krid, digest, BOUNDARY)
    body = workdir / "big-swa.bin"
    with open(body, "wb") as out, open(big, "rb") as source:
        out.write(before)
        shutil.copyfileobj(source, out, 1 << 20)
        out.write(after)
    baseline = rss_mib(pid)
    with PeakSampler(pid) as sampler:
        started = time.perf_counter()
        answer = subprocess.run(
            ["curl", "-sS", "-X", "POST", "-T", str(body), "-H",
             f"Content-Type: {SWA_CONTENT_TYPE}", f"{url}/hkp"],
            capture_output=True, text=True, check=True,
        ).stdout
        result.big_swa_upload_seconds = time.perf_counter() - started
    result.big_swa_upload_mb_per_s = size_mb / result.big_swa_upload_seconds
    result.rss_growth_swa_upload_mib = sampler.peak - baseline
    if "ErkeztetesiSzam" not in answer:
        result.notes.append(f"SwA upload refused: {answer[:300]}")


async def admin_sql(statement: str) -> None:
    connection = await asyncpg.connect(ADMIN_DSN, timeout=5)
    try:
        await connection.execute(statement)
    finally:
        await connection.close()


@dataclass
class Scratch:
    """A throwaway PostgreSQL database, migrated, and a work directory for one benchmark."""

    dsn: str  # for asyncpg
    url: str  # for Kapu
    workdir: Path
    env: dict[str, str]


@contextmanager
def scratch_database(prefix: str) -> Iterator[Scratch]:
    name = f"{prefix}_{secrets.token_hex(4)}"
    asyncio.run(admin_sql(f'CREATE DATABASE "{name}"'))
    host = ADMIN_DSN.split("://", 1)[1].rsplit("/", 1)[0]
    url = f"postgresql+asyncpg://{host}/{name}"
    workdir = Path(tempfile.mkdtemp(prefix=f"{prefix}-"))
    env = {**os.environ, "KAPU_DATABASE_URL": url, "KAPU_DATA_DIR": str(workdir),
           "KAPU_BACKGROUND_JOBS": "0"}
    try:
        subprocess.run([sys.executable, "-m", "gateway", "db", "upgrade"], env=env, check=True,
                       capture_output=True)
        yield Scratch(f"postgresql://{host}/{name}", url, workdir, env)
    finally:
        asyncio.run(admin_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def run_one(database: str, duration: int, mib: int, rounds: int) -> Result:
    result = Result(database)
    workdir = Path(tempfile.mkdtemp(prefix=f"kapu-bench-{database}-"))
    pg_name = f"kapu_bench_{secrets.token_hex(4)}"
    if database == "sqlite":
        url = f"sqlite+aiosqlite:///{workdir}/kapu.db"
    else:
        asyncio.run(admin_sql(f'CREATE DATABASE "{pg_name}"'))
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
        upload_rounds(env, workdir, sender, office, duration, rounds, result)
        port = 18000 + secrets.randbelow(1000)
        base = f"http://127.0.0.1:{port}"
        server = start_server(env, port)
        print(f"[{database}] SOAP uploads, REST and SOAP listings, 16 connections, "
              f"{duration} s each …", flush=True)
        loads(base, sender, office, duration, rounds, workdir, result)
        # A document accepted with evidence on: its acceptance receipt is the one verified.
        import httpx

        sent = httpx.post(f"{base}/api/v1/documents",
                          auth=(sender["username"], sender["password"]),
                          files={"file": ("receipt.txt", b"receipt benchmark")},
                          data={"recipient_krid": office["krid"], "doc_type_office": "BENCH",
                                "doc_type_id": "LEVEL", "doc_type_description": "Bench"},
                          ).json()["registration_number"]
        ca = urllib.request.urlopen(f"{base}/api/v1/trust").read()
        result.receipt_verifications_per_second = verify_receipts(base, sender, sent, ca)
        print(f"[{database}] {mib} MiB uploads and download …", flush=True)
        big_transfer(base, sender["username"], sender["password"], office["krid"],
                     server.pid, mib, workdir, result)
    finally:
        if server is not None:
            server.terminate()
            server.wait(timeout=30)
        shutil.rmtree(workdir, ignore_errors=True)
        if database == "postgresql":
            asyncio.run(admin_sql(f'DROP DATABASE IF EXISTS "{pg_name}" WITH (FORCE)'))
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", choices=["sqlite", "postgresql"])
    parser.add_argument("--duration", type=int, default=15, help="seconds of small uploads")
    parser.add_argument("--big-mib", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=2,
                        help="interleaved rounds of the bare, core and full uploads")
    args = parser.parse_args()
    for tool in ("wrk", "curl", "sha256sum"):
        if shutil.which(tool) is None:
            sys.exit(f"benchmarks need {tool}: apt-get install {tool}")
    databases = [args.only] if args.only else ["sqlite", "postgresql"]
    results = [run_one(db, args.duration, args.big_mib, args.rounds) for db in databases]
    out_dir = ROOT / "benchmarks" / "results"
    out_dir.mkdir(exist_ok=True)
    stamp = time.strftime("%Y%m%dT%H%M%S")
    (out_dir / f"{stamp}.json").write_text(json.dumps([asdict(r) for r in results], indent=2))
    for r in results:
        print(f"\n== {r.database} ==")
        for name, rounds in (("bare", r.bare_rounds), ("core", r.core_rounds),
                             ("as shipped", r.full_rounds), ("ECDSA keys", r.ecdsa_rounds),
                             ("2 workers", r.two_worker_rounds)):
            print(f"{name:12} " + " | ".join(f"{load.requests_per_second:.0f}/s "
                                              f"(p99 {load.p99_ms:.0f} ms)" for load in rounds))
        bare = mean(r.bare_rounds).requests_per_second
        full, core = r.rest_upload.requests_per_second, r.core_upload.requests_per_second
        ecdsa = mean(r.ecdsa_rounds).requests_per_second
        print(f"ratios to the bare endpoint: core {core / bare:.2f}, as shipped "
              f"{full / bare:.2f} (target >= 0.5), ECDSA keys {ecdsa / bare:.2f}")
        for name, (used, again) in r.early_receipts.items():
            if used + again:
                print(f"receipts signed while uploads waited, {name}: {used:.0f} kept, "
                      f"{again:.0f} signed again (wrong number forecast)")
        two = mean(r.two_worker_rounds).requests_per_second
        print(f"kapu serve --workers 2: {two / full:.2f} x one worker (target >= 1.5)")
        print(f"evidence on / off: {full / core:.2f} (target >= 0.8); with ECDSA keys "
              f"{ecdsa / core:.2f}; receipts verified: "
              f"{r.receipt_verifications_per_second:.0f}/s")
        for name in ("rest_upload_paired", "soap_upload", "rest_list", "rest_content",
                     "soap_list"):
            print(f"{name:12} {getattr(r, name).line()}")
        upload_ratio = (r.soap_upload.requests_per_second
                        / r.rest_upload_paired.requests_per_second)
        list_ratio = r.soap_list.requests_per_second / r.rest_list.requests_per_second
        # 10 documents with their bytes: one SOAP call, or one REST listing + 10 downloads.
        rest_ten = 1 / (1 / r.rest_list.requests_per_second
                        + 10 / r.rest_content.requests_per_second)
        soap_ten = r.soap_list.requests_per_second
        pairs = ", ".join(f"{soap.requests_per_second / rest.requests_per_second:.0%}"
                          for rest, soap in zip(r.rest_upload_pairs, r.soap_upload_pairs,
                                                strict=True))
        print(f"SOAP/REST: uploads {upload_ratio:.0%} (target >= 90 %, against REST on the "
              f"same server in the same pair; pairs {pairs}); listings {list_ratio:.0%} "
              f"by requests, "
              f"but a SOAP listing carries 10 documents' bytes: {soap_ten:.0f}/s against "
              f"{rest_ten:.0f}/s for a REST listing plus 10 downloads "
              f"({soap_ten / rest_ten:.0%})")
        print(f"{r.big_mib} MiB upload (REST): {r.big_upload_seconds:.2f} s = "
              f"{r.big_upload_mb_per_s:.0f} MB/s ({r.upload_vs_sha256sum:.0%} of sha256sum's "
              f"{r.sha256sum_mb_per_s:.0f} MB/s); server RSS +{r.rss_growth_upload_mib:.1f} MiB "
              f"over {r.rss_baseline_mib:.0f} MiB")
        print(f"{r.big_mib} MiB upload (SOAP SwA): {r.big_swa_upload_seconds:.2f} s = "
              f"{r.big_swa_upload_mb_per_s:.0f} MB/s; "
              f"server RSS +{r.rss_growth_swa_upload_mib:.1f} MiB")
        print(f"{r.big_mib} MiB download (REST): {r.big_download_seconds:.2f} s = "
              f"{r.big_download_mb_per_s:.0f} MB/s; "
              f"server RSS +{r.rss_growth_download_mib:.1f} MiB")
        for note in r.notes:
            print(f"NOTE: {note}")


if __name__ == "__main__":
    main()
