"""HKP checks the envelope's credentials before it stages any attachment of a SOAP with
Attachments request (an unauthenticated request reads the envelope and at most a slice more)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

from lxml import etree

from tests.helpers import PDF, new_org
from tests.hkp_helpers import NS, document_xml, envelope, read_answer, swa, upload_form
from tests.integration.conftest import Gateway


def _upload(username: str, password: str, krid: str) -> tuple[bytes, str]:
    item = document_xml(krid=krid, content=PDF, href="csat-1")
    soap = envelope("UjDokumentumokFeltolteseGepiInterfeszAltal", upload_form(item),
                    username=username, password=password)
    return swa(soap, [("csat-1", PDF + b"\0" * 200_000, "binary")])


async def test_a_wrong_password_is_answered_before_the_parts_are_read(gw: Gateway) -> None:
    sender, office = await new_org(gw.ports), await new_org(gw.ports)
    assert office.krid is not None
    body, content_type = _upload(sender.username, "rossz", office.krid)
    held_at = body.index(b"Content-ID: <csat-1>") + 20 + 50_000
    staged_when_asked_for_more: list[list[str]] = []

    async def held_body() -> AsyncIterator[bytes]:
        yield body[:held_at]
        # Reached only if the gateway reads on: it would wait here for the rest for ever.
        staged_when_asked_for_more.append(
            [path.name for path in (gw.blob_root / "tmp").iterdir()])
        await asyncio.Event().wait()
        yield body[held_at:]

    async with asyncio.timeout(10):
        response = await gw.client.post("/hkp", content=held_body(),
                                        headers={"Content-Type": content_type})
    answer = read_answer(response)
    assert answer.hiba is not None and answer.hiba[0] == 10
    assert staged_when_asked_for_more == []
    assert list((gw.blob_root / "tmp").iterdir()) == []


async def test_the_right_password_still_uploads_the_held_parts(gw: Gateway) -> None:
    sender, office = await new_org(gw.ports), await new_org(gw.ports)
    assert office.krid is not None
    item = document_xml(krid=office.krid, content=PDF, href="csat-1")
    soap = envelope("UjDokumentumokFeltolteseGepiInterfeszAltal", upload_form(item),
                    username=sender.username, password=sender.password)
    body, content_type = swa(soap, [("csat-1", PDF, "base64")])

    async def in_small_chunks() -> AsyncIterator[bytes]:
        for offset in range(0, len(body), 1000):  # parts split across slices and chunks
            yield body[offset:offset + 1000]

    answer = read_answer(await gw.client.post("/hkp", content=in_small_chunks(),
                                              headers={"Content-Type": content_type}))
    result = answer.form.find("hkp:DokumentumTarolasEredmeny", NS)
    assert result is not None and result.findtext("hkp:ErkeztetesiSzam", namespaces=NS)


async def test_attachments_before_the_envelope_are_refused_unread(gw: Gateway) -> None:
    sender, office = await new_org(gw.ports), await new_org(gw.ports)
    assert office.krid is not None
    body, content_type = _upload(sender.username, sender.password, office.krid)
    boundary = b"------=_Part_0_1234567.890"
    first, *rest = body.split(boundary)[1:]
    reordered = boundary + boundary.join([rest[0], first, *rest[1:]])
    response = await gw.client.post("/hkp", content=reordered,
                                    headers={"Content-Type": content_type})
    assert response.status_code == 400
    assert b"must come before the attachments" in response.content
    assert list((gw.blob_root / "tmp").iterdir()) == []


def _plain_upload(username: str, password: str, krid: str, padding: int) -> bytes:
    # Inline content (Tartalom) makes the Body large after a small Header.
    item = document_xml(krid=krid, content=PDF + b"\0" * padding, inline=True)
    return envelope("UjDokumentumokFeltolteseGepiInterfeszAltal", upload_form(item),
                    username=username, password=password)


async def test_a_plain_envelope_with_a_wrong_password_is_refused_after_its_header(
    gw: Gateway,
) -> None:
    sender, office = await new_org(gw.ports), await new_org(gw.ports)
    assert office.krid is not None
    body = _plain_upload(sender.username, "rossz", office.krid, 3_000_000)
    held_at = body.index(b"Body>") + 100_000
    read_on: list[bool] = []

    async def held_body() -> AsyncIterator[bytes]:
        for offset in range(0, held_at, 700):  # the Header split across chunks
            yield body[offset:min(offset + 700, held_at)]
        read_on.append(True)  # reached only if the gateway reads past the Header's chunks
        await asyncio.Event().wait()
        yield body[held_at:]

    async with asyncio.timeout(10):
        response = await gw.client.post("/hkp", content=held_body(),
                                        headers={"Content-Type": "text/xml; charset=utf-8"})
    answer = read_answer(response)
    assert answer.hiba is not None and answer.hiba[0] == 10
    assert read_on == []


async def test_a_plain_envelope_with_the_right_password_in_small_chunks_uploads(
    gw: Gateway,
) -> None:
    sender, office = await new_org(gw.ports), await new_org(gw.ports)
    assert office.krid is not None
    body = _plain_upload(sender.username, sender.password, office.krid, 60_000)

    async def in_small_chunks() -> AsyncIterator[bytes]:
        for offset in range(0, len(body), 300):  # the Header split across chunks
            yield body[offset:offset + 300]

    answer = read_answer(await gw.client.post(
        "/hkp", content=in_small_chunks(), headers={"Content-Type": "text/xml; charset=utf-8"}))
    result = answer.form.find("hkp:DokumentumTarolasEredmeny", NS)
    assert result is not None, answer
    assert result.findtext("hkp:ErkeztetesiSzam", namespaces=NS), etree.tostring(result)
