"""The beadvány PDF (contract 24), read back by poppler's own tools: its words, its pages, and
its attachments saved out unchanged."""

from __future__ import annotations

import hashlib
import re
import subprocess
from datetime import timedelta
from pathlib import Path

from gateway.domain.epapir import TEXT_MAX_CHARS, Submission, SubmissionAttachment
from gateway.pdf.beadvany import BeadvanyRenderer, embedded_names
from tests.conftest import TEST_EPOCH

HUNGARIAN = "Árvíztűrő tükörfúrógép"


def _attachment(directory: Path, name: str, media_type: str, content: bytes) -> \
        SubmissionAttachment:
    path = directory / f"staged-{hashlib.sha256(name.encode()).hexdigest()[:8]}"
    path.write_bytes(content)
    return SubmissionAttachment(path, name, media_type, len(content),
                                hashlib.sha256(content).hexdigest())


def _submission(text: str, **changes: object) -> Submission:
    values: dict[str, object] = dict(
        sender_name="Kovács Őrsike", sender_address="kapcsolati kód K7Q2M9XZ",
        acting_person=None, office_name="Próba Városi Hivatal", office_krid="100000001",
        topic_code="ADO_UGY", topic_name="Adóügyek és űrlapok",
        subject="Kérelem: őű ŐŰ", text=text, at=TEST_EPOCH + timedelta(days=200),
        reference_number="HIV-2026/17")
    values.update(changes)
    return Submission(**values)  # type: ignore[arg-type]


def _render(tmp_path: Path, submission: Submission,
            attachments: list[SubmissionAttachment]) -> Path:
    target = tmp_path / "beadvany.pdf"
    with target.open("wb") as output:
        BeadvanyRenderer().render(submission, attachments, output)
    return target


def _text(pdf: Path) -> str:
    return subprocess.run(["pdftotext", "-enc", "UTF-8", str(pdf), "-"], check=True,
                          capture_output=True, text=True).stdout


def _pages(pdf: Path) -> int:
    info = subprocess.run(["pdfinfo", str(pdf)], check=True, capture_output=True,
                          text=True).stdout
    found = re.search(r"^Pages:\s+(\d+)$", info, re.MULTILINE)
    assert found is not None, info
    return int(found.group(1))


def test_the_words_the_block_and_the_attachments_saved_out_unchanged(tmp_path: Path) -> None:
    staged = tmp_path / "staged"
    staged.mkdir()
    scan = b"%PDF-1.4\n" + bytes(range(256)) * 40 + b"\n%%EOF\n"
    letter = "Tisztelt Hivatal!\nőű ŐŰ\r\n".encode() * 30
    attachments = [_attachment(staged, "melléklet ő.pdf", "application/pdf", scan),
                   _attachment(staged, "levél.txt", "text/plain", letter)]
    text = f"{HUNGARIAN}\n\nMásodik bekezdés: őű ŐŰ.\nÚj sor."
    pdf = _render(tmp_path, _submission(text, acting_person="Nagy Ügyintéző Ödön",
                                        sender_address="KRID 100000002"), attachments)

    words = _text(pdf)
    for expected in ("e-Papír beadvány", "Kovács Őrsike", "KRID 100000002",
                     "Nagy Ügyintéző Ödön", "Próba Városi Hivatal (KRID 100000001)",
                     "ADO_UGY – Adóügyek és űrlapok", "HIV-2026/17", "Kérelem: őű ŐŰ",
                     HUNGARIAN, "Második bekezdés: őű ŐŰ.", "Új sor.",
                     attachments[0].sha256, attachments[1].sha256, "levél.txt"):
        assert expected in words, expected
    # 200 days after the winter epoch is summer: Budapest is UTC+2 then.
    moment = (TEST_EPOCH + timedelta(days=200) + timedelta(hours=2)).strftime("%Y-%m-%d %H:%M")
    assert f"{moment}:00 (UTC+02:00, Europe/Budapest)" in words

    saved = tmp_path / "saved"
    saved.mkdir()
    listed = subprocess.run(["pdfdetach", "-list", str(pdf)], check=True,
                            capture_output=True, text=True).stdout
    assert "2 embedded files" in listed
    subprocess.run(["pdfdetach", "-saveall", "-o", str(saved), str(pdf)], check=True)
    assert sorted(path.name for path in saved.iterdir()) == ["levél.txt", "melléklet ő.pdf"]
    assert (saved / "melléklet ő.pdf").read_bytes() == scan
    assert (saved / "levél.txt").read_bytes() == letter
    # Each is a PDF embedded file with its MIME type, a supplement of the document.
    raw = pdf.read_bytes()
    assert b"/Subtype /application#2Fpdf" in raw and b"/Subtype /text#2Fplain" in raw
    assert raw.count(b"/AFRelationship /Supplement") == 2


