"""The pages people read, without JavaScript (issue 27): the mailboxes before the personal
settings on ``/ui/``, the mailbox's unread count and document-type column, date filters that
claim no format the browser does not show, and sizes in human units in the person's language.
The layout in a real browser: tests/e2e/test_web_browser.py."""

from __future__ import annotations

import re

import pytest

from gateway.domain.parties import StaffRole
from gateway.services import staff as staff_service
from gateway.web.pages import human_size
from tests.helpers import PDF, new_citizen, new_org, upload
from tests.integration.conftest import Gateway
from tests.integration.test_web import log_in

NBSP = "\u00a0"


async def test_the_mailboxes_come_before_the_personal_settings(gw: Gateway) -> None:
    office = await new_org(gw.ports, name="Kapuvári Polgármesteri Hivatal")
    clerk = await new_citizen(gw.ports)
    await staff_service.grant_role(gw.ports, krid=office.krid or "", username=clerk.username,
                                   role=StaffRole.CLERK)
    await log_in(gw.client, clerk)
    page = (await gw.client.get("/ui/?lang=en")).text
    own, tartos = page.index('href="/ui/mailbox/me"'), page.index('href="/ui/storage"')
    office_link = page.index(f'href="/ui/mailbox/{office.krid}"')
    settings = page.index('id="settings"')
    assert "Personal settings" in page[settings:settings + 60]
    # Every mailbox is listed above the settings, which hold the address and e-mail forms.
    assert max(own, tartos, office_link) < settings
    assert settings < page.index('action="/ui/me/address"')
    assert settings < page.index('action="/ui/me/email"')
    # A saved setting's outcome is said at the top, where the page opens, not by its form.
    saved = (await gw.client.get("/ui/?email=1&lang=en")).text
    assert saved.index("Notices now go to this address.") < saved.index('id="own-boxes"')


async def test_the_mailbox_counts_its_unread_documents_and_shows_their_type(
    gw: Gateway
) -> None:
    office, sender = await new_org(gw.ports), await new_org(gw.ports)
    clerk = await new_citizen(gw.ports)
    await staff_service.grant_role(gw.ports, krid=office.krid or "", username=clerk.username,
                                   role=StaffRole.CLERK)
    numbers = []
    for n in range(12):
        gw.clock.advance(minutes=1)
        answer = await upload(gw.client, sender, office, PDF + bytes([n]), f"irat-{n}.pdf",
                              doc_type_id="KERELEM", doc_type_description="Építési kérelem")
        numbers.append(answer.json()["registration_number"])
    acked = await gw.client.post(f"/api/v1/documents/{numbers[0]}/ack", auth=office.auth)
    assert acked.status_code == 200, acked.text
    await log_in(gw.client, clerk)
    box = f"/ui/mailbox/{office.krid}"

    # Counted in the database for the whole box, not from the page's 10 rows or the filter.
    english = await gw.client.get(box, params={"lang": "en", "limit": "10", "q": "irat-5"})
    unread = re.search(r'<p class="unread" id="unread">(.*?)</p>', english.text, re.S)
    assert unread is not None, english.text
    assert "11 unread" in unread.group(1) and "(not yet acknowledged)" in unread.group(1)
    assert f'href="{box}?state=new"' in unread.group(1)  # the count leads to those documents
    hungarian = await gw.client.get(box, params={"lang": "hu"})
    assert "11 olvasatlan" in hungarian.text

    # The document type, by its description, in a column of its own.
    assert "<th scope=\"col\">Document type</th>" in english.text
    assert '<td class="name doc-type">Építési kérelem</td>' in english.text
    assert english.text.count('<td class="name doc-type">') == 1  # q narrowed to one row


async def test_the_citizens_unread_count_is_what_they_have_not_opened(gw: Gateway) -> None:
    office, citizen = await new_org(gw.ports), await new_citizen(gw.ports)
    for n in range(2):
        await upload(gw.client, office, citizen, PDF + bytes([n]), f"hatarozat-{n}.pdf")
    await log_in(gw.client, citizen)
    page = await gw.client.get("/ui/mailbox/me?lang=en")
    assert "2 unread" in page.text and "(not yet opened)" in page.text


