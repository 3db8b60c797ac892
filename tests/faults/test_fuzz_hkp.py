"""hypothesis mutates valid HKP envelopes (plain and SOAP with Attachments) and multipart bodies
of REST uploads, and sends them to a real server: elements duplicated, removed, reordered, moved
to another namespace, given huge or odd values; bytes truncated or made invalid UTF-8; MIME
parts duplicated, reordered, cut. Checked on every answer: never a 5xx; no traceback in a body;
HKP answers are a SOAP Fault (400, soap:Client) or a Valasz whose HibaUzenet is never 50
(internal error); REST answers are 201 or a problem+json refusal. The server's memory stays flat.
"""

from __future__ import annotations

import re
from collections import Counter
from typing import Any

import httpx
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from lxml import etree

from tests.faults.conftest import SCALE, FuzzTarget, server_rss
from tests.helpers import PDF, Account, upload_form
from tests.hkp_helpers import NS, document_xml, envelope, read_answer, swa
from tests.hkp_helpers import upload_form as hkp_upload_form

# make test: about 100 requests per test; make faults (KAPU_FAULTS_SCALE=5): 2,500.
EXAMPLES = 100 if SCALE == 1 else 100 * SCALE * SCALE
# Growth of the server's resident memory allowed across one test's run (bodies up to 11 MiB).
RSS_GROWTH_BOUND = 32 * 1024 * 1024
NAMESPACES = [NS["soap"], NS["iop"], NS["hkp"], NS["kri"],
              "http://www.w3.org/2003/05/soap-envelope", "urn:wrong", ""]
HUGE = [1_000, 70_000, 1_000_000]
# Bodies past the 10 MiB envelope limit are tested once (test_hkp_hostile.py); here they would
# only cost time.
LARGEST = 11 * 1024 * 1024
INVALID_UTF8 = [b"\xff", b"\xc3", b"\xed\xa0\x80", b"\xf4\x90\x80\x80", b"\xc0\xaf", b"\x00"]
TRACEBACK = re.compile(rb"Traceback \(most recent call last\)|File \"/")
SETTINGS = settings(max_examples=EXAMPLES, deadline=None, database=None,
                    suppress_health_check=list(HealthCheck))
WARM_UP = 20  # requests before the server's memory is measured
# Characters lxml accepts in text and attributes (XML 1.0 Char, no surrogates).
XML_TEXT = st.text(st.characters(blacklist_categories=("Cs", "Cc")), max_size=40)


def _forms(target: FuzzTarget) -> dict[str, str]:
    sent, to_citizen = target.numbers[0], target.numbers[2]
    return {
        "UjDokumentumokFeltolteseGepiInterfeszAltal": hkp_upload_form(
            document_xml(krid=target.sender.krid, content=PDF, inline=True)),
        "DokumentumokLekerdezeseGepiInterfeszAltal2":
            "<hkp:DokumentumAdatokLetoltesKerdes><hkp:PostafiokAlapjan>"
            "<hkp:FeladoTipusa>1</hkp:FeladoTipusa><hkp:EredmenyekSzama>2</hkp:EredmenyekSzama>"
            "</hkp:PostafiokAlapjan></hkp:DokumentumAdatokLetoltesKerdes>",
        "DokumentumokLekerdezeseGepiInterfeszAltal":
            "<hkp:DokumentumAdatokLetoltesKerdes><hkp:ErkeztetesiSzamAlapjan>"
            f"<hkp:ErkeztetesiSzam>{sent}</hkp:ErkeztetesiSzam><hkp:Tarhely>1</hkp:Tarhely>"
            "</hkp:ErkeztetesiSzamAlapjan></hkp:DokumentumAdatokLetoltesKerdes>",
        "SikeresDokumentumokOlvasas":
            "<hkp:OlvasasVisszaigazolas><hkp:VisszaigazolasAdatok>"
            f"<hkp:ErkeztetesiSzam>{sent}</hkp:ErkeztetesiSzam><hkp:Sikeres>true</hkp:Sikeres>"
            "</hkp:VisszaigazolasAdatok><hkp:VisszaigazolasAdatok>"
            f"<hkp:ErkeztetesiSzam>{to_citizen}</hkp:ErkeztetesiSzam>"
            "<hkp:Sikeres>1</hkp:Sikeres></hkp:VisszaigazolasAdatok></hkp:OlvasasVisszaigazolas>",
        "DokumentumokAllapota2":
            "<hkp:DokumentumAllapotKerdes><hkp:ErkeztetesiSzamAlapjan>"
            f"<hkp:ErkeztetesiSzam>{sent}</hkp:ErkeztetesiSzam>"
            "</hkp:ErkeztetesiSzamAlapjan></hkp:DokumentumAllapotKerdes>",
        "HivatalokLekerdezese":
            "<hkp:GIHivatalokLekerdezeseKerdes><hkp:RovidNevSzures>T</hkp:RovidNevSzures>"
            "<hkp:NevSzures>Teszt</hkp:NevSzures><hkp:TipusSzures>1</hkp:TipusSzures>"
            f"<hkp:KRID>{target.office.krid}</hkp:KRID></hkp:GIHivatalokLekerdezeseKerdes>",
        "GIPostaFiokLekerdezes":
            "<hkp:GIPostaFiokAdatokLekerdezeseKerdes><hkp:OlvasatlanUzenetekSzama/>"
            "<hkp:HivataltolErkezettOlvasatlanUzenetekSzama><hkp:DokumentumTipusAzonosito>"
            "LEVEL</hkp:DokumentumTipusAzonosito></hkp:HivataltolErkezettOlvasatlanUzenetekSzama>"
            "</hkp:GIPostaFiokAdatokLekerdezeseKerdes>",
        "KulcsLekerdezes":
            f"<hkp:KulcsLekerdezesKerdes><hkp:KRID>{target.sender.krid}</hkp:KRID>"
            "</hkp:KulcsLekerdezesKerdes>",
    }


