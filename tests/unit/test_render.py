"""The SOAP answer's envelope: the bytes lxml's ElementMaker would write, built faster."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from lxml import etree
from lxml.builder import ElementMaker

from gateway.hkp import render
from gateway.hkp.render import SOAP, H, value
from gateway.hkp.xml import IOP, KRI, parse_envelope

# The reference: the ElementMaker valasz was built with before (lxml declares each maker's
# namespace on its elements and folds it into the parent's when appended).
I = ElementMaker(namespace=IOP, nsmap={"iop": IOP})  # noqa: E741 - the iop namespace
K = ElementMaker(namespace=KRI, nsmap={"kri": KRI})

# A fixed moment, not the wall clock's: the last second before Budapest's spring change.
NOW = datetime(2030, 3, 31, 0, 59, 59, 123456, tzinfo=UTC)


def _made_by_element_maker(session_id: str, felhasznalo: str, now: datetime,
                           session: list[etree._Element], form: list[etree._Element] | None,
                           hiba: tuple[int, str] | None) -> bytes:
    answer = I.Valasz(I.ValaszFejlec(I.Felhasznalo(felhasznalo), I.UzenetIdopont(value(now))),
                      I.Session(*session))
    if hiba is not None:
        answer.append(I.HibaUzenet(I.Szam(str(hiba[0])), I.Tartalom(hiba[1])))
    else:
        answer.append(I.Form(*(form or [])))
    envelope = SOAP.Envelope(SOAP.Header(K.sessionID(session_id)), SOAP.Body(answer))
    return etree.tostring(envelope, xml_declaration=True, encoding="utf-8")


def _session() -> list[etree._Element]:
    request = parse_envelope(
        b'<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/" '
        b'xmlns:iop="http://www.iop.hu/2004"><soap:Body><iop:Kerdes><iop:Session>'
        b'<iop:Property Name="a">v &amp; w</iop:Property><iop:Property/></iop:Session>'
        b"</iop:Kerdes></soap:Body></soap:Envelope>")
    return list(request.iter("{http://www.iop.hu/2004}Property"))


@pytest.mark.parametrize("case", ["empty form", "form", "session and two children", "hiba"])
def test_valasz_writes_the_element_makers_bytes(case: str) -> None:
    def form() -> list[etree._Element]:
        if case == "form":
            return [H.DokumentumTarolasValasz(H.DokumentumTarolasEredmeny(
                H.ErkeztetesiSzam("300000002203003310159000001")))]
        return [H.A(), H.B("t")] if case == "session and two children" else []

    def args() -> dict[str, object]:
        return {"session_id": "s<&>", "felhasznalo": 'ü "x"', "now": NOW,
                "session": _session() if case == "session and two children" else [],
                "form": None if case == "hiba" else form(),
                "hiba": (20, "bad <x> & \r\n ü") if case == "hiba" else None}

    built = render.valasz(**args())  # type: ignore[arg-type]
    assert built == _made_by_element_maker(**args())  # type: ignore[arg-type]
    # Each namespace declared once, where the answer first uses it.
    assert built.count(b'xmlns:iop="') == 1
    assert b"<iop:UzenetIdopont>2030-03-31T01:59:59.123456+01:00</iop:UzenetIdopont>" in built


def test_stored_text_xml_cannot_hold_is_written_as_replacement_characters() -> None:
    """A row stored before the doors refused control characters still renders (issue 26)."""
    assert render.xml_text(None) == ""
    assert render.xml_text("Árvíztűrő\tsor\n\x85\u202e") == "Árvíztűrő\tsor\n\x85\u202e"
    assert render.xml_text("a\x01b\x00c\x1f\ufffe") == "a\ufffdb\ufffdc\ufffd\ufffd"
    element = H.Megjegyzes(render.xml_text("rossz\x01jegyzet"))
    assert etree.fromstring(etree.tostring(element)).text == "rossz\ufffdjegyzet"
