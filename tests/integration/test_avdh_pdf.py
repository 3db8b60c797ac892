"""AVDH (contract 23): hitelesített PDFs made by AvdhSeal, checked by the real pdfsig,
pdfdetach and pdftotext and by AvdhSeal.verify (pyHanko's validator)."""

from __future__ import annotations

import hashlib
import io
import random
import zipfile
from datetime import timedelta
from pathlib import Path

import pytest
from asn1crypto import keys as asn1_keys
from asn1crypto import x509 as asn1_x509
from cryptography.hazmat.primitives import serialization
from fpdf import FPDF
from PIL import Image
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign import signers
from pyhanko.sign.fields import SigSeedSubFilter

from gateway.crypto.avdh import AvdhSeal, _DatedPdfSigner
from gateway.crypto.keys import GatewayKeys, ensure_keys
from gateway.crypto.timestamps import TimestampAuthority
from gateway.domain.authentication import Clause, Kind, NotAPdf, Original, PdfRefused, Reason
from gateway.pdf.beadvany import BeadvanyRenderer
from gateway.services.epapir import BEADVANY_FILE_NAME
from tests.conftest import TEST_EPOCH
from tests.integration.test_beadvany import _pages, _submission
from tests.pdf_tools import (
    Box,
    nss_trusting,
    overlap,
    pdfdetach_all,
    pdfsig,
    pdftotext,
    signature_holds,
    words_on_page,
)

AT = TEST_EPOCH + timedelta(hours=2)
FOOTER_TOP = 15 * 72 / 25.4  # the beadvány's page number is within 15 mm of the foot
PERSON = "Kőrösi Űrsula"


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> GatewayKeys:
    made, _ = ensure_keys(tmp_path_factory.mktemp("keys"), now=TEST_EPOCH - timedelta(days=1))
    return made


def _seal(keys: GatewayKeys, pdf_max_bytes: int = 20 * 1024 * 1024) -> AvdhSeal:
    return AvdhSeal(keys.avdh_key, keys.avdh_cert, keys.ca_cert,
                    TimestampAuthority(keys.tsa_key, keys.tsa_cert).timestamp, pdf_max_bytes)


@pytest.fixture(scope="module")
def nss(keys: GatewayKeys, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return nss_trusting(keys.ca_pem, tmp_path_factory.mktemp("nss"))


def _pdf(text: str = "Hello original") -> bytes:
    pdf = FPDF()
    pdf.set_compression(False)  # the text stays findable, to change one byte of it
    pdf.set_creation_date(TEST_EPOCH)
    pdf.add_page()
    pdf.set_font("helvetica", size=12)
    pdf.cell(text=text)
    return bytes(pdf.output())


def _docx() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("[Content_Types].xml", '<?xml version="1.0"?><Types xmlns="http://'
                         'schemas.openxmlformats.org/package/2006/content-types"/>')
        archive.writestr("word/document.xml", "<w:document/>")
    return buffer.getvalue()


def _png() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (8, 8), (200, 30, 30)).save(buffer, format="PNG")
    return buffer.getvalue()


def _clause(name: str, data: bytes, office: str | None = None) -> Clause:
    return Clause(person_name=PERSON, username="korosi", office=office, at=AT,
                  original=Original(name, len(data), hashlib.sha256(data).hexdigest()),
                  verify_url="http://127.0.0.1:8080/ui/verify")


def _authenticate(seal: AvdhSeal, directory: Path, name: str, data: bytes,
                  media_type: str, office: str | None = None) -> tuple[Path, Kind]:
    directory.mkdir(parents=True, exist_ok=True)
    source = directory / name
    source.write_bytes(data)
    result = directory / (name + ".hiteles.pdf")
    with result.open("w+b") as output:
        kind = seal.authenticate(source, _clause(name, data, office), output,
                                 media_type=media_type)
    return result, kind


def _flip(path: Path, marker: bytes) -> Path:
    """A copy with one byte of ``marker`` (inside the signed range) changed."""
    data = bytearray(path.read_bytes())
    where = data.index(marker)
    data[where] ^= 0x01
    changed = path.with_suffix(".changed.pdf")
    changed.write_bytes(bytes(data))
    return changed


