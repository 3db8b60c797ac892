"""Building answers: ``iop:Valasz`` envelopes, SOAP Faults, and streamed multipart answers."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable, Sequence
from datetime import datetime
from typing import Protocol

from lxml import etree
from lxml.builder import ElementMaker

from gateway import errors
from gateway.domain.limits import xml_safe
from gateway.domain.registration import budapest_local
from gateway.hkp.xml import HKP, IOP, KRI, SOAP11
from gateway.multipart import attachment_disposition


class Attachment(Protocol):
    """A document travelling beside the answer envelope."""

    @property
    def content_id(self) -> str: ...
    @property
    def file_name(self) -> str: ...
    @property
    def chunks(self) -> AsyncIterator[bytes]: ...


class Maker(Protocol):
    """lxml's ElementMaker as the type checker should see it: ``H.Name(*children)``."""

    def __getattr__(self, name: str) -> Callable[..., etree._Element]: ...


def _maker(prefix: str, namespace: str) -> Maker:
    maker: Maker = ElementMaker(namespace=namespace, nsmap={prefix: namespace})
    return maker


SOAP = _maker("soap", SOAP11)
H = _maker("hkp", HKP)

# The HibaUzenet / HibaKod numbers (docs/hkp.md, docs/errors.md), by the error tree.
HIBA_SZAM: dict[type[errors.GatewayError], int] = {
    errors.Unauthorized: 10,
    errors.TooManyAttempts: 12,
    errors.Forbidden: 11,
    errors.InvalidRequest: 20,
    errors.IdempotencyConflict: 20,
    errors.MandateConflict: 20,
    errors.Conflict: 20,
    errors.UnknownService: 21,
    errors.NotFound: 22,
    errors.Expired: 22,
    errors.KeyNotFound: 35,  # extension, with KulcsLekerdezes
    errors.HashMismatch: 30,
    # The KR's table has no number for an empty document: 20, with a text saying so.
    errors.EmptyContent: 20,
    errors.InvalidCertificate: 20,
    errors.FormatNotAllowed: 31,
    errors.FormatMismatch: 31,
    errors.TooLarge: 32,
    errors.RecipientUnknown: 33,
    errors.AttachmentMissing: 34,
}
INTERNAL_ERROR = 50


def szam_of(error: errors.GatewayError) -> int:
    for cls in type(error).__mro__:
        if cls in HIBA_SZAM:
            return HIBA_SZAM[cls]
    return INTERNAL_ERROR


def value(item: object) -> str:
    """xs:boolean, xs:dateTime (Budapest time with its offset) and the rest as text."""
    if isinstance(item, bool):
        return "true" if item else "false"
    if isinstance(item, datetime):
        return budapest_local(item).isoformat()
    return str(item)


# Characters XML 1.0 cannot hold (its Char production): C0 controls but tab, LF and CR,
# surrogates, U+FFFE and U+FFFF.
def xml_text(stored: str | None) -> str:
    """Stored text as an element's text: empty for None, and each character XML cannot hold
    as U+FFFD. The doors refuse such characters, but a row stored before they did must not
    make lxml refuse the whole answer (every listing of that mailbox would fail)."""
    return xml_safe(stored) if stored else ""


def valasz(
    *,
    session_id: str,
    felhasznalo: str,
    now: datetime,
    session: Sequence[etree._Element] = (),
    form: Sequence[etree._Element] | None = None,
    hiba: tuple[int, str] | None = None,
) -> bytes:
    """A whole SOAP envelope with one ``iop:Valasz``: a Form (with the given children, which
    may be none), or a HibaUzenet and no Form."""
    # Built with SubElement, each namespace declared once where the ElementMaker would leave it:
    # the same bytes in a third of the time (an ElementMaker element declares its namespace and
    # lxml folds it into the parent's when appended; 65 against 28 µs an answer, every SOAP
    # call).
    envelope = etree.Element(f"{{{SOAP11}}}Envelope", nsmap={"soap": SOAP11})
    header = etree.SubElement(envelope, f"{{{SOAP11}}}Header")
    etree.SubElement(header, f"{{{KRI}}}sessionID", nsmap={"kri": KRI}).text = session_id
    body = etree.SubElement(envelope, f"{{{SOAP11}}}Body")
    answer = etree.SubElement(body, f"{{{IOP}}}Valasz", nsmap={"iop": IOP})
    fejlec = etree.SubElement(answer, f"{{{IOP}}}ValaszFejlec")
    etree.SubElement(fejlec, f"{{{IOP}}}Felhasznalo").text = felhasznalo
    etree.SubElement(fejlec, f"{{{IOP}}}UzenetIdopont").text = value(now)
    etree.SubElement(answer, f"{{{IOP}}}Session").extend(session)
    if hiba is not None:
        uzenet = etree.SubElement(answer, f"{{{IOP}}}HibaUzenet")
        etree.SubElement(uzenet, f"{{{IOP}}}Szam").text = str(hiba[0])
        # A refusal may quote what the client sent, control characters included.
        etree.SubElement(uzenet, f"{{{IOP}}}Tartalom").text = xml_safe(hiba[1])
    else:
        assert form is not None
        etree.SubElement(answer, f"{{{IOP}}}Form").extend(form)
    return etree.tostring(envelope, xml_declaration=True, encoding="utf-8")


def fault(message: str, code: str = "soap:Client") -> bytes:
    """A SOAP 1.1 Fault: soap:Client for a request that is not a readable SOAP 1.1 message,
    soap:Server for one the gateway cannot take now (overload)."""
    soap_fault = SOAP.Fault()
    # faultcode and faultstring are unqualified in SOAP 1.1.
    etree.SubElement(soap_fault, "faultcode").text = code
    # It may quote a header the client sent, control characters included.
    etree.SubElement(soap_fault, "faultstring").text = xml_safe(message)
    envelope = SOAP.Envelope(SOAP.Body(soap_fault))
    return etree.tostring(envelope, xml_declaration=True, encoding="utf-8")


def new_boundary() -> str:
    return f"kapu-{uuid.uuid4().hex}"


async def multipart_related(
    boundary: str, envelope: bytes, parts: Sequence[Attachment]
) -> AsyncIterator[bytes]:
    """The answer as ``multipart/related``: the envelope first (clients such as zeep take the
    first part as the root), then each document as a part whose Content-ID is its number.
    Document parts carry ``Content-Disposition: attachment`` (a PHP client tells them from the
    envelope by it) and no Content-Transfer-Encoding header: HTTP is 8-bit clean, and zeep
    strips CR/LF from parts marked ``binary``, which would change the bytes."""
    yield (
        f"--{boundary}\r\nContent-Type: text/xml; charset=utf-8\r\n"
        "Content-ID: <envelope>\r\n\r\n"
    ).encode() + envelope + b"\r\n"
    for part in parts:
        yield (
            f"--{boundary}\r\nContent-Type: application/octet-stream\r\n"
            f"Content-ID: <{part.content_id}>\r\n"
            f"Content-Disposition: {attachment_disposition(part.file_name)}\r\n\r\n"
        ).encode()
        async for chunk in part.chunks:
            yield chunk
        yield b"\r\n"
    yield f"--{boundary}--\r\n".encode()
