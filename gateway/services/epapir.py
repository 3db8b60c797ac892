"""e-Papír (contract 24): a person writes to an office, for themselves or as staff for an
organisation. The subject and text become the beadvány PDF with the attachments embedded
(pdf/beadvany.py), AVDH seals it naming the person (crypto/avdh.py), and it is accepted as one
document (services/acceptance.py) named after its registration number, the authentication
recorded in the same transaction. Everything is checked before anything is stored: a refused
submission takes no number and keeps no bytes. The attachments and the beadvány wait in this
process's directory under the data directory (``ports.temporary``, ``KAPU_DATA_DIR/tmp/
epapir``), never in the system's temporary directory; what a crash leaves there goes at the
next start."""

from __future__ import annotations

import asyncio
import hashlib
import mimetypes
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import BinaryIO

from gateway.domain.authentication import Clause, Original
from gateway.domain.documents import MAX_TEXT, UploadRequest, validate_upload
from gateway.domain.epapir import (
    DOC_TYPE_OFFICE,
    MAX_ATTACHMENTS,
    SUBJECT_MAX_CHARS,
    TEXT_MAX_CHARS,
    Submission,
    SubmissionAttachment,
)
from gateway.domain.formats import HEAD_BYTES, content_matches, is_allowed
from gateway.domain.limits import checked_text
from gateway.domain.parties import Party, PartyKind
from gateway.domain.rny import Agency
from gateway.errors import (
    EmptyContent,
    Forbidden,
    FormatMismatch,
    FormatNotAllowed,
    InvalidRequest,
    RecipientUnknown,
    TooLarge,
    Unavailable,
)
from gateway.services import staff as staff_service
from gateway.services.acceptance import Acceptance, StagedUpload
from gateway.services.authentication import record_authentication
from gateway.services.ports.evidence import (
    AuthenticationRecord,
    PdfAuthenticator,
    SubmissionRenderer,
)
from gateway.services.ports.parties import Topic
from gateway.services.ports.slices import EpapirPorts
from gateway.services.ports.storage import UnitOfWork
from gateway.services.registrar import Registered, Registering
from gateway.services.topics import topics_in

ATTACHMENT_FIELD = "attachment"
TEMPORARY = "epapir"  # ports.temporary's directory for this service's files
# The beadvány's name as the záradék names the original (its number is not known yet).
BEADVANY_FILE_NAME = "beadvany.pdf"
_CHUNK = 1024 * 1024


def file_name_for(registration_number: str) -> str:
    return f"epapir-{registration_number}.pdf"


class StagedAttachments:
    """A submission's attachments on their way in, written to a private temporary directory
    (in ``within``) part by part as the door's parser reads them (never whole in memory),
    hashed as they arrive. Refuses an eleventh attachment and stops reading once all together
    pass ``max_bytes``. Leaving the block removes the directory, on every path.

        with staged_attachments(ports) as attachments:
            ... attachments.begin(name); attachments.write(chunk) …; attachments.end()
            await submit(..., attachments=attachments.items)
    """

    def __init__(self, max_bytes: int, within: Path) -> None:
        self._max_bytes = max_bytes
        self._directory = Path(tempfile.mkdtemp(prefix="kapu-epapir-", dir=within))
        self._total = 0
        self.items: list[SubmissionAttachment] = []
        self._file: BinaryIO | None = None
        self._name = ""
        self._hash = hashlib.sha256()
        self._size = 0

    def __enter__(self) -> StagedAttachments:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    @property
    def directory(self) -> Path:
        return self._directory

    def begin(self, file_name: str) -> None:
        if len(self.items) >= MAX_ATTACHMENTS:
            raise InvalidRequest(f"at most {MAX_ATTACHMENTS} attachments",
                                 field=ATTACHMENT_FIELD)
        self._name, self._hash, self._size = file_name, hashlib.sha256(), 0
        self._file = (self._directory / f"{len(self.items)}.part").open("wb")

    def write(self, chunk: bytes | memoryview) -> None:
        assert self._file is not None
        self._total += len(chunk)
        if self._total > self._max_bytes:
            raise TooLarge(f"the attachments together are over {self._max_bytes} bytes",
                           field=ATTACHMENT_FIELD)
        self._file.write(chunk)
        self._hash.update(chunk)
        self._size += len(chunk)

    def end(self) -> None:
        assert self._file is not None
        path = Path(self._file.name)
        self._file.close()
        self._file = None
        self.items.append(SubmissionAttachment(
            path=path, file_name=self._name, media_type=media_type_of(self._name),
            size=self._size, sha256=self._hash.hexdigest()))

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None
        shutil.rmtree(self._directory, ignore_errors=True)


