"""AVDH pages (contract 23): /ui/authenticate for a logged-in person, /ui/verify for anyone;
refusals made before any PDF work re-show the form with the field marked, recording nothing."""

from __future__ import annotations

import pytest

from gateway.domain.parties import StaffRole
from gateway.services import staff as staff_service
from tests.helpers import PDF, new_citizen, new_org
from tests.integration.conftest import Gateway
from tests.integration.test_avdh_refusals import LIMIT, PNG, _nothing_recorded, avdh
from tests.integration.test_web import form_fields, log_in

__all__ = ["avdh"]  # the fixture with a 4 KiB limit


async def test_the_form_offers_the_offices_the_person_works_for(gw: Gateway) -> None:
    office = await new_org(gw.ports, name="Kapuvári Hivatal")
    clerk = await new_citizen(gw.ports)
    await staff_service.grant_role(gw.ports, krid=office.krid or "", username=clerk.username,
                                   role=StaffRole.CLERK)
    await log_in(gw.client, clerk)
    page = await gw.client.get("/ui/authenticate?lang=en")
    assert page.status_code == 200
    assert "<legend>Authenticate for</legend>" in page.text
    assert f'value="{office.krid}"' in page.text and "Kapuvári Hivatal" in page.text
    assert "At most 50\u00a0MB a file." in page.text
    hungarian = await gw.client.get("/ui/authenticate?lang=hu")
    assert "Dokumentum hitelesítése" in hungarian.text


async def test_a_person_without_roles_gets_no_choice(gw: Gateway) -> None:
    citizen = await new_citizen(gw.ports)
    await log_in(gw.client, citizen)
    page = await gw.client.get("/ui/authenticate?lang=en")
    assert "<legend>" not in page.text


async def test_the_form_needs_a_login(gw: Gateway) -> None:
    page = await gw.client.get("/ui/authenticate")
    assert page.status_code == 303
    assert page.headers["location"].startswith("/ui/login")


@pytest.mark.parametrize(("file", "status", "sentence"), [
    (("empty.png", b""), 422, "The file is empty (0 bytes)"),
    (("setup.exe", b"MZ\x00"), 422, "This kind of file cannot be authenticated."),
    (("fake.pdf", PNG), 422, "does not match its extension"),
])
async def test_refusals_reshow_the_form_with_the_field_marked(
        gw: Gateway, file: tuple[str, bytes], status: int, sentence: str) -> None:
    citizen = await new_citizen(gw.ports)
    await log_in(gw.client, citizen)
    page = await gw.client.get("/ui/authenticate?lang=en")
    answer = await gw.client.post("/ui/authenticate?lang=en", data=form_fields(page),
                                  files={"file": file})
    assert answer.status_code == status, answer.text
    assert sentence in answer.text
    assert 'aria-invalid="true"' in answer.text
    assert 'aria-describedby="file-hint file-error"' in answer.text
    await _nothing_recorded(gw, citizen)


async def test_an_office_the_person_does_not_work_for(gw: Gateway) -> None:
    office = await new_org(gw.ports)
    citizen = await new_citizen(gw.ports)
    await log_in(gw.client, citizen)
    page = await gw.client.get("/ui/authenticate?lang=en")
    answer = await gw.client.post("/ui/authenticate?lang=en",
                                  data={**form_fields(page), "office": office.krid or ""},
                                  files={"file": ("a.png", PNG)})
    assert answer.status_code == 422
    assert "You cannot act for that office." in answer.text
    await _nothing_recorded(gw, citizen)


async def test_a_stranger_verifies_without_login(gw: Gateway) -> None:
    page = await gw.client.get("/ui/verify?lang=en")
    assert page.status_code == 200 and "Check a hitelesített PDF" in page.text
    answer = await gw.client.post("/ui/verify?lang=en", data=form_fields(page),
                                  files={"file": ("photo.png", PNG)})
    assert answer.status_code == 422
    assert "This file is not a PDF" in answer.text
    assert 'aria-invalid="true"' in answer.text
    hungarian = await gw.client.post("/ui/verify?lang=hu", data=form_fields(page),
                                     files={"file": ("photo.png", PNG)})
    assert "Ez a fájl nem PDF" in hungarian.text


async def test_verify_without_the_csrf_token_is_refused(gw: Gateway) -> None:
    await gw.client.get("/ui/verify")
    answer = await gw.client.post("/ui/verify", files={"file": ("a.pdf", PDF)})
    assert answer.status_code == 403


async def test_too_large_a_file_is_not_read_further(avdh: Gateway) -> None:
    citizen = await new_citizen(avdh.ports)
    await log_in(avdh.client, citizen)
    page = await avdh.client.get("/ui/authenticate?lang=en")
    answer = await avdh.client.post("/ui/authenticate?lang=en", data=form_fields(page),
                                    files={"file": ("big.txt", b"x" * (LIMIT + 1))})
    assert answer.status_code == 413
    assert "The file is too large: at most 4\u00a0KB can be authenticated." in answer.text
    await _nothing_recorded(avdh, citizen)