def test_ten_thousand_characters_with_a_long_word_run_over_pages_losing_nothing(
        tmp_path: Path) -> None:
    long_word = "Hosszúszó" + "ő" * 291  # 300 characters without a space
    words = [f"szó{number}ű" for number in range(1500)]
    body = " ".join(words[:700]) + f"\n{long_word}\n\n" + " ".join(words[700:])
    text = body[:TEXT_MAX_CHARS - 1] + "\n"
    kept = text.split()
    assert len(text) == TEXT_MAX_CHARS and long_word in kept
    pdf = _render(tmp_path, _submission(text, reference_number=None), [])

    assert _pages(pdf) >= 3
    read = _text(pdf)
    # Every word is there, in order; the long one was broken across lines, never cut.
    flowing = "".join(read.split())
    position = 0
    for word in kept:
        found = flowing.find(word, position)
        assert found >= 0, word
        position = found + len(word)
    assert "Hivatkozási szám" not in read  # no reference number, no empty field
    assert "nincs / none" in read
    pages = _pages(pdf)
    numbers = re.findall(r"^(\d+) ?/ ?(\d+)$", read, re.MULTILINE)
    assert numbers == [(str(page), str(pages)) for page in range(1, pages + 1)]


def test_tabs_and_characters_the_font_lacks_are_shown_never_dropped(tmp_path: Path) -> None:
    pdf = _render(tmp_path, _submission("első\tmásodik\nÍrás: 漢字 vége",
                                        subject="Tárgy 漢"), [])
    read = _text(pdf)
    assert "első    második" in read or "első második" in read  # a tab is room, not nothing
    assert "Írás: [U+6F22][U+5B57] vége" in read
    assert "Tárgy [U+6F22]" in read


def test_attachments_of_one_name_are_embedded_under_names_of_their_own(tmp_path: Path) -> None:
    staged = tmp_path / "staged"
    staged.mkdir()
    first, second, third = b"Elso level: \xc5\x91\n", b"Masodik level: \xc5\xb1\n", b"harmadik\n"
    attachments = [
        SubmissionAttachment(staged / "0.part", "level.txt", "text/plain", len(first),
                             hashlib.sha256(first).hexdigest()),
        # Its own name is taken by the first: it needs one of its own too.
        SubmissionAttachment(staged / "1.part", "level (2).txt", "text/plain", len(third),
                             hashlib.sha256(third).hexdigest()),
        SubmissionAttachment(staged / "2.part", "level.txt", "text/plain", len(second),
                             hashlib.sha256(second).hexdigest())]
    for attachment, content in zip(attachments, (first, third, second), strict=True):
        attachment.path.write_bytes(content)
    assert embedded_names(attachments) == ["level.txt", "level (2).txt", "level (3).txt"]
    pdf = _render(tmp_path, _submission("Két levél."), attachments)

    saved = tmp_path / "saved"
    saved.mkdir()
    listed = subprocess.run(["pdfdetach", "-list", str(pdf)], check=True,
                            capture_output=True, text=True).stdout
    assert "3 embedded files" in listed
    subprocess.run(["pdfdetach", "-saveall", "-o", str(saved), str(pdf)], check=True)
    assert {path.name: path.read_bytes() for path in saved.iterdir()} == {
        "level.txt": first, "level (2).txt": third, "level (3).txt": second}
    # The list names each as the citizen did, and where it differs, what it was saved as.
    words = " ".join(_text(pdf).split())
    assert ("3. melléklet / attachment 3 level.txt Beágyazva mint / embedded as: "
            "level (3).txt") in words
    assert "1. melléklet / attachment 1 level.txt 1" in words  # its own name: no second one
    assert words.count("Beágyazva mint") == 1


def test_embedded_names_keep_the_extension_and_ignore_letter_case() -> None:
    def named(*names: str) -> list[str]:
        return embedded_names([SubmissionAttachment(Path(name), name, "text/plain", 1, "0")
                               for name in names])

    assert named("a.txt", "b.txt") == ["a.txt", "b.txt"]
    assert named("Level.PDF", "level.pdf", "LEVEL.pdf") == [
        "Level.PDF", "level (2).pdf", "LEVEL (3).pdf"]
    assert named("scan.2026.tif", "scan.2026.tif") == ["scan.2026.tif", "scan.2026 (2).tif"]
    assert named(".txt", ".txt") == [".txt", ".txt (2)"]
