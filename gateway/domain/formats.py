"""Which document formats the gateway takes, and whether content matches its extension.

The list is the one every KR-connected office must accept (docs/rest-api.md). Signature
detection is the ``filetype`` library's; this module only says which detected types count as
the same family as an extension (an OOXML file that does not start with
``[Content_Types].xml`` is still a valid zip, so the zip family is accepted for ``.docx``).
"""

from __future__ import annotations

import filetype
from filetype.types import Type

# In the order people read them (the send form names them); ALLOWED_EXTENSIONS is the check.
ALLOWED_FORMATS = tuple(
    "txt pdf docx doc odt xlsx xls ods tif tiff jpg jpeg png mp4 m4a mpeg mpg mp3 wav kr krx xml"
    .split()
)
ALLOWED_EXTENSIONS = frozenset(ALLOWED_FORMATS)
# How many leading bytes the detector looks at (filetype reads at most 8192).
HEAD_BYTES = 8192

_ZIP_FAMILY = frozenset({"zip", "docx", "xlsx", "pptx", "odt", "ods", "odp", "epub"})
_OLE2_FAMILY = frozenset({"ole2", "doc", "xls", "ppt"})

# Extensions whose format has a signature, and the detected types that satisfy it.
_SIGNATURES: dict[str, frozenset[str]] = {
    "pdf": frozenset({"pdf"}),
    "png": frozenset({"png", "apng"}),
    "jpg": frozenset({"jpg"}),
    "jpeg": frozenset({"jpg"}),
    "tif": frozenset({"tif"}),
    "tiff": frozenset({"tif"}),
    "docx": _ZIP_FAMILY,
    "xlsx": _ZIP_FAMILY,
    "odt": _ZIP_FAMILY,
    "ods": _ZIP_FAMILY,
    "doc": _OLE2_FAMILY,
    "xls": _OLE2_FAMILY,
}


class _Ole2Compound(Type):  # type: ignore[misc]
    """Any OLE2 compound file. filetype only knows Word/Excel/PowerPoint by their inner
    streams, and older writers lay those out differently, so we add the container itself."""

    def __init__(self) -> None:
        super().__init__(mime="application/x-ole-storage", extension="ole2")

    def match(self, buf: bytes) -> bool:
        return buf[:8] == b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"


# filetype's add_type puts it first; any OLE2 file then reads as "ole2", which is the family
# that doc and xls accept anyway.
filetype.add_type(_Ole2Compound())


def extension_of(file_name: str) -> str:
    """Lower-case extension without the dot, or ``""``."""
    stem, dot, extension = file_name.rpartition(".")
    return extension.lower() if dot and stem else ""


def is_allowed(file_name: str) -> bool:
    return extension_of(file_name) in ALLOWED_EXTENSIONS


def content_matches(file_name: str, head: bytes) -> bool:
    """True unless the extension has a signature and ``head`` (the first bytes) lacks it."""
    expected = _SIGNATURES.get(extension_of(file_name))
    if expected is None:
        return True
    detected = filetype.guess_extension(head)
    return detected in expected
