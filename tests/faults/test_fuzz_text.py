"""hypothesis puts control and format characters (Unicode Cc and Cf: \\x01, CR LF, U+200B,
U+202E, U+FEFF and whatever else it draws) into every text field of an upload on every door —
REST, HKP and the web's send form — and into the search filters, against a real server on
each database. Checked on every answer: never a 5xx; the request is refused as
``invalid_request`` naming the field (HKP: ``Hiba`` 20 naming the element; the web: 422 with
its sentence); and it registered nothing: the next honest upload to the same addressee gets
the next sequence number of the day.
"""

from __future__ import annotations

import re
from urllib.parse import quote
from xml.sax.saxutils import escape as xml_escape

import httpx
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.faults.conftest import SCALE, FuzzTarget
from tests.faults.test_fuzz_hkp import TRACEBACK
from tests.helpers import PDF, upload_form
from tests.hkp_helpers import NS, document_xml, envelope, read_answer
from tests.hkp_helpers import upload_form as hkp_upload_form

EXAMPLES = 60 * SCALE
# The characters every run tries, besides those hypothesis draws from the two categories.
NAMED = ["\x00", "\x01", "\x1f", "\x7f", "\x85", "\r\n", "\r", "\n", "\t", "\u00ad", "\u200b",
         "\u200e", "\u202e", "\u2066", "\ufeff"]
HOSTILE = st.one_of(st.sampled_from(NAMED), st.characters(categories=["Cc", "Cf"]))
# What the multi-line note holds as its own (tab and line breaks; CR LF is read as LF).
MULTILINE = {"\t", "\n", "\r\n"}
# An upload's fields by their REST (and web form) names, with the HKP element of each.
ELEMENTS = {"file_name": "FileNev", "note": "Megjegyzes", "reference_number": "HivatkozasiSzam",
            "doc_type_office": "DokTipusHivatal", "doc_type_id": "DokTipusAzonosito",
            "doc_type_description": "DokTipusLeiras"}
HONEST = {"file_name": "level.pdf", "note": "megjegyzés", "reference_number": "HIV/1",
          "doc_type_office": "TESZT", "doc_type_id": "LEVEL", "doc_type_description": "Levél"}
# Characters XML 1.0 cannot carry at all: an HKP request holding one is no XML (a SOAP Fault).
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
_TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')
_FORM_KEY = re.compile(r'name="form_key" value="([^"]+)"')
_SENT = re.compile(r"/ui/sent\?box=[^&]+&sent=(\d{27})")


