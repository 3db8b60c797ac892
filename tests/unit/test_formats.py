import io
import zipfile

import pytest

from gateway.domain.formats import content_matches, extension_of, is_allowed

PDF = b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj\n"
PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + b"\x00" * 32
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + b"\x00" * 32
TIFF = b"II*\x00\x08\x00\x00\x00" + b"\x00" * 32
OLE2 = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 600


def _zip(name: str) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr(name, "x")
    return buffer.getvalue()


DOCX = _zip("[Content_Types].xml")
PLAIN_ZIP = _zip("word/document.xml")


@pytest.mark.parametrize(("name", "head"), [
    ("a.pdf", PDF), ("A.PDF", PDF), ("scan.png", PNG), ("photo.jpg", JPEG),
    ("photo.jpeg", JPEG), ("scan.tif", TIFF), ("scan.tiff", TIFF), ("a.docx", DOCX),
    ("a.docx", PLAIN_ZIP), ("a.xlsx", PLAIN_ZIP), ("a.odt", PLAIN_ZIP), ("a.ods", DOCX),
    ("old.doc", OLE2), ("old.xls", OLE2),
    # formats without a checked signature take any content
    ("a.txt", b"anything"), ("a.xml", b"<a/>"), ("a.kr", b"\x00"), ("a.mp3", b""),
])
def test_matching_content(name: str, head: bytes) -> None:
    assert is_allowed(name)
    assert content_matches(name, head)


@pytest.mark.parametrize(("name", "head"), [
    ("a.pdf", b"plain text"), ("a.pdf", PNG), ("a.png", JPEG), ("a.jpg", PDF),
    ("a.tif", PDF), ("a.docx", PDF), ("a.docx", OLE2), ("a.doc", DOCX), ("a.xls", b""),
    ("a.pdf", b""),
])
def test_mismatching_content(name: str, head: bytes) -> None:
    assert not content_matches(name, head)


@pytest.mark.parametrize("name", ["a.exe", "a.html", "README", ".pdf", "a.pdf.zip", "a.js"])
def test_not_allowed(name: str) -> None:
    assert not is_allowed(name)


def test_extension_of() -> None:
    assert extension_of("Határozat.Final.PDF") == "pdf"
    assert extension_of(".pdf") == ""
    assert extension_of("noext") == ""
