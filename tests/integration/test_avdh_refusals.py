"""AVDH over REST (contract 23): refusals made before any PDF work, each naming ``file`` and
leaving no authentication record, no audit entry and no temporary file behind (in the data
directory's tmp/avdh, where they go, nor in the system's temporary directory)."""

from __future__ import annotations

import tempfile
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import func, select

from gateway.config import Settings
from gateway.domain.audit import AuditAction
from gateway.services.audit import link_pending
from gateway.storage.tables import authentications, parties
from gateway.storage.uow import SqlUnitOfWork
from tests.conftest import FixedClock
from tests.helpers import PDF, Account, new_citizen, new_org, temporary_files
from tests.integration.conftest import Gateway, _start

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
LIMIT = 4096


@pytest.fixture
async def avdh(database_url: str, tmp_path: Path, keys_dir: Path,
               clock: FixedClock) -> AsyncIterator[Gateway]:
    settings = Settings(database_url=database_url, data_dir=tmp_path / "data",
                        keys_dir=keys_dir, background_jobs=False, avdh_max_bytes=LIMIT)
    async for gateway in _start(settings, clock):
        yield gateway


def _in_system_tmp() -> set[str]:
    return {path.name for path in Path(tempfile.gettempdir()).glob("kapu-avdh-*")}


async def _nothing_recorded(gw: Gateway, person: Account) -> None:
    await link_pending(gw.ports)
    async with gw.ports.uow() as uow:
        entries = await uow.audit.entries(None, 1_000_000)
        assert isinstance(uow, SqlUnitOfWork)
        rows = (await uow._connection.execute(  # type: ignore[union-attr]
            select(func.count()).select_from(authentications.join(
                parties, parties.c.id == authentications.c.person_id))
            .where(parties.c.username == person.username))).scalar_one()
    assert not [e for e in entries if e.actor == person.username
                and e.action == AuditAction.DOCUMENT_AUTHENTICATED]
    assert rows == 0


@pytest.mark.parametrize(("file", "status", "code"), [
    (("empty.png", b""), 422, "empty_content"),
    (("big.txt", b"x" * (LIMIT + 1)), 413, "too_large"),
    (("setup.exe", b"MZ" + b"\x00" * 100), 415, "format_not_allowed"),
    (("fake.pdf", PNG), 415, "format_mismatch"),
    (("fake.png", PDF), 415, "format_mismatch"),
])
async def test_refused_files_name_the_file_and_leave_nothing(
        avdh: Gateway, tmp_path: Path, file: tuple[str, bytes], status: int, code: str) -> None:
    person = await new_citizen(avdh.ports)
    before = _in_system_tmp()  # shared with other tests and processes
    answer = await avdh.client.post("/api/v1/authenticate", auth=person.auth,
                                    files={"file": file})
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"] == "application/problem+json"
    assert answer.json()["code"] == code
    assert answer.json()["field"] == "file"
    await _nothing_recorded(avdh, person)
    temporary = tmp_path / "data" / "tmp" / "avdh"
    assert temporary.is_dir() and temporary_files(temporary) == []
    assert _in_system_tmp() <= before


async def test_an_organisation_may_not_authenticate(avdh: Gateway) -> None:
    office = await new_org(avdh.ports)
    answer = await avdh.client.post("/api/v1/authenticate", auth=office.auth,
                                    files={"file": ("a.png", PNG)})
    assert answer.status_code == 403
    assert answer.json()["code"] == "forbidden"


async def test_authentication_needs_credentials(avdh: Gateway) -> None:
    answer = await avdh.client.post("/api/v1/authenticate", files={"file": ("a.png", PNG)})
    assert answer.status_code == 401


async def test_verifying_what_is_not_a_pdf(avdh: Gateway) -> None:
    # Public: no credentials.
    answer = await avdh.client.post("/api/v1/authenticate/verify",
                                    files={"file": ("image.png", PNG)})
    assert answer.status_code == 422, answer.text
    assert answer.json()["code"] == "not_authenticated_pdf"
    assert answer.json()["field"] == "file"
    empty = await avdh.client.post("/api/v1/authenticate/verify",
                                   files={"file": ("empty.pdf", b"")})
    assert empty.json()["code"] == "empty_content"


async def test_both_routes_in_openapi(avdh: Gateway) -> None:
    paths = (await avdh.client.get("/openapi.json")).json()["paths"]
    verify = paths["/api/v1/authenticate/verify"]["post"]
    schema = verify["responses"]["200"]["content"]["application/json"]["schema"]
    assert schema["$ref"].endswith("/VerificationOut")
    assert "application/pdf" in paths["/api/v1/authenticate"]["post"]["responses"]["200"][
        "content"]