class Doors:
    """One client per door against the fuzz target: the sender (an organisation) over REST
    and HKP, the citizen logged in on the web, each sending to the office."""

    def __init__(self, target: FuzzTarget) -> None:
        self.target = target
        self.rest = httpx.Client(base_url=target.server.url, timeout=60)
        self.web = httpx.Client(base_url=target.server.url, timeout=60)
        page = self.web.get("/ui/login")
        logged_in = self.web.post("/ui/login", data={
            "csrf_token": self._token(page), "username": target.citizen.username,
            "password": target.citizen.password, "next": "/ui/"})
        assert logged_in.status_code in (200, 303), logged_in.text
        self.last_number = self._honest()

    @staticmethod
    def _token(page: httpx.Response) -> str:
        found = _TOKEN.search(page.text)
        assert found, page.text
        return found.group(1)

    def close(self) -> None:
        self.rest.close()
        self.web.close()

    def _honest(self) -> str:
        answer = self.rest.post("/api/v1/documents", auth=self.target.sender.auth,
                                data=upload_form(self.target.office),
                                files={"file": ("level.pdf", PDF)})
        assert answer.status_code == 201, answer.text
        number: str = answer.json()["registration_number"]
        return number

    def follows(self, number: str) -> None:
        """``number`` is the office's next after the last one seen: none taken by a refused
        request, none skipped (on the same Budapest day; a new day starts at 000001)."""
        day, last_day = number[9:17], self.last_number[9:17]
        expected = int(self.last_number[-6:]) + 1 if day == last_day else 1
        assert int(number[-6:]) == expected, (self.last_number, number)
        self.last_number = number

    def check_nothing_registered(self) -> None:
        self.follows(self._honest())

    def rest_upload(self, fields: dict[str, str]) -> tuple[int, str, str | None]:
        body, content_type = _multipart({**upload_form(self.target.office), **fields})
        answer = self.rest.post("/api/v1/documents", auth=self.target.sender.auth,
                                content=body, headers={"Content-Type": content_type})
        _clean(answer)
        if answer.status_code == 201:
            return 201, answer.json()["registration_number"], None
        problem = answer.json()
        return answer.status_code, problem["code"], problem.get("field")

    def hkp_upload(self, fields: dict[str, str]) -> tuple[int, str, str | None]:
        """The hostile document between two honest ones, in one batch; the honest ones are
        registered (the two numbers checked as the honest uploads of the run)."""
        def xml(value: str) -> str:  # CR as a reference, or the parser reads it as LF
            return xml_escape(value).replace("\r", "&#13;")

        def item(content: bytes, **values: str) -> str:
            text = document_xml(krid=self.target.office.krid, content=content, inline=True,
                                file_name=xml(values.get("file_name", "level.pdf")),
                                reference=xml(values.get("reference_number", "HIV/1")),
                                note=xml(values.get("note", "")))
            for name in ("doc_type_office", "doc_type_id", "doc_type_description"):
                if name in values:
                    element = ELEMENTS[name]
                    text = re.sub(f"<hkp:{element}>[^<]*</hkp:{element}>",
                                  f"<hkp:{element}>{xml(values[name])}</hkp:{element}>", text)
            return text

        sender = self.target.sender
        body = envelope("UjDokumentumokFeltolteseGepiInterfeszAltal", hkp_upload_form(
            item(PDF), item(PDF + b"x", **fields), item(PDF + b"y")),
            username=sender.username, password=sender.password)
        response = self.rest.post("/hkp", content=body, headers={"Content-Type": "text/xml"})
        _clean(response)
        answer = read_answer(response)
        if response.status_code == 400:
            return 400, "fault", None
        results = answer.form.findall("hkp:DokumentumTarolasEredmeny", NS)
        for index, result in enumerate(results):
            number = result.findtext("hkp:ErkeztetesiSzam", namespaces=NS)
            assert number is not None or index == 1, result
            if number is not None:  # registered in order, none skipped
                self.follows(number)
        hiba = results[1].findtext("hkp:Hiba/hkp:HibaKod", namespaces=NS)
        text = results[1].findtext("hkp:Hiba/hkp:HibaSzoveg", namespaces=NS) or ""
        if hiba is None:
            return 201, self.last_number, None
        return 200, hiba, next((e for e in ELEMENTS.values() if text.startswith(e)), None)

    def web_send(self, fields: dict[str, str]) -> tuple[int, str, str | None]:
        page = self.web.get("/ui/send?box=me&lang=en")
        key = _FORM_KEY.search(page.text)
        assert key, page.text
        body, content_type = _multipart({"csrf_token": self._token(page),
                                         "form_key": key.group(1),
                                         **upload_form(self.target.office), **fields})
        answer = self.web.post("/ui/send?box=me&lang=en", content=body,
                               headers={"Content-Type": content_type})
        _clean(answer)
        if answer.status_code == 303:  # to the sent document's page
            found = _SENT.fullmatch(answer.headers["location"])
            return 201, found.group(1) if found else "", None
        sentence = "holds a control character or an invisible formatting character"
        return answer.status_code, "text" if sentence in answer.text else answer.text[:300], None


def _multipart(fields: dict[str, str]) -> tuple[bytes, str]:
    """A form whose file part names its file as RFC 5987 ``filename*`` (percent-encoded UTF-8):
    httpx would write a control character of the name as ``%0D`` text, a harmless name."""
    boundary = "kapu-fuzz-text"
    lines: list[bytes] = []
    for name, value in fields.items():
        if name != "file_name":
            lines += [f"--{boundary}".encode(),
                      f'Content-Disposition: form-data; name="{name}"'.encode(), b"",
                      value.encode("utf-8")]
    lines += [f"--{boundary}".encode(),
              ("Content-Disposition: form-data; name=\"file\"; filename*=UTF-8''"
               + quote(fields["file_name"], safe="")).encode(),
              b"Content-Type: application/pdf", b"", PDF, f"--{boundary}--".encode(), b""]
    return b"\r\n".join(lines), f"multipart/form-data; boundary={boundary}"


def _clean(response: httpx.Response) -> None:
    assert response.status_code < 500, response.content[:800]
    assert not TRACEBACK.search(response.content), response.content[:800]


SETTINGS = settings(max_examples=EXAMPLES, deadline=None, database=None,
                    suppress_health_check=list(HealthCheck))


