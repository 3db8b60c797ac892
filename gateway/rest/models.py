"""Response bodies of the REST API, and their translation from domain objects."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel

from gateway.domain.documents import Document, PartyRef
from gateway.domain.parties import Party
from gateway.domain.registration import budapest_local
from gateway.services.acceptance import Acceptance
from gateway.services.authentication import Verification


def local(instant: datetime) -> datetime:
    """Timestamps are shown in Budapest time with their offset, like the number's digits."""
    return budapest_local(instant)


class AcceptanceOut(BaseModel):
    registration_number: str
    registered_at: datetime
    valid_until: datetime
    sha256: str
    size: int
    file_name: str

    @classmethod
    def of(cls, acceptance: Acceptance) -> AcceptanceOut:
        return cls(
            registration_number=acceptance.registration_number,
            registered_at=local(acceptance.registered_at),
            valid_until=local(acceptance.valid_until), sha256=acceptance.sha256,
            size=acceptance.size, file_name=acceptance.file_name,
        )


class PartyOut(BaseModel):
    kind: str
    name: str
    krid: str | None = None
    short_name: str | None = None
    code: str | None = None

    @classmethod
    def of(cls, ref: PartyRef) -> PartyOut:
        return cls(kind=ref.kind.value, name=ref.name, krid=ref.krid,
                   short_name=ref.short_name, code=ref.code)


class ActingPersonOut(BaseModel):
    """Who sent a document in its sender's name under a mandate (contract 25)."""

    name: str
    code: str | None


class DocumentOut(BaseModel):
    registration_number: str
    registered_at: datetime
    valid_until: datetime
    sender: PartyOut
    recipient: PartyOut
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
    delivery_state: str
    acknowledged_at: datetime | None
    # The agent who sent it in the sender's name; null when the sender acted itself.
    acting_person: ActingPersonOut | None = None

    @classmethod
    def of(cls, document: Document,
           parties: dict[PartyRef, PartyOut] | None = None) -> DocumentOut:
        """``parties``: the party views a page has made already (a page names the same few
        parties on every row; one view each is enough)."""
        if parties is None:
            parties = {}
        for ref in (document.sender, document.recipient):
            if ref not in parties:
                parties[ref] = PartyOut.of(ref)
        return cls(
            registration_number=document.registration_number,
            registered_at=local(document.registered_at),
            valid_until=local(document.valid_until),
            sender=parties[document.sender], recipient=parties[document.recipient],
            reference_number=document.reference_number,
            doc_type_office=document.doc_type_office, doc_type_id=document.doc_type_id,
            doc_type_description=document.doc_type_description, note=document.note,
            file_name=document.file_name, size=document.size, sha256=document.sha256,
            reply_encryption=document.reply_encryption,
            return_receipt=document.return_receipt, system_message=document.system_message,
            delivery_state=document.delivery_state.value,
            acknowledged_at=local(document.acknowledged_at) if document.acknowledged_at else None,
            acting_person=ActingPersonOut(name=document.acting_person.name,
                                          code=document.acting_person.code)
            if document.acting_person else None,
        )


class MailboxOut(BaseModel):
    items: list[DocumentOut]
    next_cursor: str | None

    @classmethod
    def of(cls, documents: list[Document], next_cursor: str | None) -> MailboxOut:
        parties: dict[PartyRef, PartyOut] = {}
        return cls(items=[DocumentOut.of(document, parties) for document in documents],
                   next_cursor=next_cursor)


class AcknowledgementOut(BaseModel):
    registration_number: str
    acknowledged_at: datetime


class OfficeOut(BaseModel):
    krid: str
    short_name: str
    name: str
    mak_code: str | None
    type: str

    @classmethod
    def of(cls, party: Party) -> OfficeOut:
        assert party.krid is not None and party.short_name is not None
        return cls(krid=party.krid, short_name=party.short_name, name=party.name,
                   mak_code=party.mak_code, type=party.kind.value)


class OfficesOut(BaseModel):
    items: list[OfficeOut]


class TopicOut(BaseModel):
    code: str
    name: str


class TopicsOut(BaseModel):
    """An office's e-Papír topics (contract 24): ``ALTALANOS`` alone when it set none."""

    items: list[TopicOut]


class OriginalOut(BaseModel):
    """The file as it was authenticated."""

    file_name: str
    size: int
    sha256: str


class VerificationOut(BaseModel):
    """What AVDH verification found (contract 23)."""

    valid: bool
    authenticated_by: str | None
    authenticated_at: datetime | None
    original: OriginalOut | None
    issued_here: bool
    # The contract's short phrase: "not signed", "signed by someone else", "changed after
    # signing", "signature timestamp missing"; null when valid.
    reason: str | None
    reason_code: str | None
    advice: str | None

    @classmethod
    def of(cls, found: Verification) -> VerificationOut:
        original = found.original
        return cls(
            valid=found.valid, authenticated_by=found.authenticated_by,
            authenticated_at=local(found.authenticated_at) if found.authenticated_at else None,
            original=OriginalOut(file_name=original.file_name, size=original.size,
                                 sha256=original.sha256) if original else None,
            issued_here=found.issued_here, reason=found.reason_phrase,
            reason_code=found.reason.value if found.reason else None, advice=found.advice)
