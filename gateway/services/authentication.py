"""AVDH (contract 23): authenticate a file for a person, verify a PDF, and the record of every
authentication (hashes only) that lets a verification say ``issued_here``.

Files go up to ``avdh_max_bytes`` (50 MiB), so none is held in memory: the upload streams into
a :class:`StagedFile` (a temporary file, hashed as it arrives), the hitelesített PDF is written
to an anonymous temporary file that the door streams and closes (the system frees it then, or
when the process ends, whatever happens in between). Both live in this process's directory
under the data directory (``ports.temporary``, ``KAPU_DATA_DIR/tmp/avdh``), never in the
system's temporary directory; what a crash leaves there goes at the next start."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import mimetypes
import os
import tempfile
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import BinaryIO

from gateway.domain.audit import AuditAction, AuditEvent
from gateway.domain.authentication import Clause, Kind, NotAPdf, Original, PdfRefused, Reason
from gateway.domain.documents import MAX_TEXT, check_not_empty
from gateway.domain.formats import ALLOWED_FORMATS, content_matches, is_allowed
from gateway.domain.incoming import IncomingBytes
from gateway.domain.limits import checked_text
from gateway.domain.parties import Party, PartyKind
from gateway.errors import (
    Forbidden,
    FormatMismatch,
    FormatNotAllowed,
    InvalidRequest,
    NotAuthenticatedPdf,
    TooLarge,
    Unavailable,
)
from gateway.services import staff as staff_service
from gateway.services.ports.evidence import AuthenticationRecord, PdfAuthenticator
from gateway.services.ports.slices import AuthenticationPorts
from gateway.services.ports.storage import UnitOfWork

FILE_FIELD = "file"
TEMPORARY = "avdh"  # ports.temporary's directory for this service's files
_READ_CHUNK = 1 << 20

# The contract's short phrase for each reason (the REST answer's ``reason``), and what a person
# can do about it (``advice``).
REASON_PHRASES = {
    Reason.NOT_SIGNED: "not signed",
    Reason.SIGNED_BY_SOMEONE_ELSE: "signed by someone else",
    Reason.CHANGED_AFTER_SIGNING: "changed after signing",
    Reason.TIMESTAMP_MISSING: "signature timestamp missing",
}
ADVICE = {
    Reason.NOT_SIGNED: "This PDF carries no signature: ask the sender for the authenticated "
                       "(hitelesített) PDF, or have the document authenticated.",
    Reason.SIGNED_BY_SOMEONE_ELSE: "This PDF was not authenticated by this gateway: check it "
                                   "with the service that signed it, or ask the sender for "
                                   "one authenticated here.",
    Reason.CHANGED_AFTER_SIGNING: "The file was changed after it was authenticated: ask the "
                                  "sender for the file as it was issued.",
    Reason.TIMESTAMP_MISSING: "The signature has no timestamp, so when it was made cannot be "
                              "proven: ask the sender for the file as it was issued.",
}


async def record_authentication(uow: UnitOfWork, record: AuthenticationRecord, *,
                                actor: str, office_krid: str | None) -> None:
    """Record an authentication and audit it as ``document_authenticated`` (the result's
    SHA-256), in the caller's write transaction: ``actor`` is the person's username, and
    ``office_krid`` the office they acted for, if any."""
    await uow.authentications.add(record)
    await uow.audit.append(AuditEvent(
        at=record.authenticated_at, actor=actor, action=AuditAction.DOCUMENT_AUTHENTICATED,
        sha256=record.result_sha256, detail=record.original_sha256, office_krid=office_krid))


class StagedFile(IncomingBytes):
    """One file on its way to AVDH, in a temporary file in ``directory``: counted against
    ``max_bytes`` (TooLarge, naming ``file``, the moment it is passed: nothing more is read or
    kept), hashed and its first bytes kept for the format check as it arrives. A door makes
    it with :func:`staged_file`, fills it with ``forms.receive_form`` (it is a
    ``StagedContent``) and removes it with ``discard``, on every path (``async with``)."""

    noun = "file"

    def __init__(self, max_bytes: int, directory: Path) -> None:
        super().__init__(max_bytes)
        descriptor, name = tempfile.mkstemp(prefix="kapu-avdh-", suffix=".part",
                                            dir=directory)
        self.path = Path(name)
        self._file: BinaryIO = os.fdopen(descriptor, "wb")

    async def __aenter__(self) -> StagedFile:
        return self

    async def __aexit__(self, *_exc: object) -> None:
        await self.discard()

    def expect(self, sha256: str) -> None:
        """Nothing to do: the file is authenticated here, not stored under its hash."""

    def write(self, chunk: bytes | memoryview) -> None:
        self._count(chunk)
        self._file.write(chunk)

    async def finish(self) -> None:
        self.seal()
        self._file.close()

    async def sha1(self) -> str:
        await self.finish()
        return await asyncio.to_thread(_file_digest, self.path, "sha1")

    def chunks(self) -> Iterator[bytes]:
        with open(self.path, "rb") as file:
            while chunk := file.read(_READ_CHUNK):
                yield chunk

    async def place(self) -> None:
        raise RuntimeError("a file staged for AVDH is never kept")

    async def discard(self) -> None:
        self._file.close()
        with contextlib.suppress(FileNotFoundError):
            await asyncio.to_thread(self.path.unlink)


def staged_file(ports: AuthenticationPorts) -> StagedFile:
    """An empty :class:`StagedFile` for a file up to ``avdh_max_bytes``, in this process's
    directory for AVDH."""
    return StagedFile(ports.avdh_max_bytes, ports.temporary.directory(TEMPORARY))


def _file_digest(path: Path, algorithm: str) -> str:
    with open(path, "rb") as file:
        return hashlib.file_digest(file, algorithm).hexdigest()


def _rewound_digest(file: BinaryIO) -> tuple[str, int]:
    """SHA-256 and size of ``file``'s bytes, leaving it at its start to be streamed."""
    file.seek(0)
    digest, size = hashlib.sha256(), 0
    while chunk := file.read(_READ_CHUNK):
        digest.update(chunk)
        size += len(chunk)
    file.seek(0)
    return digest.hexdigest(), size