def test_control_characters_in_every_upload_field_are_refused_on_every_door(
    fuzz_target_on_each_database: FuzzTarget,
) -> None:
    doors = Doors(fuzz_target_on_each_database)
    seen: dict[str, int] = {}

    @SETTINGS
    @given(door=st.sampled_from(["rest", "hkp", "web"]), field=st.sampled_from(sorted(ELEMENTS)),
           character=HOSTILE, repeat=st.integers(1, 3))
    def fuzz(door: str, field: str, character: str, repeat: int) -> None:
        value = HONEST[field]
        # Inside the value: a line break or a space at either end is trimmed as whitespace.
        hostile = value[:2] + character * repeat + value[2:]
        fields = {**HONEST, field: hostile}
        multiline_ok = field == "note" and character in MULTILINE
        if door == "rest":
            status, code, named = doors.rest_upload(fields)
            if not multiline_ok:
                assert (status, code, named) == (422, "invalid_request", field), (
                    field, repr(character))
        elif door == "hkp":
            if _NOT_XML.search(character) and character != "\r":
                return  # no XML can carry it (the parser's refusal: test_hkp_hostile.py)
            status, code, named = doors.hkp_upload(fields)
            if not multiline_ok:
                assert (status, code, named) == (200, "20", ELEMENTS[field]), (
                    field, repr(character), code)
        else:
            status, code, _ = doors.web_send(fields)
            if not multiline_ok:
                assert (status, code) == (422, "text"), (field, repr(character), code)
        if multiline_ok:  # accepted, as the office's next number
            assert status == 201, (door, repr(character), code)
            if door != "hkp":
                doors.follows(code)
            seen["accepted"] = seen.get("accepted", 0) + 1
        else:
            seen[door] = seen.get(door, 0) + 1
        doors.check_nothing_registered()

    try:
        fuzz()
    finally:
        doors.close()
    print(seen)
    assert all(seen.get(door) for door in ("rest", "hkp", "web")), seen


def test_control_characters_in_search_filters_are_refused(
    fuzz_target_on_each_database: FuzzTarget,
) -> None:
    doors = Doors(fuzz_target_on_each_database)
    office = fuzz_target_on_each_database.office

    @SETTINGS
    @given(where=st.sampled_from(["mailbox", "offices name", "offices short_name", "web q",
                                  "web doc_type_id", "hkp doc type", "hkp office name"]),
           character=HOSTILE)
    def fuzz(where: str, character: str) -> None:
        text = f"LE{character}VEL"
        if where == "mailbox":
            answer = doors.rest.get("/api/v1/mailbox", auth=office.auth,
                                    params={"doc_type_id": text})
        elif where.startswith("offices"):
            answer = doors.rest.get("/api/v1/offices", auth=office.auth,
                                    params={where.split()[1]: text})
        elif where.startswith("web"):
            answer = doors.web.get("/ui/mailbox/me",
                                   params={where.split()[1]: text, "lang": "en"})
            _clean(answer)
            assert answer.status_code == 422 and "Nothing is listed" in answer.text, \
                (where, repr(character), answer.text[:300])
            return
        else:
            if _NOT_XML.search(character) and character != "\r":
                return
            value = xml_escape(text).replace("\r", "&#13;")
            form = ("<hkp:DokumentumAdatokLetoltesKerdes><hkp:PostafiokAlapjan>"
                    f"<hkp:DokumentumTipusAzonosito>{value}</hkp:DokumentumTipusAzonosito>"
                    "</hkp:PostafiokAlapjan></hkp:DokumentumAdatokLetoltesKerdes>"
                    if where == "hkp doc type" else
                    f"<hkp:GIHivatalokLekerdezeseKerdes><hkp:NevSzures>{value}</hkp:NevSzures>"
                    "</hkp:GIHivatalokLekerdezeseKerdes>")
            service = ("DokumentumokLekerdezeseGepiInterfeszAltal2" if where == "hkp doc type"
                       else "HivatalokLekerdezese")
            response = doors.rest.post("/hkp", headers={"Content-Type": "text/xml"},
                                       content=envelope(service, form,
                                                        username=office.username,
                                                        password=office.password))
            _clean(response)
            hiba = read_answer(response).hiba
            assert hiba is not None and hiba[0] == 20, (where, repr(character), hiba)
            return
        _clean(answer)
        assert answer.status_code == 422 and answer.json()["code"] == "invalid_request", \
            (where, repr(character), answer.text)

    try:
        fuzz()
    finally:
        doors.close()
