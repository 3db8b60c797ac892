"""Raw HKP messages as legacy clients send them, and readers for the answers."""

from __future__ import annotations

import base64
import email.parser
import email.policy
import hashlib
from dataclasses import dataclass

import httpx
from lxml import etree

NS = {
    "soap": "http://schemas.xmlsoap.org/soap/envelope/",
    "iop": "http://www.iop.hu/2004",
    "hkp": "http://iop.gov.hu/2008/10/hkp",
    "kri": "http://www.iop.hu/2004/kri",
}
PASSWORD_TEXT = ("http://docs.oasis-open.org/wss/2004/01/"
                 "oasis-200401-wss-username-token-profile-1.0#PasswordText")
PASSWORD_DIGEST = PASSWORD_TEXT.replace("PasswordText", "PasswordDigest")
MODULES = {"HivatalokLekerdezese": "Workflow", "GIPostaFiokLekerdezes": "Workflow"}


def envelope(
    service: str, form: str, *, username: str, password: str,
    password_type: str = PASSWORD_TEXT, felhasznalo: str = " TESZT ",
    timestamp: str = "2026-11-24T09:30:00",
) -> bytes:
    """A Kerdes with the quirks of real clients: padded values, a timestamp without an offset,
    empty Session and Cimke elements."""
    module = MODULES.get(service, "HivataliModule")
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/"
    xmlns:iop="http://www.iop.hu/2004" xmlns:hkp="http://iop.gov.hu/2008/10/hkp">
  <soapenv:Header>
    <wsse:Security xmlns:wsse="http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd">
      <wsse:UsernameToken>
        <wsse:Username> {username} </wsse:Username>
        <wsse:Password Type="{password_type}">{password}</wsse:Password>
      </wsse:UsernameToken>
    </wsse:Security>
  </soapenv:Header>
  <soapenv:Body>
    <iop:Kerdes>
      <iop:KerdesFejlec>
        <iop:Felhasznalo>{felhasznalo}</iop:Felhasznalo>
        <iop:UzenetIdopont> {timestamp} </iop:UzenetIdopont>
      </iop:KerdesFejlec>
      <iop:Session/>
      <iop:Parancs>
        <iop:Rendszer> HKP </iop:Rendszer>
        <iop:Szolgaltatas Module="{module}"> {service} </iop:Szolgaltatas>
        <iop:Cimke></iop:Cimke>
      </iop:Parancs>
      <iop:Form>{form}</iop:Form>
    </iop:Kerdes>
  </soapenv:Body>
