"""Hostile XML is refused with a SOAP Fault before anything is resolved, and the server stays
healthy (docs/hkp.md, Errors)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.helpers import new_org
from tests.hkp_helpers import NS, envelope, read_answer
from tests.integration.conftest import Gateway

SOAP11 = 'xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/"'


def _hostile(kind: str, secret: Path) -> tuple[bytes, str]:
    if kind == "external entity":
        return (f'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY leak SYSTEM "file://{secret}">]>'
                f"<soapenv:Envelope {SOAP11}><soapenv:Body>&leak;</soapenv:Body>"
                "</soapenv:Envelope>").encode(), "text/xml"
    if kind == "entity expansion":
        entities = '<!ENTITY a0 "ha">' + "".join(
            f'<!ENTITY a{i} "{("&a" + str(i - 1) + ";") * 10}">' for i in range(1, 10))
        return (f'<?xml version="1.0"?><!DOCTYPE x [{entities}]>'
                f"<soapenv:Envelope {SOAP11}><soapenv:Body>&a9;</soapenv:Body>"
                "</soapenv:Envelope>").encode(), "text/xml"
    if kind == "deep nesting":
        return (f"<soapenv:Envelope {SOAP11}><soapenv:Body>" + "<a>" * 10_000
                + "</a>" * 10_000 + "</soapenv:Body></soapenv:Envelope>").encode(), "text/xml"
    if kind == "nesting just past 100":
        return (f"<soapenv:Envelope {SOAP11}><soapenv:Body>" + "<a>" * 100
                + "</a>" * 100 + "</soapenv:Body></soapenv:Envelope>").encode(), "text/xml"
    if kind == "oversize":
        padding = b"<!-- " + b"x" * (10 * 1024 * 1024) + b" -->"
        return (f"<soapenv:Envelope {SOAP11}><soapenv:Body>".encode() + padding
                + b"</soapenv:Body></soapenv:Envelope>"), "text/xml"
    if kind == "SOAP 1.2 envelope":
        return (b'<env:Envelope xmlns:env="http://www.w3.org/2003/05/soap-envelope">'
                b"<env:Body/></env:Envelope>"), "text/xml"
    if kind == "SOAP 1.2 content type":
        return (f"<soapenv:Envelope {SOAP11}><soapenv:Body/></soapenv:Envelope>").encode(), \
            "application/soap+xml; charset=utf-8"
    if kind == "not XML":
        return b"GET / HTTP/1.0", "text/xml"
    if kind == "truncated multipart":
        return b"--b\r\nContent-ID: <e>\r\n\r\n<x/>", 'multipart/related; boundary="b"'
    raise AssertionError(kind)


@pytest.mark.parametrize("kind", [
    "external entity", "entity expansion", "deep nesting", "nesting just past 100",
    "oversize", "SOAP 1.2 envelope", "SOAP 1.2 content type", "not XML",
    "truncated multipart",
])
async def test_refused_with_soap_fault(gw: Gateway, kind: str, tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET-MARKER")
    body, content_type = _hostile(kind, secret)

    response = await gw.client.post("/hkp", content=body, headers={"Content-Type": content_type})

    assert response.status_code == 400
    assert b"TOP-SECRET-MARKER" not in response.content
    answer = read_answer(response)
    fault = answer.root.find("soap:Body/soap:Fault", NS)
    assert fault is not None
    assert fault.findtext("faultcode") == "soap:Client"
    assert fault.findtext("faultstring")
    # Still serving, and a normal request still works.
    assert (await gw.client.get("/health")).status_code == 200
    office = await new_org(gw.ports)
    ok = await gw.client.post("/hkp", headers={"Content-Type": "text/xml"}, content=envelope(
        "GIPostaFiokLekerdezes", "<hkp:GIPostaFiokAdatokLekerdezeseKerdes/>",
        username=office.username, password=office.password))
    assert read_answer(ok).hiba is None


async def test_soap12_fault_says_what_to_send(gw: Gateway) -> None:
    body, content_type = _hostile("SOAP 1.2 envelope", Path("/nonexistent"))
    response = await gw.client.post("/hkp", content=body, headers={"Content-Type": content_type})
    assert "SOAP 1.1" in (read_answer(response).root.findtext(".//faultstring") or "")



async def test_a_control_character_in_a_part_header_is_a_fault_not_an_error(gw: Gateway) -> None:
    """Was: ``Content-Transfer-Encoding:\\x00 base64`` (found by the HKP fuzzer) was refused
    with a message holding the NUL, which lxml cannot write into the Fault: 500."""
    office = await new_org(gw.ports)
    root = envelope("GIPostaFiokLekerdezes", "<hkp:GIPostaFiokAdatokLekerdezeseKerdes/>",
                    username=office.username, password=office.password)
    body = (b"--b\r\nContent-ID: <e>\r\nContent-Type: text/xml\r\n\r\n" + root
            + b"\r\n--b\r\nContent-ID: <a>\r\nContent-Transfer-Encoding:\x00 base64\r\n\r\n"
            + b"JVBERi0=\r\n--b--\r\n")

    response = await gw.client.post(
        "/hkp", content=body, headers={"Content-Type": 'multipart/related; boundary="b"'})

    assert response.status_code == 400
    fault = read_answer(response).root.find("soap:Body/soap:Fault", NS)
    assert fault is not None and fault.findtext("faultcode") == "soap:Client"
    assert fault.findtext("faultstring") == \
        "Content-Transfer-Encoding \ufffd base64 is not supported"
