"""Bounds on request values (issue 13): what is no plain in-range number is no number."""

from __future__ import annotations

import pytest

from gateway.domain.limits import (
    MAX_ID,
    bounded_int,
    checked_filter,
    checked_text,
    forbidden_character,
)
from gateway.errors import InvalidRequest, UnacceptableText


@pytest.mark.parametrize(("text", "expected"), [
    ("42", 42), ("1", 1), (str(MAX_ID), MAX_ID), (str(MAX_ID + 1), None),
    ("9" * 30, None), ("0", None), ("-5", None), ("²", None), ("١٢", None), (" 7", None),
    ("", None), (None, None),
])
def test_bounded_int(text: str | None, expected: int | None) -> None:
    assert bounded_int(text, 1, MAX_ID) == expected


@pytest.mark.parametrize("text", [
    "Árvíztűrő tükörfúrógép.pdf", "HIV/2026/1", "a\u00a0b", "日本語", "emoji 😀", "",
])
def test_ordinary_text_is_accepted(text: str) -> None:
    assert forbidden_character(text) is None
    assert checked_text(text, "note") == text


@pytest.mark.parametrize(("text", "found"), [
    ("a\x00b", "\x00"), ("a\x01", "\x01"), ("x\r\ny", "\r"), ("x\ny", "\n"),
    ("x\ty", "\t"), ("\x7f", "\x7f"), ("\x85", "\x85"), ("a\u200bb", "\u200b"),
    ("exe.\u202epdf", "\u202e"), ("\ufeffa", "\ufeff"), ("\u00ad", "\u00ad"),
    ("\ud800", "\ud800"), ("\ufffe", "\ufffe"),
])
def test_control_format_and_non_xml_characters_are_found(text: str, found: str) -> None:
    assert forbidden_character(text) == found
    with pytest.raises(UnacceptableText) as refused:
        checked_text(text, "file_name")
    assert refused.value.field == "file_name" and refused.value.code == "invalid_request"


def test_a_multi_line_text_keeps_tabs_and_line_feeds() -> None:
    assert checked_text("első\r\nmásodik\tsor\n", "note", multiline=True) == \
        "első\nmásodik\tsor\n"
    for lone in ("a\rb", "a\x0bb", "a\x1cb", "a\x01b"):
        with pytest.raises(UnacceptableText):
            checked_text(lone, "note", multiline=True)


def test_a_filter_is_bounded_too() -> None:
    assert checked_filter(None, "q") is None
    assert checked_filter("a" * 200, "q") == "a" * 200
    with pytest.raises(InvalidRequest) as refused:
        checked_filter("a" * 201, "q")
    assert refused.value.field == "q" and not isinstance(refused.value, UnacceptableText)
