"""Evidence signed in a child process: timestamp tokens and receipts.

Why a process: the server's event loop holds the GIL for its Python work. The two RSA
signatures of an acceptance, made in worker threads, have to win the GIL back after each call
into OpenSSL, and under load each waits for the loop's switch interval; the child signs on the
other core without that. Measured on the reference machine (2 cores, PostgreSQL, 16 clients,
2026-12-04), with receipts signed ahead of their batch (services/forecast.py): 571 and 573
uploads/s against 509 and 523 with threads; SQLite 431 and 449 against 392 and 368.

Why by hand — a pipe each way carrying length-prefixed pickles, answered in order — and not
``concurrent.futures.ProcessPoolExecutor``: the pool hands every answer to the event loop
through a manager thread, which needs the GIL again (measured: 1.8 ms of server CPU per upload
against 1.44 ms here, and fewer uploads per second than threads). Pickle can run code when
loaded, so each side reads only what the other, our own code, wrote.

The child is started on first use in an event loop, and again after it stops; what it was
signing then is sent to the new child (signing is a pure function of its input), and only a
second loss answers :class:`~gateway.errors.Unavailable`. It ends when its input closes, so a
parent that dies leaves no child behind.

ECDSA timestamp tokens are not sent to the child: one takes 0.09 ms to sign in the server
itself, holding the GIL, against 0.4 ms of CPU (both processes) for the round trip (measured on
the reference machine, 2026-12-07). RSA ones, and every receipt (RSA-SHA256), go to the child.
"""

from __future__ import annotations

import asyncio
import collections
import functools
import pickle
import signal
import struct
import sys
from datetime import datetime
from typing import IO, TYPE_CHECKING, Any

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from gateway.crypto.keys import SigningKey
from gateway.domain.receipts import ReceiptContent
from gateway.errors import Unavailable

if TYPE_CHECKING:
    from gateway.crypto.timestamps import TimestampAuthority

_LENGTH = struct.Struct(">I")
# (key PEM, certificate PEM) of the timestamping and of the receipt-signing key.
_Keys = tuple[tuple[bytes, bytes], tuple[bytes, bytes]]


class _ChildStopped(Exception):
    """The child ended before it answered."""


class SigningFailed(RuntimeError):
    """The child could not sign (its message says why): a fault of the gateway, not of the
    request."""


def _frame(value: object) -> bytes:
    data = pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)
    return _LENGTH.pack(len(data)) + data


def _pem(key: SigningKey, certificate: x509.Certificate) -> tuple[bytes, bytes]:
    # Handed to our own child over a pipe only it reads; it never touches the disk.
    return (key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                              serialization.NoEncryption()),
            certificate.public_bytes(serialization.Encoding.PEM))


