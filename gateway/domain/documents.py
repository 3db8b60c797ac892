"""Documents: what an upload asks for, and what the gateway remembers of it."""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import asdict, dataclass
from datetime import date, datetime
from enum import StrEnum

from gateway.domain.formats import is_allowed
from gateway.domain.limits import checked_text
from gateway.domain.parties import Party, PartyKind
from gateway.errors import EmptyContent, Forbidden, FormatNotAllowed, InvalidRequest

_HEX64 = re.compile(r"^[0-9a-f]{64}$")
_HEX40 = re.compile(r"^[0-9a-f]{40}$")
MAX_REFERENCE_NUMBER = 50
MAX_TEXT = 255
MAX_NOTE = 4000


class DeliveryState(StrEnum):
    WAITING = "waiting"
    DOWNLOADED = "downloaded"
    EXPIRED = "expired"
    # A citizen's document not opened after two notices (E-ügyintézési tv. 14. § (4) c)):
    # legally delivered, still unopened, still downloadable until valid_until.
    PRESUMED_DELIVERED = "presumed_delivered"


@dataclass(frozen=True)
class UploadRequest:
    """The metadata of one document to send, as any door hands it to the upload service."""

    file_name: str
    doc_type_office: str
    doc_type_id: str
    doc_type_description: str
    recipient_krid: str | None = None
    recipient_code: str | None = None
    note: str | None = None
    reference_number: str | None = None
    sha256: str | None = None
    sha1: str | None = None
    reply_encryption: bool = False
    return_receipt: bool = False
    encrypt: bool = False  # store encrypted for the addressee's key, when one is on file
    require_encryption: bool = False  # … and refuse with key_not_found when none is
    keep_copy: bool = False  # a citizen keeps a copy in their tartós tár

    def fingerprint(self, content_sha256: str) -> str:
        """Digest of the request and its content, to tell an idempotent retry from a reuse."""
        fields = asdict(self)
        if not self.keep_copy:  # digests of uploads from before keep_copy stay the same
            del fields["keep_copy"]
        fields["content_sha256"] = content_sha256
        canonical = json.dumps(fields, sort_keys=True, ensure_ascii=False)
        return hashlib.sha256(canonical.encode()).hexdigest()


def _text(value: str | None, field: str, *, limit: int, required: bool,
          multiline: bool = False) -> str | None:
    if value is None or not value.strip():
        if required:
            raise InvalidRequest(f"{field} is required", field=field)
        return None
    value = checked_text(value.strip(), field, multiline=multiline)
    if len(value) > limit:
        raise InvalidRequest(f"{field} is longer than {limit} characters", field=field)
    return value


def validate_upload(request: UploadRequest) -> UploadRequest:
    """Check and normalise an upload's metadata; raises the error that names the field."""
    file_name = _text(request.file_name, "file_name", limit=MAX_TEXT, required=True)
    assert file_name is not None
    if "/" in file_name or "\\" in file_name:
        raise InvalidRequest("file_name must not contain a path", field="file_name")
    if not is_allowed(file_name):
        raise FormatNotAllowed(
            f"the format of {file_name!r} is not allowed; allowed extensions are txt, pdf, docx, "
            "doc, odt, xlsx, xls, ods, tif, tiff, jpg, jpeg, png, mp4, m4a, mpeg, mpg, mp3, wav, "
            "kr, krx, xml",
            field="file_name",
        )
    krid = _text(request.recipient_krid, "recipient_krid", limit=9, required=False)
    code = _text(request.recipient_code, "recipient_code", limit=MAX_TEXT, required=False)
    if (krid is None) == (code is None):
        raise InvalidRequest(
            "give exactly one of recipient_krid and recipient_code", field="recipient_krid"
        )
    sha256 = _text(request.sha256, "sha256", limit=64, required=False)
    if sha256 is not None and not _HEX64.match(sha256.lower()):
        raise InvalidRequest("sha256 must be 64 hexadecimal digits", field="sha256")
    sha1 = _text(request.sha1, "sha1", limit=40, required=False)
    if sha1 is not None and not _HEX40.match(sha1.lower()):
        raise InvalidRequest("sha1 must be 40 hexadecimal digits", field="sha1")
    return UploadRequest(
        file_name=file_name,
        doc_type_office=_required(request.doc_type_office, "doc_type_office"),
        doc_type_id=_required(request.doc_type_id, "doc_type_id"),
        doc_type_description=_required(request.doc_type_description, "doc_type_description"),
        recipient_krid=krid,
        recipient_code=code,
        # The one multi-line text of an upload: the web form offers a text area for it.
        note=_text(request.note, "note", limit=MAX_NOTE, required=False, multiline=True),
        reference_number=_text(
            request.reference_number, "reference_number", limit=MAX_REFERENCE_NUMBER,
            required=False,
        ),
        sha256=sha256.lower() if sha256 else None,
        sha1=sha1.lower() if sha1 else None,
        reply_encryption=request.reply_encryption,
        return_receipt=request.return_receipt,
        encrypt=request.encrypt or request.require_encryption,
        require_encryption=request.require_encryption,
        keep_copy=request.keep_copy,
    )


