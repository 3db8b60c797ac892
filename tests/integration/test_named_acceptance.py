"""Acceptance with ``Registering`` (services/acceptance.py), as e-Papír uses it: the document
and its acceptance receipt carry a name made from the registration number, and the caller's
own writes share the acceptance's transaction: when they fail, nothing is registered."""

from __future__ import annotations

from lxml import etree

from gateway.domain.documents import UploadRequest
from gateway.domain.parties import Party
from gateway.services.acceptance import StagedUpload
from gateway.services.ports.storage import UnitOfWork
from gateway.services.registrar import Registered, Registering
from tests.helpers import PDF, Account, new_citizen, new_org, sequence_of, stored_files
from tests.integration.conftest import Gateway


async def _party(gw: Gateway, who: Account) -> Party:
    async with gw.ports.uow() as uow:
        found = await uow.parties.by_username(who.username)
    assert found is not None
    return found


def _request(office: Account) -> UploadRequest:
    return UploadRequest(file_name="valami.pdf", doc_type_office="EPAPIR", doc_type_id="A",
                         doc_type_description="Általános", recipient_krid=office.krid)


async def test_the_document_and_its_receipt_are_named_after_the_number(gw: Gateway) -> None:
    office, citizen = await new_org(gw.ports), await new_citizen(gw.ports)
    sender = await _party(gw, citizen)
    written: list[str] = []

    async def also(uow: UnitOfWork, registered: Registered) -> None:
        written.append("in the transaction")

    async with StagedUpload(gw.ports) as staged:
        staged.content.write(PDF)
        accepted = await staged.accept(sender, _request(office), registering=Registering(
            file_name=lambda number: f"named-{number}.pdf", also=also))
    number = accepted.registration_number
    assert accepted.file_name == f"named-{number}.pdf" and written == ["in the transaction"]
    meta = (await gw.client.get(f"/api/v1/documents/{number}", auth=office.auth)).json()
    assert meta["file_name"] == f"named-{number}.pdf"
    receipt = await gw.client.get(f"/api/v1/documents/{number}/receipts/acceptance",
                                  auth=citizen.auth)
    names = etree.fromstring(receipt.content).xpath(
        "//*[local-name()='FileNev']/text()")
    assert names == [f"named-{number}.pdf"]


async def test_a_failing_write_of_the_caller_registers_nothing(gw: Gateway) -> None:
    office, citizen = await new_org(gw.ports), await new_citizen(gw.ports)
    sender = await _party(gw, citizen)
    before = stored_files(gw.blob_root)

    async def failing(uow: UnitOfWork, registered: Registered) -> None:
        raise RuntimeError("the caller's write failed")

    async with StagedUpload(gw.ports) as staged:
        staged.content.write(PDF)
        try:
            await staged.accept(sender, _request(office), registering=Registering(
                file_name=lambda number: f"named-{number}.pdf", also=failing))
        except RuntimeError:
            pass
        else:
            raise AssertionError("the failing write was not part of the acceptance")
    assert stored_files(gw.blob_root) == before
    assert (await gw.client.get("/api/v1/mailbox", auth=office.auth)).json()["items"] == []
    # The number went back with the rollback: the office's next document is its first.
    async with StagedUpload(gw.ports) as staged:
        staged.content.write(PDF)
        accepted = await staged.accept(sender, _request(office))
    assert sequence_of(accepted.registration_number) == 1
    assert accepted.file_name == "valami.pdf"