class SigningProcess:
    """Signs in a child process; one per server process, used from its event loop."""

    def __init__(self, tsa_key: SigningKey, tsa_cert: x509.Certificate,
                 signing_key: SigningKey, signing_cert: x509.Certificate) -> None:
        self._keys: _Keys = (_pem(tsa_key, tsa_cert), _pem(signing_key, signing_cert))
        self._tsa = (tsa_key, tsa_cert)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._starting = asyncio.Lock()
        self._process: asyncio.subprocess.Process | None = None
        self._reader: asyncio.Task[None] | None = None
        self._waiting: collections.deque[asyncio.Future[Any]] = collections.deque()
        self._closed = False

    @property
    def pid(self) -> int | None:
        """The child's process id, while it runs."""
        return self._process.pid if self._process is not None else None

    @property
    def unanswered(self) -> int:
        """Jobs sent to the child that it has not answered yet."""
        return sum(not answer.done() for answer in self._waiting)

    @property
    def timestamps_here(self) -> bool:
        """Whether tokens are signed in this process (an ECDSA key) rather than the child."""
        return isinstance(self._tsa[0], ec.EllipticCurvePrivateKey)

    async def timestamp(self, sha256_hex: str, at: datetime) -> bytes:
        """A DER TimeStampToken over the digest, dated ``at``."""
        if self.timestamps_here:
            return self._timestamper.timestamp(sha256_hex, at)
        tokens: list[bytes] = await self._call(("timestamp", [(sha256_hex, at)]))
        return tokens[0]

    @functools.cached_property
    def _timestamper(self) -> TimestampAuthority:
        from gateway.crypto.timestamps import TimestampAuthority  # asn1crypto: at first use

        return TimestampAuthority(*self._tsa, release_gil=False)

    async def sign(self, contents: list[ReceiptContent]) -> list[bytes]:
        """The receipts of ``contents`` as signed XML, in order."""
        receipts: list[bytes] = await self._call(("receipts", contents))
        return receipts

    async def close(self) -> None:
        """End the child (it exits when its input closes) and wait for it."""
        self._closed = True  # a job the child leaves unanswered is not sent to a new one
        process, reader = self._process, self._reader
        self._process = self._reader = None
        if process is None or self._loop is not asyncio.get_running_loop():
            return
        assert process.stdin is not None
        process.stdin.close()
        try:
            await asyncio.wait_for(process.wait(), timeout=5)
        except TimeoutError:
            process.kill()
            await process.wait()
        if reader is not None:
            await reader

    async def _call(self, job: tuple[str, list[Any]]) -> Any:
        # Signing is a pure function of the job: one the child took down with it is sent
        # once more to a new child; a second loss is the caller's Unavailable.
        for attempt in (1, 2):
            process = await self._running()
            assert process.stdin is not None
            answer = asyncio.get_running_loop().create_future()
            self._waiting.append(answer)
            try:
                process.stdin.write(_frame(job))
                await process.stdin.drain()
                return await answer
            except (_ChildStopped, ConnectionError):
                answer.cancel()
                self._forget(process)
                if attempt == 2:
                    raise Unavailable("the gateway's signing process stopped; "
                                      "send the request again") from None
        raise AssertionError("unreachable")

    def _forget(self, process: asyncio.subprocess.Process) -> None:
        if self._process is process:
            self._process = None

    async def _running(self) -> asyncio.subprocess.Process:
        loop = asyncio.get_running_loop()
        if self._loop is not loop:  # a new event loop (tests start one per test)
            self._loop, self._process, self._starting = loop, None, asyncio.Lock()
        async with self._starting:
            if self._closed:
                raise Unavailable("the gateway is shutting down")
            if self._process is None:
                process = await asyncio.create_subprocess_exec(
                    sys.executable, "-m", __name__,
                    stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE)
                assert process.stdin is not None
                process.stdin.write(_frame(self._keys))
                self._waiting = collections.deque()
                self._reader = loop.create_task(self._read(process, self._waiting))
                self._process = process
            return self._process

    async def _read(self, process: asyncio.subprocess.Process,
                    waiting: collections.deque[asyncio.Future[Any]]) -> None:
        assert process.stdout is not None
        try:
            while True:
                (length,) = _LENGTH.unpack(await process.stdout.readexactly(_LENGTH.size))
                signed, value = pickle.loads(  # noqa: S301 (our own child wrote it)
                    await process.stdout.readexactly(length))
                answer = waiting.popleft()
                if answer.done():  # its caller gave up waiting
                    continue
                if signed:
                    answer.set_result(value)
                else:
                    answer.set_exception(SigningFailed(value))
        except (asyncio.IncompleteReadError, ConnectionError):
            pass  # the child stopped
        finally:
            self._forget(process)
            while waiting:
                answer = waiting.popleft()
                if not answer.done():
                    answer.set_exception(_ChildStopped())


def _read_frame(stream: IO[bytes]) -> Any:
    head = stream.read(_LENGTH.size)
    if len(head) < _LENGTH.size:
        return None
    return pickle.loads(stream.read(_LENGTH.unpack(head)[0]))  # noqa: S301 (our parent wrote it)


def _loaded(key_pem: bytes, certificate_pem: bytes) -> tuple[SigningKey, x509.Certificate]:
    # The parent's key, loaded (and, if an operator's, checked) there: OpenSSL's check of an
    # RSA key's primes (about 55 ms a key) is not repeated in each child.
    key = serialization.load_pem_private_key(key_pem, None, unsafe_skip_rsa_key_validation=True)
    if not isinstance(key, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey):
        raise TypeError(f"not a signing key: {type(key).__name__}")
    return key, x509.load_pem_x509_certificate(certificate_pem)


def main() -> None:
    """The child: read the keys, then sign job after job until the input closes."""
    from gateway.crypto.receipts import ReceiptSigner
    from gateway.crypto.timestamps import TimestampAuthority

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C stops the server, which ends us
    source, sink = sys.stdin.buffer, sys.stdout.buffer
    keys: _Keys | None = _read_frame(source)
    if keys is None:
        return
    (tsa_key, tsa_cert), (signing_key, signing_cert) = (_loaded(*pair) for pair in keys)
    # Alone in this process, signatures need no GIL released for an event loop: signed by
    # ``cryptography`` directly, without xmlsec's per-signature context (0.30 against 0.38 ms
    # a token on the reference machine).
    timestamper = TimestampAuthority(tsa_key, tsa_cert, release_gil=False)
    signer = ReceiptSigner(signing_key, signing_cert, release_gil=False)
    while (job := _read_frame(source)) is not None:
        kind, items = job
        try:
            if kind == "timestamp":
                result: tuple[bool, Any] = (
                    True, [timestamper.timestamp(sha256_hex, at) for sha256_hex, at in items])
            else:
                result = (True, [signer.sign(content) for content in items])
        except Exception as failure:  # reported to the waiting request, the child goes on
            result = (False, f"{type(failure).__name__}: {failure}")
        sink.write(_frame(result))
        sink.flush()


if __name__ == "__main__":
    main()
