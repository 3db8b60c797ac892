"""One handler per Szolgaltatas: read the Form, call one service, render the answer Form."""

from __future__ import annotations

import base64
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass, field

from lxml import etree

from gateway.domain.documents import DeliveryState, Document, UploadRequest
from gateway.domain.parties import Party, PartyKind
from gateway.errors import AttachmentMissing, GatewayError, InvalidRequest
from gateway.hkp.mime import Base64Sink, RelatedMessage, content_id_key
from gateway.hkp.render import H, szam_of, value, xml_text
from gateway.hkp.xml import HKP, Children, child, child_bool, child_text, text
from gateway.services import delivery as delivery_service
from gateway.services import keys as key_service
from gateway.services import mailbox as mailbox_service
from gateway.services import visibility as visibility_service
from gateway.services.acceptance import StagedUpload
from gateway.services.delivery import Record
from gateway.services.mailbox import UnreadSelector
from gateway.services.ports import Ports
from gateway.services.ports.parties import OfficeQuery
from gateway.services.staged_uploads import StagedUploads

log = logging.getLogger(__name__)

# FeladoTipusa / TipusSzures / Tipus codes of the dialect.
KIND_BY_CODE = {1: PartyKind.HIVATALI, 2: PartyKind.CEG, 7: PartyKind.PER,
                0: PartyKind.CITIZEN, 9: PartyKind.SYSTEM}
CODE_BY_KIND = {kind: code for code, kind in KIND_BY_CODE.items()}
KEZBESITETTSEG = {DeliveryState.WAITING: 0, DeliveryState.DOWNLOADED: 1,
                  DeliveryState.EXPIRED: 2, DeliveryState.PRESUMED_DELIVERED: 3}
DEFAULT_RESULTS = 50


@dataclass
class Context:
    ports: Ports
    party: Party
    message: RelatedMessage | None
    uploads: StagedUploads  # the request's: an attachment's, and each inline Tartalom's


@dataclass(frozen=True)
class Part:
    """A document travelling beside the answer: its MIME part's Content-ID and file name."""

    content_id: str
    file_name: str
    chunks: AsyncIterator[bytes]


@dataclass
class Answer:
    form: list[etree._Element]  # the Form's children: one element, or one per office
    parts: list[Part] = field(default_factory=list)
    # What records the answer's downloads: called once the answer is built, before it is sent.
    record: Record | None = None


Handler = Callable[[Context, etree._Element], Awaitable[Answer]]


def _hiba(error: GatewayError) -> etree._Element:
    return H.Hiba(H.HibaKod(str(szam_of(error))), H.HibaSzoveg(error.detail))


def _in_elements(error: GatewayError, elements: Mapping[str, str]) -> GatewayError:
    """A refusal naming the request's element (``FileNev``) instead of the service's field
    (``file_name``), as HKP clients know their requests by their elements."""
    element = elements.get(error.field or "")
    if element is None or not isinstance(error, InvalidRequest):
        return error
    assert error.field is not None
    return type(error)(error.detail.replace(error.field, element, 1), field=element)


# The upload service's field names as the elements of DokumentumAdatok.
_UPLOAD_ELEMENTS = {
    "file_name": "FileNev", "note": "Megjegyzes", "reference_number": "HivatkozasiSzam",
    "doc_type_office": "DokTipusHivatal", "doc_type_id": "DokTipusAzonosito",
    "doc_type_description": "DokTipusLeiras", "recipient_krid": "KRID",
    "recipient_code": "KapcsolatiKod", "sha256": "Lenyomat", "sha1": "Lenyomat",
}
# The mailbox's filter as the element of PostafiokAlapjan and the GIPostaFiok selectors.
_MAILBOX_ELEMENTS = {"doc_type_id": "DokumentumTipusAzonosito"}


# --- UjDokumentumokFeltolteseGepiInterfeszAltal -------------------------------------------

def _content(context: Context, item: etree._Element) -> StagedUpload:
    href = item.get("href")
    message = context.message
    if href:
        key = content_id_key(href)
        if message is not None and key in message.refused:
            raise message.refused.pop(key)
        staged = message.attachments.pop(key, None) if message is not None else None
        if staged is not None:
            return staged
    tartalom = child(item, "Tartalom")
    if tartalom is None or (href and not (tartalom.text or "").strip()):
        raise AttachmentMissing(
            f"href {href!r} names no attachment and no Tartalom is given" if href
            else "the document has neither an href to an attachment nor a Tartalom"
        )
    staged = context.uploads.stage()
    sink = Base64Sink(staged.content)
    sink.write((tartalom.text or "").encode("ascii", errors="replace"))
    sink.close()  # accepting the document finishes the staged bytes
    return staged


