"""The e-Papír beadvány (contract 24): the subject and text on pages with the sender, the
office, the topic and the time, and the attachments embedded unchanged. The service seals the
result with AVDH afterwards (crypto/avdh.py).

fpdf2 lays out the pages (with the DejaVu fonts shipped in ``gateway/fonts``, which have ő and
ű); pyHanko then embeds the attachments as PDF embedded files in an incremental update, which
fpdf2 cannot do with a MIME type and an ``/AF`` relationship."""

from __future__ import annotations

from io import BytesIO
from typing import BinaryIO
from zoneinfo import ZoneInfo

from fpdf import FPDF
from fpdf.enums import XPos, YPos
from fpdf.fonts import TTFFont
from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.embed import EmbeddedFileObject, EmbeddedFileParams, FileSpec, embed_file
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter

from gateway.crypto.avdh import SEALED_STAMP_BOX
from gateway.domain.epapir import Submission, SubmissionAttachment
from gateway.fonts import font_file

FONT = "DejaVu"
BUDAPEST = ZoneInfo("Europe/Budapest")
_POINT_MM = 25.4 / 72
# The text stops this far above the foot: on page 1, above the AVDH stamp (with a little air),
# which sits above the page-number footer; on the other pages, above the footer.
PAGE_ONE_MARGIN_MM = (SEALED_STAMP_BOX[3] + 8) * _POINT_MM
MARGIN_MM = 20.0


class _Pages(FPDF):
    """A4 pages numbered "page / pages" at the foot."""

    def __init__(self) -> None:
        super().__init__(format="A4", unit="mm")
        self.add_font(FONT, "", str(font_file("")))
        self.add_font(FONT, "B", str(font_file("B")))
        font = self.fonts[FONT.lower()]
        assert isinstance(font, TTFFont)
        self.glyphs = frozenset(font.cmap)

    def drawable(self, text: str) -> str:
        """``text`` as the font can draw it: tabs as spaces, and a character the font has no
        glyph for (a CJK ideograph, say) as its code point, ``[U+6F22]``, never dropped."""
        return "".join(
            character if character == "\n" or ord(character) in self.glyphs
            else f"[U+{ord(character):04X}]" for character in text.expandtabs(4))

    def header(self) -> None:
        # Page 1 keeps its foot free for the stamp; the pages after it need no such room.
        self.set_auto_page_break(auto=True,
                                 margin=PAGE_ONE_MARGIN_MM if self.page_no() == 1 else MARGIN_MM)

    def footer(self) -> None:
        self.set_y(-15)
        self.set_font(FONT, size=8)
        self.cell(0, 10, f"{self.page_no()} / {{nb}}", align="C")


def _pages(submission: Submission) -> _Pages:
    pdf = _Pages()
    # The file's dates are the submission's (the gateway's clock), never the machine's.
    pdf.set_creation_date(submission.at)
    pdf.set_title(f"e-Papír: {submission.subject}")
    pdf.set_lang("hu")
    pdf.alias_nb_pages()
    pdf.add_page()
    return pdf


