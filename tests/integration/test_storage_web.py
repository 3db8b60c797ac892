"""The tartós tár on the pages, without JavaScript: the list with its usage, keeping from a
document's page (keeping is opening), removing, keep_copy on the send form; CSRF on every
POST; nobody else's storage or office documents (404)."""

from __future__ import annotations

import httpx

from gateway.domain.parties import StaffRole
from gateway.services import staff as staff_service
from tests.helpers import PDF, Account, new_citizen, new_org, upload
from tests.integration.conftest import SMALL_QUOTA as QUOTA
from tests.integration.conftest import Gateway
from tests.integration.test_permanent_storage import unique_pdf
from tests.integration.test_web import form_fields, log_in, sent_number


async def _kept_numbers(gw: Gateway, who: Account) -> list[str]:
    listed = (await gw.client.get("/api/v1/storage", auth=who.auth)).json()
    return [item["registration_number"] for item in listed["items"]]


async def _receipts(gw: Gateway, sender: Account, number: str) -> list[str]:
    listed = await gw.client.get(f"/api/v1/documents/{number}/receipts", auth=sender.auth)
    return [r["kind"] for r in listed.json()["items"]]


async def _post(client: httpx.AsyncClient, path: str,
                fields: dict[str, str] | None) -> httpx.Response:
    return await client.post(path, data=fields or {})


async def test_keep_list_and_remove_in_the_browser(gw: Gateway) -> None:
    office, citizen = await new_org(gw.ports), await new_citizen(gw.ports)
    number = (await upload(gw.client, office, citizen)).json()["registration_number"]
    await log_in(gw.client, citizen)
    chooser = await gw.client.get("/ui/?lang=en")
    assert 'href="/ui/storage"' in chooser.text
    assert 'href="/ui/storage"' in (await gw.client.get("/ui/mailbox/me")).text
    empty = await gw.client.get("/ui/storage")
    assert empty.status_code == 200 and "You keep no document yet" in empty.text
    # In human units (30 MiB reads "30 MB", as the docs say), with a no-break space.
    assert "Used: 0\u00a0B of 30\u00a0MB (0%)." in empty.text

    page = await gw.client.get(f"/ui/documents/{number}")
    assert f'action="/ui/documents/{number}/keep"' in page.text
    assert "Keeping it opens it" in page.text
    refused = await _post(gw.client, f"/ui/documents/{number}/keep", None)
    assert refused.status_code == 403
    assert await _kept_numbers(gw, citizen) == []
    assert await _receipts(gw, office, number) == ["acceptance"]

    kept = await _post(gw.client, f"/ui/documents/{number}/keep", form_fields(page))
    assert kept.status_code == 303 and kept.headers["location"] == \
        f"/ui/documents/{number}?kept=1"
    assert await _kept_numbers(gw, citizen) == [number]
    assert await _receipts(gw, office, number) == ["acceptance", "download"]
    page = await gw.client.get(f"/ui/documents/{number}?kept=1")
    assert "The document is kept in your tartós tár." in page.text
    assert 'id="kept"' in page.text and f"/ui/documents/{number}/keep" not in page.text

    listing = await gw.client.get("/ui/storage")
    assert f'href="/ui/documents/{number}"' in listing.text
    assert f'href="/ui/documents/{number}/content"' in listing.text
    assert f"Used: {len(PDF)}\u00a0B of 30\u00a0MB (0%)." in listing.text
    download = await gw.client.get(f"/ui/documents/{number}/content")
    assert download.status_code == 200 and download.content == PDF

    delete = f"/ui/storage/{number}/delete"
    assert (await _post(gw.client, delete, None)).status_code == 403
    assert await _kept_numbers(gw, citizen) == [number]
    removed = await _post(gw.client, delete, form_fields(listing))
    assert removed.status_code == 303
    after = await gw.client.get(removed.headers["location"])
    assert f"{number} is no longer kept in your tartós tár." in after.text
    assert "You keep no document yet" in after.text
    assert await _kept_numbers(gw, citizen) == []
    # The listing's key did its work: a resend shows its outcome again, a new form is refused.
    again = await _post(gw.client, delete, form_fields(listing))
    assert again.status_code == 303 and again.headers["location"] == removed.headers["location"]
    fresh = form_fields(await gw.client.get(f"/ui/documents/{number}"))
    assert (await _post(gw.client, delete, fresh)).status_code == 404


