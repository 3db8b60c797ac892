"""A Python client of the HKP machine interface, built on zeep from the served WSDL.

    from gateway.client import KapuClient
    kapu = KapuClient("http://127.0.0.1:8080", "DEMOHIVATAL", "demohivatal-jelszo")
    sent = kapu.upload(b"%PDF-1.7 …", "level.pdf", recipient_krid="100000002",
                       doc_type_office="DEMO", doc_type_id="LEVEL", doc_type_description="Levél")
    for document in kapu.list_mailbox():
        ...  # document.content holds the bytes
        kapu.acknowledge(document.registration_number)

Documents travel inline (``Tartalom``), since zeep cannot send SOAP attachments; answers that
carry documents arrive as ``multipart/related`` and their parts are matched by Content-ID.
Every method returns plain dataclasses; refusals raise ``KapuError`` with the HibaKod.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import zeep
from zeep.transports import Transport
from zeep.wsdl.attachments import MessagePack
from zeep.wsse.username import UsernameToken

_HIVATALI, _WORKFLOW = "HivataliModule", "Workflow"
_DELIVERY = {0: "waiting", 1: "downloaded", 2: "expired", 3: "presumed_delivered"}
_TYPE_CODES = {"hivatali": 1, "ceg": 2, "per": 7, "citizen": 0, "system": 9}
_TYPE_NAMES = {code: name for name, code in _TYPE_CODES.items()}


class KapuError(Exception):
    """A refusal: ``code`` is the HibaUzenet Szam or HibaKod of the dialect."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


@dataclass(frozen=True)
class Acceptance:
    registration_number: str
    registered_at: datetime
    valid_until: datetime
    sha256: str


@dataclass(frozen=True)
class Sender:
    kind: str  # "organisation", "citizen" or "system"
    name: str
    krid: str | None = None
    short_name: str | None = None
    mak_code: str | None = None
    code: str | None = None
    email: str | None = None


@dataclass(frozen=True)
class Document:
    registration_number: str
    sender: Sender
    reference_number: str | None
    doc_type_office: str
    doc_type_id: str
    doc_type_description: str
    note: str | None
    file_name: str
    registered_at: datetime
    valid_until: datetime
    delivery_state: str  # waiting, downloaded, expired or presumed_delivered
    reply_encryption: bool
    system_message: bool
    storage_area: str
    content: bytes | None = None  # with list_mailbox and download
    read: bool | None = None  # with status: acknowledged by the addressee
    timestamp_token: bytes | None = None  # DER RFC 3161 token issued at acceptance


@dataclass(frozen=True)
class Office:
    krid: str
    short_name: str
    name: str
    mak_code: str | None
    type: str | None  # hivatali, ceg or per; None when the gateway does not say (the KR)


@dataclass(frozen=True)
class MailboxCounts:
    unread: int
    from_organisations: int
    from_citizens: int
    from_system: int


@dataclass(frozen=True)
class PublicKey:
    certificate_der: bytes
    fingerprint_sha256: str


def _part(form: Any, name: str) -> Any:
    """``form.name``, or None: zeep reads an answer element with no children (an empty
    mailbox) and an empty Form (no office found) as no Form at all."""
    return getattr(form, name, None) if form is not None else None


def _text(value: Any) -> str | None:
    return value.strip() if isinstance(value, str) else value


