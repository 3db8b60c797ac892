"""``Content-Disposition`` for a stored file name, whatever it holds (RFC 6266, RFC 5987):
the REST and web downloads send it as a header, the HKP answer in each document's part."""

from __future__ import annotations

import re
from email.message import Message
from urllib.parse import unquote

import pytest

from gateway.multipart import attachment_disposition


@pytest.mark.parametrize(("name", "fallback"), [
    ("level.pdf", "level.pdf"),
    ("határozat.pdf", "hatarozat.pdf"),
    ("x\r\nX-Injected: 1.pdf", "x__X-Injected: 1.pdf"),
    ('a"b\\c%d;e.pdf', "a_b_c_d;e.pdf"),
    ("中文\x01\x7f.pdf", "____.pdf"),
])
def test_both_forms_stay_in_the_header_and_filename_star_is_the_exact_name(
    name: str, fallback: str
) -> None:
    header = attachment_disposition(name)
    # Printable ASCII only: nothing ends the header line, and latin-1 encodes it.
    assert all(" " <= char <= "~" for char in header), header
    parsed = Message()
    parsed["Content-Disposition"] = header
    assert parsed.get_content_disposition() == "attachment"
    # The fallback is one quoted-string (no quote or backslash inside to end or escape it).
    quoted = re.findall(r'; filename="([^"\\]*)";', header)
    assert quoted == [fallback]
    # RFC 5987: the exact name, UTF-8 and percent-encoded, in one token.
    [encoded] = re.findall(r"; filename\*=UTF-8''([^;\s]+)$", header)
    assert unquote(encoded, errors="strict") == name