def staged_attachments(ports: EpapirPorts) -> StagedAttachments:
    """Empty :class:`StagedAttachments` up to ``epapir_max_bytes``, in this process's
    directory for e-Papír."""
    return StagedAttachments(ports.epapir_max_bytes, ports.temporary.directory(TEMPORARY))


def media_type_of(file_name: str) -> str:
    return mimetypes.guess_type(file_name, strict=False)[0] or "application/octet-stream"


@dataclass(frozen=True)
class _Checked:
    """A submission that passed every check: where it goes, from whom, about what."""

    office: Party
    sender: Party  # the person, or the organisation staff write for
    topic: Topic
    subject: str
    text: str
    request: UploadRequest


async def submit(
    ports: EpapirPorts,
    person: Party,
    *,
    for_organisation: str | None = None,
    recipient_krid: str,
    topic: str,
    subject: str,
    text: str,
    attachments: list[SubmissionAttachment],
    reference_number: str | None = None,
    return_receipt: bool = False,
    agency: Agency | None = None,
) -> Acceptance:
    """Render, seal and accept one e-Papír from ``person`` (for the organisation with KRID
    ``for_organisation`` when staff write for it; in the name of the principal of ``agency``
    when an agent writes under a mandate, to an office within its scope) to the office
    ``recipient_krid``. Each refusal names its field; nothing is stored before every check
    has passed."""
    if agency is not None:
        assert person.id == agency.agent.id and for_organisation is None
    checked = await _checked(ports, person, for_organisation, recipient_krid, topic, subject,
                             text, attachments, reference_number, return_receipt, agency)
    if ports.submission_renderer is None or ports.authenticator is None:
        raise Unavailable("e-Papír is not available: no renderer or AVDH seal is configured")
    renderer, authenticator = ports.submission_renderer, ports.authenticator
    staff = checked.sender.id != person.id and agency is None
    at = ports.clock.now()
    submission = Submission(
        sender_name=checked.sender.name,
        sender_address=(f"KRID {checked.sender.krid}" if staff
                        else f"kapcsolati kód {checked.sender.code}"),
        acting_person=(f"{person.name} ({person.username})" if staff else
                       f"{person.name} (kapcsolati kód {person.code})" if agency else None),
        office_name=checked.office.name, office_krid=checked.office.krid or "",
        topic_code=checked.topic.code, topic_name=checked.topic.name,
        subject=checked.subject, text=checked.text, at=at,
        reference_number=checked.request.reference_number)
    with tempfile.TemporaryDirectory(prefix="kapu-epapir-",
                                     dir=ports.temporary.directory(TEMPORARY)) as work:
        beadvany, sealed = Path(work) / BEADVANY_FILE_NAME, Path(work) / "sealed.pdf"
        original = await asyncio.to_thread(_render, renderer, submission, attachments, beadvany)
        clause = Clause(
            person_name=person.name, username=person.username,
            office=(f"{checked.sender.name} (KRID {checked.sender.krid})" if staff
                    else f"{checked.sender.name} (kapcsolati kód {checked.sender.code})"
                    if agency else None),
            at=at, original=original,
            verify_url=ports.public_url.rstrip("/") + "/ui/verify")
        await asyncio.to_thread(_seal, authenticator, beadvany, clause, sealed)
        result_sha256 = hashlib.sha256()

        async def recorded(uow: UnitOfWork, _registered: Registered) -> None:
            record = AuthenticationRecord(
                person_id=person.id, office_id=checked.sender.id if staff else None,
                authenticated_at=at, original_file_name=original.file_name,
                original_size=original.size, original_sha256=original.sha256,
                result_sha256=result_sha256.hexdigest())
            await record_authentication(uow, record, actor=person.username,
                                        office_krid=checked.sender.krid if staff else None)

        async with StagedUpload(ports) as staged:
            with sealed.open("rb") as source:
                while chunk := await asyncio.to_thread(source.read, _CHUNK):
                    result_sha256.update(chunk)
                    staged.content.write(chunk)
            return await staged.accept(
                checked.sender, checked.request, person=person.username if staff else None,
                registering=Registering(file_name=file_name_for, also=recorded),
                agency=agency)


