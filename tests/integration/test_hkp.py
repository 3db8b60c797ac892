"""The HKP dialect over raw HTTP, as legacy clients speak it (docs/hkp.md)."""

from __future__ import annotations

import hashlib

import pytest
from lxml import etree

from gateway.domain.parties import PartyKind
from gateway.resources import resource_dir
from tests.helpers import PDF, Account, new_citizen, new_org, stored_files, upload
from tests.hkp_helpers import (
    NS,
    PASSWORD_DIGEST,
    Answer,
    document_xml,
    envelope,
    read_answer,
    swa,
    upload_form,
)
from tests.integration.conftest import Gateway

PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4


async def call(gw: Gateway, who: Account, service: str, form: str, **kwargs: str) -> Answer:
    body = envelope(service, form, username=who.username, password=who.password, **kwargs)
    response = await gw.client.post("/hkp", content=body,
                                    headers={"Content-Type": "text/xml; charset=utf-8",
                                             "SOAPAction": "http://kapu.test/hkp"})
    return read_answer(response)


def results(answer: Answer) -> list[etree._Element]:
    return answer.form.findall("hkp:DokumentumTarolasEredmeny", NS)


async def test_wsdl_and_schemas_are_served_at_the_public_url(gw: Gateway) -> None:
    """Was: the address followed the request's Host header (``Host: evil.example`` →
    ``http://evil.example/hkp``)."""
    for host in ("kapu.test", "evil.example"):
        response = await gw.client.get("/hkp?wsdl", headers={"Host": host})
        assert response.status_code == 200
        wsdl = etree.fromstring(response.content)
        address = wsdl.find(".//{http://schemas.xmlsoap.org/wsdl/soap/}address")
        # KAPU_PUBLIC_URL's default
        assert address is not None and address.get("location") == "http://127.0.0.1:8080/hkp"
        imports = wsdl.findall(".//{http://www.w3.org/2001/XMLSchema}import")
        assert {i.get("schemaLocation") for i in imports} == {
            "http://127.0.0.1:8080/hkp/schemas/iop.xsd",
            "http://127.0.0.1:8080/hkp/schemas/kri.xsd"}
        assert b"evil" not in response.content
    operations = {o.get("name") for o in wsdl.iterfind(
        "{http://schemas.xmlsoap.org/wsdl/}portType/{http://schemas.xmlsoap.org/wsdl/}operation")}
    assert operations == {
        "UjDokumentumokFeltolteseGepiInterfeszAltal", "DokumentumokLekerdezeseGepiInterfeszAltal2",
        "DokumentumokLekerdezeseGepiInterfeszAltal", "SikeresDokumentumokOlvasas",
        "DokumentumokAllapota2", "HivatalokLekerdezese", "GIPostaFiokLekerdezes",
        "KulcsLekerdezes"}
    for name in ("iop.xsd", "hkp.xsd", "kri.xsd"):
        served = await gw.client.get(f"/hkp/schemas/{name}")
        assert served.content == (resource_dir("schemas") / name).read_bytes()
    assert (await gw.client.get("/hkp/schemas/../../etc/passwd")).status_code == 404
    # The WSDL's types compile with lxml, resolving the repository's relative imports.
    on_disk = etree.parse(str(resource_dir("wsdl") / "hkp.wsdl"))
    types_schema = on_disk.find(".//{http://www.w3.org/2001/XMLSchema}schema")
    assert types_schema is not None
    etree.XMLSchema(etree.ElementTree(types_schema), attribute_defaults=False)


