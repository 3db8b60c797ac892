"""Reading and writing the hirdetmény form (``schemas/hirdetmeny.xsd``, ``urn:kapu:hirdetmeny:1``).

A form arrives as a document's content, so it is hostile until read safely: the same hardened
settings as the SOAP door's parser (no DTD, no entity, no network, libxml2's own limits), fed
in chunks. Each attachment's base64 is decoded, hashed and checked as its element ends, then
dropped from the tree, so a form is held in memory without its attachments' bytes; the tree
is then validated against the schema, whose first complaint names the element at fault.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from typing import Any

from lxml import etree

from gateway.domain.formats import HEAD_BYTES, content_matches, is_allowed
from gateway.domain.public_notices import (
    MAX_ATTACHMENT_BYTES,
    NAMESPACE,
    SCHEMA_FILE,
    NoticeAttachment,
    NoticeForm,
)
from gateway.errors import InvalidRequest
from gateway.resources import resource_dir

_NS = f"{{{NAMESPACE}}}"
_MELLEKLET = f"{_NS}Melleklet"
_PARSER_OPTIONS: dict[str, Any] = {
    "resolve_entities": False, "no_network": True, "load_dtd": False, "dtd_validation": False,
    "huge_tree": False, "collect_ids": False,
}
# "Element '{urn:…}Targy': …", "… Expected is ( {urn:…}Targy ).", "… attribute 'FileNev': …"
_EXPECTED = re.compile(r"Expected is (?:one of )?\( *(?:\{[^}]*\})?([\w.-]+)")
_ELEMENT = re.compile(r"Element '(?:\{[^}]*\})?([\w.-]+)'")
_ATTRIBUTE = re.compile(r"attribute '([\w.-]+)'")


def _load_schema() -> etree.XMLSchema:
    # Our own file, read from disk: the only document loaded without the hardened parser.
    return etree.XMLSchema(etree.parse(str(resource_dir("schemas") / SCHEMA_FILE)))


SCHEMA = _load_schema()


_FORM_ELEMENTS = frozenset((
    "Hirdetmeny Azonosito Javitas Kategoria Targy EljaroHatosag Kerelmezo Ugyiratszam "
    "Telepules Ugyintezo MegjelenesKezdete MegjelenesVege Szoveg Melleklet").split())


def _field_of(message: str) -> str:
    """The element (or attribute) a schema complaint is about: a form element where another
    was due is the due one missing, so that one is named; an element the form does not have is
    named itself."""
    element = _ELEMENT.search(message)
    expected = _EXPECTED.search(message)
    if expected and (element is None or element.group(1) in _FORM_ELEMENTS):
        return expected.group(1)
    attribute = _ATTRIBUTE.search(message)
    if attribute:
        return attribute.group(1)
    return element.group(1) if element else "Hirdetmeny"


def _without_namespace(message: str) -> str:
    return re.sub(r"\{[^}]*\}", "", message)


def read_form(chunks: Iterable[bytes]) -> NoticeForm:
    """The form in ``chunks`` (a document's content), valid and checked; InvalidRequest naming
    the element otherwise. Blocking: call from a worker thread."""
    parser = etree.XMLPullParser(events=("end",), **_PARSER_OPTIONS)
    attachments: list[NoticeAttachment] = []
    try:
        for chunk in chunks:
            parser.feed(chunk)
            _take_attachments(parser.read_events(), attachments)
        root = parser.close()
    except etree.XMLSyntaxError as exc:
        if "Text node too long" in str(exc):  # libxml2's limit on one text (not huge_tree)
            raise InvalidRequest(
                f"an attachment or the text is too long: an attachment may hold at most"
                f" {MAX_ATTACHMENT_BYTES} bytes", field="Melleklet") from exc
        raise InvalidRequest(f"the notice form is not well-formed XML: {exc}",
                             field="file") from exc
    docinfo: Any = root.getroottree().docinfo  # lxml-stubs lag behind lxml here
    if docinfo.doctype or docinfo.internalDTD is not None:
        raise InvalidRequest("a notice form may not declare a DTD or entities", field="file")
    if not SCHEMA.validate(root):
        errors: Any = SCHEMA.error_log  # lxml-stubs lack last_error
        complaint: str = errors.last_error.message if errors.last_error else "invalid"
        message = _without_namespace(complaint)
        field = _field_of(complaint)
        raise InvalidRequest(f"the notice form does not match {SCHEMA_FILE}: {message}",
                             field=field)
    return _form_of(root, attachments).check()


def _take_attachments(events: Iterator[tuple[str, Any]],
                      attachments: list[NoticeAttachment]) -> None:
    for _event, element in events:
        if not isinstance(element, etree._Element) or element.tag != _MELLEKLET:
            continue
        file_name = element.get("FileNev") or ""
        content = _decoded(element.text or "", file_name)
        if len(content) > MAX_ATTACHMENT_BYTES:
            raise InvalidRequest(f"the attachment {file_name!r} is larger than"
                                 f" {MAX_ATTACHMENT_BYTES} bytes", field="Melleklet")
        if file_name and not is_allowed(file_name):
            raise InvalidRequest(f"the attachment {file_name!r} is not of an allowed format",
                                 field="Melleklet")
        if file_name and not content_matches(file_name, content[:HEAD_BYTES]):
            raise InvalidRequest(f"the content of the attachment {file_name!r} is not what its"
                                 " extension says", field="Melleklet")
        attachments.append(NoticeAttachment(file_name, len(content),
                                            hashlib.sha256(content).hexdigest()))
        element.text = None  # validated by its decoding; not kept in memory


def _decoded(text: str, file_name: str) -> bytes:
    try:
        return base64.b64decode("".join(text.split()), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise InvalidRequest(f"the attachment {file_name!r} is not valid base64",
                             field="Melleklet") from exc


def _text(root: etree._Element, name: str) -> str | None:
    element = root.find(f"{_NS}{name}")
    return None if element is None else (element.text or "").strip()


def _moment(root: etree._Element, name: str) -> datetime:
    value = _text(root, name) or ""
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as exc:  # xs:dateTime allows what Python does not (years past 9999)
        raise InvalidRequest(f"{name} is not a moment Kapu can keep: {value!r}",
                             field=name) from exc
    return moment.astimezone(UTC)


def _form_of(root: etree._Element, attachments: list[NoticeAttachment]) -> NoticeForm:
    def required(name: str) -> str:
        value = _text(root, name)
        assert value, f"the schema requires {name}"
        return value

    correction = _text(root, "Javitas")
    return NoticeForm(
        identifier=required("Azonosito"), correction=correction in ("true", "1"),
        category=required("Kategoria"), subject=required("Targy"),
        authority=required("EljaroHatosag"), applicant=_text(root, "Kerelmezo"),
        case_number=required("Ugyiratszam"), settlement=_text(root, "Telepules"),
        case_worker=_text(root, "Ugyintezo"),
        display_from=_moment(root, "MegjelenesKezdete"),
        display_until=_moment(root, "MegjelenesVege"),
        text=root.findtext(f"{_NS}Szoveg") or "",
        attachments=tuple(attachments),
    )


class AttachmentReader:
    """Finds the ``index``-th (from 0) attachment of a stored form as its bytes are fed:
    ``feed`` gives its file name and bytes once it has been read, None until then. Earlier
    attachments' text is dropped as they end."""

    def __init__(self, index: int) -> None:
        self._parser = etree.XMLPullParser(events=("end",), tag=_MELLEKLET, **_PARSER_OPTIONS)
        self._index = index
        self._seen = 0

    def feed(self, chunk: bytes) -> tuple[str, bytes] | None:
        self._parser.feed(chunk)
        for _event, element in self._parser.read_events():
            if not isinstance(element, etree._Element):
                continue
            if self._seen == self._index:
                file_name = element.get("FileNev") or ""
                return file_name, _decoded(element.text or "", file_name)
            self._seen += 1
            element.text = None
        return None


def write_form(form: NoticeForm, attachments: Iterable[tuple[str, bytes]] = ()) -> bytes:
    """A form's XML (the web's "publish a notice" builds its document with this): the
    fields of ``form`` (its ``attachments`` are ignored) and ``attachments`` as
    (file name, bytes)."""
    namespaces: Any = {None: NAMESPACE}  # the default namespace (lxml-stubs want str keys)
    root = etree.Element(f"{_NS}Hirdetmeny", nsmap=namespaces)

    def add(name: str, value: str | None) -> None:
        if value is not None:
            etree.SubElement(root, f"{_NS}{name}").text = value

    add("Azonosito", form.identifier)
    if form.correction:
        add("Javitas", "true")
    add("Kategoria", form.category)
    add("Targy", form.subject)
    add("EljaroHatosag", form.authority)
    add("Kerelmezo", form.applicant)
    add("Ugyiratszam", form.case_number)
    add("Telepules", form.settlement)
    add("Ugyintezo", form.case_worker)
    add("MegjelenesKezdete", form.display_from.isoformat())
    add("MegjelenesVege", form.display_until.isoformat())
    add("Szoveg", form.text)
    for file_name, content in attachments:
        element = etree.SubElement(root, _MELLEKLET, FileNev=file_name)
        element.text = base64.b64encode(content).decode()
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")