def _render(renderer: SubmissionRenderer, submission: Submission,
            attachments: list[SubmissionAttachment], output: Path) -> Original:
    with output.open("wb") as sink:
        renderer.render(submission, attachments, sink)
    digest = hashlib.sha256()
    with output.open("rb") as source:
        while chunk := source.read(_CHUNK):
            digest.update(chunk)
    return Original(BEADVANY_FILE_NAME, output.stat().st_size, digest.hexdigest())


def _seal(authenticator: PdfAuthenticator, source: Path, clause: Clause, output: Path) -> None:
    with source.open("rb") as unsigned, output.open("wb") as sink:
        authenticator.seal(unsigned, clause, sink)


async def _checked(
    ports: EpapirPorts, person: Party, for_organisation: str | None, recipient_krid: str,
    topic: str, subject: str, text: str, attachments: list[SubmissionAttachment],
    reference_number: str | None, return_receipt: bool, agency: Agency | None = None,
) -> _Checked:
    if person.kind is not PartyKind.CITIZEN:
        raise Forbidden("only a person may submit e-Papír, not an organisation's credentials")
    sender = person if agency is None else agency.principal
    if for_organisation:
        # NotFound for an organisation where the person holds no role, as for no organisation.
        sender, _ = await staff_service.office_for(ports, person, for_organisation)
    async with ports.uow() as uow:
        office = (await uow.parties.by_krid(recipient_krid)
                  if recipient_krid.isascii() and recipient_krid.isdigit()
                  and len(recipient_krid) == 9 else None)
        if office is None or office.kind is not PartyKind.HIVATALI:
            raise RecipientUnknown(f"no office with KRID {recipient_krid!r}",
                                   field="recipient_krid")
        if agency is not None and not agency.covers(office.krid):
            raise Forbidden(f"the mandate does not reach {office.name}",
                            field="recipient_krid")
        offered = await topics_in(uow, office)
    chosen = next((each for each in offered if each.code == topic), None)
    if chosen is None:
        raise InvalidRequest(f"{office.name} offers no topic {topic!r}", field="topic")
    subject = checked_text(subject.strip(), "subject")
    if not subject:
        raise InvalidRequest("subject is required", field="subject")
    if len(subject) > SUBJECT_MAX_CHARS:
        raise InvalidRequest(f"subject is longer than {SUBJECT_MAX_CHARS} characters",
                             field="subject")
    text = checked_text(text, "text", multiline=True).strip()
    if len(text) > TEXT_MAX_CHARS:
        raise InvalidRequest(f"text is longer than {TEXT_MAX_CHARS} characters", field="text")
    if not text and not attachments:
        # A subject alone says too little: the text, or an attachment, carries the request.
        raise InvalidRequest("write a text or attach a file", field="text")
    await asyncio.to_thread(_check_attachments, attachments, ports.epapir_max_bytes)
    request = validate_upload(UploadRequest(
        file_name=BEADVANY_FILE_NAME, doc_type_office=DOC_TYPE_OFFICE,
        doc_type_id=chosen.code, doc_type_description=chosen.name,
        recipient_krid=office.krid, note=subject, reference_number=reference_number,
        return_receipt=return_receipt))
    return _Checked(office, sender, chosen, subject, text, request)


def _check_attachments(attachments: list[SubmissionAttachment], max_bytes: int) -> None:
    """The document upload's rules for each attachment (allowed format, not empty, content
    matching its extension), the count, and the limit on all together."""
    if len(attachments) > MAX_ATTACHMENTS:
        raise InvalidRequest(f"at most {MAX_ATTACHMENTS} attachments", field=ATTACHMENT_FIELD)
    if sum(each.size for each in attachments) > max_bytes:
        raise TooLarge(f"the attachments together are over {max_bytes} bytes",
                       field=ATTACHMENT_FIELD)
    for each in attachments:
        name = checked_text(each.file_name, ATTACHMENT_FIELD)
        if not name.strip() or "/" in name or "\\" in name or len(name) > MAX_TEXT:
            raise InvalidRequest(f"{name[:MAX_TEXT]!r} is not a file name of at most "
                                 f"{MAX_TEXT} characters", field=ATTACHMENT_FIELD)
        if not is_allowed(name):
            raise FormatNotAllowed(f"the format of {name!r} is not allowed",
                                   field=ATTACHMENT_FIELD)
        if each.size == 0:
            raise EmptyContent(f"{name!r} is empty (0 bytes)", field=ATTACHMENT_FIELD)
        with each.path.open("rb") as source:
            head = source.read(HEAD_BYTES)
        if not content_matches(name, head):
            raise FormatMismatch(f"the content of {name!r} is not what its extension says",
                                 field=ATTACHMENT_FIELD)