async def test_swa_upload_with_legacy_quirks_and_multipart_download(gw: Gateway) -> None:
    sender, office = await new_org(gw.ports), await new_org(gw.ports)
    form = upload_form(
        document_xml(krid=office.krid, href="csat-1", content=PDF, file_name="level.pdf"),
        document_xml(krid=office.krid, href="cid:csat-2", content=PNG, file_name="scan.png"),
    )
    body, content_type = swa(
        envelope("UjDokumentumokFeltolteseGepiInterfeszAltal", form,
                 username=sender.username, password=sender.password),
        [("csat-1", PDF, "binary"), ("csat-2", PNG, "base64")],
    )
    answer = read_answer(await gw.client.post("/hkp", content=body,
                                              headers={"Content-Type": content_type}))
    assert answer.status == 200 and answer.hiba is None
    stored = results(answer)
    assert [r.get("href") for r in stored] == ["csat-1", "cid:csat-2"]
    numbers = [r.findtext("hkp:ErkeztetesiSzam", namespaces=NS) for r in stored]
    assert [n[-6:] for n in numbers if n] == ["000001", "000002"]
    assert stored[1].findtext("hkp:Lenyomat", namespaces=NS) == hashlib.sha256(PNG).hexdigest()
    assert stored[0].findtext("hkp:ErkeztetesiDatum", namespaces=NS) == \
        "2026-11-24T09:30:00+01:00"
    assert stored_files(gw.blob_root / "tmp") == []

    listed = await call(gw, office, "DokumentumokLekerdezeseGepiInterfeszAltal2",
                        "<hkp:DokumentumAdatokLetoltesKerdes><hkp:PostafiokAlapjan>"
                        "<hkp:EredmenyekSzama>10</hkp:EredmenyekSzama>"
                        "</hkp:PostafiokAlapjan></hkp:DokumentumAdatokLetoltesKerdes>")
    documents = listed.form.findall("hkp:DokumentumAdatok", NS)
    assert [d.get("href") for d in documents] == numbers
    assert listed.parts == {numbers[0]: PDF, numbers[1]: PNG}
    first = documents[0]
    assert first.findtext("hkp:Felado/hkp:HivatalFelado/hkp:KRID", namespaces=NS) == sender.krid
    assert first.findtext("hkp:HivatkozasiSzam", namespaces=NS) == "HIV/2026/1"
    assert first.findtext("hkp:FileNev", namespaces=NS) == "level.pdf"
    assert first.findtext("hkp:Kezbesitettseg", namespaces=NS) == "0"
    assert first.findtext("hkp:Tarterulet", namespaces=NS) == "POSTAFIOK"


async def test_mtom_upload_with_xop_include(gw: Gateway) -> None:
    sender, office = await new_org(gw.ports), await new_org(gw.ports)
    item = document_xml(krid=office.krid, content=PDF).replace(
        "</hkp:DokumentumAdatok>",
        '<hkp:Tartalom><xop:Include xmlns:xop="http://www.w3.org/2004/08/xop/include" '
        'href="cid:doc%401@kapu"/></hkp:Tartalom></hkp:DokumentumAdatok>')
    soap = envelope("UjDokumentumokFeltolteseGepiInterfeszAltal", upload_form(item),
                    username=sender.username, password=sender.password)
    boundary = "MIMEBoundary_mtom"
    body = (f"--{boundary}\r\nContent-Type: application/xop+xml; charset=UTF-8; "
            f'type="text/xml"\r\nContent-ID: <root.message@cxf.apache.org>\r\n\r\n').encode() \
        + soap + (f"\r\n--{boundary}\r\nContent-Type: application/pdf\r\n"
                  "Content-Transfer-Encoding: binary\r\nContent-ID: <doc@1@kapu>\r\n\r\n"
                  ).encode() + PDF + f"\r\n--{boundary}--".encode()
    content_type = (f'multipart/related; type="application/xop+xml"; boundary="{boundary}"; '
                    'start="<root.message@cxf.apache.org>"; start-info="text/xml"')
    answer = read_answer(await gw.client.post("/hkp", content=body,
                                              headers={"Content-Type": content_type}))
    number = results(answer)[0].findtext("hkp:ErkeztetesiSzam", namespaces=NS)
    assert number is not None and number.startswith(office.krid)
    content = await gw.client.get(f"/api/v1/documents/{number}/content", auth=office.auth)
    assert content.content == PDF


async def test_batch_with_one_bad_document_answers_per_item(gw: Gateway) -> None:
    sender, office = await new_org(gw.ports), await new_org(gw.ports)
    form = upload_form(
        document_xml(krid=office.krid, content=b"first", file_name="a.txt", inline=True),
        document_xml(krid=office.krid, content=b"second", file_name="b.txt", inline=True,
                     lenyomat="0" * 64),
        document_xml(krid=office.krid, content=b"third", file_name="c.txt", inline=True),
    )
    answer = await call(gw, sender, "UjDokumentumokFeltolteseGepiInterfeszAltal", form)
    first, bad, third = results(answer)
    assert first.findtext("hkp:ErkeztetesiSzam", namespaces=NS).endswith("000001")  # type: ignore[union-attr]
    assert bad.findtext("hkp:Hiba/hkp:HibaKod", namespaces=NS) == "30"
    assert "does not match" in (bad.findtext("hkp:Hiba/hkp:HibaSzoveg", namespaces=NS) or "")
    # The refused item consumed no number.
    assert third.findtext("hkp:ErkeztetesiSzam", namespaces=NS).endswith("000002")  # type: ignore[union-attr]
    mailbox = (await gw.client.get("/api/v1/mailbox", auth=office.auth)).json()["items"]
    assert [d["file_name"] for d in mailbox] == ["a.txt", "c.txt"]


