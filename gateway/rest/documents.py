"""``/api/v1/documents``, ``/mailbox``, ``/offices`` and an office's ``/topics``."""

from __future__ import annotations

import base64
from typing import Annotated, Literal

from fastapi import APIRouter, Header, Query, Request
from fastapi.responses import StreamingResponse
from starlette.requests import ClientDisconnect

from gateway.domain.parties import ORGANISATION_KINDS, PartyKind
from gateway.domain.ranges import byte_range
from gateway.errors import InvalidRequest
from gateway.forms import receive_form, upload_request
from gateway.multipart import attachment_disposition
from gateway.rest.deps import ActingDep, PartyDep, PortsDep
from gateway.rest.models import (
    AcceptanceOut,
    AcknowledgementOut,
    DocumentOut,
    MailboxOut,
    OfficeOut,
    OfficesOut,
    TopicOut,
    TopicsOut,
    local,
)
from gateway.rest.problems import AUTHENTICATED, problem_responses
from gateway.services import acceptance as acceptance_service
from gateway.services import delivery as delivery_service
from gateway.services import mailbox as mailbox_service
from gateway.services import topics as topic_service
from gateway.services import visibility as visibility_service
from gateway.services.ports.parties import OfficeQuery

router = APIRouter(prefix="/api/v1", responses=problem_responses(*AUTHENTICATED))

_UPLOAD_BODY = {
    "requestBody": {
        "required": True,
        "content": {"multipart/form-data": {"schema": {
            "type": "object",
            "required": ["file", "doc_type_office", "doc_type_id", "doc_type_description"],
            "properties": {
                "file": {"type": "string", "format": "binary",
                         "description": "the document; its filename is the FileNev"},
                "recipient_krid": {"type": "string", "pattern": "^[0-9]{9}$"},
                "recipient_code": {"type": "string", "description": "kapcsolati kód"},
                "doc_type_office": {"type": "string"},
                "doc_type_id": {"type": "string"},
                "doc_type_description": {"type": "string"},
                "note": {"type": "string"},
                "reference_number": {"type": "string", "maxLength": 50},
                "sha256": {"type": "string", "pattern": "^[0-9a-fA-F]{64}$"},
                "sha1": {"type": "string", "pattern": "^[0-9a-fA-F]{40}$"},
                "reply_encryption": {"type": "boolean"},
                "return_receipt": {"type": "boolean"},
                "encrypt": {"type": "boolean", "description":
                            "store encrypted for the addressee's key when one is on file"},
                "require_encryption": {"type": "boolean", "description":
                                       "refuse with key_not_found when no key is on file"},
                "keep_copy": {"type": "boolean", "description":
                              "a citizen keeps a copy in their tartós tár (quota_exceeded "
                              "refuses the upload when it does not fit)"},
            },
        }}},
    }
}


@router.post("/documents", status_code=201, response_model=AcceptanceOut,
             openapi_extra=_UPLOAD_BODY, summary="Send a document",
             # Idempotency-Key reused; too large or over the tartós tár's quota; a format
             # not allowed or not matching its extension.
             responses=problem_responses(409, 413, 415))
async def upload_document(
    request: Request,
    acting: ActingDep,
    ports: PortsDep,
    idempotency_key: Annotated[str | None, Header(alias="Idempotency-Key")] = None,
) -> AcceptanceOut:
    async with acceptance_service.StagedUpload(ports) as staged:
        try:
            form = await receive_form(request.headers.get("content-type", ""),
                                      request.stream(), staged.content)
        except ClientDisconnect as exc:
            raise InvalidRequest("the upload was interrupted before it ended") from exc
        acceptance = await staged.accept(acting.party, upload_request(form), idempotency_key,
                                         agency=acting.agency)
    return AcceptanceOut.of(acceptance)


