"""The DejaVu fonts Kapu draws its PDFs with (the záradék page, the AVDH stamp, the e-Papír
beadvány; licence in LICENSE), cut once per process to the scripts a Hungarian office meets:
Latin (ő and ű among it), Greek, Cyrillic, and common punctuation and symbols.

Why cut: fpdf2 reads every glyph of a font it is given and pyHanko subsets the stamp's font
for every signature, so DejaVu's 6,000 glyphs cost most of an authentication's time (about
0.35 of 0.6 s on the reference machine). A character outside these scripts (a CJK file name)
is drawn as the font's empty box on the stamp, and as its code point on the pages
(pdf/beadvany.py); the record and the embedded files keep it whole."""

from __future__ import annotations

import atexit
import functools
import io
import shutil
import tempfile
from pathlib import Path

from fontTools import subset
from fontTools.ttLib import TTFont
from fontTools.ttLib.scaleUpem import scale_upem

HERE = Path(__file__).resolve().parent
FILES = {"": "DejaVuSans.ttf", "B": "DejaVuSans-Bold.ttf"}
CHARACTERS = [*range(0x20, 0x250), *range(0x370, 0x530), *range(0x2000, 0x2070),
              *range(0x2100, 0x2200), 0x20AC]


def _cut(style: str) -> TTFont:
    font = TTFont(HERE / FILES[style])
    options = subset.Options()
    options.notdef_outline = True
    options.name_IDs = ["*"]
    options.layout_features = ["*"]
    # FontForge's timestamp table: fontTools cannot subset it and says so at every signature.
    options.drop_tables = [*options.drop_tables, "FFTM"]
    subsetter = subset.Subsetter(options)
    subsetter.populate(unicodes=CHARACTERS)
    subsetter.subset(font)
    return font


@functools.cache
def font_file(style: str = "") -> Path:
    """The cut font of ``style`` ("" or "B") as a file, for fpdf2 (which reads fonts from
    files); written once per process into a directory removed when it ends."""
    directory = Path(tempfile.mkdtemp(prefix="kapu-fonts-"))
    atexit.register(shutil.rmtree, directory, True)
    path = directory / FILES[style]
    _cut(style).save(path)
    return path


@functools.cache
def stamp_font() -> bytes:
    """The cut regular font scaled to 1000 units per em, for pyHanko's stamp: pyHanko writes
    glyph widths (/W) in the font's own units, which a PDF reads as thousandths of an em, so
    DejaVu's 2048 set every letter twice its width apart."""
    font = _cut("")
    scale_upem(font, 1000)
    scaled = io.BytesIO()
    font.save(scaled)
    return scaled.getvalue()
