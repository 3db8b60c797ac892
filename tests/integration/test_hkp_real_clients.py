"""The HKP dialect with the exact bytes of a real client: a public PHP (Symfony) bundle that
Hungarian offices use against the KR. Its envelopes are built with PHP's DOMDocument and sent
with curl; its answers are read the way it reads them (first line, boundaries,
``getElementsByTagName(...)->item(0)``), so what breaks it here breaks it in the field.
"""

from __future__ import annotations

import base64
import hashlib
import re

import pytest
from lxml import etree

from gateway.domain.parties import PartyKind
from tests.helpers import PDF, Account, new_citizen, new_org, upload
from tests.hkp_helpers import NS, read_answer
from tests.integration.conftest import Gateway

HKP = NS["hkp"]


def bundle_envelope(account: Account, service: str, module: str, form: str,
                    felhasznalo: str = "TESZT") -> bytes:
    """The bundle's envelope as DOMDocument::saveXML writes it: tab indentation, an
    ``xsi:schemaLocation`` on the Envelope, a Password without a Type, PHP's ``date('c')``,
    empty Session and Cimke, and the Form's elements appended without whitespace."""
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<soap:Envelope xsi:schemaLocation="http://schemas.xmlsoap.org/soap/envelope/" '
        'xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/" '
        'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" '
        'xmlns:wsa="http://schemas.xmlsoap.org/ws/2004/08/addressing" '
        'xmlns:wsse="http://docs.oasis-open.org/wss/2004/01/'
        'oasis-200401-wss-wssecurity-secext-1.0.xsd" '
        'xmlns:wsu="http://docs.oasis-open.org/wss/2004/01/'
        'oasis-200401-wss-wssecurity-utility-1.0.xsd" '
        'xmlns:hkp="http://iop.gov.hu/2008/10/hkp">\n'
        "<soap:Header>\n"
        "\t<wsse:Security>\n"
        "\t\t<wsse:UsernameToken>\n"
        f"\t\t\t<wsse:Username>{account.username}</wsse:Username>\n"
        f"\t\t\t<wsse:Password>{account.password}</wsse:Password>\n"
        "\t\t</wsse:UsernameToken>\n"
        "\t</wsse:Security>\n"
        "</soap:Header>\n"
        "<soap:Body>\n"
        '\t<iop:Kerdes xmlns:iop="http://www.iop.hu/2004">\n'
        "\t\t<iop:KerdesFejlec>\n"
        f"\t\t\t<iop:Felhasznalo>{felhasznalo}</iop:Felhasznalo>\n"
        "\t\t\t<iop:UzenetIdopont>2026-11-24T09:30:00+01:00</iop:UzenetIdopont>\n"
        "\t\t</iop:KerdesFejlec>\n"
        "\t\t<iop:Session/>\n"
        "\t\t<iop:Parancs>\n"
        "\t\t\t<iop:Rendszer>HKP</iop:Rendszer>\n"
        f'\t\t\t<iop:Szolgaltatas Module="{module}">{service}</iop:Szolgaltatas>\n'
        "\t\t\t<iop:Cimke/>\n"
        "\t\t</iop:Parancs>\n"
        f"\t\t<iop:Form>{form}</iop:Form>\n"
        "\t</iop:Kerdes>\n"
        "</soap:Body>\n"
        "</soap:Envelope>\n"
    ).encode()


