"""AVDH: the hitelesített PDF (contract 23), made and checked with pyHanko.

Synchronous: files in, files and verdicts out; the services run these in a worker thread
(through the ``PdfAuthenticator`` port, which :class:`AvdhSeal` implements) and record what
they made.

- :meth:`AvdhSeal.authenticate` turns any allowed file into a hitelesített PDF: a PDF up to
  ``pdf_max_bytes`` that is not encrypted is signed *as it is* (an incremental update whose
  prefix is the original, the záradék as the signature's visible stamp on page 1); anything else
  becomes a new PDF whose page 1 is the záradék and which embeds the original unchanged
  (``/EmbeddedFiles``, ``AFRelationship /Source``), then signed the same way.
- :meth:`AvdhSeal.seal` signs a PDF the gateway made itself (the e-Papír beadvány) as it is.
- :meth:`AvdhSeal.verify` says whether a PDF is one of this gateway's, intact, by whom, when.

The signature is PAdES B-T: CMS (``ETSI.CAdES.detached``), SHA-256, by the AVDH seal key,
with a signature timestamp from the gateway's own TSA dated on the gateway's clock.
"""

from __future__ import annotations

import asyncio
import hashlib
import io
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, BinaryIO
from zoneinfo import ZoneInfo

from asn1crypto import cms
from asn1crypto import keys as asn1_keys
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.asymmetric.padding import PKCS1v15
from fpdf import FPDF
from pyhanko.pdf_utils import embed, generic
from pyhanko.pdf_utils.font.opentype import GlyphAccumulator, GlyphAccumulatorFactory
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.misc import PdfError
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.pdf_utils.text import TextBoxStyle
from pyhanko.sign import signers
from pyhanko.sign.diff_analysis import ModificationLevel
from pyhanko.sign.fields import SigFieldSpec, SigSeedSubFilter
from pyhanko.sign.general import SigningError
from pyhanko.sign.signers.pdf_signer import PdfSigningSession
from pyhanko.sign.timestamps import TimeStamper
from pyhanko.sign.validation import async_validate_pdf_signature
from pyhanko.sign.validation.pdf_embedded import EmbeddedPdfSignature
from pyhanko.sign.validation.status import SignatureCoverageLevel
from pyhanko.stamp import TextStampStyle
from pyhanko_certvalidator import ValidationContext
from pyhanko_certvalidator.registry import SimpleCertificateStore
from pyhanko_certvalidator.util import get_pyca_cryptography_hash

from gateway.crypto.keys import SigningKey
from gateway.domain.authentication import (
    Clause,
    Kind,
    NotAPdf,
    Original,
    PdfRefused,
    Reason,
    Verdict,
)
from gateway.fonts import font_file, stamp_font

# (SHA-256 hex of the data to stamp, the moment) -> DER TimeStampToken: the gateway's TSA,
# TimestampAuthority.timestamp.
Timestamp = Callable[[str, datetime], bytes]

FONTS = Path(__file__).resolve().parent.parent / "fonts"
BUDAPEST = ZoneInfo("Europe/Budapest")
# The signature's /Reason carries the original's file name, so verify can name it again; the
# prefix says whether the original is the signed PDF's first revision or an embedded file.
REASON_AS_IS = "AVDH hitelesítés / authentication: "
REASON_EMBEDDED = "AVDH hitelesítés, beágyazott eredeti / authentication, embedded original: "
# Errors of a file pyHanko cannot make sense of (its own, and what a broken object graph raises).
_UNREADABLE = (PdfError, ValueError, KeyError, IndexError, TypeError, AttributeError)
_CHUNK = 1024 * 1024
# Where :meth:`AvdhSeal.seal` puts the stamp on page 1 of a PDF the gateway made itself (the
# e-Papír beadvány), in points from the page's lower left corner (left, bottom, right, top):
# at the text's left margin (10 mm), above the page-number footer (within 15 mm, 42.5 pt, of
# the foot), in the room pdf/beadvany.py keeps free of text on page 1.
SEALED_STAMP_BOX = (28, 50, 328, 170)