def _heading(pdf: FPDF, text: str, size: float) -> None:
    pdf.set_font(FONT, "B", size)
    pdf.multi_cell(0, size * 0.5, text, align="L", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.ln(2)


def _field(pdf: _Pages, label: str, value: str) -> None:
    """One labelled value: the label (Hungarian / English) on its line, the value below."""
    pdf.set_font(FONT, "B", 8)
    pdf.multi_cell(0, 4, label, align="L", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_font(FONT, "", 11)
    pdf.multi_cell(0, 5.5, pdf.drawable(value), align="L", new_x=XPos.LMARGIN,
                   new_y=YPos.NEXT)
    pdf.ln(1.5)


def embedded_names(attachments: list[SubmissionAttachment]) -> list[str]:
    """Each attachment's name in the PDF's ``/EmbeddedFiles`` name tree, in order: its own,
    or for a name already taken (letter case aside, as a reader saving them into one folder
    on Windows would collide) the same with `` (2)``, `` (3)``… before the extension, so that
    two ``level.txt`` both come out of the PDF: ``level.txt`` and ``level (2).txt``."""
    taken: set[str] = set()
    names: list[str] = []
    for attachment in attachments:
        name = attachment.file_name
        stem, dot, extension = name.rpartition(".")
        if not stem:  # no extension, or a name like ".txt": the number goes at the end
            stem, dot, extension = name, "", ""
        number = 1
        while name.casefold() in taken:
            number += 1
            name = f"{stem} ({number}){dot}{extension}"
        taken.add(name.casefold())
        names.append(name)
    return names


def _size(size: int) -> str:
    return f"{size:,} bájt / bytes".replace(",", " ")


def _write_pages(pdf: _Pages, submission: Submission,
                 attachments: list[SubmissionAttachment], names: list[str]) -> None:
    _heading(pdf, "e-Papír beadvány / e-Papír submission", 16)
    sender = submission.sender_name
    _field(pdf, "Beküldő / Sender", f"{sender}\n{submission.sender_address}")
    if submission.acting_person:
        _field(pdf, "Eljáró személy / Acting person", submission.acting_person)
    _field(pdf, "Címzett hivatal / Office",
           f"{submission.office_name} (KRID {submission.office_krid})")
    _field(pdf, "Témacsoport / Topic", f"{submission.topic_code} – {submission.topic_name}")
    local = submission.at.astimezone(BUDAPEST)
    offset = f"{local:%z}"
    _field(pdf, "Időpont / Time",
           f"{local:%Y-%m-%d %H:%M:%S} (UTC{offset[:3]}:{offset[3:]}, Europe/Budapest)")
    if submission.reference_number:
        _field(pdf, "Hivatkozási szám / Reference number", submission.reference_number)
    _field(pdf, "Tárgy / Subject", submission.subject)

    pdf.ln(2)
    _heading(pdf, "Szöveg / Text", 12)
    pdf.set_font(FONT, "", 11)
    # Line breaks are kept as written; a word wider than the line is broken within it.
    pdf.multi_cell(0, 5.5, pdf.drawable(submission.text), align="L", new_x=XPos.LMARGIN,
                   new_y=YPos.NEXT)

    pdf.ln(4)
    _heading(pdf, "Mellékletek / Attachments", 12)
    if not attachments:
        pdf.set_font(FONT, "", 11)
        pdf.multi_cell(0, 5.5, "nincs / none", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    for number, (attachment, name) in enumerate(zip(attachments, names, strict=True),
                                                start=1):
        # The name as the sender gave it; the one it is saved out under when that differs.
        embedded = ("" if name == attachment.file_name else
                    f"\nBeágyazva mint / embedded as: {name}")
        _field(pdf, f"{number}. melléklet / attachment {number}",
               f"{attachment.file_name}{embedded}\n{_size(attachment.size)}\n"
               f"SHA-256: {attachment.sha256}")


def _embed(writer: IncrementalPdfFileWriter, attachment: SubmissionAttachment, name: str,
           number: int) -> None:
    # One attachment's bytes at a time: the writer holds them (compressed) until it writes.
    data = attachment.path.read_bytes()
    stream = EmbeddedFileObject.from_file_data(
        writer, data, mime_type=attachment.media_type,
        params=EmbeddedFileParams(embed_size=True, embed_checksum=True))
    del data
    embed_file(writer, FileSpec(
        file_spec_string=name, file_name=name,
        embedded_data=stream,
        description=f"{number}. melléklet / attachment {number} (SHA-256 {attachment.sha256})",
        af_relationship=generic.NameObject("/Supplement")))


class BeadvanyRenderer:
    """Implements the ``SubmissionRenderer`` port."""

    def render(self, submission: Submission, attachments: list[SubmissionAttachment],
               output: BinaryIO) -> None:
        """Write the beadvány PDF (not yet signed) to ``output``: the pages, then each
        attachment embedded unchanged (under its name of :func:`embedded_names`, with its MIME
        type, ``AFRelationship /Supplement``)."""
        names = embedded_names(attachments)
        pdf = _pages(submission)
        _write_pages(pdf, submission, attachments, names)
        pages = BytesIO(bytes(pdf.output()))
        del pdf
        writer = IncrementalPdfFileWriter(pages)
        # The embedded-files name tree is a flat array whose keys, unique, must come in order.
        ordered = sorted(enumerate(zip(attachments, names, strict=True), start=1),
                         key=lambda item: item[1][1])
        for number, (attachment, name) in ordered:
            _embed(writer, attachment, name, number)
        writer.write(output)  # type: ignore[no-untyped-call]  # pyHanko leaves it untyped