def _upload_request(item: etree._Element) -> UploadRequest:
    fields = Children(item)
    recipient = fields.element("Cimzett")
    assert recipient is not None  # the schema requires it
    lenyomat = (fields.text("Lenyomat") or "").lower()
    return UploadRequest(
        file_name=fields.text("FileNev") or "",
        doc_type_office=fields.text("DokTipusHivatal") or "",
        doc_type_id=fields.text("DokTipusAzonosito") or "",
        doc_type_description=fields.text("DokTipusLeiras") or "",
        recipient_krid=child_text(recipient, "KRID"),
        recipient_code=child_text(recipient, "KapcsolatiKod"),
        note=fields.text("Megjegyzes"),
        reference_number=fields.text("HivatkozasiSzam"),
        sha256=lenyomat if len(lenyomat) == 64 else None,
        sha1=lenyomat if len(lenyomat) == 40 else None,
        reply_encryption=fields.bool("ValaszTitkositas"),
        return_receipt=fields.bool("ETertiveveny"),
    )


async def upload(context: Context, form: etree._Element) -> Answer:
    """Each document of the batch is accepted or refused on its own."""
    # SubElement under an answer that declares hkp once: the bytes the ElementMaker writes, in
    # a third of its time (see render.valasz).
    answer = etree.Element(f"{{{HKP}}}DokumentumTarolasValasz", nsmap={"hkp": HKP})
    for item in form.iterchildren(f"{{{HKP}}}DokumentumAdatok"):
        result = etree.SubElement(answer, f"{{{HKP}}}DokumentumTarolasEredmeny")
        if item.get("href"):
            result.set("href", item.get("href") or "")
        try:
            accepted = await _content(context, item).accept(context.party, _upload_request(item))
            for tag, text in (("ErkeztetesiSzam", accepted.registration_number),
                              ("ErkeztetesiDatum", value(accepted.registered_at)),
                              ("ErvenyessegiDatum", value(accepted.valid_until)),
                              ("Lenyomat", accepted.sha256)):
                etree.SubElement(result, f"{{{HKP}}}{tag}").text = text
        except GatewayError as error:
            result.append(_hiba(_in_elements(error, _UPLOAD_ELEMENTS)))
    return Answer([answer])


# --- documents out -------------------------------------------------------------------------

# Real clients read every element of a listed document unconditionally, so an element
# without a value is sent empty rather than left out (docs/hkp.md).

def _felado(document: Document) -> etree._Element:
    sender = document.sender
    if sender.kind is PartyKind.SYSTEM:
        return H.Felado(H.RendszerFelado(H.Nev(xml_text(sender.name))))
    if sender.kind is PartyKind.CITIZEN:
        return H.Felado(H.AllampolgarFelado(
            H.KapcsolatiKod(xml_text(sender.code)), H.Nev(xml_text(sender.name)),
            H.Email(xml_text(sender.email)),
        ))
    return H.Felado(H.HivatalFelado(
        H.RovidNev(xml_text(sender.short_name)), H.Nev(xml_text(sender.name)),
        H.MAKKod(xml_text(sender.mak_code)), H.KRID(xml_text(sender.krid)),
    ))


def document_element(
    document: Document, party: Party, *, href: str | None, tag: str = "DokumentumAdatok"
) -> etree._Element:
    element: etree._Element = getattr(H, tag)(
        _felado(document),
        H.ErkeztetesiSzam(document.registration_number),
        # Stored text is written as XML can hold it: a row from before control characters
        # were refused must not make every listing of its mailbox fail.
        H.HivatkozasiSzam(xml_text(document.reference_number)),
        H.DokTipusHivatal(xml_text(document.doc_type_office)),
        H.DokTipusAzonosito(xml_text(document.doc_type_id)),
        H.DokTipusLeiras(xml_text(document.doc_type_description)),
        H.Megjegyzes(xml_text(document.note)),
        H.FileNev(xml_text(document.file_name)),
        H.ErvenyessegiDatum(value(document.valid_until)),
        H.ErkeztetesiDatum(value(document.registered_at)),
        H.Kezbesitettseg(str(KEZBESITETTSEG[document.delivery_state])),
        H.Idopecset(base64.b64encode(document.timestamp_token or b"").decode()),
        H.ValaszTitkositas(value(document.reply_encryption)),
        H.ValaszUtvonal("0"),
        H.Rendszeruzenet(value(document.system_message)),
        H.Tarterulet("POSTAFIOK" if document.recipient_id == party.id else "ELKULDOTT"),
    )
    if href is not None:
        element.set("href", href)
    return element