@st.composite
def mutated_tree(draw: st.DrawFn, source: bytes) -> bytes:
    """``source`` parsed, one to three element-level mutations, serialized again."""
    root = etree.fromstring(source)
    for _ in range(draw(st.integers(1, 3))):
        elements = list(root.iter(tag=etree.Element))
        element = elements[draw(st.integers(0, len(elements) - 1))]
        parent = element.getparent()
        kind = draw(st.sampled_from(["duplicate", "remove", "reorder", "namespace", "huge",
                                     "text", "attribute", "nest"]))
        if kind == "duplicate" and parent is not None:
            copies = draw(st.sampled_from([1, 2, 200]))
            if copies * len(etree.tostring(element)) > LARGEST:
                copies = 2
            for _ in range(copies):
                element.addnext(etree.fromstring(etree.tostring(element)))
        elif kind == "remove" and parent is not None:
            parent.remove(element)
        elif kind == "reorder" and parent is not None and len(parent) > 1:
            siblings = list(parent)
            order = draw(st.permutations(range(len(siblings))))
            for child in siblings:
                parent.remove(child)
            for index in order:
                parent.append(siblings[index])
        elif kind == "namespace":
            local = etree.QName(element).localname
            namespace = draw(st.sampled_from(NAMESPACES))
            element.tag = f"{{{namespace}}}{local}" if namespace else local
        elif kind == "huge":
            element.text = draw(st.sampled_from(["9", "á", "x "])) * draw(st.sampled_from(HUGE))
        elif kind == "text":
            element.text = draw(XML_TEXT)
        elif kind == "attribute":
            element.set(draw(st.sampled_from(["href", "Module", "Type", "{urn:x}a"])),
                        draw(XML_TEXT))
        elif kind == "nest":
            element.append(etree.fromstring(etree.tostring(element)))
        assume(len(etree.tostring(root)) < LARGEST)
    return bytes(etree.tostring(root, xml_declaration=draw(st.booleans()), encoding="UTF-8"))


@st.composite
def mutated_bytes(draw: st.DrawFn, source: bytes) -> bytes:
    """Byte-level damage: truncation, invalid UTF-8, a lying encoding declaration."""
    # Undamaged half the time: the element-level mutations are to reach the services.
    kind = draw(st.sampled_from(["truncate", "invalid utf-8", "encoding", "none", "none",
                                 "none"]))
    if kind == "truncate":
        return source[:draw(st.integers(0, len(source)))]
    if kind == "invalid utf-8":
        at = draw(st.integers(0, len(source)))
        return source[:at] + draw(st.sampled_from(INVALID_UTF8)) + source[at:]
    if kind == "encoding":
        declaration = draw(st.sampled_from([b"UTF-16", b"ISO-8859-2", b"nonsense", b"EBCDIC"]))
        body = source.split(b"?>", 1)[-1] if source.startswith(b"<?xml") else source
        return b'<?xml version="1.0" encoding="' + declaration + b'"?>' + body
    return source


