"""HeaderWatch: a plain envelope's Header found in its first bytes, or the watch given up."""

from __future__ import annotations

from gateway.hkp.envelope import username_token
from gateway.hkp.xml import MAX_HEADER_PREFIX, HeaderWatch

HEAD = (b'<?xml version="1.0"?><s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/">'
        b'<s:Header><w:Security xmlns:w="http://docs.oasis-open.org/wss/2004/01/oasis-200401-'
        b'wss-wssecurity-secext-1.0.xsd"><w:UsernameToken><w:Username>HIV</w:Username>'
        b'<w:Password>titok</w:Password></w:UsernameToken></w:Security></s:Header>')
BODY = b"<s:Body><x/></s:Body></s:Envelope>"


def _watched(data: bytes, size: int) -> list[int]:
    """At which chunks the watch gave the root."""
    watch = HeaderWatch()
    found = []
    for index, offset in enumerate(range(0, len(data), size)):
        root = watch.feed(data[offset:offset + size])
        if root is not None:
            assert username_token(root) == ("HIV", "titok")
            found.append(index)
    return found


def test_the_header_is_given_once_it_has_ended_however_the_bytes_are_cut() -> None:
    for size in (1, 7, 64, len(HEAD) - 1, len(HEAD + BODY)):
        found = _watched(HEAD + BODY, size)
        assert len(found) == 1, size
        assert found[0] * size <= len(HEAD) + len("<s:Body>")


def test_a_dtd_a_soap_12_envelope_or_broken_xml_ends_the_watch() -> None:
    dtd = b'<?xml version="1.0"?><!DOCTYPE s:Envelope [<!ENTITY a "b">]>' + HEAD[21:] + BODY
    soap12 = HEAD.replace(b"http://schemas.xmlsoap.org/soap/envelope/",
                          b"http://www.w3.org/2003/05/soap-envelope") + BODY
    broken = HEAD.replace(b"</s:Header>", b"</s:Headr>") + BODY
    for data in (dtd, soap12, broken):
        assert _watched(data, 16) == []


def test_a_header_that_has_not_ended_within_the_prefix_ends_the_watch() -> None:
    padded = HEAD.replace(b"<s:Header>", b"<s:Header><p>" + b"x" * MAX_HEADER_PREFIX + b"</p>")
    assert _watched(padded + BODY, 4096) == []
