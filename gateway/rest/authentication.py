"""``/api/v1/authenticate``: AVDH for a citizen, and verification for anyone (contract 23)."""

from __future__ import annotations

import base64

from fastapi import APIRouter, Request
from fastapi.responses import StreamingResponse
from starlette.requests import ClientDisconnect

from gateway.errors import InvalidRequest
from gateway.forms import FILE_FIELD, ReceivedForm, receive_form
from gateway.multipart import attachment_disposition
from gateway.rest.deps import PartyDep, PortsDep
from gateway.rest.models import VerificationOut
from gateway.rest.problems import AUTHENTICATED, problem_responses
from gateway.services import authentication as authentication_service
from gateway.services.authentication import StagedFile

router = APIRouter(prefix="/api/v1")

_FILE_BODY = {
    "requestBody": {
        "required": True,
        "content": {"multipart/form-data": {"schema": {
            "type": "object", "required": [FILE_FIELD],
            "properties": {FILE_FIELD: {"type": "string", "format": "binary",
                                        "description": "the file; its filename is kept"}},
        }}},
    }
}


async def _received(request: Request, staged: StagedFile) -> ReceivedForm:
    """The multipart body, its file streamed into ``staged`` (never held in memory)."""
    try:
        return await receive_form(request.headers.get("content-type", ""), request.stream(),
                                  staged)
    except ClientDisconnect as exc:
        raise InvalidRequest("the upload was interrupted before it ended") from exc


@router.post("/authenticate", response_class=StreamingResponse, openapi_extra=_FILE_BODY,
             summary="Authenticate a file (AVDH): the hitelesített PDF",
             responses={200: {"description": "The hitelesített PDF (Repr-Digest: its SHA-256)",
                              "content": {"application/pdf": {}}},
                        **problem_responses(*AUTHENTICATED, 413, 415)})
async def authenticate(request: Request, person: PartyDep, ports: PortsDep) -> StreamingResponse:
    authentication_service.check_may_authenticate(person)  # before the file is read
    async with authentication_service.staged_file(ports) as staged:
        form = await _received(request, staged)
        result = await authentication_service.authenticate(ports, person, staged,
                                                           form.file_name or "")
    digest = base64.b64encode(bytes.fromhex(result.sha256)).decode()
    return StreamingResponse(result.chunks(), media_type="application/pdf", headers={
        "Content-Length": str(result.size),
        "Content-Disposition": attachment_disposition(result.file_name),
        "Repr-Digest": f"sha-256=:{digest}:",
    })


@router.post("/authenticate/verify", response_model=VerificationOut, openapi_extra=_FILE_BODY,
             summary="Verify a hitelesített PDF (public)",
             responses=problem_responses(413, 422, 503))
async def verify(request: Request, ports: PortsDep) -> VerificationOut:
    async with authentication_service.staged_file(ports) as staged:
        await _received(request, staged)
        found = await authentication_service.verify(ports, staged)
    return VerificationOut.of(found)