def curl_template_envelope(account: Account, service: str, module: str, form: str) -> bytes:
    """The bundle's curl requests start from its template: default namespaces, the hkp prefix
    declared on the Form."""
    return (
        '<?xml version="1.0"?>\n'
        '<Envelope xmlns="http://schemas.xmlsoap.org/soap/envelope/">\n'
        "<Header>\n"
        '\t<wsse:Security xmlns:wsse="http://docs.oasis-open.org/wss/2004/01/'
        'oasis-200401-wss-wssecurity-secext-1.0.xsd">\n'
        "\t\t<wsse:UsernameToken>\n"
        f"\t\t\t<wsse:Username>{account.username}</wsse:Username>\n"
        f"\t\t\t<wsse:Password>{account.password}</wsse:Password>\n"
        "\t\t</wsse:UsernameToken>\n"
        "\t</wsse:Security>\n"
        "</Header>\n"
        "<Body>\n"
        '\t<Kerdes xmlns="http://www.iop.hu/2004">\n'
        "\t\t<KerdesFejlec>\n"
        "\t\t\t<Felhasznalo>TESZT</Felhasznalo>\n"
        "\t\t\t<UzenetIdopont>2026-11-24T09:30:00+01:00</UzenetIdopont>\n"
        "\t\t</KerdesFejlec>\n"
        "\t\t<Session/>\n"
        "\t\t<Parancs>\n"
        "\t\t\t<Rendszer>HKP</Rendszer>\n"
        f'\t\t\t<Szolgaltatas Module="{module}">{service}</Szolgaltatas>\n'
        "\t\t\t<Cimke/>\n"
        "\t\t</Parancs>\n"
        f'\t\t<Form xmlns:hkp="http://iop.gov.hu/2008/10/hkp">{form}</Form>\n'
        "\t</Kerdes>\n"
        "</Body>\n"
        "</Envelope>\n"
    ).encode()


def bundle_swa(
    envelope: bytes, files: list[tuple[str, str, bytes]]
) -> tuple[bytes, dict[str, str]]:
    """The bundle's SOAP with Attachments body and headers, byte for byte: a quoted root type,
    attachments as ``Content-Type: "application/pdf";`` (a trailing semicolon), base64 on one
    line followed by two CRLFs, and a closing boundary with a blank line after it."""
    body = (b'--MIME_boundary\r\nContent-Type: "text/xml"; charset=utf-8\r\n'
            b"Content-Transfer-Encoding: 8bit\r\nContent-ID: <envelope.xml>\r\n\r\n"
            + envelope + b"\r\n")
    for index, (mime_type, file_name, content) in enumerate(files):
        body += (f"--MIME_boundary\r\nContent-ID: <csat-{index}>\r\n"
                 f'Content-Type: "{mime_type}";\r\nContent-Transfer-Encoding: base64\r\n'
                 f"Content-Disposition: attachment; filename={file_name}\r\n\r\n").encode()
        body += base64.b64encode(content) + b"\r\n\r\n"
    body += b"--MIME_boundary--\r\n\r\n"
    headers = {
        "Accept": "text/xml", "Cache-Control": "no-cache", "Pragma": "no-cache",
        "SOAPAction": "http://kapu.test/hkp",
        "Content-type": ('multipart/related; boundary=MIME_boundary; type="text/xml"; '
                         'start="<envelope.xml>"'),
    }
    return body, headers


def bundle_split(body: bytes) -> tuple[bytes, dict[str, bytes]]:
    """How the bundle reads an answer: multipart if the first line starts with ``--``; a part
    with a Content-Disposition header is a document named by its numeric Content-ID, any
    other part is the answer envelope (the last one wins)."""
    first_line = body.split(b"\n", 1)[0]
    if not first_line.startswith(b"--"):
        return body, {}
    boundary = first_line.rstrip()
    response, documents = b"", {}
    for part in body.split(boundary)[1:-1]:
        # PHP's /\R\R/: \R takes CRLF as one line break (an atomic group).
        header, content = re.split(rb"(?>\r\n|\n|\r){2}", part, maxsplit=1)
        if b"content-disposition" in header.lower():
            found = re.search(rb"Content-ID: <(\d*)>", header)
            assert found is not None, header
            documents[found.group(1).decode()] = content
        else:
            response = content
    return response, documents


def by_tag(element: etree._Element, local_name: str) -> etree._Element:
    """``getElementsByTagName(local_name)->item(0)``, which the bundle calls unconditionally."""
    found = element.find(f".//{{*}}{local_name}")
    assert found is not None, f"{local_name} is missing; the bundle reads it unconditionally"
    return found


async def post(gw: Gateway, body: bytes, headers: dict[str, str] | None = None) -> bytes:
    response = await gw.client.post("/hkp", content=body, headers=headers or {
        "Content-type": "text/xml", "SOAPAction": "http://kapu.test/hkp"})
    assert response.status_code == 200, response.text
    return response.content


