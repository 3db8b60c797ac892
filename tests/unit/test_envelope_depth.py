"""The envelope's depth limit: the quick count never lets a too-deep envelope skip the walk."""

from __future__ import annotations

import pytest

from gateway.errors import MalformedMessage
from gateway.hkp.xml import MAX_DEPTH, _may_be_too_deep, parse_envelope

SOAP = 'xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"'


def _nested(levels: int, padding: str = "") -> bytes:
    return (f"<s:Envelope {SOAP}><s:Body>{padding}" + "<a>" * levels + "</a>" * levels
            + "</s:Body></s:Envelope>").encode()


@pytest.mark.parametrize("padding", [
    "", "<!-- " + "</" * 500 + " -->", "<x><![CDATA[" + "</" * 500 + "]]></x>",
])
def test_too_deep_refused_whatever_the_padding(padding: str) -> None:
    # Envelope and Body are two levels: MAX_DEPTH - 1 more elements nest one too deep.
    deep = _nested(MAX_DEPTH - 1, padding)
    assert _may_be_too_deep(deep)
    with pytest.raises(MalformedMessage, match="deeper than"):
        parse_envelope(deep)


def test_as_deep_as_allowed_is_parsed() -> None:
    envelope = _nested(MAX_DEPTH - 2)
    assert parse_envelope(envelope).tag.endswith("Envelope")


def test_an_ordinary_envelope_skips_the_walk() -> None:
    assert not _may_be_too_deep(_nested(20, "<!-- a comment -->"))