def test_a_pdf_is_signed_as_it_is_and_pdfsig_and_pyhanko_agree(
    keys: GatewayKeys, nss: Path, tmp_path: Path
) -> None:
    original = _pdf()
    result, kind = _authenticate(_seal(keys), tmp_path, "level.pdf", original,
                                 "application/pdf")
    assert kind is Kind.SIGNED_AS_IS
    signed = result.read_bytes()
    assert signed[:len(original)] == original and len(signed) > len(original)
    assert signature_holds(pdfsig(result, nss))
    verdict = _seal(keys).verify(result, at=AT + timedelta(days=1))
    assert verdict.valid and verdict.reason is None
    assert verdict.authenticated_at == AT
    assert verdict.authenticated_by == f"{PERSON} (korosi)"
    assert verdict.original == Original("level.pdf", len(original),
                                        hashlib.sha256(original).hexdigest())
    assert verdict.sha256 == hashlib.sha256(signed).hexdigest()
    # The záradék is the visible stamp on page 1, ő and ű included.
    assert PERSON in pdftotext(result)

    changed = _flip(result, b"Hello original")
    assert not any("Signature is Valid" in line for line in pdfsig(changed, nss))
    broken = _seal(keys).verify(changed, at=AT + timedelta(days=1))
    assert not broken.valid and broken.reason is Reason.CHANGED_AFTER_SIGNING


@pytest.mark.parametrize(("name", "make", "media_type"), [
    ("szerződés.docx", _docx,
     "application/vnd.openxmlformats-officedocument.wordprocessingml.document"),
    ("fénykép.png", _png, "image/png"),
])
def test_other_formats_are_embedded_unchanged_in_a_new_signed_pdf(
    keys: GatewayKeys, nss: Path, tmp_path: Path, name: str, make: object, media_type: str
) -> None:
    assert callable(make)
    data: bytes = make()
    result, kind = _authenticate(_seal(keys), tmp_path, name, data, media_type,
                                 office="Próba Hivatal (KRID 123456789)")
    assert kind is Kind.EMBEDDED
    assert signature_holds(pdfsig(result, nss))
    assert pdfdetach_all(result, tmp_path / "out") == {name: data}
    text = pdftotext(result)
    assert PERSON in text and "Próba Hivatal" in text and hashlib.sha256(data).hexdigest() in text
    verdict = _seal(keys).verify(result, at=AT)
    assert verdict.valid
    assert verdict.original == Original(name, len(data), hashlib.sha256(data).hexdigest())
    assert verdict.authenticated_by == f"{PERSON} (korosi) — Próba Hivatal (KRID 123456789)"


def test_a_changed_byte_of_an_embedded_original_breaks_the_signature(
    keys: GatewayKeys, nss: Path, tmp_path: Path
) -> None:
    data = b"az eredeti sz\xc3\xb6veg / the original text\n"
    result, kind = _authenticate(_seal(keys), tmp_path, "level.txt", data, "text/plain")
    assert kind is Kind.EMBEDDED
    assert signature_holds(pdfsig(result, nss))
    changed = _flip(result, b"the original text")
    assert not any("Signature is Valid" in line for line in pdfsig(changed, nss))
    assert _seal(keys).verify(changed, at=AT).reason is Reason.CHANGED_AFTER_SIGNING


def test_a_45_mib_original_comes_out_byte_identical(
    keys: GatewayKeys, nss: Path, tmp_path: Path
) -> None:
    data = random.Random(29).randbytes(45 * 1024 * 1024)
    result, kind = _authenticate(_seal(keys), tmp_path, "nagy.txt", data, "text/plain")
    assert kind is Kind.EMBEDDED
    assert pdfdetach_all(result, tmp_path / "out")["nagy.txt"] == data
    assert signature_holds(pdfsig(result, nss))


def test_a_pdf_over_the_as_is_limit_is_embedded(keys: GatewayKeys, tmp_path: Path) -> None:
    original = _pdf()
    result, kind = _authenticate(_seal(keys, pdf_max_bytes=len(original) - 1), tmp_path,
                                 "nagy.pdf", original, "application/pdf")
    assert kind is Kind.EMBEDDED
    assert pdfdetach_all(result, tmp_path / "out") == {"nagy.pdf": original}


def test_an_encrypted_pdf_is_refused_saying_why(keys: GatewayKeys, tmp_path: Path) -> None:
    pdf = FPDF()
    pdf.set_encryption(owner_password="tulaj", user_password="titok")
    pdf.add_page()
    pdf.set_font("helvetica", size=12)
    pdf.cell(text="titkos")
    with pytest.raises(PdfRefused, match="encrypted"):
        _authenticate(_seal(keys), tmp_path, "titkos.pdf", bytes(pdf.output()),
                      "application/pdf")