@dataclass
class Authenticated:
    """A hitelesített PDF for the door to stream with :meth:`chunks`: ``content`` (at its
    start) is an anonymous temporary file, closed once streamed."""

    content: BinaryIO
    file_name: str  # <original stem>-hiteles.pdf
    size: int
    sha256: str
    kind: Kind
    at: datetime
    original: Original

    async def chunks(self) -> AsyncIterator[bytes]:
        """The PDF's bytes; its temporary file is closed (so freed) however the answer ends:
        sent, or the client gone."""
        try:
            while chunk := self.content.read(_READ_CHUNK):
                yield chunk
        finally:
            self.content.close()


@dataclass(frozen=True)
class Verification:
    """What ``verify`` found: the contract's answer."""

    valid: bool
    reason: Reason | None
    authenticated_by: str | None
    authenticated_at: datetime | None
    original: Original | None
    issued_here: bool

    @property
    def reason_phrase(self) -> str | None:
        return REASON_PHRASES[self.reason] if self.reason else None

    @property
    def advice(self) -> str | None:
        return ADVICE[self.reason] if self.reason else None


def result_name(file_name: str) -> str:
    """``<original stem>-hiteles.pdf``."""
    stem, dot, _ = file_name.rpartition(".")
    return f"{stem if dot and stem else file_name}-hiteles.pdf"


def _checked_original(file_name: str, staged: StagedFile, max_bytes: int) -> Original:
    """The document upload's rules (domain/documents.py, domain/formats.py), each naming
    ``file``: empty, too large, a format not allowed, content not matching its extension."""
    name = checked_text(file_name.strip(), FILE_FIELD)
    if not name or len(name) > MAX_TEXT or "/" in name or "\\" in name:
        raise InvalidRequest(f"the file name must be 1 to {MAX_TEXT} characters, without a "
                             "path", field=FILE_FIELD)
    check_not_empty(name, staged.size)
    if staged.size > max_bytes:
        raise TooLarge(f"the file is larger than {max_bytes} bytes", field=FILE_FIELD)
    if not is_allowed(name):
        raise FormatNotAllowed(f"the format of {name!r} is not allowed; allowed extensions are "
                               + ", ".join(ALLOWED_FORMATS), field=FILE_FIELD)
    if not content_matches(name, staged.head):
        raise FormatMismatch(f"the content of {name!r} is not what its extension says",
                             field=FILE_FIELD)
    return Original(file_name=name, size=staged.size, sha256=staged.seal())


def _seal_of(ports: AuthenticationPorts) -> PdfAuthenticator:
    if ports.authenticator is None:
        raise Unavailable("document authentication is not set up on this gateway")
    return ports.authenticator


def check_may_authenticate(party: Party) -> None:
    """Only persons (citizens) authenticate (contract 4): an organisation is Forbidden,
    checked by the door before it reads the file too."""
    if party.kind is not PartyKind.CITIZEN:
        raise Forbidden("only persons may authenticate documents")