def check_not_empty(file_name: str, size: int) -> None:
    """Refuse a document of 0 bytes (``empty_content``, naming the ``file``): checked before its
    content is matched to its extension, which an empty file would fail misleadingly."""
    if size == 0:
        raise EmptyContent(f"{file_name!r} is empty (0 bytes); a document must have content",
                           field="file")


def may_encrypt(sender: Party, request: UploadRequest) -> bool:
    """Whether the bytes may be stored encrypted for the addressee (an organisation sending
    with ``encrypt``, or replying to a document that may have asked ``reply_encryption``)."""
    return sender.is_organisation and bool(request.encrypt or request.reference_number)


def check_addressee(sender: Party, recipient: Party) -> None:
    """A citizen writes to organisations only."""
    if not sender.is_organisation and not recipient.is_organisation:
        raise Forbidden("a citizen can send only to organisations", field="recipient_code")


def numbering_krid(sender: Party, recipient: Party) -> str:
    """The number carries the organisation's KRID: the addressee's, or else the sender's."""
    krid = recipient.krid if recipient.is_organisation else sender.krid
    assert krid is not None
    return krid


def _required(value: str, field: str) -> str:
    checked = _text(value, field, limit=MAX_TEXT, required=True)
    assert checked is not None
    return checked


@dataclass(frozen=True)
class PartyRef:
    """How a sender or addressee appears in document metadata."""

    kind: PartyKind
    name: str
    krid: str | None = None
    short_name: str | None = None
    code: str | None = None
    mak_code: str | None = None
    email: str | None = None


@dataclass(frozen=True)
class ActingPerson:
    """The person who acted for a document's sender under a mandate (contract 25)."""

    name: str
    code: str | None


@dataclass(frozen=True)
class Document:
    id: int
    registration_number: str
    registered_at: datetime
    valid_until: datetime
    sender_id: int
    recipient_id: int
    sender: PartyRef
    recipient: PartyRef
    reference_number: str | None
    doc_type_office: str
    doc_type_id: str
    doc_type_description: str
    note: str | None
    file_name: str
    size: int
    sha256: str
    reply_encryption: bool
    return_receipt: bool
    system_message: bool
    delivery_state: DeliveryState
    acknowledged_at: datetime | None
    timestamp_token: bytes | None = None
    submitted_sha256: str | None = None  # set when stored encrypted: the plaintext's SHA-256
    second_notice_at: datetime | None = None  # a citizen's document: when still unopened
    presumed_at: datetime | None = None
    # The agent who sent it in the sender's name under a mandate; None when the sender acted.
    acting_person: ActingPerson | None = None

    @property
    def unopened(self) -> bool:
        """Not yet downloaded by its addressee (a presumed delivery is still unopened)."""
        return self.delivery_state in (DeliveryState.WAITING, DeliveryState.PRESUMED_DELIVERED)


def shows_evidence(mailbox: Party, document: Document) -> bool:
    """Whether ``document``'s receipts are shown to ``mailbox``: to its sender, who reads its
    evidence back; its addressee is shown none."""
    return document.sender_id == mailbox.id


@dataclass(frozen=True)
class Numbering:
    """Where a new document's registration number comes from."""

    krid: str
    day: date  # the Budapest day whose sequence it takes
    prefix: str  # KRID + YYYYMMDDHHMM; the storage appends the zero-padded sequence


@dataclass(frozen=True)
class NewDocument:
    """A document about to be registered: everything but its number."""

    registered_at: datetime
    valid_until: datetime
    sender_id: int
    recipient_id: int
    sender_kind: PartyKind
    reference_number: str | None
    doc_type_office: str
    doc_type_id: str
    doc_type_description: str
    note: str | None
    file_name: str
    size: int
    sha256: str
    reply_encryption: bool
    return_receipt: bool
    system_message: bool = False
    timestamp_token: bytes | None = None
    submitted_sha256: str | None = None
    warning_due_at: datetime | None = None
    not_collected_due_at: datetime | None = None
    agent_id: int | None = None  # the agent sending in the sender's name (contract 25)