async def test_hungarian_first(gw: Gateway) -> None:
    office, citizen = await new_org(gw.ports), await new_citizen(gw.ports)
    number = (await upload(gw.client, office, citizen)).json()["registration_number"]
    await log_in(gw.client, citizen)
    page = await gw.client.get(f"/ui/documents/{number}")
    assert "Megőrzés tartós tárban" in page.text
    assert "Teszt Polgár tartós tára" in (await gw.client.get("/ui/storage")).text


async def test_nobody_elses_storage_nor_an_offices_document(gw: Gateway) -> None:
    office, citizen = await new_org(gw.ports), await new_citizen(gw.ports)
    clerk = await new_citizen(gw.ports)
    await staff_service.grant_role(gw.ports, krid=office.krid or "", username=clerk.username,
                                   role=StaffRole.CLERK)
    mine = (await upload(gw.client, office, citizen)).json()["registration_number"]
    await gw.client.post(f"/api/v1/documents/{mine}/keep", auth=citizen.auth)
    to_office = (await upload(gw.client, citizen, office)).json()["registration_number"]

    await log_in(gw.client, clerk)
    listing = await gw.client.get("/ui/storage")
    assert listing.status_code == 200 and mine not in listing.text
    # A form of the clerk's own (the listing has none): a refusal leaves its key unused.
    fields = form_fields(await gw.client.get("/ui/send?box=me"))
    for path in (f"/ui/documents/{mine}/keep", f"/ui/storage/{mine}/delete"):
        assert (await _post(gw.client, path, fields)).status_code == 404
    # The clerk sees the office's document, but an office has no tartós tár.
    page = await gw.client.get(f"/ui/documents/{to_office}")
    assert page.status_code == 200 and "/keep" not in page.text
    assert (await _post(gw.client, f"/ui/documents/{to_office}/keep", fields)).status_code \
        == 404
    assert await _kept_numbers(gw, citizen) == [mine]
    assert await _kept_numbers(gw, clerk) == []
    office_form = await gw.client.get(f"/ui/send?box={office.krid}")
    assert office_form.status_code == 200 and "keep_copy" not in office_form.text


async def test_quota_and_keep_copy_on_the_pages(small: Gateway) -> None:
    gw = small
    office, citizen = await new_org(gw.ports), await new_citizen(gw.ports)
    await log_in(gw.client, citizen)
    form = await gw.client.get("/ui/send?box=me&lang=en")
    assert 'name="keep_copy"' in form.text
    fields = {**form_fields(form), "recipient_krid": office.krid or "",
              "doc_type_office": "K", "doc_type_id": "K", "doc_type_description": "Kérelem",
              "keep_copy": "true"}
    sent = await gw.client.post("/ui/send?box=me", data=fields,
                                files={"file": ("kerelem.pdf", unique_pdf(QUOTA - 10))})
    (number,) = await _kept_numbers(gw, citizen)
    assert sent_number(sent) == number

    form = await gw.client.get("/ui/send?box=me&lang=en")  # a new form, a new key
    over = await gw.client.post("/ui/send?box=me", data={**fields, **form_fields(form)},
                                files={"file": ("masik.pdf", unique_pdf(11))})
    assert over.status_code == 400 and "has no room for a copy" in over.text
    assert await _kept_numbers(gw, citizen) == [number]

    incoming = (await upload(gw.client, office, citizen, unique_pdf(11))).json()[
        "registration_number"]
    page = await gw.client.get(f"/ui/documents/{incoming}")
    full = await _post(gw.client, f"/ui/documents/{incoming}/keep", form_fields(page))
    assert full.status_code == 413 and 'id="keep-error"' in full.text
    assert await _receipts(gw, office, incoming) == ["acceptance"]  # nothing was opened