</soapenv:Envelope>""".encode()


def document_xml(
    *, krid: str | None = None, code: str | None = None, file_name: str = "level.pdf",
    content: bytes = b"", href: str | None = None, inline: bool = False,
    lenyomat: str | None = None, reference: str | None = "HIV/2026/1", note: str | None = None,
) -> str:
    recipient = f"<hkp:KRID> {krid} </hkp:KRID>" if krid else \
        f"<hkp:KapcsolatiKod>{code}</hkp:KapcsolatiKod>"
    digest = lenyomat or hashlib.sha256(content).hexdigest()
    tartalom = f"<hkp:Tartalom>{base64.b64encode(content).decode()}</hkp:Tartalom>" \
        if inline else ""
    attribute = f' href="{href}"' if href else ""
    reference_xml = f"<hkp:HivatkozasiSzam>{reference}</hkp:HivatkozasiSzam>" \
        if reference else ""
    note_xml = f"<hkp:Megjegyzes>{note}</hkp:Megjegyzes>" if note is not None else ""
    return f"""
        <hkp:DokumentumAdatok{attribute}>
          {reference_xml}
          <hkp:Cimzett>{recipient}</hkp:Cimzett>
          <hkp:DokTipusHivatal> TESZT </hkp:DokTipusHivatal>
          <hkp:DokTipusAzonosito>LEVEL</hkp:DokTipusAzonosito>
          <hkp:DokTipusLeiras>Levél</hkp:DokTipusLeiras>
          {note_xml}
          <hkp:FileNev> {file_name} </hkp:FileNev>
          <hkp:ValaszUtvonal>0</hkp:ValaszUtvonal>
          <hkp:ValaszTitkositas> false </hkp:ValaszTitkositas>
          <hkp:RendszerUzenet>false</hkp:RendszerUzenet>
          <hkp:ETertiveveny>false</hkp:ETertiveveny>
          <hkp:Lenyomat> {digest} </hkp:Lenyomat>
          {tartalom}
        </hkp:DokumentumAdatok>"""


def upload_form(*documents: str) -> str:
    return f"<hkp:DokumentumFeltoltesKerdes>{''.join(documents)}</hkp:DokumentumFeltoltesKerdes>"


def swa(envelope_bytes: bytes, attachments: list[tuple[str, bytes, str]]) -> tuple[bytes, str]:
    """SOAP with Attachments the way a legacy Java client sends it: a preamble line, quoted
    content types, the root named by ``start``, base64 or binary parts, a trailing CRLF."""
    boundary = "----=_Part_0_1234567.890"
    lines = [b"\r\n--" + boundary.encode(),
             b'Content-Type: "text/xml"; charset=utf-8',
             b"Content-Transfer-Encoding: 8bit",
             b"Content-ID: <envelope.xml>", b"", envelope_bytes]
    for content_id, content, encoding in attachments:
        body = base64.encodebytes(content) if encoding == "base64" else content
        lines += [b"--" + boundary.encode(), b'Content-Type: "application/octet-stream"',
                  f"Content-Transfer-Encoding: {encoding}".encode(),
                  f"Content-ID: <{content_id}>".encode(), b"", body]
    payload = b"\r\n".join(lines) + b"\r\n--" + boundary.encode() + b"--\r\n\r\n"
    content_type = (f'multipart/related; type="text/xml"; start="<envelope.xml>"; '
                    f'boundary="{boundary}"')
    return payload, content_type


@dataclass
class Answer:
    status: int
    root: etree._Element  # the soap:Envelope
    parts: dict[str, bytes]  # Content-ID (without <>) -> bytes

    def valasz(self) -> etree._Element:
        found = self.root.find("soap:Body/iop:Valasz", NS)
        assert found is not None, etree.tostring(self.root)
        return found

    @property
    def hiba(self) -> tuple[int, str] | None:
        szam = self.valasz().findtext("iop:HibaUzenet/iop:Szam", namespaces=NS)
        text = self.valasz().findtext("iop:HibaUzenet/iop:Tartalom", namespaces=NS)
        return (int(szam), text or "") if szam is not None else None

    @property
    def forms(self) -> list[etree._Element]:
        """Every element of the Form (HivatalokLekerdezese answers one per office)."""
        found = self.valasz().find("iop:Form", NS)
        assert found is not None, f"no Form; HibaUzenet {self.hiba}"
        return list(found)

    @property
    def form(self) -> etree._Element:
        (only,) = self.forms
        return only


def read_answer(response: httpx.Response) -> Answer:
    """Parse an HKP answer; multipart ones with the standard library's MIME parser."""
    content_type = response.headers["content-type"]
    parts: dict[str, bytes] = {}
    if content_type.startswith("multipart/related"):
        message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
            f"Content-Type: {content_type}\r\n\r\n".encode() + response.content
        )
        payloads = list(message.iter_parts())  # type: ignore[attr-defined]
        xml = payloads[0].get_payload(decode=True)
        for part in payloads[1:]:
            parts[part["Content-ID"].strip("<>")] = part.get_payload(decode=True)
    else:
        xml = response.content
    root = etree.fromstring(xml)
    if response.status_code == 200:
        assert root.findtext("soap:Header/kri:sessionID", namespaces=NS), "no kri:sessionID"
    return Answer(response.status_code, root, parts)


async def kezbesitettseg(client: httpx.AsyncClient, username: str, password: str,
                         number: str) -> str | None:
    """``Kezbesitettseg`` of one document, as ``DokumentumokAllapota2`` answers it."""
    answer = read_answer(await client.post("/hkp", headers={"Content-Type": "text/xml"},
                                           content=envelope(
        "DokumentumokAllapota2",
        f"<hkp:DokumentumAllapotKerdes><hkp:ErkeztetesiSzamAlapjan><hkp:ErkeztetesiSzam>"
        f"{number}</hkp:ErkeztetesiSzam></hkp:ErkeztetesiSzamAlapjan>"
        "</hkp:DokumentumAllapotKerdes>", username=username, password=password)))
    return answer.form.findtext("hkp:DokumentumAdatok/hkp:Kezbesitettseg", namespaces=NS)