def document_item(index: int, krid: str, file_name: str, content: bytes, *, flag: str) -> str:
    """One DokumentumAdatok as the bundle writes it: an empty HivatkozasiSzam, its default
    Megjegyzes "1", and every flag as PHP prints a bool (true "1", false empty) — here the
    same ``flag`` text in all three, to try each spelling."""
    flags = "".join(f"<hkp:{name}>{flag}</hkp:{name}>" if flag else f"<hkp:{name}/>"
                    for name in ("ValaszTitkositas", "RendszerUzenet", "ETertiveveny"))
    return (f'<hkp:DokumentumAdatok href="csat-{index}"><hkp:HivatkozasiSzam/>'
            f"<hkp:Cimzett><hkp:KRID>{krid}</hkp:KRID></hkp:Cimzett>"
            "<hkp:DokTipusHivatal>Ügyvédi Kamara</hkp:DokTipusHivatal>"
            "<hkp:DokTipusAzonosito>1</hkp:DokTipusAzonosito>"
            "<hkp:DokTipusLeiras>1</hkp:DokTipusLeiras><hkp:Megjegyzes>1</hkp:Megjegyzes>"
            f"<hkp:FileNev>{file_name}</hkp:FileNev><hkp:ValaszUtvonal>0</hkp:ValaszUtvonal>"
            f"{flags}<hkp:Lenyomat>{hashlib.sha256(content).hexdigest()}</hkp:Lenyomat>"
            "</hkp:DokumentumAdatok>")


# Each spelling of a flag the KR accepts: empty means false (PHP prints false as nothing).
FLAGS = [("", False), ("1", True), ("0", False), ("true", True), ("false", False),
         (" true ", True)]


async def test_upload_with_flags_as_empty_elements_and_every_boolean_spelling(
    gw: Gateway
) -> None:
    sender, office = await new_org(gw.ports), await new_org(gw.ports)
    contents = [PDF + f"{index}".encode() for index in range(len(FLAGS))]
    items = "".join(document_item(index, office.krid or "", f"level{index}.pdf", content,
                                  flag=flag)
                    for index, ((flag, _), content) in enumerate(zip(FLAGS, contents,
                                                                     strict=True)))
    body, headers = bundle_swa(
        bundle_envelope(sender, "UjDokumentumokFeltolteseGepiInterfeszAltal", "HivataliModule",
                        f"<hkp:DokumentumFeltoltesKerdes>{items}</hkp:DokumentumFeltoltesKerdes>"),
        [("application/pdf", f"level{index}.pdf", content)
         for index, content in enumerate(contents)],
    )
    answer = read_answer(await gw.client.post("/hkp", content=body, headers=headers))
    assert answer.hiba is None, answer.hiba
    results = answer.form.findall("hkp:DokumentumTarolasEredmeny", NS)
    assert [r.get("href") for r in results] == [f"csat-{i}" for i in range(len(FLAGS))]
    for result, (flag, meant), content in zip(results, FLAGS, contents, strict=True):
        assert result.find("hkp:Hiba", NS) is None, (flag, etree.tostring(result))
        number = result.findtext("hkp:ErkeztetesiSzam", namespaces=NS)
        metadata = (await gw.client.get(f"/api/v1/documents/{number}",
                                        auth=office.auth)).json()
        assert (metadata["return_receipt"], metadata["reply_encryption"]) == (meant, meant), flag
        assert metadata["reference_number"] is None  # <hkp:HivatkozasiSzam/>
        assert metadata["note"] == "1"
        fetched = await gw.client.get(f"/api/v1/documents/{number}/content", auth=office.auth)
        assert fetched.content == content


