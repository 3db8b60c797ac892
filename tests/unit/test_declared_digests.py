"""The SHA-256 an HKP upload's documents declare, by attachment, read from the envelope before
the attachments arrive (gateway.hkp.envelope.declared_digests)."""

from __future__ import annotations

import hashlib

from gateway.hkp.envelope import declared_digests
from gateway.hkp.xml import parse_envelope
from tests.hkp_helpers import document_xml, envelope, upload_form

A = hashlib.sha256(b"a").hexdigest()
B = hashlib.sha256(b"b").hexdigest()
MTOM = ('<hkp:DokumentumAdatok xmlns:hkp="http://iop.gov.hu/2008/10/hkp">'
        '<hkp:Tartalom><xop:Include xmlns:xop="http://www.w3.org/2004/08/xop/include" '
        'href="cid:mtom-1"/></hkp:Tartalom><hkp:Lenyomat>{digest}</hkp:Lenyomat>'
        "</hkp:DokumentumAdatok>")


def _declared(*documents: str) -> dict[str, str]:
    root = envelope("UjDokumentumokFeltolteseGepiInterfeszAltal", upload_form(*documents),
                    username="u", password="p")
    return declared_digests(parse_envelope(root))


def test_each_attachment_gets_the_sha256_its_document_declares() -> None:
    assert _declared(
        document_xml(krid="123456789", href="cid:csat-1", lenyomat=A.upper()),
        document_xml(krid="123456789", href="csat-2", lenyomat=B),
        MTOM.format(digest=A),
    ) == {"cid:csat-1": A, "csat-2": B, "cid:mtom-1": A}


def test_no_digest_where_none_is_declared_as_sha256_or_the_documents_disagree() -> None:
    assert _declared(
        document_xml(krid="123456789", href="cid:sha1", lenyomat=hashlib.sha1(b"a").hexdigest()),
        document_xml(krid="123456789", href="cid:twice", lenyomat=A),
        document_xml(krid="123456789", href="cid:twice", lenyomat=B),
        document_xml(krid="123456789", href="cid:twice", lenyomat=A),
        document_xml(krid="123456789", content=b"inline", inline=True),
        document_xml(krid="123456789", href="cid:same", lenyomat=A),
        document_xml(krid="123456789", href="cid:same", lenyomat=A),
    ) == {"cid:same": A}
