"""A citizen swaps their kapcsolati kód (225/2009 Korm. r. 39. § (1)): the old one stops being
an address at once and is never issued again; documents and the kulcstár stay with them."""

from __future__ import annotations

import re

import pytest

from gateway.errors import Conflict
from gateway.services.audit import link_pending
from gateway.services.parties import register_citizen
from tests.certificates import make_certificate
from tests.helpers import Account, new_citizen, new_org, upload
from tests.integration.conftest import Gateway
from tests.integration.test_web import form_fields, log_in


async def test_swap_over_rest(gw: Gateway) -> None:
    citizen, office = await new_citizen(gw.ports), await new_org(gw.ports)
    before = (await upload(gw.client, office, citizen)).json()["registration_number"]
    certificate = make_certificate(gw.clock.now())
    assert (await gw.client.put("/api/v1/keys/me", content=certificate.pem,
                                auth=citizen.auth)).status_code == 200

    swapped = await gw.client.post("/api/v1/me/address", auth=citizen.auth)
    assert swapped.status_code == 200
    new_code = swapped.json()["code"]
    assert len(new_code) == 32 and new_code != citizen.code

    to_old = await upload(gw.client, office, citizen)  # the old address
    assert to_old.status_code == 422 and to_old.json()["code"] == "recipient_unknown"
    to_new = await upload(gw.client, office, Account("", "", code=new_code))
    assert to_new.status_code == 201
    listed = (await gw.client.get("/api/v1/mailbox", auth=citizen.auth)).json()["items"]
    assert [d["registration_number"] for d in listed] == [
        before, to_new.json()["registration_number"]]  # the old documents stayed
    assert (await gw.client.get(f"/api/v1/keys/{new_code}", auth=office.auth)).status_code == 200
    assert (await gw.client.get(f"/api/v1/keys/{citizen.code}",
                                auth=office.auth)).status_code == 404
    # An organisation has no kapcsolati kód to swap.
    refused = await gw.client.post("/api/v1/me/address", auth=office.auth)
    assert refused.status_code == 403 and refused.json()["code"] == "forbidden"
    await link_pending(gw.ports)  # as the background jobs do within a second
    async with gw.ports.uow() as uow:
        entries = await uow.audit.entries(None, 100_000)
    assert [e.action for e in entries if e.actor == citizen.username][-1] == "address_swapped"


async def test_an_old_code_is_never_issued_again(gw: Gateway) -> None:
    citizen = await new_citizen(gw.ports)
    await gw.client.post("/api/v1/me/address", auth=citizen.auth)
    with pytest.raises(Conflict, match="code is already registered"):
        await register_citizen(gw.ports, name="Utód", email="u@example.hu",
                               code=citizen.code)
    office = await new_org(gw.ports)
    assert (await upload(gw.client, office, citizen)).json()["code"] == "recipient_unknown"


async def test_swap_in_the_browser(gw: Gateway) -> None:
    citizen = await new_citizen(gw.ports)
    await log_in(gw.client, citizen)
    page = await gw.client.get("/ui/?lang=en")
    assert citizen.code in page.text
    refused = await gw.client.post("/ui/me/address", data={})
    assert refused.status_code == 403
    assert citizen.code in (await gw.client.get("/ui/")).text  # unchanged
    confirm = await gw.client.get("/ui/me/address?lang=en")
    swapped = await gw.client.post("/ui/me/address", data=form_fields(confirm))
    assert swapped.status_code == 303 and swapped.headers["location"] == "/ui/?swapped=1"
    after = await gw.client.get("/ui/?swapped=1&lang=en")
    assert "Your new address is in force" in after.text and citizen.code not in after.text


async def test_the_swap_asks_for_confirmation_on_a_page_of_its_own(gw: Gateway) -> None:
    """Was: the first page's button swapped the address at one click."""
    citizen, office = await new_citizen(gw.ports), await new_org(gw.ports)
    assert citizen.code is not None
    await log_in(gw.client, citizen)
    first = await gw.client.get("/ui/?lang=en")
    # The first page's button only opens the confirmation page: a GET, no token.
    form = re.search(r'<form method="(\w+)" action="/ui/me/address"[^>]*>(.*?)</form>',
                     first.text, re.S)
    assert form is not None and form.group(1) == "get" and "csrf_token" not in form.group(2)
    for language, says in (("en", "stops being an address at once"),
                           ("hu", "azonnal megszűnik címként működni")):
        confirm = await gw.client.get(f"/ui/me/address?lang={language}")
        assert confirm.status_code == 200 and says in confirm.text
        assert citizen.code in confirm.text  # the address that will stop working
    assert "encryption key stay with you" in (
        await gw.client.get("/ui/me/address?lang=en")).text
    assert re.search(r'<form method="post" action="/ui/me/address"', confirm.text)
    # Opening the page changed nothing: the old code is still an address.
    assert (await upload(gw.client, office, citizen)).status_code == 201
    swapped = await gw.client.post("/ui/me/address", data=form_fields(confirm))
    assert swapped.status_code == 303
    assert (await upload(gw.client, office, citizen)).json()["code"] == "recipient_unknown"
    gw.client.cookies.clear()
    anonymous = await gw.client.get("/ui/me/address")
    assert anonymous.status_code == 303 and anonymous.headers["location"].startswith(
        "/ui/login?next=")