@router.get("/mailbox", response_model=MailboxOut, summary="List my mailbox, oldest first")
async def list_mailbox(
    acting: ActingDep,
    ports: PortsDep,
    state: Literal["new", "all"] = "new",
    sender_type: PartyKind | None = None,
    doc_type_id: str | None = None,
    limit: Annotated[int, Query(ge=1, le=mailbox_service.MAX_PAGE)] = 50,
    cursor: str | None = None,
) -> MailboxOut:
    page = await mailbox_service.list_mailbox(
        ports, acting.party, only_waiting=state == "new", sender_kind=sender_type,
        doc_type_id=doc_type_id, limit=limit, cursor=cursor, agency=acting.agency,
    )
    return MailboxOut.of(page.items, page.next_cursor)


@router.get("/documents/{registration_number}", response_model=DocumentOut,
            summary="A document's metadata")
async def get_document(registration_number: str, acting: ActingDep,
                       ports: PortsDep) -> DocumentOut:
    document = await visibility_service.get_document(ports, acting.party, registration_number,
                                                     acting.agency)
    return DocumentOut.of(document)


@router.get("/documents/{registration_number}/content", response_class=StreamingResponse,
            summary="A document's bytes, streamed (one Range: 206; unsatisfiable: 416)",
            responses={206: {"description": "The one range asked for (Content-Range)",
                             "content": {"application/octet-stream": {}}},
                       **problem_responses(410, 416)})
async def download_content(
    registration_number: str, acting: ActingDep, ports: PortsDep,
    range_header: Annotated[str | None, Header(alias="Range")] = None,
) -> StreamingResponse:
    download = await delivery_service.open_content(
        ports, acting.party, registration_number, range_header=range_header,
        agency=acting.agency)
    document = download.document
    digest = base64.b64encode(bytes.fromhex(document.sha256)).decode()
    part = byte_range(range_header, document.size)
    headers = {
        "Content-Length": str(document.size if part is None else part.length),
        "Content-Disposition": attachment_disposition(document.file_name),
        # The whole representation's digest, also on a partial answer (RFC 9530).
        "Repr-Digest": f"sha-256=:{digest}:",
        "Accept-Ranges": "bytes",
    }
    if part is not None:
        headers["Content-Range"] = part.content_range(document.size)
    response = StreamingResponse(download.chunks, status_code=200 if part is None else 206,
                                 media_type="application/octet-stream", headers=headers)
    # Recorded (for a citizen: received) only now that the answer is built.
    await download.record()
    return response


@router.post("/documents/{registration_number}/ack", response_model=AcknowledgementOut,
             summary="Acknowledge (take) a document", responses=problem_responses(410))
async def acknowledge(
    registration_number: str, party: PartyDep, ports: PortsDep
) -> AcknowledgementOut:
    document = await delivery_service.acknowledge(ports, party, registration_number)
    assert document.acknowledged_at is not None
    return AcknowledgementOut(registration_number=document.registration_number,
                              acknowledged_at=local(document.acknowledged_at))


@router.get("/offices", response_model=OfficesOut, summary="The office directory")
async def offices(
    _party: PartyDep,
    ports: PortsDep,
    short_name: str | None = None,
    name: str | None = None,
    type: Literal["hivatali", "ceg", "per"] | None = None,
    krid: str | None = None,
) -> OfficesOut:
    kind = PartyKind(type) if type else None
    assert kind is None or kind in ORGANISATION_KINDS
    found = await mailbox_service.find_offices(
        ports, OfficeQuery(short_name=short_name, name=name, kind=kind, krid=krid)
    )
    return OfficesOut(items=[OfficeOut.of(p) for p in found])


@router.get("/offices/{krid}/topics", response_model=TopicsOut,
            summary="An office's e-Papír topics", responses=problem_responses(404))
async def office_topics(krid: str, _party: PartyDep, ports: PortsDep) -> TopicsOut:
    """The topics (témacsoport) an e-Papír submission to the office may name; ``404`` for a
    KRID that is no office (hivatali kapu)."""
    topics = await topic_service.office_topics(ports, krid)
    return TopicsOut(items=[TopicOut(code=topic.code, name=topic.name) for topic in topics])