async def test_a_flag_that_is_no_boolean_is_still_refused(gw: Gateway) -> None:
    sender, office = await new_org(gw.ports), await new_org(gw.ports)
    item = document_item(0, office.krid or "", "level.pdf", PDF, flag="igen")
    body, headers = bundle_swa(
        bundle_envelope(sender, "UjDokumentumokFeltolteseGepiInterfeszAltal", "HivataliModule",
                        f"<hkp:DokumentumFeltoltesKerdes>{item}</hkp:DokumentumFeltoltesKerdes>"),
        [("application/pdf", "level.pdf", PDF)])
    answer = read_answer(await gw.client.post("/hkp", content=body, headers=headers))
    assert answer.hiba is not None and answer.hiba[0] == 20
    assert "hkp:ETertiveveny" in answer.hiba[1] and "igen" in answer.hiba[1]
    assert (await gw.client.get("/api/v1/mailbox", auth=office.auth)).json()["items"] == []


async def test_listing_carries_every_element_the_bundle_reads(gw: Gateway) -> None:
    office = await new_org(gw.ports)
    sender = await new_org(gw.ports)  # no MAK code
    citizen = await new_citizen(gw.ports)
    plain = (await upload(gw.client, sender, office)).json()["registration_number"]
    text = "kérelem".encode()
    from_citizen = (await upload(gw.client, citizen, office, text, "kerelem.txt",
                                 note="Sürgős", reference_number="K/1")).json()[
        "registration_number"]

    raw = await post(gw, bundle_envelope(
        office, "DokumentumokLekerdezeseGepiInterfeszAltal2", "HivataliModule",
        "<hkp:DokumentumAdatokLetoltesKerdes><hkp:PostafiokAlapjan>"
        "<hkp:EredmenyekSzama>4</hkp:EredmenyekSzama></hkp:PostafiokAlapjan>"
        "</hkp:DokumentumAdatokLetoltesKerdes>"))
    response, documents = bundle_split(raw)
    root = etree.fromstring(response)
    listed = root.findall(".//hkp:DokumentumAdatok", NS)
    assert [by_tag(d, "ErkeztetesiSzam").text for d in listed] == [plain, from_citizen]
    for document in listed:
        for name in ("ErkeztetesiSzam", "HivatkozasiSzam", "ErvenyessegiDatum",
                     "ErkeztetesiDatum", "Megjegyzes", "Idopecset", "FileNev"):
            by_tag(document, name)
    first, second = listed
    # No reference number and no note: present and empty, not left out.
    assert by_tag(first, "HivatkozasiSzam").text is None
    assert by_tag(first, "Megjegyzes").text is None
    assert by_tag(first, "MAKKod").text is None  # the sender has none
    assert by_tag(second, "HivatkozasiSzam").text == "K/1"
    assert by_tag(second, "Megjegyzes").text == "Sürgős"
    assert by_tag(second, "Email").text == "polgar@example.hu"
    assert base64.b64decode(by_tag(first, "Idopecset").text or "")  # the acceptance token
    # The documents come as parts with a Content-Disposition, named by their numbers; the
    # bundle keeps the CRLF that ends each part.
    assert documents == {plain: PDF + b"\r\n", from_citizen: text + b"\r\n"}


