"""zeep, loading the WSDL the server serves, drives every HKP service of a real server."""

from __future__ import annotations

import warnings
from collections.abc import Callable

import httpx
import pytest

from gateway.client import KapuClient, KapuError
from tests.e2e.conftest import Server, register_org
from tests.helpers import PDF


def test_every_service_through_zeep(servers: Callable[[], Server], database_url: str) -> None:
    server = servers()
    office = register_org(database_url, server.data_dir)
    company = register_org(database_url, server.data_dir)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the served WSDL loads without a single warning
        hivatal = KapuClient(server.url, office.username, office.password)
        ceg = KapuClient(f"{server.url}/hkp?wsdl", company.username, company.password)

    text = b"line one\r\nline two\r\n"  # trailing CR/LF must survive the multipart answer
    sent = ceg.upload(text, "beadvany.txt", recipient_krid=office.krid, doc_type_office="TESZT",
                      doc_type_id="BEADVANY", doc_type_description="Beadvány",
                      reference_number="CEG/2026/7", note="Sürgős")
    assert sent.registration_number.startswith(office.krid)
    assert sent.registration_number.endswith("000001")
    assert sent.valid_until > sent.registered_at
    second = ceg.upload(PDF, "melleklet.pdf", recipient_krid=office.krid,
                        doc_type_office="TESZT", doc_type_id="MELLEKLET",
                        doc_type_description="Melléklet")

    assert hivatal.mailbox_counts().unread == 2
    assert hivatal.mailbox_counts().from_organisations == 2
    listed = hivatal.list_mailbox()
    assert [d.registration_number for d in listed] == [sent.registration_number,
                                                       second.registration_number]
    first = listed[0]
    assert first.content == text
    assert listed[1].content == PDF
    assert first.sender.krid == company.krid
    assert (first.reference_number, first.note, first.file_name) == \
        ("CEG/2026/7", "Sürgős", "beadvany.txt")
    assert first.delivery_state == "waiting"
    assert [d.doc_type_id for d in hivatal.list_mailbox(doc_type_id="MELLEKLET")] == \
        ["MELLEKLET"]
    assert len(hivatal.list_mailbox(limit=1)) == 1
    assert hivatal.list_mailbox(sender_type="citizen") == []

    downloaded = hivatal.download(second.registration_number)
    assert downloaded.content == PDF
    assert hivatal.acknowledge(sent.registration_number) == [None]
    status = ceg.status(sent.registration_number)
    assert status.read is True and status.delivery_state == "downloaded"
    assert status.storage_area == "ELKULDOTT"
    assert [d.registration_number for d in hivatal.list_mailbox()] == \
        [second.registration_number]

    offices = hivatal.offices(krid=company.krid)
    assert [(o.krid, o.short_name, o.type, o.mak_code) for o in offices] == \
        [(company.krid, company.username, "hivatali", None)]
    # Two offices match: the client sees both (one flat answer element each); none: [].
    marker = f"Zeepvári {office.krid}"
    one = register_org(database_url, server.data_dir, f"{marker} Hivatal", "123456789")
    two = register_org(database_url, server.data_dir, f"{marker} Iroda")
    found = hivatal.offices(name=marker)
    assert sorted((o.krid, o.name, o.mak_code) for o in found) == sorted([
        (one.krid, f"{marker} Hivatal", "123456789"), (two.krid, f"{marker} Iroda", None)])
    assert hivatal.offices(name=f"{marker} Nincs") == []

    # A document with no reference number and no note: the elements come empty.
    bare = ceg.upload(PDF, "csak.pdf", recipient_krid=office.krid, doc_type_office="TESZT",
                      doc_type_id="CSAK", doc_type_description="Csak")
    (listed_bare,) = hivatal.list_mailbox(doc_type_id="CSAK")
    assert listed_bare.registration_number == bare.registration_number
    assert (listed_bare.reference_number, listed_bare.note) == (None, None)
    assert listed_bare.timestamp_token

    with pytest.raises(KapuError) as no_key:
        hivatal.public_key(krid=company.krid)
    assert no_key.value.code == 35
    with pytest.raises(KapuError) as refused:
        ceg.upload(b"not a pdf", "hamis.pdf", recipient_krid=office.krid,
                   doc_type_office="T", doc_type_id="L", doc_type_description="L")
    assert refused.value.code == 31
    with pytest.raises(KapuError) as missing:
        hivatal.download("1" * 27)
    assert missing.value.code == 22
    wrong = KapuClient(server.url, office.username, "wrong-password")
    with pytest.raises(KapuError) as unauthorised:
        wrong.mailbox_counts()
    assert unauthorised.value.code == 10


def test_raw_swa_upload_with_curl_style_client(
    servers: Callable[[], Server], database_url: str
) -> None:
    """A legacy client's SwA upload over a real socket, then the multipart download."""
    from tests.hkp_helpers import document_xml, envelope, read_answer, swa, upload_form

    server = servers()
    sender = register_org(database_url, server.data_dir)
    office = register_org(database_url, server.data_dir)
    big = PDF + bytes(range(256)) * 8192  # 2 MiB: larger than the in-memory spool
    body, content_type = swa(
        envelope("UjDokumentumokFeltolteseGepiInterfeszAltal",
                 upload_form(document_xml(krid=office.krid, href="csat-1", content=big)),
                 username=sender.username, password=sender.password),
        [("csat-1", big, "base64")],
    )
    uploaded = read_answer(httpx.post(f"{server.url}/hkp", content=body,
                                      headers={"Content-Type": content_type}))
    assert uploaded.hiba is None
    listing = envelope("DokumentumokLekerdezeseGepiInterfeszAltal",
                       "<hkp:DokumentumAdatokLetoltesKerdes><hkp:PostafiokAlapjan/>"
                       "</hkp:DokumentumAdatokLetoltesKerdes>",
                       username=office.username, password=office.password)
    answer = read_answer(httpx.post(f"{server.url}/hkp", content=listing,
                                    headers={"Content-Type": "text/xml"}))
    assert list(answer.parts.values()) == [big]
