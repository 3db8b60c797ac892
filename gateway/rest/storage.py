"""``/api/v1/storage``: a citizen's tartós tár (permanent storage), and keeping a document."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, Response
from pydantic import BaseModel

from gateway.rest.deps import PartyDep, PortsDep
from gateway.rest.models import PartyOut, local
from gateway.rest.problems import AUTHENTICATED, problem_responses
from gateway.services import permanent_storage
from gateway.services.ports.documents import KeptDocument

router = APIRouter(prefix="/api/v1", responses=problem_responses(*AUTHENTICATED))


class KeptOut(BaseModel):
    registration_number: str
    file_name: str
    size: int
    sha256: str
    kept_at: datetime
    sender: PartyOut
    recipient: PartyOut
    registered_at: datetime
    doc_type_description: str
    reference_number: str | None
    delivery_state: str  # of the original in the mailbox; the kept copy never expires

    @classmethod
    def of(cls, item: KeptDocument) -> KeptOut:
        document = item.document
        return cls(
            registration_number=document.registration_number, file_name=document.file_name,
            size=document.size, sha256=document.sha256, kept_at=local(item.kept_at),
            sender=PartyOut.of(document.sender), recipient=PartyOut.of(document.recipient),
            registered_at=local(document.registered_at),
            doc_type_description=document.doc_type_description,
            reference_number=document.reference_number,
            delivery_state=document.delivery_state.value,
        )


class StorageOut(BaseModel):
    items: list[KeptOut]
    used_bytes: int
    quota_bytes: int


@router.get("/storage", response_model=StorageOut, summary="My tartós tár (citizens)")
async def list_storage(party: PartyDep, ports: PortsDep) -> StorageOut:
    storage = await permanent_storage.contents(ports, party)
    return StorageOut(items=[KeptOut.of(item) for item in storage.items],
                      used_bytes=storage.used_bytes, quota_bytes=storage.quota_bytes)


@router.post("/documents/{registration_number}/keep", response_model=KeptOut,
             summary="Keep a document in my tartós tár (citizens; keeping is opening)",
             responses=problem_responses(410, 413))
async def keep(registration_number: str, party: PartyDep, ports: PortsDep) -> KeptOut:
    return KeptOut.of(await permanent_storage.keep(ports, party, registration_number))


@router.delete("/storage/{registration_number}", status_code=204,
               summary="Take a document out of my tartós tár")
async def discard(registration_number: str, party: PartyDep, ports: PortsDep) -> Response:
    await permanent_storage.discard(ports, party, registration_number)
    return Response(status_code=204)
