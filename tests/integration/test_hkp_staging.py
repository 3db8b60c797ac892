"""HKP uploads staged through the one service helper: every attachment and inline content of
a request is either accepted or removed by the time the answer is sent (issue 28)."""

from __future__ import annotations

import pytest

from gateway.domain.documents import UploadRequest
from gateway.services.staged_uploads import StagedUploads
from tests.helpers import PDF, new_org, stored_files
from tests.hkp_helpers import NS, document_xml, envelope, read_answer, swa, upload_form
from tests.integration.conftest import Gateway

TOO_LARGE = PDF + bytes(70_000)


async def test_what_is_not_accepted_is_removed_with_the_block(gw: Gateway) -> None:
    sender, office = await new_org(gw.ports), await new_org(gw.ports)
    async with gw.ports.uow() as uow:
        party = await uow.parties.by_krid(sender.krid or "")
    assert party is not None
    request = UploadRequest(file_name="level.pdf", doc_type_office="x", doc_type_id="y",
                            doc_type_description="z", recipient_krid=office.krid)
    async with StagedUploads(gw.ports) as uploads:
        accepted, left = uploads.stage(), uploads.stage()
        for staged in (accepted, left):
            staged.content.write(PDF)
        await accepted.accept(party, request)
        assert accepted.handed_over and not left.handed_over
    assert stored_files(gw.blob_root / "tmp") == []
    assert len([name for name in stored_files(gw.blob_root)]) == 1  # the accepted one's

    with pytest.raises(RuntimeError):
        async with StagedUploads(gw.ports) as uploads:
            staged = uploads.stage()
            staged.content.write(PDF)
            await staged.content.finish()  # durable, waiting in tmp/ to be placed
            assert stored_files(gw.blob_root / "tmp") != []
            raise RuntimeError("the door failed")
    assert stored_files(gw.blob_root / "tmp") == []


async def test_attachments_and_inline_contents_not_accepted_leave_nothing(gw: Gateway) -> None:
    sender, office = await new_org(gw.ports), await new_org(gw.ports)
    form = upload_form(
        document_xml(krid=office.krid, href="csat-1", content=PDF),
        # Larger than the limit (64 KiB in the tests): refused while the body is read.
        document_xml(krid=office.krid, href="csat-3", content=TOO_LARGE),
    )
    body, content_type = swa(
        envelope("UjDokumentumokFeltolteseGepiInterfeszAltal", form,
                 username=sender.username, password=sender.password),
        # csat-2 is named by no document.
        [("csat-1", PDF, "binary"), ("csat-2", PDF, "base64"), ("csat-3", TOO_LARGE, "binary")],
    )
    answer = read_answer(await gw.client.post("/hkp", content=body,
                                              headers={"Content-Type": content_type}))
    assert answer.status == 200 and answer.hiba is None
    stored = answer.form.findall(".//hkp:DokumentumTarolasEredmeny", NS)
    assert stored[0].findtext("hkp:ErkeztetesiSzam", namespaces=NS)
    assert "larger than" in (stored[1].findtext("hkp:Hiba/hkp:HibaSzoveg", namespaces=NS) or "")
    assert stored_files(gw.blob_root / "tmp") == []