async def test_acknowledge_status_offices_counts_and_keys(gw: Gateway) -> None:
    office = await new_org(gw.ports, name="Hódmezővásárhelyi Hivatal")
    company = await new_org(gw.ports, kind=PartyKind.CEG)
    citizen = await new_citizen(gw.ports)
    sent = (await upload(gw.client, company, office)).json()["registration_number"]
    await upload(gw.client, citizen, office, "kérelem".encode(), "kerelem.txt")

    counts = (await call(gw, office, "GIPostaFiokLekerdezes",
                         "<hkp:GIPostaFiokAdatokLekerdezeseKerdes/>")).form
    assert [int(c.text or "") for c in counts] == [2, 1, 1, 0]

    missing = "9" * 27
    acknowledged = await call(gw, office, "SikeresDokumentumokOlvasas", f"""
        <hkp:OlvasasVisszaigazolas>
          <hkp:VisszaigazolasAdatok><hkp:ErkeztetesiSzam> {sent} </hkp:ErkeztetesiSzam>
            <hkp:Sikeres>true</hkp:Sikeres></hkp:VisszaigazolasAdatok>
          <hkp:VisszaigazolasAdatok><hkp:ErkeztetesiSzam>{missing}</hkp:ErkeztetesiSzam>
            <hkp:Sikeres>true</hkp:Sikeres></hkp:VisszaigazolasAdatok>
        </hkp:OlvasasVisszaigazolas>""")
    ok, refused = acknowledged.form
    assert ok.findtext("hkp:Uzenet/hkp:Szam", namespaces=NS) == "0"
    assert ok.findtext("hkp:Uzenet/hkp:Szoveg", namespaces=NS) == "Sikeres"
    assert refused.findtext("hkp:Hiba/hkp:HibaLeiras/hkp:HibaKod", namespaces=NS) == "22"

    state = await call(gw, company, "DokumentumokAllapota2", f"""
        <hkp:DokumentumAllapotKerdes><hkp:ErkeztetesiSzamAlapjan>
          <hkp:ErkeztetesiSzam>{sent}</hkp:ErkeztetesiSzam>
        </hkp:ErkeztetesiSzamAlapjan></hkp:DokumentumAllapotKerdes>""")
    document = state.form.find("hkp:DokumentumAdatok", NS)
    assert document is not None
    assert document.findtext("hkp:Kezbesitettseg", namespaces=NS) == "1"
    assert document.findtext("hkp:Olvasottsag", namespaces=NS) == "true"
    assert document.findtext("hkp:Tarterulet", namespaces=NS) == "ELKULDOTT"

    found = await call(gw, company, "HivatalokLekerdezese", """
        <hkp:GIHivatalokLekerdezeseKerdes><hkp:NevSzures>HÓDMEZŐ</hkp:NevSzures>
          <hkp:TipusSzures>1</hkp:TipusSzures></hkp:GIHivatalokLekerdezeseKerdes>""")
    hivatalok = found.forms
    assert [h.tag for h in hivatalok] == [f"{{{NS['hkp']}}}GIHivatalokLekerdezeseValasz"]
    assert [h.findtext("hkp:KRID", namespaces=NS) for h in hivatalok] == [office.krid]
    assert hivatalok[0].findtext("hkp:Tipus", namespaces=NS) == "1"
    assert hivatalok[0].findtext("hkp:MAKKod", namespaces=NS) == ""

    key = await call(gw, company, "KulcsLekerdezes",
                     f"<hkp:KulcsLekerdezesKerdes><hkp:KRID>{office.krid}</hkp:KRID>"
                     "</hkp:KulcsLekerdezesKerdes>")
    assert key.form.findtext("hkp:Hiba/hkp:HibaKod", namespaces=NS) == "35"
    unknown = await call(gw, company, "KulcsLekerdezes",
                         "<hkp:KulcsLekerdezesKerdes><hkp:KRID>999999999</hkp:KRID>"
                         "</hkp:KulcsLekerdezesKerdes>")
    assert unknown.form.findtext("hkp:Hiba/hkp:HibaKod", namespaces=NS) == "35"


