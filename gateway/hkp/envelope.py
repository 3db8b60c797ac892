"""Reading an ``iop:Kerdes`` out of a parsed SOAP 1.1 envelope."""

from __future__ import annotations

from dataclasses import dataclass, field

from lxml import etree

from gateway.errors import InvalidRequest, Unauthorized
from gateway.hkp.xml import HKP, IOP, SOAP11, WSSE, XOP, child, child_text


@dataclass
class Kerdes:
    element: etree._Element
    felhasznalo: str | None
    session: list[etree._Element] = field(default_factory=list)


def find_kerdes(envelope: etree._Element) -> Kerdes:
    """The one ``iop:Kerdes`` of the Body, with what the answer echoes (Felhasznalo, Session)."""
    body = child(envelope, "Body", SOAP11)
    kerdes = child(body, "Kerdes", IOP) if body is not None else None
    if kerdes is None:
        raise InvalidRequest("the SOAP Body must hold one iop:Kerdes")
    header = child(kerdes, "KerdesFejlec", IOP)
    felhasznalo = child_text(header, "Felhasznalo", IOP) if header is not None else None
    session = child(kerdes, "Session", IOP)
    properties = list(session.iterchildren(f"{{{IOP}}}Property")) if session is not None else []
    return Kerdes(kerdes, felhasznalo, properties)


def username_token(envelope: etree._Element) -> tuple[str, str]:
    """``wsse:Security/wsse:UsernameToken`` with a PasswordText password."""
    # The first in document order, as the path Header/Security/UsernameToken finds it: a
    # message may carry several Security headers (one per actor). Child by child, a third of
    # the time of ElementPath.
    token = next((token for header in envelope.iterchildren(f"{{{SOAP11}}}Header")
                  for security in header.iterchildren(f"{{{WSSE}}}Security")
                  for token in security.iterchildren(f"{{{WSSE}}}UsernameToken")), None)
    if token is None:
        raise Unauthorized("the SOAP Header has no wsse:Security/wsse:UsernameToken")
    username = child_text(token, "Username", WSSE)
    password_element = child(token, "Password", WSSE)
    password_type = (password_element.get("Type") or "") if password_element is not None else ""
    if password_type.endswith("PasswordDigest"):
        raise Unauthorized("wsse:PasswordDigest is not supported: send the password as "
                           "PasswordText over TLS")
    if password_type and not password_type.endswith("PasswordText"):
        raise Unauthorized(f"unknown wsse:Password Type {password_type}")
    password = password_element.text if password_element is not None else None
    if not username or password is None:
        raise Unauthorized("wsse:Username and wsse:Password are required")
    return username, password.strip()


def declared_digests(envelope: etree._Element) -> dict[str, str]:
    """The SHA-256 the uploaded documents declare (``Lenyomat`` of 64 hex digits), by the
    ``href`` (or MTOM ``xop:Include``) of the attachment each names. Read as soon as the
    envelope is in, before the attachments: the store may then write those under their final
    name at once (checked against the bytes all the same). An attachment named by documents
    that declare different digests gets none."""
    found: dict[str, str | None] = {}
    for document in envelope.iter(f"{{{HKP}}}DokumentumAdatok"):
        href = document.get("href")
        if not href:
            include = next(document.iter(f"{{{XOP}}}Include"), None)
            href = include.get("href") if include is not None else None
        digest = (child_text(document, "Lenyomat") or "").strip().lower()
        if href and len(digest) == 64:
            found[href] = digest if found.get(href, digest) == digest else None
    return {href: digest for href, digest in found.items() if digest is not None}


def resolve_xop(kerdes: etree._Element) -> None:
    """MTOM: a ``Tartalom`` holding ``xop:Include href="cid:…"`` becomes an empty Tartalom and
    the document's ``href`` names that attachment, as SwA clients send it."""
    for include in kerdes.iter(f"{{{XOP}}}Include"):
        tartalom = include.getparent()
        if tartalom is None or tartalom.tag != f"{{{HKP}}}Tartalom":
            continue
        document = tartalom.getparent()
        if document is not None and not document.get("href"):
            document.set("href", include.get("href") or "")
        tartalom.remove(include)