async def authenticate(ports: AuthenticationPorts, person: Party, staged: StagedFile,
                       file_name: str, *, office_krid: str | None = None) -> Authenticated:
    """Authenticate the staged file for ``person`` (a citizen: anyone else Forbidden), for
    the office ``office_krid`` when they act for one where they hold a role (the záradék
    names it; NotFound for any other). Refusals name ``file`` and record nothing; the
    authentication is recorded and audited (``document_authenticated``) once its PDF is
    made. The door streams the result's ``chunks``, which close its ``content``."""
    check_may_authenticate(person)
    original = _checked_original(file_name, staged, ports.avdh_max_bytes)
    office = None
    if office_krid is not None:
        office, _role = await staff_service.office_for(ports, person, office_krid)
    seal = _seal_of(ports)
    await staged.finish()
    at = ports.clock.now()
    clause = Clause(person_name=person.name, username=person.username,
                    office=f"{office.name} (KRID {office.krid})" if office else None,
                    at=at, original=original,
                    verify_url=ports.public_url.rstrip("/") + "/ui/verify")
    media_type = mimetypes.guess_type(original.file_name)[0] or "application/octet-stream"
    # Anonymous (no name to leave behind); closed once streamed (Authenticated.chunks).
    output: BinaryIO = tempfile.TemporaryFile(dir=ports.temporary.directory(TEMPORARY))
    try:
        try:
            kind = await asyncio.to_thread(seal.authenticate, staged.path, clause, output,
                                           media_type=media_type)
        except PdfRefused as refused:
            raise InvalidRequest(str(refused), field=FILE_FIELD) from refused
        sha256, size = await asyncio.to_thread(_rewound_digest, output)
        record = AuthenticationRecord(
            person_id=person.id, office_id=office.id if office else None, authenticated_at=at,
            original_file_name=original.file_name, original_size=original.size,
            original_sha256=original.sha256, result_sha256=sha256)
        async with ports.write_uow() as uow:
            await record_authentication(uow, record, actor=person.username,
                                        office_krid=office.krid if office else None)
            await uow.commit()
    except BaseException:
        output.close()
        raise
    return Authenticated(content=output, file_name=result_name(original.file_name), size=size,
                         sha256=record.result_sha256, kind=kind, at=at, original=original)


def _named(person: Party | None, office: Party | None) -> str | None:
    if person is None:
        return None
    name = f"{person.name} ({person.username})"
    return f"{name}, for {office.name} (KRID {office.krid})" if office else name


async def verify(ports: AuthenticationPorts, staged: StagedFile) -> Verification:
    """Whether the staged PDF is an intact hitelesített PDF of this gateway, by whom and
    when, and whether this gateway's record holds it (``issued_here``): then who and what
    come from the record. Not a PDF at all: NotAuthenticatedPdf. Changes nothing."""
    check_not_empty(FILE_FIELD, staged.size)
    if not content_matches("verified.pdf", staged.head):  # the upload's PDF signature rule
        raise NotAuthenticatedPdf("the file is not a PDF", field=FILE_FIELD)
    authenticator = _seal_of(ports)
    await staged.finish()
    try:
        verdict = await asyncio.to_thread(authenticator.verify, staged.path,
                                          at=ports.clock.now())
    except NotAPdf as error:
        raise NotAuthenticatedPdf(f"the file is not a PDF: {error}", field=FILE_FIELD) from error
    async with ports.uow() as uow:
        # A PDF under another CA's seal is never this gateway's issue, whatever a shared
        # database remembers (hosts with other keys refuse to start; a test gateway may not).
        record = None if verdict.reason is Reason.SIGNED_BY_SOMEONE_ELSE \
            else await uow.authentications.issued(verdict.sha256)
        if record is None:
            return Verification(valid=verdict.valid, reason=verdict.reason,
                                authenticated_by=verdict.authenticated_by,
                                authenticated_at=verdict.authenticated_at,
                                original=verdict.original, issued_here=False)
        person = await uow.parties.by_id(record.person_id)
        office = (await uow.parties.by_id(record.office_id)
                  if record.office_id is not None else None)
    return Verification(
        valid=verdict.valid, reason=verdict.reason,
        authenticated_by=_named(person, office) or verdict.authenticated_by,
        authenticated_at=record.authenticated_at,
        original=Original(record.original_file_name, record.original_size,
                          record.original_sha256),
        issued_here=True)