async def test_answer_echoes_header_and_session(gw: Gateway) -> None:
    office = await new_org(gw.ports)
    body = envelope("GIPostaFiokLekerdezes", "<hkp:GIPostaFiokAdatokLekerdezeseKerdes/>",
                    username=office.username, password=office.password).replace(
        b"<iop:Session/>",
        b'<iop:Session><iop:Property Source="dms" Name="ugyszam" Value="42"/></iop:Session>')
    answer = read_answer(await gw.client.post("/hkp", content=body,
                                              headers={"Content-Type": "text/xml"}))
    valasz = answer.valasz()
    assert valasz.findtext("iop:ValaszFejlec/iop:Felhasznalo", namespaces=NS) == "TESZT"
    prop = valasz.find("iop:Session/iop:Property", NS)
    assert prop is not None and prop.get("Value") == "42"


async def test_hiba_uzenet_table(gw: Gateway) -> None:
    """Everything but an unreadable message: HTTP 200, a HibaUzenet with the table's number,
    and no Form."""
    office, sender = await new_org(gw.ports), await new_org(gw.ports)
    citizen = await new_citizen(gw.ports)
    counts = "<hkp:GIPostaFiokAdatokLekerdezeseKerdes/>"
    theirs = (await upload(gw.client, sender, office)).json()["registration_number"]
    stranger = await new_org(gw.ports)
    by_number = ("<hkp:DokumentumAdatokLetoltesKerdes><hkp:ErkeztetesiSzamAlapjan>"
                 "<hkp:ErkeztetesiSzam>{}</hkp:ErkeztetesiSzam></hkp:ErkeztetesiSzamAlapjan>"
                 "</hkp:DokumentumAdatokLetoltesKerdes>")

    cases: list[tuple[Account, str, str, dict[str, str], int, str]] = [
        (Account(office.username, "wrong"), "GIPostaFiokLekerdezes", counts, {}, 10,
         "wrong username or password"),
        (office, "GIPostaFiokLekerdezes", counts, {"password_type": PASSWORD_DIGEST}, 10,
         "PasswordDigest"),
        (citizen, "GIPostaFiokLekerdezes", counts, {}, 11, "citizens use the REST API"),
        (office, "GIPostaFiokLekerdezes",
         "<hkp:GIHivatalokLekerdezeseKerdes><hkp:KRID>12</hkp:KRID>"
         "</hkp:GIHivatalokLekerdezeseKerdes>", {}, 20, "hkp:KRID"),
        (office, "GIPostaFiokLekerdezes", "<hkp:GIHivatalokLekerdezeseKerdes/>", {}, 20,
         "GIPostaFiokAdatokLekerdezeseKerdes"),
        (office, "NemLetezoSzolgaltatas", counts, {}, 21, "NemLetezoSzolgaltatas"),
        # The service is chosen before the Form is validated: an unknown one is 21 even when
        # its Form is nothing the schema knows.
        (office, "NemLetezoSzolgaltatas",
         "<hkp:IsmeretlenKerdes><hkp:Barmi/></hkp:IsmeretlenKerdes>", {}, 21,
         "unknown Szolgaltatas"),
        (office, "DokumentumokLekerdezeseGepiInterfeszAltal", by_number.format("1" * 27), {},
         22, "no document"),
        (stranger, "DokumentumokLekerdezeseGepiInterfeszAltal", by_number.format(theirs), {},
         22, "no document"),
    ]
    for who, service, form, extra, szam, mentions in cases:
        answer = await call(gw, who, service, form, **extra)
        assert answer.status == 200
        assert answer.hiba is not None, (service, szam)
        assert answer.hiba[0] == szam, (service, answer.hiba)
        assert mentions in answer.hiba[1], answer.hiba
        assert answer.valasz().find("iop:Form", NS) is None


async def test_username_token_found_in_any_security_header(gw: Gateway) -> None:
    """WS-Security lets a message carry a Security header per actor: the token is the first in
    document order, also when an earlier Security header holds none."""
    office = await new_org(gw.ports)
    counts = "<hkp:GIPostaFiokAdatokLekerdezeseKerdes/>"
    body = envelope("GIPostaFiokLekerdezes", counts, username=office.username,
                    password=office.password).replace(
        b"<soapenv:Header>",
        b'<soapenv:Header><wsse:Security xmlns:wsse="http://docs.oasis-open.org/wss/2004/01/'
        b'oasis-200401-wss-wssecurity-secext-1.0.xsd" soapenv:actor="urn:other"/>', 1)
    assert body.count(b"<wsse:Security") == 2

    answer = read_answer(await gw.client.post("/hkp", content=body,
                                              headers={"Content-Type": "text/xml"}))

    assert answer.hiba is None
    assert answer.form.tag == f"{{{NS['hkp']}}}GIPostaFiokAdatokLekerdezeseValasz"
    without = body.replace(b"<wsse:UsernameToken>", b"<wsse:Other>").replace(
        b"</wsse:UsernameToken>", b"</wsse:Other>")
    refused = read_answer(await gw.client.post("/hkp", content=without,
                                               headers={"Content-Type": "text/xml"}))
    assert refused.hiba is not None and refused.hiba[0] == 10
    assert "UsernameToken" in refused.hiba[1]