def split_parts(body: bytes, boundary: bytes) -> tuple[bytes, list[bytes], bytes]:
    """A multipart body as preamble, parts (each with its headers) and epilogue."""
    delimiter = b"--" + boundary
    pieces = body.split(delimiter)
    return pieces[0], pieces[1:-1], pieces[-1]


@st.composite
def mutated_multipart(draw: st.DrawFn, body: bytes, boundary: bytes) -> bytes:
    """MIME-level damage: parts duplicated, dropped, reordered; headers and values odd or huge;
    invalid UTF-8 in names and values; the body cut short."""
    preamble, parts, epilogue = split_parts(body, boundary)
    for _ in range(draw(st.integers(1, 3))):
        if not parts:
            break
        index = draw(st.integers(0, len(parts) - 1))
        kind = draw(st.sampled_from(["duplicate", "remove", "reorder", "header", "value",
                                     "huge", "invalid utf-8", "truncate", "no separator"]))
        part = parts[index]
        head, _, value = part.partition(b"\r\n\r\n")
        if kind == "duplicate":
            parts.insert(index, part)
        elif kind == "remove":
            parts.pop(index)
        elif kind == "reorder":
            parts = [parts[i] for i in draw(st.permutations(range(len(parts))))]
        elif kind == "header":
            extra = draw(st.sampled_from([
                b'Content-Disposition: form-data; name="file"; filename="../../x.pdf"',
                b"Content-Disposition: form-data",
                b'Content-Disposition: attachment; name="recipient_krid"',
                b"Content-Type: text/plain; charset=nonsense",
                b"Content-Transfer-Encoding: base64", b"Content-Transfer-Encoding: quoted-x",
                b"Content-ID: <>", b"X-" + b"a" * 20_000 + b": b", b"no colon here"]))
            parts[index] = head + b"\r\n" + extra + b"\r\n\r\n" + value
        elif kind == "value":
            text = draw(st.text(max_size=40)).encode("utf-8", "surrogatepass")
            parts[index] = head + b"\r\n\r\n" + text + b"\r\n"
        elif kind == "huge":
            parts[index] = head + b"\r\n\r\n" + b"9" * draw(st.sampled_from(HUGE)) + b"\r\n"
        elif kind == "invalid utf-8":
            at = draw(st.integers(0, len(part)))
            parts[index] = part[:at] + draw(st.sampled_from(INVALID_UTF8)) + part[at:]
        elif kind == "truncate":
            cut = draw(st.integers(0, len(part)))
            return preamble + b"--" + boundary + b"--".join(parts[:index]) + part[:cut]
        elif kind == "no separator":
            parts[index] = head + b"\r\n" + value
    delimiter = b"--" + boundary
    return preamble + b"".join(delimiter + p for p in parts) + delimiter + epilogue


def check_hkp_answer(response: httpx.Response, seen: Counter[str]) -> None:
    assert response.status_code < 500, response.content[:800]
    assert not TRACEBACK.search(response.content), response.content[:800]
    answer = read_answer(response)
    if response.status_code == 400:
        assert answer.root.findtext("soap:Body/soap:Fault/faultcode", namespaces=NS) == \
            "soap:Client", response.content[:800]
        seen["fault"] += 1
        return
    assert response.status_code == 200, response.content[:800]
    hiba = answer.hiba
    assert hiba is None or hiba[0] != 50, hiba
    seen[f"HibaUzenet {hiba[0]}" if hiba else "answered"] += 1


def check_rest_answer(response: httpx.Response, seen: Counter[str]) -> None:
    assert response.status_code < 500, response.content[:800]
    assert not TRACEBACK.search(response.content), response.content[:800]
    if response.status_code != 201:
        assert response.headers["content-type"] == "application/problem+json", response.text
        assert 400 <= response.status_code < 500 and response.json()["code"]
        seen[response.json()["code"]] += 1
    else:
        seen["201"] += 1