async def download(context: Context, form: etree._Element) -> Answer:
    """Documents with their bytes as attachments; listing does not acknowledge."""
    by_mailbox = child(form, "PostafiokAlapjan")
    if by_mailbox is not None:
        sender_code = child_text(by_mailbox, "FeladoTipusa")
        try:
            page = await mailbox_service.list_mailbox(
                context.ports, context.party, only_waiting=True,
                sender_kind=KIND_BY_CODE[int(sender_code)] if sender_code else None,
                doc_type_id=child_text(by_mailbox, "DokumentumTipusAzonosito"),
                limit=int(child_text(by_mailbox, "EredmenyekSzama") or DEFAULT_RESULTS),
                with_timestamp_tokens=True,
            )
        except InvalidRequest as error:
            raise _in_elements(error, _MAILBOX_ELEMENTS) from error
        found = page.items
    else:
        by_number = child(form, "ErkeztetesiSzamAlapjan")
        assert by_number is not None  # the schema's choice
        number = child_text(by_number, "ErkeztetesiSzam") or ""
        found = [await visibility_service.get_document(context.ports, context.party, number)]
    listing = H.DokumentumAdatokLetoltesValasz()
    streams, record = await delivery_service.deliver(context.ports, context.party, found)
    answer = Answer([listing], record=record)
    for document, stream in zip(found, streams, strict=True):
        href = document.registration_number if stream is not None else None
        listing.append(document_element(document, context.party, href=href))
        if stream is not None:
            answer.parts.append(Part(document.registration_number, document.file_name, stream))
    return answer


async def status(context: Context, form: etree._Element) -> Answer:
    by_number = child(form, "ErkeztetesiSzamAlapjan")
    assert by_number is not None
    number = child_text(by_number, "ErkeztetesiSzam") or ""
    document = await visibility_service.get_document(context.ports, context.party, number)
    element = document_element(document, context.party, href=None)
    element.append(H.Olvasottsag(value(document.delivery_state is DeliveryState.DOWNLOADED)))
    return Answer([H.DokumentumAllapotValasz(element)])


async def acknowledge(context: Context, form: etree._Element) -> Answer:
    """One answer per item, in order; an item with Sikeres=false leaves the document waiting."""
    answers = []
    for item in form.iterchildren(f"{{{HKP}}}VisszaigazolasAdatok"):
        number = child_text(item, "ErkeztetesiSzam") or ""
        try:
            if child_bool(item, "Sikeres"):
                await delivery_service.acknowledge(context.ports, context.party, number)
            else:
                await visibility_service.get_document(context.ports, context.party, number)
            answers.append(H.VisszaIgazolasValasz(H.Uzenet(H.Szam("0"), H.Szoveg("Sikeres"))))
        except GatewayError as error:
            answers.append(H.VisszaIgazolasValasz(H.Hiba(H.HibaLeiras(
                H.HibaKod(str(szam_of(error))), H.HibaSzoveg(error.detail),
            ))))
        except Exception:
            # Each item is its own transaction: one that fails unexpectedly is answered 50
            # on its own, and the items already acknowledged keep their answers.
            log.exception("acknowledging %s failed", number)
            answers.append(H.VisszaIgazolasValasz(H.Hiba(H.HibaLeiras(
                H.HibaKod("50"), H.HibaSzoveg("internal error; the error is logged"),
            ))))
    return Answer([H.OlvasasVisszaigazolasokValasz(*answers)])


# --- directory, mailbox counts, keys ------------------------------------------------------

# The service's field names as the elements of GIHivatalokLekerdezeseKerdes.
_OFFICE_FILTERS = {"name": "NevSzures", "short_name": "RovidNevSzures", "krid": "KRID"}


