"""The web door's refusals come from one table (gateway/web/refusals.py): a page, never the
REST door's problem+json, whatever route refuses."""

from __future__ import annotations

from gateway.domain.parties import StaffRole
from gateway.services import staff as staff_service
from tests.helpers import new_citizen, new_org, upload
from tests.integration.conftest import Gateway
from tests.integration.test_web import log_in


async def test_a_received_documents_receipt_is_a_404_page(gw: Gateway) -> None:
    # Receipts are the sender's (services/evidence.py refuses with Forbidden): the web door
    # answered that with REST's problem+json 403; now, as for any document of another, 404.
    office = await new_org(gw.ports)
    clerk = await new_citizen(gw.ports)
    await staff_service.grant_role(gw.ports, krid=office.krid or "", username=clerk.username,
                                   role=StaffRole.CLERK)
    sender = await new_org(gw.ports)
    number = (await upload(gw.client, sender, office)).json()["registration_number"]
    await log_in(gw.client, clerk)
    assert (await gw.client.get(f"/ui/documents/{number}")).status_code == 200
    answer = await gw.client.get(f"/ui/documents/{number}/receipts/acceptance?lang=en")
    assert answer.status_code == 404
    assert answer.headers["content-type"].startswith("text/html")
    assert answer.headers["cache-control"] == "no-store"


async def test_refusals_without_a_login_or_a_token(gw: Gateway) -> None:
    # No session: the login page, then back; a POST without its token: 403, before the
    # session is even asked for.
    answer = await gw.client.get("/ui/storage?lang=en")
    assert answer.status_code == 303
    assert answer.headers["location"] == "/ui/login?next=%2Fui%2Fstorage%3Flang%3Den"
    refused = await gw.client.post("/ui/storage/1/delete", data={})
    assert refused.status_code == 403 and refused.headers["content-type"].startswith("text/html")