@pytest.mark.parametrize(("language", "label", "hint"), [
    ("en", "Arrived from", "type them as YYYY-MM-DD"),
    ("hu", "Érkezett ettől", "ÉÉÉÉ-HH-NN alakban írja be"),
])
async def test_date_filters_claim_no_format_the_browser_does_not_show(
    gw: Gateway, language: str, label: str, hint: str
) -> None:
    office, clerk = await new_org(gw.ports), await new_citizen(gw.ports)
    await staff_service.grant_role(gw.ports, krid=office.krid or "", username=clerk.username,
                                   role=StaffRole.CLERK)
    await log_in(gw.client, clerk)
    box = f"/ui/mailbox/{office.krid}"
    page = await gw.client.get(box, params={"lang": language})
    labels = dict(re.findall(r'<label for="(from|to)">([^<]*)</label>', page.text))
    assert labels["from"] == label
    # The browser's date picker shows its own format: the labels name none.
    assert not any(re.search(r"YYYY|ÉÉÉÉ", text) for text in labels.values()), labels
    for field in ("from", "to"):
        control = re.search(rf'<input id="{field}" [^>]*>', page.text)
        assert control is not None
        assert 'type="date"' in control.group(0)
        assert 'aria-describedby="date-hint"' in control.group(0)
    assert hint in page.text.split('id="date-hint"')[1].split("</p>")[0]

    # A text-field browser's typed day still works; a day not so written is named.
    typed = await gw.client.get(box, params={"from": "2026-11-24", "lang": language})
    assert typed.status_code == 200
    wrong = await gw.client.get(box, params={"from": "24/11/2026", "lang": language})
    assert wrong.status_code == 400
    error = wrong.text.split('id="filter-error"')[1].split("</div>")[0]
    assert label in error and ("YYYY-MM-DD" in error or "ÉÉÉÉ-HH-NN" in error)
    control = re.search(r'<input id="from" [^>]*>', wrong.text)
    assert control is not None and 'aria-invalid="true"' in control.group(0)


@pytest.mark.parametrize(("size", "hungarian", "english"), [
    (0, "0 B", "0 B"),
    (1023, "1 023 B", "1,023 B"),
    (1024, "1 KB", "1 KB"),
    (1536, "1,5 KB", "1.5 KB"),
    (1024 * 1024 - 1, "1 MB", "1 MB"),  # rounded before the unit is chosen: not "1024 KB"
    (31_457_280, "30 MB", "30 MB"),  # KAPU_PERMANENT_STORAGE_BYTES' default, as the docs say
    (5 * 1024 ** 3 // 2, "2,5 GB", "2.5 GB"),
])
def test_sizes_read_in_human_units(size: int, hungarian: str, english: str) -> None:
    assert human_size(size, "hu").replace(NBSP, " ") == hungarian
    assert human_size(size, "en").replace(NBSP, " ") == english
    assert NBSP in human_size(size, "en")  # the number and its unit stay on one line


async def test_the_tartos_tar_and_the_document_page_show_human_sizes(gw: Gateway) -> None:
    office, citizen = await new_org(gw.ports), await new_citizen(gw.ports)
    content = PDF + b"x" * (1536 - len(PDF))
    number = (await upload(gw.client, office, citizen, content)).json()["registration_number"]
    await log_in(gw.client, citizen)
    empty = await gw.client.get("/ui/storage?lang=hu")
    assert f"Foglalt: 0{NBSP}B a 30{NBSP}MB keretből (0%)." in empty.text
    assert "31457280" not in empty.text
    document = await gw.client.get(f"/ui/documents/{number}?lang=en")
    assert f'<dd id="size">1.5{NBSP}KB (1536 bytes)</dd>' in document.text
    page = await gw.client.get(f"/ui/documents/{number}")
    kept = await gw.client.post(f"/ui/documents/{number}/keep", data={
        "csrf_token": re.findall(r'name="csrf_token" value="([^"]+)"', page.text)[0],
        "form_key": re.findall(r'name="form_key" value="([^"]+)"', page.text)[-1]})
    assert kept.status_code == 303, kept.text
    listing = await gw.client.get("/ui/storage?lang=en")
    assert f"Used: 1.5{NBSP}KB of 30{NBSP}MB (0%)." in listing.text
    assert f'<td class="size" data-bytes="1536">1.5{NBSP}KB</td>' in listing.text