async def test_mailbox_counts_with_each_selector_form(gw: Gateway) -> None:
    office, sender = await new_org(gw.ports), await new_org(gw.ports, kind=PartyKind.CEG)
    citizen = await new_citizen(gw.ports)
    for who, doc_type in ((sender, "A"), (sender, "B"), (citizen, "BUK01_15_EVES"),
                          (citizen, "X")):
        sent = await upload(gw.client, who, office, doc_type_id=doc_type)
        assert sent.status_code == 201, sent.text

    def selector(name: str, doc_type: str | None = None) -> str:
        inner = (f"<hkp:DokumentumTipusAzonosito>{doc_type}</hkp:DokumentumTipusAzonosito>"
                 if doc_type is not None else "")
        return f"<hkp:{name}>{inner}</hkp:{name}>"

    # (selectors, [all, from offices, from citizens, from the system])
    cases: list[tuple[str, list[int]]] = [
        ("", [4, 2, 2, 0]),
        (selector("OlvasatlanUzenetekSzama"), [4, 2, 2, 0]),
        # What the bundle's own example sends: citizens' documents of one type, and all.
        (selector("AllampolgartolErkezettOlvasatlanUzenetekSzama", "BUK01_15_EVES")
         + "<hkp:OlvasatlanUzenetekSzama/>", [4, 2, 1, 0]),
        (selector("HivataltolEkezettOlvasatlanUzenetekSzama", "A"), [4, 1, 2, 0]),  # KR's spelling
        (selector("HivataltolErkezettOlvasatlanUzenetekSzama", "B"), [4, 1, 2, 0]),
        (selector("RenszertolEkezettOlvasatlanUzenetekSzama", "ElNemOlvasott"), [4, 2, 2, 0]),
        (selector("RendszertolErkezettOlvasatlanUzenetekSzama"), [4, 2, 2, 0]),
        (selector("OlvasatlanUzenetekSzama", "A"), [1, 2, 2, 0]),
        (selector("OlvasatlanUzenetekSzama", "nincs"), [0, 2, 2, 0]),
        (selector("IsmeretlenValaszto", "A"), [4, 2, 2, 0]),  # unknown: ignored
    ]
    for selectors, expected in cases:
        raw = await post(gw, curl_template_envelope(
            office, "GIPostaFiokLekerdezes", "Workflow",
            f"<hkp:GIPostaFiokAdatokLekerdezeseKerdes>{selectors}"
            "</hkp:GIPostaFiokAdatokLekerdezeseKerdes>"))
        answer = etree.fromstring(raw).find(".//hkp:GIPostaFiokAdatokLekerdezeseValasz", NS)
        assert answer is not None, raw
        assert [etree.QName(c).localname for c in answer] == [
            "OlvasatlanUzenetekSzama", "HivataltolErkezettOlvasatlanUzenetekSzama",
            "AllampolgartolErkezettOlvasatlanUzenetekSzama",
            "RendszertolErkezettOlvasatlanUzenetekSzama"]
        assert [int(c.text or "") for c in answer] == expected, selectors


@pytest.mark.parametrize("search", ["two", "none"])
async def test_office_search_answers_one_flat_element_per_office(
    gw: Gateway, search: str
) -> None:
    marker = f"Kapuvári{hashlib.sha256(search.encode()).hexdigest()[:6]}"
    with_mak = await new_org(gw.ports, name=f"{marker} Polgármesteri Hivatal",
                             mak_code="123456789")
    without_mak = await new_org(gw.ports, name=f"{marker} Járási Hivatal")
    wanted = marker if search == "two" else f"{marker} Nincs Ilyen"
    raw = await post(gw, bundle_envelope(
        with_mak, "HivatalokLekerdezese", "Workflow",
        f"<hkp:GIHivatalokLekerdezeseKerdes><hkp:NevSzures>{wanted}</hkp:NevSzures>"
        "</hkp:GIHivatalokLekerdezeseKerdes>"))
    root = etree.fromstring(raw)
    assert root.find(".//iop:HibaUzenet", NS) is None
    form = root.find(".//iop:Form", NS)
    assert form is not None
    found = root.findall(".//hkp:GIHivatalokLekerdezeseValasz", NS)  # as the bundle asks
    if search == "none":
        assert len(form) == 0  # an empty Form, not an answer element with no office in it
        return
    assert list(form) == found
    offices = [(by_tag(f, "KRID").text, by_tag(f, "RovidNev").text, by_tag(f, "Nev").text,
                by_tag(f, "MAKKod").text) for f in found]
    assert sorted(offices) == sorted([
        (with_mak.krid, with_mak.username, f"{marker} Polgármesteri Hivatal", "123456789"),
        (without_mak.krid, without_mak.username, f"{marker} Járási Hivatal", None),
    ])


async def test_unknown_service_with_unknown_form_is_21(gw: Gateway) -> None:
    office = await new_org(gw.ports)
    raw = await post(gw, bundle_envelope(
        office, "TrKodEllenorzes", "Workflow",
        "<hkp:TrKodEllenorzesKerdes><hkp:TrKod>x</hkp:TrKod></hkp:TrKodEllenorzesKerdes>"))
    root = etree.fromstring(raw)
    assert root.findtext(".//iop:HibaUzenet/iop:Szam", namespaces=NS) == "21"
    assert "TrKodEllenorzes" in (root.findtext(".//iop:HibaUzenet/iop:Tartalom",
                                               namespaces=NS) or "")
