"""Nothing is recorded as delivered before it is: a download is audited (and, in a citizen's own
tárhely, acknowledged with the sender's download receipt) only once its answer is built and its
content could be read. Stored file names holding any characters (rows from before the doors
refused them) travel in headers that stay headers, over REST, the web and HKP."""

from __future__ import annotations

import email.parser
import email.policy
import re
from email.message import Message
from pathlib import Path
from urllib.parse import unquote

import h11
import httpx
from lxml import etree
from sqlalchemy import update

from gateway.services.audit import link_pending
from gateway.storage.blobs import FileBlobStore
from gateway.storage.tables import documents
from gateway.storage.uow import SqlUnitOfWork
from tests.helpers import PDF, Account, new_citizen, new_org, upload
from tests.hkp_helpers import envelope
from tests.integration.conftest import Gateway
from tests.integration.test_evidence import IGAZOLAS, xmlsec_verify
from tests.integration.test_hkp import call
from tests.integration.test_web import form_fields, log_in

HOSTILE_NAME = "hatarozat\r\nX-Injected: 1.pdf"
DOWNLOAD = ("<hkp:DokumentumAdatokLetoltesKerdes><hkp:PostafiokAlapjan>"
            "<hkp:EredmenyekSzama>10</hkp:EredmenyekSzama>"
            "</hkp:PostafiokAlapjan></hkp:DokumentumAdatokLetoltesKerdes>")


async def _sent(gw: Gateway, sender: Account, to: Account, content: bytes = PDF,
                **stored: str) -> str:
    """A document uploaded as usual, then given ``stored`` column values in the database, as
    a row from before the doors refused such text holds them."""
    number: str = (await upload(gw.client, sender, to, content,
                                return_receipt="true")).json()["registration_number"]
    if stored:
        async with gw.ports.write_uow() as uow:
            assert isinstance(uow, SqlUnitOfWork) and uow._connection is not None
            await uow._connection.execute(update(documents).where(
                documents.c.registration_number == number).values(**stored))
            await uow.commit()
    return number


def _unreadable(gw: Gateway, sha256: str) -> None:
    """The stored content replaced by a file the operating system fails to read (EIO): it
    exists, so the failure comes when the first bytes are read."""
    assert isinstance(gw.ports.blobs, FileBlobStore)
    path = gw.ports.blobs.path_of(sha256)
    path.unlink()
    path.symlink_to("/proc/self/mem")


async def _state(gw: Gateway, who: Account, number: str) -> str:
    found = await gw.client.get(f"/api/v1/documents/{number}", auth=who.auth)
    state: str = found.json()["delivery_state"]
    return state


async def _receipt_kinds(gw: Gateway, sender: Account, number: str) -> list[str]:
    listed = await gw.client.get(f"/api/v1/documents/{number}/receipts", auth=sender.auth)
    return [r["kind"] for r in listed.json()["items"]]


async def _audited(gw: Gateway, numbers: list[str]) -> list[tuple[str | None, str]]:
    """The download and acknowledgement entries about ``numbers``, in order."""
    await link_pending(gw.ports)  # as the background jobs do within a second
    async with gw.ports.uow() as uow:
        entries = await uow.audit.entries(None, 100_000)
    return [(e.registration_number, e.action) for e in entries
            if e.registration_number in numbers and e.action in ("downloaded", "acknowledged")]


def _assert_safe_disposition(headers: httpx.Headers | Message, name: str) -> None:
    """No header but one Content-Disposition, whose ASCII fallback and RFC 5987 form both stay
    inside it."""
    assert "x-injected" not in headers and "X-Injected" not in headers
    dispositions = (headers.get_list("content-disposition")
                    if isinstance(headers, httpx.Headers)
                    else headers.get_all("Content-Disposition"))
    [disposition] = dispositions or []
    if isinstance(headers, httpx.Headers):
        # What the HTTP server's own protocol library (h11, under uvicorn) accepts to send.
        h11.Response(status_code=200, headers=headers.raw)
    assert "\r" not in disposition and "\n" not in disposition
    [encoded] = re.findall(r"filename\*=UTF-8''(\S+)$", disposition)
    assert unquote(encoded) == name


async def test_a_stored_name_with_cr_lf_opens_over_rest_with_one_correct_receipt(
    gw: Gateway, tmp_path: Path
) -> None:
    office, citizen = await new_org(gw.ports), await new_citizen(gw.ports)
    number = await _sent(gw, office, citizen, file_name=HOSTILE_NAME)
    opened = await gw.client.get(f"/api/v1/documents/{number}/content", auth=citizen.auth)
    assert opened.status_code == 200 and opened.content == PDF
    _assert_safe_disposition(opened.headers, HOSTILE_NAME)
    again = await gw.client.get(f"/api/v1/documents/{number}/content", auth=citizen.auth)
    assert again.status_code == 200 and again.content == PDF

    assert await _state(gw, office, number) == "downloaded"
    assert await _receipt_kinds(gw, office, number) == ["acceptance", "download"]
    receipt = (await gw.client.get(f"/api/v1/documents/{number}/receipts/download",
                                   auth=office.auth)).content
    assert etree.fromstring(receipt).findtext("i:FileNev", namespaces=IGAZOLAS) == HOSTILE_NAME
    ca = (await gw.client.get("/api/v1/trust")).content
    assert xmlsec_verify(receipt, ca, tmp_path, gw.clock.now())
    assert await _audited(gw, [number]) == [
        (number, "downloaded"), (number, "acknowledged"), (number, "downloaded")]


