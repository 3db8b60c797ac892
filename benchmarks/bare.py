"""The yardstick: a bare FastAPI upload endpoint doing only what any upload must.

The same multipart request as Kapu's REST upload, streamed through python-multipart and
SHA-256 into a temporary file, fsync'ed and renamed into place, and one INSERT committed on the
same database engine settings (SQLite WAL with synchronous=FULL, or PostgreSQL through
asyncpg) — no authentication, no checks, no numbering, no evidence. Kapu's upload rate is
reported as a ratio of this one's, measured in the same run on the same machine.

    BARE_DATABASE_URL=… BARE_DIR=… uvicorn --factory benchmarks.bare:create_app
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import tempfile
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import IO

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from python_multipart.multipart import MultipartParser, parse_options_header
from sqlalchemy import BigInteger, Column, DateTime, Integer, MetaData, String, Table, insert

from gateway.storage.database import create_engine

metadata = MetaData()
uploads = Table(
    "bare_uploads", metadata,
    Column("id", BigInteger().with_variant(Integer(), "sqlite"), primary_key=True,
           autoincrement=True),
    Column("sha256", String(64), nullable=False),
    Column("size", BigInteger, nullable=False),
    Column("received_at", DateTime(timezone=True), nullable=False),
)


class _FilePart:
    """Hashes and writes the ``file`` part; every other part is read and dropped."""

    def __init__(self, directory: Path) -> None:
        self.digest = hashlib.sha256()
        self.size = 0
        self.in_file = False
        self._name = bytearray()
        self.file: IO[bytes] = tempfile.NamedTemporaryFile(dir=directory, delete=False)

    def header_value(self, data: bytes, start: int, end: int) -> None:
        self._name.extend(data[start:end])

    def headers_done(self) -> None:
        self.in_file = b'name="file"' in self._name
        self._name.clear()

    def data(self, data: bytes, start: int, end: int) -> None:
        if self.in_file:
            chunk = data[start:end]
            self.digest.update(chunk)
            self.size += len(chunk)
            self.file.write(chunk)


def _persist(file: IO[bytes], target: Path) -> None:
    file.flush()
    os.fsync(file.fileno())
    file.close()
    os.replace(file.name, target)


def create_app() -> FastAPI:
    directory = Path(os.environ["BARE_DIR"])
    directory.mkdir(parents=True, exist_ok=True)
    engine = create_engine(os.environ["BARE_DATABASE_URL"])

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        async with engine.begin() as connection:
            await connection.run_sync(metadata.create_all)
        yield
        await engine.dispose()

    app = FastAPI(lifespan=lifespan)

    @app.post("/api/v1/documents")
    async def upload(request: Request) -> JSONResponse:
        _, options = parse_options_header(request.headers["content-type"])
        part = _FilePart(directory)
        parser = MultipartParser(options[b"boundary"], {
            "on_header_value": part.header_value,
            "on_headers_finished": part.headers_done,
            "on_part_data": part.data,
        })
        async for chunk in request.stream():
            parser.write(chunk)
        parser.finalize()
        sha256 = part.digest.hexdigest()
        await asyncio.to_thread(_persist, part.file, directory / f"{sha256}.{uuid.uuid4()}")
        async with engine.begin() as connection:
            row = await connection.execute(insert(uploads).values(
                sha256=sha256, size=part.size, received_at=datetime.now(UTC))
                .returning(uploads.c.id))
            identifier = row.scalar_one()
        return JSONResponse({"id": identifier, "sha256": sha256}, status_code=201)

    return app
