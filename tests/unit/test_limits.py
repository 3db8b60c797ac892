"""Bounds on request values (issue 13): what is no plain in-range number is no number."""

from __future__ import annotations

import pytest

from gateway.domain.limits import MAX_ID, bounded_int


@pytest.mark.parametrize(("text", "expected"), [
    ("42", 42), ("1", 1), (str(MAX_ID), MAX_ID), (str(MAX_ID + 1), None),
    ("9" * 30, None), ("0", None), ("-5", None), ("²", None), ("١٢", None), (" 7", None),
    ("", None), (None, None),
])
def test_bounded_int(text: str | None, expected: int | None) -> None:
    assert bounded_int(text, 1, MAX_ID) == expected