def _measure(target: FuzzTarget, body: Any, strategies: dict[str, Any], seen: Counter[str],
             *kinds: str) -> None:
    """Run ``body`` with hypothesis drawing its arguments from ``strategies``. The server's
    RSS may not grow past the bound from the end of a warm-up (whose first requests fill
    caches: parsers, schemas, credentials), and the answers must include each of ``kinds``
    (the mutations reach past the first refusal)."""
    settings(SETTINGS, max_examples=WARM_UP)(given(**strategies)(body))()
    before = server_rss(target.server)
    SETTINGS(given(**strategies)(body))()
    grown = server_rss(target.server) - before
    print(f"server RSS {before / 2**20:.1f} MiB, grew {grown / 2**20:.1f} MiB; {dict(seen)}")
    assert grown < RSS_GROWTH_BOUND
    for kind in kinds:
        assert seen[kind], (kind, seen)


def test_mutated_hkp_envelopes_are_refused_cleanly(fuzz_target: FuzzTarget) -> None:
    office = fuzz_target.office
    seeds = {service: envelope(service, form, username=office.username,
                               password=office.password)
             for service, form in _forms(fuzz_target).items()}
    client = httpx.Client(base_url=fuzz_target.server.url, timeout=60)
    seen: Counter[str] = Counter()

    def fuzz(data: st.DataObject, service: str) -> None:
        body = data.draw(mutated_tree(seeds[service]), label="tree")
        body = data.draw(mutated_bytes(body), label="bytes")
        response = client.post("/hkp", content=body, headers={"Content-Type": "text/xml"})
        check_hkp_answer(response, seen)

    with client:
        _measure(fuzz_target, fuzz, {"data": st.data(), "service": st.sampled_from(sorted(seeds))},
                 seen, "fault", "answered", "HibaUzenet 20")


def test_mutated_hkp_attachments_are_refused_cleanly(fuzz_target: FuzzTarget) -> None:
    sending_office = fuzz_target.attachment_sender
    upload = envelope("UjDokumentumokFeltolteseGepiInterfeszAltal", hkp_upload_form(
        document_xml(krid=fuzz_target.sender.krid, content=PDF, href="csat-1"),
        document_xml(krid=fuzz_target.sender.krid, content=PDF[:50], href="csat-2")),
        username=sending_office.username, password=sending_office.password)
    client = httpx.Client(base_url=fuzz_target.server.url, timeout=60)
    seen: Counter[str] = Counter()

    def fuzz(data: st.DataObject, encoding: str) -> None:
        root = data.draw(mutated_tree(upload), label="tree") if data.draw(
            st.booleans(), label="mutate the envelope") else upload
        body, content_type = swa(root, [("csat-1", PDF, encoding), ("csat-2", PDF[:50], "8bit")])
        boundary = content_type.rsplit('boundary="', 1)[1].rstrip('"').encode()
        body = data.draw(mutated_multipart(body, boundary), label="mime")
        response = client.post("/hkp", content=body, headers={"Content-Type": content_type})
        check_hkp_answer(response, seen)

    with client:
        _measure(fuzz_target, fuzz,
                 {"data": st.data(), "encoding": st.sampled_from(["base64", "binary"])},
                 seen, "fault", "answered")


def _upload_request(sender: Account, to: Account) -> httpx.Request:
    return httpx.Client().build_request(
        "POST", "/api/v1/documents", data=upload_form(to, note="fuzz", reference_number="R/1"),
        files={"file": ("level.pdf", PDF)})


def test_mutated_upload_bodies_are_refused_cleanly(fuzz_target: FuzzTarget) -> None:
    request = _upload_request(fuzz_target.sender, fuzz_target.office)
    body = request.read()
    content_type = request.headers["content-type"]
    boundary = content_type.split("boundary=", 1)[1].encode()
    client = httpx.Client(base_url=fuzz_target.server.url, timeout=60)
    seen: Counter[str] = Counter()

    def fuzz(data: st.DataObject) -> None:
        mutated = data.draw(mutated_multipart(body, boundary), label="mime")
        response = client.post("/api/v1/documents", content=mutated,
                               auth=fuzz_target.sender.auth,
                               headers={"Content-Type": content_type})
        check_rest_answer(response, seen)

    with client:
        _measure(fuzz_target, fuzz, {"data": st.data()}, seen, "201", "invalid_request")
