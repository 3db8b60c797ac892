"""``POST /api/v1/epapir``: a citizen's e-Papír to an office (contract 24)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.requests import ClientDisconnect

from gateway.domain.epapir import MAX_ATTACHMENTS, SUBJECT_MAX_CHARS, TEXT_MAX_CHARS
from gateway.errors import Forbidden, InvalidRequest
from gateway.forms import flag
from gateway.rest.deps import ActingDep, PortsDep
from gateway.rest.models import AcceptanceOut
from gateway.rest.problems import AUTHENTICATED, problem_responses
from gateway.services import epapir as epapir_service
from gateway.submission_form import receive_submission

router = APIRouter(prefix="/api/v1", responses=problem_responses(*AUTHENTICATED))

_SUBMISSION_BODY = {
    "requestBody": {
        "required": True,
        "content": {"multipart/form-data": {"schema": {
            "type": "object",
            "required": ["recipient_krid", "topic", "subject"],
            "properties": {
                "recipient_krid": {"type": "string", "pattern": "^[0-9]{9}$",
                                   "description": "the office (a hivatali organisation)"},
                "topic": {"type": "string",
                          "description": "one of GET /api/v1/offices/{krid}/topics"},
                "subject": {"type": "string", "maxLength": SUBJECT_MAX_CHARS},
                "text": {"type": "string", "maxLength": TEXT_MAX_CHARS, "description":
                         "may be empty only when there is an attachment"},
                "attachment": {"type": "array", "maxItems": MAX_ATTACHMENTS,
                               "items": {"type": "string", "format": "binary"},
                               "description": "allowed formats, together at most "
                                              "KAPU_EPAPIR_MAX_BYTES"},
                "reference_number": {"type": "string", "maxLength": 50},
                "return_receipt": {"type": "boolean"},
            },
        }}},
    }
}


@router.post("/epapir", status_code=201, response_model=AcceptanceOut,
             openapi_extra=_SUBMISSION_BODY, summary="Submit an e-Papír to an office",
             # Attachments too large; a format not allowed or not matching its extension.
             responses=problem_responses(413, 415))
async def submit_epapir(request: Request, acting: ActingDep, ports: PortsDep) -> AcceptanceOut:
    """With ``on_behalf_of``, an agent writes in the name of their principal, to an office
    within the mandate's scope (403 ``forbidden`` naming ``recipient_krid`` otherwise)."""
    party = acting.person
    if party.is_organisation:  # before the body is read: persons only (contract 4)
        raise Forbidden("only a person may submit e-Papír, not an organisation's credentials")
    with epapir_service.staged_attachments(ports) as attachments:
        try:
            fields = await receive_submission(request.headers.get("content-type", ""),
                                              request.stream(), attachments)
        except ClientDisconnect as exc:
            raise InvalidRequest("the submission was interrupted before it ended") from exc
        acceptance = await epapir_service.submit(
            ports, party, recipient_krid=fields.get("recipient_krid", ""),
            topic=fields.get("topic", ""), subject=fields.get("subject", ""),
            text=fields.get("text", ""), attachments=attachments.items,
            reference_number=fields.get("reference_number"),
            return_receipt=flag(fields, "return_receipt"), agency=acting.agency)
    return AcceptanceOut.of(acceptance)