async def test_a_stored_name_with_cr_lf_opens_on_the_web(gw: Gateway) -> None:
    office, citizen = await new_org(gw.ports), await new_citizen(gw.ports)
    number = await _sent(gw, office, citizen, file_name=HOSTILE_NAME)
    await log_in(gw.client, citizen)
    page = await gw.client.get(f"/ui/documents/{number}")
    received = await gw.client.post(f"/ui/documents/{number}/open", data=form_fields(page))
    assert received.status_code == 303
    assert received.headers["location"] == f"/ui/documents/{number}/content"
    opened = await gw.client.get(f"/ui/documents/{number}/content")
    assert opened.status_code == 200 and opened.content == PDF
    _assert_safe_disposition(opened.headers, HOSTILE_NAME)
    assert await _receipt_kinds(gw, office, number) == ["acceptance", "download"]


async def test_a_stored_name_with_cr_lf_stays_in_its_hkp_part_header(gw: Gateway) -> None:
    sender, office = await new_org(gw.ports), await new_org(gw.ports)
    number = await _sent(gw, sender, office, file_name=HOSTILE_NAME)
    response = await gw.client.post("/hkp", content=_envelope(office, DOWNLOAD),
                                    headers={"Content-Type": "text/xml; charset=utf-8"})
    # compat32 keeps each header's raw text (the HTTP policy would show it normalised).
    message = email.parser.BytesParser(policy=email.policy.compat32).parsebytes(
        f"Content-Type: {response.headers['content-type']}\r\n\r\n".encode()
        + response.content)
    envelope_part, document_part = message.get_payload()
    assert b"<iop:HibaUzenet>" not in envelope_part.get_payload(decode=True)
    assert document_part["Content-ID"] == f"<{number}>"
    assert document_part.get_payload(decode=True) == PDF
    _assert_safe_disposition(document_part, HOSTILE_NAME)
    assert b"\r\nX-Injected" not in response.content
    assert await _audited(gw, [number]) == [(number, "downloaded")]


def _envelope(who: Account, form: str) -> bytes:
    return envelope("DokumentumokLekerdezeseGepiInterfeszAltal2", form,
                    username=who.username, password=who.password)


async def test_a_download_that_fails_before_its_first_byte_records_nothing(gw: Gateway) -> None:
    office, citizen = await new_org(gw.ports), await new_citizen(gw.ports)
    number = await _sent(gw, office, citizen)
    sha256 = (await gw.client.get(f"/api/v1/documents/{number}", auth=citizen.auth)
              ).json()["sha256"]
    _unreadable(gw, sha256)

    failed = await gw.client.get(f"/api/v1/documents/{number}/content", auth=citizen.auth)
    assert failed.status_code == 503 and failed.json()["code"] == "unavailable"
    await log_in(gw.client, citizen)
    page = await gw.client.get(f"/ui/documents/{number}")
    on_the_web = await gw.client.post(f"/ui/documents/{number}/open", data=form_fields(page))
    assert on_the_web.status_code == 503 and on_the_web.content != PDF
    # Not opened: a GET of the content shows the opening form again, and delivers nothing.
    unopened = await gw.client.get(f"/ui/documents/{number}/content")
    assert unopened.status_code == 200 and unopened.content != PDF
    assert f'action="/ui/documents/{number}/open"' in unopened.text

    assert await _state(gw, office, number) == "waiting"
    assert await _receipt_kinds(gw, office, number) == ["acceptance"]
    assert await _audited(gw, [number]) == []


async def test_an_hkp_download_records_exactly_the_documents_it_delivers(gw: Gateway) -> None:
    """Six documents, one unreadable: the answer fails before any byte of any document, and
    not one of the six is recorded as downloaded. One with a stored note XML cannot hold: the
    downloads recorded are the documents the answer carries (none if it cannot be built)."""
    sender, office = await new_org(gw.ports), await new_org(gw.ports)
    numbers = [await _sent(gw, sender, office, PDF + str(i).encode()) for i in range(6)]
    sha256 = (await gw.client.get(f"/api/v1/documents/{numbers[3]}", auth=office.auth)
              ).json()["sha256"]
    _unreadable(gw, sha256)
    failed = await call(gw, office, "DokumentumokLekerdezeseGepiInterfeszAltal2", DOWNLOAD)
    assert failed.hiba is not None and failed.parts == {}
    assert await _audited(gw, numbers) == []

    other = await new_org(gw.ports)
    noted = [await _sent(gw, sender, other, note="megjegyz\x01es") for _ in range(3)]
    answer = await call(gw, other, "DokumentumokLekerdezeseGepiInterfeszAltal2", DOWNLOAD)
    assert await _audited(gw, noted) == [(number, "downloaded") for number in noted
                                         if number in answer.parts]
    for number in noted:
        assert await _state(gw, sender, number) == "waiting"
