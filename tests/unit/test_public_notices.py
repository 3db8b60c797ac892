"""The hirdetmény form and the search's words, without a database."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from gateway.domain.public_notices import (
    MAX_ATTACHMENT_BYTES,
    NoticeCursor,
    budapest_midnight,
    kept_until,
    query_of,
    search_terms,
    words,
)
from gateway.errors import InvalidRequest
from gateway.notice_form import AttachmentReader, read_form, write_form
from tests.conftest import TEST_EPOCH
from tests.notices import notice_form, notice_xml

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 40


def _chunks(data: bytes, size: int = 7) -> list[bytes]:
    return [data[i:i + size] for i in range(0, len(data), size)]


def test_a_form_reads_back_as_written_with_its_attachments() -> None:
    form = notice_form(TEST_EPOCH, correction=True, applicant=None)
    xml = write_form(form, [("terv.png", PNG), ("level.txt", b"szia")])
    read = read_form(_chunks(xml))
    assert read.correction and read.applicant is None and read.subject == form.subject
    assert read.display_from == TEST_EPOCH and read.display_until == form.display_until
    assert [(a.file_name, a.size) for a in read.attachments] == [("terv.png", len(PNG)),
                                                                ("level.txt", 4)]
    reader = AttachmentReader(1)
    found = [taken for chunk in _chunks(xml) if (taken := reader.feed(chunk))]
    assert found[:1] == [("level.txt", b"szia")]


@pytest.mark.parametrize(("change", "field"), [
    (lambda x: x.replace(b"<Kategoria>", b"<Kategoriaa>").replace(b"</Kategoria>",
                                                                   b"</Kategoriaa>"),
     "Kategoriaa"),
    (lambda x: x.replace("<Szoveg>Az árvízvédelmi gát építési engedélyének kérelméről."
                         "</Szoveg>".encode(), b""), "Szoveg"),
    (lambda x: x.replace(b"urn:kapu:hirdetmeny:1", b"urn:other"), "Hirdetmeny"),
    (lambda x: x.replace(b"+00:00</MegjelenesKezdete>", b"</MegjelenesKezdete>"),
     "MegjelenesKezdete"),
    (lambda x: x.replace(b"<Javitas>true</Javitas>", b"<Javitas>yes</Javitas>"), "Javitas"),
    (lambda x: x[:-20], "file"),
    (lambda x: b'<!DOCTYPE h [<!ENTITY e "x">]>' + x.split(b"?>", 1)[1], "file"),
])
def test_a_bad_form_is_refused_naming_its_element(change: object, field: str) -> None:
    xml = notice_xml(TEST_EPOCH, correction=True)
    changed = change(xml)  # type: ignore[operator]
    assert changed != xml
    with pytest.raises(InvalidRequest) as refused:
        read_form(_chunks(changed))
    assert refused.value.field == field


def test_attachments_must_be_allowed_and_what_they_say() -> None:
    for name, content in (("program.exe", b"MZ"), ("kep.png", b"not a png")):
        with pytest.raises(InvalidRequest) as refused:
            read_form([notice_xml(TEST_EPOCH, attachments=[(name, content)])])
        assert refused.value.field == "Melleklet"
    # Past the limit, and past what the parser holds in one text: both named as attachments.
    for size in (MAX_ATTACHMENT_BYTES + 1, 8 * 2**20):
        with pytest.raises(InvalidRequest) as refused:
            read_form(_chunks(notice_xml(TEST_EPOCH, attachments=[("a.txt", b"a" * size)]),
                              65536))
        assert refused.value.field == "Melleklet"
    with pytest.raises(InvalidRequest) as refused:
        read_form([notice_xml(TEST_EPOCH, display_until=TEST_EPOCH)])
    assert refused.value.field == "MegjelenesVege"


def test_words_are_folded_and_each_field_is_tagged() -> None:
    assert words("Árvíz-VÉDELEM, BP/12") == ["arviz", "vedelem", "bp", "12"]
    terms = search_terms(notice_form(TEST_EPOCH), "Teszt Hivatal")
    assert {"arvizvedelmi", "subject_arvizvedelmi", "settlement_szentendre", "hivatal",
            "casenumber_123"} <= set(terms)
    assert "subject_szentendre" not in terms


def test_a_query_reads_its_names_and_refuses_bad_values() -> None:
    query = query_of({"q": " Árvíz ", "subject": "", "from": "2026-12-01", "to": "2026-12-02",
                      "office": "123456789", "limit": "5", "settlement": "Buda"})
    assert query.prefixes() == ["arviz", "settlement_buda"] and query.subject is None
    assert query.shown_after() == datetime(2026, 11, 30, 23, tzinfo=UTC)
    assert query.shown_before() == datetime(2026, 12, 2, 23, tzinfo=UTC)
    for bad in ({"from": "tegnap"}, {"limit": "0"}, {"limit": "x"}, {"office": "12"},
                {"cursor": "???"}, {"from": "2026-12-02", "to": "2026-12-01"}):
        with pytest.raises(InvalidRequest) as refused:
            query_of(bad)
        assert refused.value.field in bad


def test_cursors_and_keeping() -> None:
    cursor = NoticeCursor(TEST_EPOCH, 42)
    assert NoticeCursor.of_token(cursor.token()) == cursor
    leap = datetime(2028, 2, 29, 12, tzinfo=UTC)
    assert kept_until(leap) == datetime(2036, 2, 29, 12, tzinfo=UTC)
    assert kept_until(datetime(2092, 2, 29, tzinfo=UTC)) == datetime(2100, 2, 28, tzinfo=UTC)
    assert kept_until(datetime(9995, 1, 1, tzinfo=UTC)).year == 9999
    # Budapest's summer midnight is 22:00 UTC.
    assert budapest_midnight(date(2026, 7, 1)) == datetime(2026, 6, 30, 22, tzinfo=UTC)
    assert budapest_midnight(date(2026, 7, 1)) + timedelta(hours=2) == datetime(
        2026, 7, 1, tzinfo=UTC)