@pytest.mark.parametrize(("case", "szam"), [
    ("hash", 30), ("format", 31), ("too large", 32), ("unknown addressee", 33),
    ("no attachment", 34), ("unknown code", 33),
])
async def test_per_item_refusals_leave_nothing(gw: Gateway, case: str, szam: int) -> None:
    sender, office = await new_org(gw.ports), await new_org(gw.ports)
    item = {
        "hash": document_xml(krid=office.krid, href="d1", content=PDF, lenyomat="a" * 40),
        "format": document_xml(krid=office.krid, href="d1", content=PDF, file_name="a.exe"),
        "too large": document_xml(krid=office.krid, href="d1", content=b"x" * 70_000,
                                  file_name="big.txt"),
        "unknown addressee": document_xml(krid="999999999", href="d1", content=PDF),
        "no attachment": document_xml(krid=office.krid, href="nincs-ilyen", content=PDF),
        "unknown code": document_xml(code="nincs-ilyen-kod", href="d1", content=PDF),
    }[case]
    content = b"x" * 70_000 if case == "too large" else PDF
    body, content_type = swa(
        envelope("UjDokumentumokFeltolteseGepiInterfeszAltal", upload_form(item),
                 username=sender.username, password=sender.password),
        [("d1", content, "binary")],
    )
    answer = read_answer(await gw.client.post("/hkp", content=body,
                                              headers={"Content-Type": content_type}))
    (result,) = results(answer)
    assert result.findtext("hkp:Hiba/hkp:HibaKod", namespaces=NS) == str(szam)
    assert stored_files(gw.blob_root) == []
    assert (await gw.client.get("/api/v1/mailbox", auth=office.auth)).json()["items"] == []


async def test_empty_documents_are_refused_per_item_and_leave_nothing(gw: Gateway) -> None:
    sender, office = await new_org(gw.ports), await new_org(gw.ports)
    body, content_type = swa(
        envelope("UjDokumentumokFeltolteseGepiInterfeszAltal", upload_form(
            document_xml(krid=office.krid, href="d1", file_name="ures.pdf"),
            document_xml(krid=office.krid, href="d2", file_name="ures.txt"),
            document_xml(krid=office.krid, file_name="ures.txt", inline=True),
        ), username=sender.username, password=sender.password),
        [("d1", b"", "binary"), ("d2", b"", "base64")],
    )

    answer = read_answer(await gw.client.post("/hkp", content=body,
                                              headers={"Content-Type": content_type}))

    refused = results(answer)
    assert len(refused) == 3
    for result in refused:  # 20 (the KR's table has no number for it), saying it is empty
        assert result.find("hkp:ErkeztetesiSzam", NS) is None
        assert result.findtext("hkp:Hiba/hkp:HibaKod", namespaces=NS) == "20"
        assert "is empty (0 bytes)" in (result.findtext("hkp:Hiba/hkp:HibaSzoveg",
                                                        namespaces=NS) or "")
    assert stored_files(gw.blob_root) == []
    assert (await gw.client.get("/api/v1/mailbox", auth=office.auth)).json()["items"] == []
    # No number was consumed: the next document is the office's first of the day.
    accepted = await upload(gw.client, sender, office)
    assert accepted.json()["registration_number"].endswith("000001")


async def test_inline_tartalom_for_clients_without_attachments(gw: Gateway) -> None:
    sender, office = await new_org(gw.ports), await new_org(gw.ports)
    content = b"line one\r\nline two\r\n"
    answer = await call(gw, sender, "UjDokumentumokFeltolteseGepiInterfeszAltal", upload_form(
        document_xml(krid=office.krid, content=content, file_name="a.txt", inline=True,
                     lenyomat=hashlib.sha1(content).hexdigest()),
    ))
    number = results(answer)[0].findtext("hkp:ErkeztetesiSzam", namespaces=NS)
    fetched = await gw.client.get(f"/api/v1/documents/{number}/content", auth=office.auth)
    assert fetched.content == content
