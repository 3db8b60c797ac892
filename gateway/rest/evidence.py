"""``/api/v1/trust``, ``/keys`` (kulcstár), and a document's timestamp and receipts."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Body, Response
from pydantic import BaseModel

from gateway.crypto.certificates import to_pem
from gateway.domain.receipts import ReceiptKind
from gateway.rest.deps import Acting, ActingDep, PartyDep, PortsDep
from gateway.rest.models import local
from gateway.rest.problems import AUTHENTICATED, problem_responses
from gateway.services import evidence as evidence_service
from gateway.services import keys as key_service
from gateway.services import visibility as visibility_service

router = APIRouter(prefix="/api/v1", responses=problem_responses(*AUTHENTICATED))
# What anyone may fetch, without credentials.
public = APIRouter(prefix="/api/v1")


class KeyFiled(BaseModel):
    fingerprint_sha256: str
    not_after: datetime


class KeyOut(KeyFiled):
    certificate_pem: str


class ReceiptOut(BaseModel):
    kind: str
    issued_at: datetime
    url: str


class ReceiptsOut(BaseModel):
    items: list[ReceiptOut]


@public.get("/trust", summary="The gateway's CA certificate (PEM)",
            response_class=Response, responses={200: {"content": {"application/x-pem-file": {}}}})
async def trust(ports: PortsDep) -> Response:
    return Response(ports.trust_pem, media_type="application/x-pem-file")


@router.put("/keys/me", response_model=KeyFiled, summary="File my encryption certificate")
async def put_key(
    party: PartyDep, ports: PortsDep,
    certificate: Annotated[bytes, Body(media_type="application/x-pem-file",
                                       description="one PEM X.509 certificate")],
) -> KeyFiled:
    record = await key_service.upload_key(ports, party, certificate)
    return KeyFiled(fingerprint_sha256=record.fingerprint_sha256,
                    not_after=local(record.not_after))


@router.delete("/keys/me", status_code=204, response_class=Response,
               summary="Remove my encryption certificate")
async def delete_key(party: PartyDep, ports: PortsDep) -> Response:
    await key_service.delete_key(ports, party)
    return Response(status_code=204)


@router.get("/keys/{address}", response_model=KeyOut,
            summary="A party's encryption certificate, by KRID or kapcsolati kód")
async def get_key(address: str, party: PartyDep, ports: PortsDep) -> KeyOut:
    is_krid = len(address) == 9 and address.isdigit()
    record = await key_service.lookup_key(
        ports, party, krid=address if is_krid else None, code=None if is_krid else address)
    return KeyOut(certificate_pem=to_pem(record.certificate_der),
                  fingerprint_sha256=record.fingerprint_sha256,
                  not_after=local(record.not_after))


@router.get("/documents/{registration_number}/timestamp", response_class=Response,
            summary="The RFC 3161 TimeStampToken (DER) issued at acceptance",
            responses={200: {"content": {"application/timestamp-token": {}}}})
async def timestamp(registration_number: str, party: PartyDep, ports: PortsDep) -> Response:
    token = await evidence_service.timestamp_token(ports, party, registration_number)
    return Response(token, media_type="application/timestamp-token", headers={
        "Content-Disposition": f'attachment; filename="{registration_number}.tst"'})


@router.get("/documents/{registration_number}/receipts", response_model=ReceiptsOut,
            summary="The receipts issued for a document I sent")
async def receipts(registration_number: str, acting: ActingDep, ports: PortsDep) -> ReceiptsOut:
    await _in_scope(ports, acting, registration_number)
    _, records = await evidence_service.receipts_of(ports, acting.party, registration_number)
    base = f"/api/v1/documents/{registration_number}/receipts"
    return ReceiptsOut(items=[
        ReceiptOut(kind=r.kind.value, issued_at=local(r.issued_at), url=f"{base}/{r.kind.value}")
        for r in records
    ])


@router.get("/documents/{registration_number}/receipts/{kind}", response_class=Response,
            summary="A signed receipt (XML)",
            responses={200: {"content": {"application/xml": {}}}})
async def receipt(
    registration_number: str, kind: ReceiptKind, acting: ActingDep, ports: PortsDep
) -> Response:
    await _in_scope(ports, acting, registration_number)
    content = await evidence_service.receipt(ports, acting.party, registration_number, kind)
    return Response(content, media_type="application/xml")


async def _in_scope(ports: PortsDep, acting: Acting, registration_number: str) -> None:
    """An agent reads the receipts of what the principal sent within the mandate's scope
    only (NotFound otherwise, contract 25)."""
    if acting.agency is not None:
        await visibility_service.get_document(ports, acting.party, registration_number,
                                              acting.agency)