class _GatewayTimeStamper(TimeStamper):
    """The signature timestamp from the gateway's own TSA, dated on the gateway's clock."""

    def __init__(self, timestamp: Timestamp, at: datetime) -> None:
        super().__init__(include_nonce=False)  # type: ignore[no-untyped-call]
        self._timestamp = timestamp
        self._at = at

    async def async_timestamp(self, message_digest: bytes, md_algorithm: str) -> cms.ContentInfo:
        if md_algorithm != "sha256":
            raise SigningError(f"the gateway's TSA stamps SHA-256 digests, not {md_algorithm}")
        return cms.ContentInfo.load(self._timestamp(message_digest.hex(), self._at))


class _DejaVuFactory(GlyphAccumulatorFactory):
    """pyHanko's font factory, fed from memory: its own opens the font file for each stamp
    and never closes it."""

    def create_font_engine(self, writer: Any, obj_stream: Any = None) -> GlyphAccumulator:
        if obj_stream is None and writer.stream_xrefs and self.create_objstream_if_needed:
            obj_stream = writer.prepare_object_stream()
        return GlyphAccumulator(
            writer=writer, font_handle=io.BytesIO(stamp_font()), font_size=self.font_size,
            obj_stream=obj_stream)


class _LoadedKeySigner(signers.SimpleSigner):
    """pyHanko's SimpleSigner with the seal key already loaded: its own parses the key from
    DER for every signature (twice per PDF, with the size estimate), and cryptography checks
    an RSA key as it loads it: 70 of 140 ms per signed PDF on the reference machine."""

    def __init__(self, key: SigningKey, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._key = key

    def sign_raw(self, data: bytes, digest_algorithm: str) -> bytes:
        hash_algorithm = get_pyca_cryptography_hash(digest_algorithm)
        if isinstance(self._key, rsa.RSAPrivateKey):
            return self._key.sign(data, PKCS1v15(), hash_algorithm)
        return self._key.sign(data, ec.ECDSA(hash_algorithm))


class _DatedPdfSigner(signers.PdfSigner):
    """A PdfSigner whose signing time (the signature dictionary's /M) is the clause's moment,
    not the machine's."""

    def __init__(self, *args: Any, at: datetime, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._at = at

    def init_signing_session(self, pdf_out: Any, existing_fields_only: bool = False
                             ) -> PdfSigningSession:
        session = super().init_signing_session(pdf_out, existing_fields_only)
        session.system_time = self._at
        return session


def _who(clause: Clause) -> str:
    name = f"{clause.person_name} ({clause.username})"
    return f"{name} — {clause.office}" if clause.office else name


def _clause_lines(clause: Clause) -> list[str]:
    """The záradék, Hungarian first, then English."""
    when = clause.at.astimezone(BUDAPEST).strftime("%Y-%m-%d %H:%M:%S %Z")
    original = clause.original
    sha = original.sha256
    return [
        "Hitelesítési záradék (AVDH) / Authentication clause",
        f"Hitelesítette / Authenticated by: {_who(clause)}",
        f"Időpont / Time (Budapest): {when}",
        f"Eredeti fájl / Original file: {original.file_name}",
        f"Méret / Size: {original.size} bájt / bytes",
        f"SHA-256: {sha[:32]}",
        f"         {sha[32:]}",
        f"Ellenőrzés / Check: {clause.verify_url}",
    ]


def _clause_page(clause: Clause) -> bytes:
    """Page 1 of a new hitelesített PDF: the záradék in both languages (fpdf2, DejaVu)."""
    pdf = FPDF(format="A4")
    pdf.set_creation_date(clause.at)  # the gateway's clock, never the machine's
    pdf.add_font("DejaVu", "", str(font_file("")))
    pdf.add_font("DejaVu", "B", str(font_file("B")))
    pdf.set_title("Hitelesítési záradék / Authentication clause")
    pdf.add_page()
    pdf.set_font("DejaVu", "B", 16)
    pdf.multi_cell(0, 9, "Hitelesítési záradék (AVDH)", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("DejaVu", "", 11)
    original = clause.original
    when = clause.at.astimezone(BUDAPEST).strftime("%Y-%m-%d %H:%M:%S %Z")
    office = f", {clause.office} nevében" if clause.office else ""
    office_en = f", for {clause.office}" if clause.office else ""
    hungarian = (
        f"Ezt a dokumentumot {clause.person_name} ({clause.username}){office} hitelesítette "
        f"azonosításra visszavezetett dokumentumhitelesítéssel (AVDH) {when} időpontban.\n"
        f"Az eredeti fájl változatlanul csatolva van ehhez a PDF-hez.\n"
        f"Fájlnév: {original.file_name}\nMéret: {original.size} bájt\n"
        f"SHA-256: {original.sha256}\nEllenőrzés: {clause.verify_url}"
    )
    english = (
        f"This document was authenticated by {clause.person_name} ({clause.username})"
        f"{office_en} with identity-based document authentication (AVDH) at {when}.\n"
        f"The original file is attached to this PDF unchanged.\n"
        f"File name: {original.file_name}\nSize: {original.size} bytes\n"
        f"SHA-256: {original.sha256}\nCheck: {clause.verify_url}"
    )
    pdf.multi_cell(0, 6, hungarian, new_x="LMARGIN", new_y="NEXT")
    pdf.ln(6)
    pdf.set_font("DejaVu", "B", 14)
    pdf.multi_cell(0, 8, "Authentication clause", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("DejaVu", "", 11)
    pdf.multi_cell(0, 6, english, new_x="LMARGIN", new_y="NEXT")
    return bytes(pdf.output())


def _sha256_of(stream: BinaryIO, size: int | None = None) -> str:
    digest = hashlib.sha256()
    remaining = size
    while remaining is None or remaining > 0:
        chunk = stream.read(_CHUNK if remaining is None else min(_CHUNK, remaining))
        if not chunk:
            break
        digest.update(chunk)
        if remaining is not None:
            remaining -= len(chunk)
    return digest.hexdigest()


@dataclass(frozen=True)
class AvdhSeal:
    """The AVDH seal key and certificate, the CA above them, the gateway's TSA, and the
    size up to which a PDF is signed as it is."""

    key: SigningKey
    certificate: x509.Certificate
    ca_certificate: x509.Certificate
    timestamp: Timestamp
    pdf_max_bytes: int = 20 * 1024 * 1024

    def authenticate(self, source: Path, clause: Clause, output: BinaryIO, *,
                     media_type: str) -> Kind:
        """Write the hitelesített PDF of ``source`` (the original, ``clause.original``) to
        ``output``; ``media_type`` is the original's MIME type for the embedded file.
        Raises ``PdfRefused`` for an encrypted or unreadable PDF."""
        with source.open("rb") as original:
            if (original.read(5) == b"%PDF-"
                    and source.stat().st_size <= self.pdf_max_bytes):
                original.seek(0)
                writer = self._readable(original)
                if writer is not None:
                    self._sign(writer, clause, output, REASON_AS_IS,
                               self._stamp_box(writer))
                    return Kind.SIGNED_AS_IS
        self._embed_and_sign(source, clause, output, media_type)
        return Kind.EMBEDDED

    def seal(self, source: BinaryIO, clause: Clause, output: BinaryIO) -> None:
        """Sign a PDF as it is (an incremental update), the záradék as the visible stamp."""
        writer = self._readable(source)
        if writer is None:
            raise PdfRefused("the PDF cannot be read")
        self._sign(writer, clause, output, REASON_AS_IS, SEALED_STAMP_BOX)

    @staticmethod
    def _readable(source: BinaryIO) -> IncrementalPdfFileWriter | None:
        """A writer over the PDF, or None when pyHanko cannot read it. Encrypted: refused."""
        try:
            writer = IncrementalPdfFileWriter(source, strict=False)
            encrypted = writer.prev.encrypted
            if not encrypted:
                writer.prev.find_page_for_modification(0)  # type: ignore[no-untyped-call]
        except _UNREADABLE:
            return None
        if encrypted:
            raise PdfRefused("the PDF is password-protected (encrypted); save it without a "
                             "password and try again")
        return writer

    def _embed_and_sign(self, source: Path, clause: Clause, output: BinaryIO,
                        media_type: str) -> None:
        writer = IncrementalPdfFileWriter(io.BytesIO(_clause_page(clause)))
        # Stored as given (no compression): the bytes are the original's, and compressing a
        # large file would cost a second copy in memory.
        embedded = embed.EmbeddedFileObject.from_file_data(
            writer, source.read_bytes(), compress=False,
            params=embed.EmbeddedFileParams(embed_size=True, embed_checksum=False),
            mime_type=media_type)
        name = clause.original.file_name
        embed.embed_file(writer, embed.FileSpec(
            file_spec_string=name, file_name=name, embedded_data=embedded,
            description="Az eredeti fájl / The original file",
            af_relationship=generic.pdf_name("/Source")))
        self._sign(writer, clause, output, REASON_EMBEDDED, self._stamp_box(writer))

    def _sign(self, writer: IncrementalPdfFileWriter, clause: Clause, output: BinaryIO,
              reason: str, box: tuple[int, int, int, int]) -> None:
        at = clause.at
        field_name = f"AVDH-{at.astimezone(BUDAPEST):%Y%m%dT%H%M%S}"
        metadata = signers.PdfSignatureMetadata(
            field_name=field_name, md_algorithm="sha256", subfilter=SigSeedSubFilter.PADES,
            name=_who(clause), reason=reason + clause.original.file_name,
            location="Kapu (AVDH)")
        signer = _LoadedKeySigner(
            self.key,
            signing_cert=asn1_x509.Certificate.load(
                self.certificate.public_bytes(serialization.Encoding.DER)),
            signing_key=asn1_keys.PrivateKeyInfo.load(self.key.private_bytes(
                serialization.Encoding.DER, serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption())),
            cert_registry=SimpleCertificateStore.from_certs([self._ca_asn1()]))  # type: ignore[no-untyped-call]
        # "%" is the stamp's own placeholder mark: a file name's % is written as %%.
        text = "\n".join(_clause_lines(clause)).replace("%", "%%")
        style = TextStampStyle(
            stamp_text=text, border_width=1,
            text_box_style=TextBoxStyle(font=_DejaVuFactory(
                str(FONTS / "DejaVuSans.ttf"), font_size=10)))
        pdf_signer = _DatedPdfSigner(
            metadata, signer=signer, timestamper=_GatewayTimeStamper(self.timestamp, at),
            stamp_style=style,
            new_field_spec=SigFieldSpec(sig_field_name=field_name, on_page=0, box=box),
            at=at)
        pdf_signer.sign_pdf(writer, output=output)

    @staticmethod
    def _stamp_box(writer: IncrementalPdfFileWriter) -> tuple[int, int, int, int]:
        """The lower left corner of page 1, as wide as the page allows: a PDF the gateway did
        not lay out has no room kept free, and its foot is where text is least likely."""
        page, _ = writer.prev.find_page_for_modification(0)  # type: ignore[no-untyped-call]
        node = page.get_object()
        while "/MediaBox" not in node and "/Parent" in node:  # inherited from the page tree
            node = node["/Parent"].get_object()
        left, bottom, right, _top = (float(v) for v in node.get("/MediaBox", (0, 0, 595, 842)))
        width = min(300.0, right - left - 20)
        return (int(left + 10), int(bottom + 10), int(left + 10 + width),
                int(bottom + 10 + width * 0.4))

    def _ca_asn1(self) -> asn1_x509.Certificate:
        return asn1_x509.Certificate.load(
            self.ca_certificate.public_bytes(serialization.Encoding.DER))

    def verify(self, source: Path, *, at: datetime) -> Verdict:
        """Check ``source`` against the gateway CA at the moment ``at`` (the gateway's clock).
        Raises ``NotAPdf`` for a file that is not a PDF at all."""
        with source.open("rb") as stream:
            if stream.read(5) != b"%PDF-":
                raise NotAPdf("not a PDF")
            stream.seek(0)
            whole = _sha256_of(stream)
            stream.seek(0)

            def verdict(reason: Reason | None, by: str | None = None,
                        when: datetime | None = None,
                        original: Original | None = None) -> Verdict:
                return Verdict(valid=reason is None, reason=reason, authenticated_by=by,
                               authenticated_at=when, original=original, sha256=whole)

            try:
                reader = PdfFileReader(stream, strict=False)
                signatures = reader.embedded_signatures
            except _UNREADABLE:
                signatures = None
            if not signatures:
                # A file that names a signed byte range but cannot be read was changed.
                changed = signatures is None and _mentions_byte_range(source)
                return verdict(Reason.CHANGED_AFTER_SIGNING if changed else Reason.NOT_SIGNED)
            signature = signatures[-1]
            try:
                status = asyncio.run(self._validate(signature, at))
            except _UNREADABLE:
                return verdict(Reason.CHANGED_AFTER_SIGNING)
            by = _text(signature.sig_object.get("/Name"))
            if not (status.intact and status.valid):
                return verdict(Reason.CHANGED_AFTER_SIGNING, by)
            # Trusted, and by the AVDH seal: not another certificate of the gateway's CA.
            if not status.trusted or status.signing_cert.subject.native != self._seal_subject():
                return verdict(Reason.SIGNED_BY_SOMEONE_ELSE, by)
            if (status.coverage != SignatureCoverageLevel.ENTIRE_FILE
                    or status.modification_level not in (None, ModificationLevel.NONE)):
                return verdict(Reason.CHANGED_AFTER_SIGNING, by)
            stamp = status.timestamp_validity
            if stamp is None:
                return verdict(Reason.TIMESTAMP_MISSING, by)
            if not (stamp.intact and stamp.valid):
                return verdict(Reason.CHANGED_AFTER_SIGNING, by)
            if not stamp.trusted:
                return verdict(Reason.SIGNED_BY_SOMEONE_ELSE, by)
            reason = _text(signature.sig_object.get("/Reason")) or ""
            try:
                original = (_embedded_original(reader, reason[len(REASON_EMBEDDED):])
                            if reason.startswith(REASON_EMBEDDED)
                            else _first_revision(reader, signature, stream,
                                                 reason.removeprefix(REASON_AS_IS)))
            except _UNREADABLE:
                original = None
            return verdict(None, by, stamp.timestamp, original)

    def _seal_subject(self) -> Any:
        return asn1_x509.Certificate.load(
            self.certificate.public_bytes(serialization.Encoding.DER)).subject.native

    async def _validate(self, signature: EmbeddedPdfSignature, at: datetime) -> Any:
        context = ValidationContext(trust_roots=[self._ca_asn1()], allow_fetching=False,
                                    moment=at, revocation_mode="soft-fail")
        return await async_validate_pdf_signature(
            signature, signer_validation_context=context, ts_validation_context=context)


def _text(value: object) -> str | None:
    return str(value) if value is not None else None


def _mentions_byte_range(source: Path) -> bool:
    with source.open("rb") as stream:
        tail = b""
        while chunk := stream.read(_CHUNK):
            if b"/ByteRange" in tail + chunk:
                return True
            tail = chunk[-16:]
    return False


def _embedded_original(reader: PdfFileReader, file_name: str) -> Original | None:
    """The embedded file the záradék page stands for (AFRelationship /Source)."""
    names = reader.root["/Names"]["/EmbeddedFiles"]["/Names"]
    for index in range(1, len(names), 2):
        spec = names[index].get_object()
        if spec.get("/AFRelationship") != "/Source":
            continue
        name = _text(spec.get("/UF") or spec.get("/F"))
        data = spec["/EF"]["/F"].get_object().data
        return Original(file_name=name or file_name, size=len(data),
                        sha256=hashlib.sha256(data).hexdigest())
    return None


_EOF = re.compile(rb"%%EOF[\r\n]*")


def _first_revision(reader: PdfFileReader, signature: EmbeddedPdfSignature, stream: BinaryIO,
                    file_name: str) -> Original | None:
    """The PDF as it was before the signature's revision: the bytes up to the end of the
    previous revision's %%EOF line (the incremental update follows it)."""
    revision = signature.signed_revision
    if revision < 1:
        return None
    starts = [reader.xrefs.get_xref_container_info(revision).start_location]
    for ref in reader.xrefs.explicit_refs_in_revision(revision):
        where = reader.xrefs.get_historical_ref(ref, revision)
        if isinstance(where, int):
            starts.append(where)
    first_new = min(starts)
    stream.seek(0)
    head = stream.read(first_new)
    ends = [match.end() for match in _EOF.finditer(head)]
    if not ends:
        return None
    size = ends[-1]
    return Original(file_name=file_name, size=size,
                    sha256=hashlib.sha256(head[:size]).hexdigest())