def test_verify_names_what_is_wrong(keys: GatewayKeys, tmp_path: Path) -> None:
    other, _ = ensure_keys(tmp_path / "other-ca", now=TEST_EPOCH - timedelta(days=1))
    foreign, _ = _authenticate(_seal(other), tmp_path / "other", "level.pdf", _pdf(),
                               "application/pdf")
    assert _seal(keys).verify(foreign, at=AT).reason is Reason.SIGNED_BY_SOMEONE_ELSE
    assert _seal(other).verify(foreign, at=AT).valid  # the same file, its own CA's

    plain = tmp_path / "plain.pdf"
    plain.write_bytes(_pdf())
    unsigned = _seal(keys).verify(plain, at=AT)
    assert not unsigned.valid and unsigned.reason is Reason.NOT_SIGNED
    assert unsigned.sha256 == hashlib.sha256(plain.read_bytes()).hexdigest()

    picture = tmp_path / "kep.pdf"
    picture.write_bytes(_png())
    with pytest.raises(NotAPdf):
        _seal(keys).verify(picture, at=AT)

    # Our seal, but no signature timestamp.
    untimed = tmp_path / "untimed.pdf"
    seal = _seal(keys)
    simple = signers.SimpleSigner(
        signing_cert=asn1_x509.Certificate.load(
            keys.avdh_cert.public_bytes(serialization.Encoding.DER)),
        signing_key=asn1_keys.PrivateKeyInfo.load(keys.avdh_key.private_bytes(
            serialization.Encoding.DER, serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption())),
        cert_registry=None)
    with untimed.open("w+b") as output:
        _DatedPdfSigner(
            signers.PdfSignatureMetadata(field_name="Untimed", md_algorithm="sha256",
                                     subfilter=SigSeedSubFilter.PADES, name="valaki"),
            signer=simple, at=AT,
        ).sign_pdf(IncrementalPdfFileWriter(io.BytesIO(_pdf())), output=output)
    verdict = seal.verify(untimed, at=AT)
    assert not verdict.valid and verdict.reason is Reason.TIMESTAMP_MISSING


def _stamp_rect(pdf: Path) -> tuple[Box, float]:
    """The signature widget's /Rect on page 1, and the page's height."""
    with pdf.open("rb") as stream:
        reader = PdfFileReader(stream, strict=False)
        page, _ = reader.find_page_for_modification(0)  # type: ignore[no-untyped-call]
        page = page.get_object()
        [rect] = [tuple(float(v) for v in annotation.get_object()["/Rect"])
                  for annotation in page.get("/Annots", [])
                  if annotation.get_object().get("/FT") == "/Sig"]
        node = page
        while "/MediaBox" not in node:  # inherited from the page tree, as fpdf2 writes it
            node = node["/Parent"].get_object()
        height = float(node["/MediaBox"][3])
    assert len(rect) == 4
    return (rect[0], rect[1], rect[2], rect[3]), height


@pytest.mark.parametrize("text", [
    "Tisztelt Hivatal! Kérem az ügyem intézését.",
    # Page 1 full to its foot, and three pages after it.
    " ".join(f"szó{number}ű" for number in range(1500)),
])
def test_the_stamp_of_a_sealed_beadvany_covers_neither_its_text_nor_its_page_number(
    keys: GatewayKeys, nss: Path, tmp_path: Path, text: str
) -> None:
    unsealed, sealed = tmp_path / "beadvany.pdf", tmp_path / "hiteles.pdf"
    with unsealed.open("wb") as output:
        BeadvanyRenderer().render(_submission(text), [], output)
    data = unsealed.read_bytes()
    with unsealed.open("rb") as source, sealed.open("wb") as output:
        _seal(keys).seal(source, _clause(BEADVANY_FILE_NAME, data), output)
    assert signature_holds(pdfsig(sealed, nss))
    stamp, height = _stamp_rect(sealed)

    # What the beadvány drew on page 1 (the stamp is an annotation over it): none of it under
    # the stamp, the page number least of all.
    content = words_on_page(unsealed, 1, height)
    footer = [(word, box) for word, box in content if box[3] < FOOTER_TOP]
    assert [word for word, _ in footer] == ["1", "/", str(_pages(unsealed))]
    assert [word for word, box in footer if overlap(stamp, box)] == []
    assert [word for word, box in content if overlap(stamp, box)] == []
    # The stamp's own words, which pdftotext finds on the sealed page, are where its /Rect is.
    drawn = [(word, box) for word, box in words_on_page(sealed, 1, height)
             if (word, box) not in content]
    assert any(PERSON in word for word, _ in drawn)
    assert all(stamp[0] <= box[0] and box[2] <= stamp[2]
               and stamp[1] <= box[1] and box[3] <= stamp[3] for _, box in drawn)


def test_the_stamp_of_a_pdf_signed_as_it_is_stays_in_its_lower_left_corner(
    keys: GatewayKeys, tmp_path: Path
) -> None:
    result, kind = _authenticate(_seal(keys), tmp_path, "level.pdf", _pdf(), "application/pdf")
    assert kind is Kind.SIGNED_AS_IS
    assert _stamp_rect(result)[0] == (10, 10, 310, 130)
