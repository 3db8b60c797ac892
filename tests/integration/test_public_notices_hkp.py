"""An office publishes a hirdetmény over HKP with the exact upload of a real client (the PHP
bundle of tests/integration/test_hkp_real_clients.py): the form as a SOAP-with-Attachments
part to the portal's KRID. A form the schema refuses gets its item's ``Hiba`` and publishes
nothing, while the good item beside it is published."""

from __future__ import annotations

import hashlib

from lxml import etree

from gateway.domain.public_notices import NOTICE_DOC_TYPE
from tests.helpers import Account, new_org
from tests.hkp_helpers import NS, kezbesitettseg, read_answer
from tests.integration.conftest import Gateway
from tests.integration.test_hkp_real_clients import bundle_envelope, bundle_swa
from tests.notices import PORTAL, notice_xml


def notice_item(index: int, content: bytes) -> str:
    """One DokumentumAdatok as the bundle writes it, for the portal and a HIRDETMENY."""
    return (f'<hkp:DokumentumAdatok href="csat-{index}"><hkp:HivatkozasiSzam/>'
            f"<hkp:Cimzett><hkp:KRID>{PORTAL.krid}</hkp:KRID></hkp:Cimzett>"
            "<hkp:DokTipusHivatal>HIRDETMENY</hkp:DokTipusHivatal>"
            f"<hkp:DokTipusAzonosito>{NOTICE_DOC_TYPE}</hkp:DokTipusAzonosito>"
            "<hkp:DokTipusLeiras>Hirdetmény</hkp:DokTipusLeiras><hkp:Megjegyzes>1</hkp:Megjegyzes>"
            f"<hkp:FileNev>hirdetmeny{index}.xml</hkp:FileNev>"
            "<hkp:ValaszUtvonal>0</hkp:ValaszUtvonal><hkp:ValaszTitkositas/>"
            "<hkp:RendszerUzenet/><hkp:ETertiveveny>1</hkp:ETertiveveny>"
            f"<hkp:Lenyomat>{hashlib.sha256(content).hexdigest()}</hkp:Lenyomat>"
            "</hkp:DokumentumAdatok>")


async def _listed(gw: Gateway, office: Account) -> list[str]:
    answer = await gw.client.get("/api/v1/public/notices", params={"office": office.krid})
    return [item["case_number"] for item in answer.json()["items"]]


async def test_an_office_publishes_over_hkp_and_a_bad_form_gets_its_hiba(gw: Gateway) -> None:
    office = await new_org(gw.ports)
    now = gw.clock.now()
    good = notice_xml(now, case_number="HKP/1")
    without_subject = notice_xml(now, identifier="H-2", case_number="HKP/2").replace(
        "<Targy>Árvízvédelmi gát építése</Targy>".encode(), b"")
    forms = [without_subject, good]
    items = "".join(notice_item(index, form) for index, form in enumerate(forms))
    body, headers = bundle_swa(
        bundle_envelope(office, "UjDokumentumokFeltolteseGepiInterfeszAltal", "HivataliModule",
                        f"<hkp:DokumentumFeltoltesKerdes>{items}</hkp:DokumentumFeltoltesKerdes>"),
        [("text/xml", f"hirdetmeny{index}.xml", form) for index, form in enumerate(forms)])
    answer = read_answer(await gw.client.post("/hkp", content=body, headers=headers))
    assert answer.hiba is None, answer.hiba
    refused, accepted = answer.form.findall("hkp:DokumentumTarolasEredmeny", NS)
    assert refused.findtext("hkp:Hiba/hkp:HibaKod", namespaces=NS) == "20", etree.tostring(
        refused)
    assert "Targy" in (refused.findtext("hkp:Hiba/hkp:HibaSzoveg", namespaces=NS) or "")
    assert refused.find("hkp:ErkeztetesiSzam", NS) is None
    assert accepted.find("hkp:Hiba", NS) is None, etree.tostring(accepted)
    number = accepted.findtext("hkp:ErkeztetesiSzam", namespaces=NS) or ""
    assert number.startswith(PORTAL.krid or "")
    # Published at once, and taken by the portal at once: the office sees it downloaded.
    assert await _listed(gw, office) == ["HKP/1"]
    assert await kezbesitettseg(gw.client, office.username, office.password, number) == "1"