async def offices(context: Context, form: etree._Element) -> Answer:
    """One flat GIHivatalokLekerdezeseValasz per office, as the KR answers; none: empty Form."""
    kind_code = child_text(form, "TipusSzures")
    try:
        found = await mailbox_service.find_offices(context.ports, OfficeQuery(
            short_name=child_text(form, "RovidNevSzures"), name=child_text(form, "NevSzures"),
            kind=KIND_BY_CODE[int(kind_code)] if kind_code else None,
            krid=child_text(form, "KRID"),
        ))
    except InvalidRequest as error:
        raise _in_elements(error, _OFFICE_FILTERS) from error
    return Answer([
        H.GIHivatalokLekerdezeseValasz(
            H.RovidNev(xml_text(office.short_name)), H.Nev(xml_text(office.name)),
            H.MAKKod(xml_text(office.mak_code)), H.KRID(xml_text(office.krid)),
            H.Tipus(str(CODE_BY_KIND[office.kind])),
        ) for office in found
    ])


# The selectors real clients put in GIPostaFiokAdatokLekerdezeseKerdes, by local name, with
# the KR's own misspellings; a DokumentumTipusAzonosito inside one narrows that count.
UNREAD_SELECTORS = {
    "OlvasatlanUzenetekSzama": UnreadSelector.ALL,
    "AllampolgartolErkezettOlvasatlanUzenetekSzama": UnreadSelector.CITIZENS,
    "HivataltolErkezettOlvasatlanUzenetekSzama": UnreadSelector.ORGANISATIONS,
    "HivataltolEkezettOlvasatlanUzenetekSzama": UnreadSelector.ORGANISATIONS,
    "RendszertolErkezettOlvasatlanUzenetekSzama": UnreadSelector.SYSTEM,
    "RenszertolEkezettOlvasatlanUzenetekSzama": UnreadSelector.SYSTEM,
}


def _doc_type_filters(form: etree._Element) -> dict[UnreadSelector, str]:
    filters: dict[UnreadSelector, str] = {}
    for selector in form.iterchildren("{*}*"):
        wanted = UNREAD_SELECTORS.get(etree.QName(selector).localname)
        doc_type = next((text(found) for found in selector.iterchildren(
            "{*}DokumentumTipusAzonosito")), None)
        if wanted is not None and doc_type:
            filters[wanted] = doc_type
    return filters


async def mailbox_counts(context: Context, form: etree._Element) -> Answer:
    """All four counts, each narrowed to a document type where its selector names one;
    unknown selectors are ignored."""
    try:
        counts = await mailbox_service.unread_counts(context.ports, context.party,
                                                     _doc_type_filters(form))
    except InvalidRequest as error:
        raise _in_elements(error, _MAILBOX_ELEMENTS) from error
    return Answer([H.GIPostaFiokAdatokLekerdezeseValasz(
        H.OlvasatlanUzenetekSzama(str(counts.total)),
        H.HivataltolErkezettOlvasatlanUzenetekSzama(str(counts.from_organisations)),
        H.AllampolgartolErkezettOlvasatlanUzenetekSzama(str(counts.from_citizens)),
        H.RendszertolErkezettOlvasatlanUzenetekSzama(str(counts.from_system)),
    )])


async def public_key(context: Context, form: etree._Element) -> Answer:
    try:
        key = await key_service.lookup_key(
            context.ports, context.party, krid=child_text(form, "KRID"),
            code=child_text(form, "KapcsolatiKod"),
        )
    except GatewayError as error:
        return Answer([H.KulcsLekerdezesValasz(_hiba(error))])
    return Answer([H.KulcsLekerdezesValasz(
        H.Tanusitvany(base64.b64encode(key.certificate_der).decode()),
        H.Ujjlenyomat(key.fingerprint_sha256),
    )])


@dataclass(frozen=True)
class Operation:
    form: str  # the Form element this Szolgaltatas takes
    handler: Handler


OPERATIONS: dict[str, Operation] = {
    "UjDokumentumokFeltolteseGepiInterfeszAltal": Operation("DokumentumFeltoltesKerdes", upload),
    "DokumentumokLekerdezeseGepiInterfeszAltal2": Operation(
        "DokumentumAdatokLetoltesKerdes", download),
    "DokumentumokLekerdezeseGepiInterfeszAltal": Operation(
        "DokumentumAdatokLetoltesKerdes", download),
    "SikeresDokumentumokOlvasas": Operation("OlvasasVisszaigazolas", acknowledge),
    "DokumentumokAllapota2": Operation("DokumentumAllapotKerdes", status),
    "HivatalokLekerdezese": Operation("GIHivatalokLekerdezeseKerdes", offices),
    "GIPostaFiokLekerdezes": Operation("GIPostaFiokAdatokLekerdezeseKerdes", mailbox_counts),
    "KulcsLekerdezes": Operation("KulcsLekerdezesKerdes", public_key),
}