class KapuClient:
    """The HKP services of a Kapu gateway (or, dialect permitting, of the real KR)."""

    def __init__(self, url: str, username: str, password: str, *, timeout: float = 60) -> None:
        base = url.rstrip("/")
        wsdl = base if base.endswith("?wsdl") else f"{base.removesuffix('/hkp')}/hkp?wsdl"
        self._username = username
        # zeep is untyped; these three calls are its documented constructors.
        self._client = zeep.Client(  # type: ignore[no-untyped-call]
            wsdl, wsse=UsernameToken(username, password),  # type: ignore[no-untyped-call]
            transport=Transport(  # type: ignore[no-untyped-call]
                timeout=timeout, operation_timeout=timeout
            ),
        )

    # --- the calls ------------------------------------------------------------------------

    def _call(
        self, service: str, module: str, form: dict[str, Any]
    ) -> tuple[Any, dict[str, bytes]]:
        result = getattr(self._client.service, service)(
            KerdesFejlec={"Felhasznalo": self._username, "UzenetIdopont": datetime.now(UTC)},
            Parancs={"Rendszer": "HKP", "Szolgaltatas": {"_value_1": service, "Module": module}},
            Form=form,
        )
        attachments: dict[str, bytes] = {}
        if isinstance(result, MessagePack):
            attachments = {a.content_id.strip("<>"): a.content for a in result.attachments}
            result = result.root
        body = result.body
        if body.HibaUzenet is not None:
            raise KapuError(int(body.HibaUzenet.Szam), body.HibaUzenet.Tartalom)
        return body.Form, attachments

    def upload(
        self,
        content: bytes,
        file_name: str,
        *,
        doc_type_office: str,
        doc_type_id: str,
        doc_type_description: str,
        recipient_krid: str | None = None,
        recipient_code: str | None = None,
        reference_number: str | None = None,
        note: str | None = None,
        reply_encryption: bool = False,
        return_receipt: bool = False,
    ) -> Acceptance:
        """Send one document; raises KapuError with the item's HibaKod when refused."""
        recipient = (
            {"KRID": recipient_krid} if recipient_krid else {"KapcsolatiKod": recipient_code}
        )
        item = {
            "HivatkozasiSzam": reference_number, "Cimzett": recipient,
            "DokTipusHivatal": doc_type_office, "DokTipusAzonosito": doc_type_id,
            "DokTipusLeiras": doc_type_description, "Megjegyzes": note, "FileNev": file_name,
            "ValaszUtvonal": 0, "ValaszTitkositas": reply_encryption, "RendszerUzenet": False,
            "ETertiveveny": return_receipt, "Lenyomat": hashlib.sha256(content).hexdigest(),
            "Tartalom": content,
        }
        form, _ = self._call("UjDokumentumokFeltolteseGepiInterfeszAltal", _HIVATALI,
                             {"DokumentumFeltoltesKerdes": {"DokumentumAdatok": [item]}})
        result = form.DokumentumTarolasValasz.DokumentumTarolasEredmeny[0]
        if result.Hiba is not None:
            raise KapuError(int(result.Hiba.HibaKod), result.Hiba.HibaSzoveg)
        return Acceptance(result.ErkeztetesiSzam, result.ErkeztetesiDatum,
                          result.ErvenyessegiDatum, result.Lenyomat)

    def list_mailbox(
        self, *, sender_type: str | None = None, doc_type_id: str | None = None,
        limit: int | None = None,
    ) -> list[Document]:
        """Waiting documents with their bytes, oldest first. Listing does not acknowledge."""
        query = {"FeladoTipusa": _TYPE_CODES[sender_type] if sender_type else None,
                 "EredmenyekSzama": limit, "DokumentumTipusAzonosito": doc_type_id}
        form, attachments = self._call(
            "DokumentumokLekerdezeseGepiInterfeszAltal2", _HIVATALI,
            {"DokumentumAdatokLetoltesKerdes": {"PostafiokAlapjan": query}},
        )
        answer = _part(form, "DokumentumAdatokLetoltesValasz")
        items = (answer.DokumentumAdatok if answer is not None else None) or []
        return [self._document(item, attachments) for item in items]

    def download(self, registration_number: str) -> Document:
        """One document, received or sent, with its bytes (none once expired)."""
        form, attachments = self._call(
            "DokumentumokLekerdezeseGepiInterfeszAltal2", _HIVATALI,
            {"DokumentumAdatokLetoltesKerdes": {
                "ErkeztetesiSzamAlapjan": {"ErkeztetesiSzam": registration_number}}},
        )
        return self._document(form.DokumentumAdatokLetoltesValasz.DokumentumAdatok[0],
                              attachments)

    def acknowledge(self, *registration_numbers: str) -> list[KapuError | None]:
        """Confirm successful reading; one result per number (None when accepted)."""
        form, _ = self._call("SikeresDokumentumokOlvasas", _HIVATALI, {"OlvasasVisszaigazolas": {
            "VisszaigazolasAdatok": [{"ErkeztetesiSzam": number, "Sikeres": True}
                                     for number in registration_numbers]}})
        outcomes: list[KapuError | None] = []
        for answer in form.OlvasasVisszaigazolasokValasz.VisszaIgazolasValasz:
            if answer.Hiba is not None:
                error = answer.Hiba.HibaLeiras
                outcomes.append(KapuError(int(error.HibaKod), error.HibaSzoveg))
            else:
                outcomes.append(None)
        return outcomes

    def status(self, registration_number: str) -> Document:
        form, _ = self._call("DokumentumokAllapota2", _HIVATALI, {"DokumentumAllapotKerdes": {
            "ErkeztetesiSzamAlapjan": {"ErkeztetesiSzam": registration_number}}})
        item = form.DokumentumAllapotValasz.DokumentumAdatok
        document = self._document(item, {})
        return Document(**{**document.__dict__, "read": bool(item.Olvasottsag)})

    def offices(
        self, *, short_name: str | None = None, name: str | None = None,
        type: str | None = None, krid: str | None = None,
    ) -> list[Office]:
        form, _ = self._call("HivatalokLekerdezese", _WORKFLOW, {"GIHivatalokLekerdezeseKerdes": {
            "RovidNevSzures": short_name, "NevSzures": name,
            "TipusSzures": _TYPE_CODES[type] if type else None, "KRID": krid}})
        # One flat GIHivatalokLekerdezeseValasz per office, side by side in the Form.
        found = _part(form, "GIHivatalokLekerdezeseValasz") or []
        return [Office(_text(h.KRID) or "", h.RovidNev, h.Nev, h.MAKKod or None,
                       _TYPE_NAMES[int(h.Tipus)] if h.Tipus is not None else None)
                for h in found]

    def mailbox_counts(self) -> MailboxCounts:
        form, _ = self._call("GIPostaFiokLekerdezes", _WORKFLOW,
                             {"GIPostaFiokAdatokLekerdezeseKerdes": {}})
        counts = form.GIPostaFiokAdatokLekerdezeseValasz
        return MailboxCounts(
            counts.OlvasatlanUzenetekSzama, counts.HivataltolErkezettOlvasatlanUzenetekSzama,
            counts.AllampolgartolErkezettOlvasatlanUzenetekSzama,
            counts.RendszertolErkezettOlvasatlanUzenetekSzama,
        )

    def public_key(self, *, krid: str | None = None, code: str | None = None) -> PublicKey:
        form, _ = self._call("KulcsLekerdezes", _HIVATALI, {"KulcsLekerdezesKerdes":
                             {"KRID": krid} if krid else {"KapcsolatiKod": code}})
        answer = form.KulcsLekerdezesValasz
        if answer.Hiba is not None:
            raise KapuError(int(answer.Hiba.HibaKod), answer.Hiba.HibaSzoveg)
        return PublicKey(answer.Tanusitvany, answer.Ujjlenyomat)

    # --- translation ----------------------------------------------------------------------

    @staticmethod
    def _document(item: Any, attachments: dict[str, bytes]) -> Document:
        felado = item.Felado
        if felado.RendszerFelado is not None:
            sender = Sender("system", felado.RendszerFelado.Nev)
        elif felado.HivatalFelado is not None:
            office = felado.HivatalFelado
            sender = Sender("organisation", office.Nev, krid=_text(office.KRID),
                            short_name=office.RovidNev, mak_code=office.MAKKod)
        else:
            citizen = felado.AllampolgarFelado
            sender = Sender("citizen", citizen.Nev, code=citizen.KapcsolatiKod,
                            email=citizen.Email)
        return Document(
            registration_number=item.ErkeztetesiSzam, sender=sender,
            reference_number=item.HivatkozasiSzam, doc_type_office=item.DokTipusHivatal,
            doc_type_id=item.DokTipusAzonosito, doc_type_description=item.DokTipusLeiras,
            note=item.Megjegyzes, file_name=item.FileNev, registered_at=item.ErkeztetesiDatum,
            valid_until=item.ErvenyessegiDatum,
            delivery_state=_DELIVERY[int(item.Kezbesitettseg)],
            reply_encryption=bool(item.ValaszTitkositas),
            system_message=bool(item.Rendszeruzenet), storage_area=item.Tarterulet,
            content=attachments.get(item.href) if item.href else None,
            timestamp_token=item.Idopecset,
        )
