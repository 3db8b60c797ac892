"""Four REST and two HKP clients race to list, download and acknowledge one mailbox while
documents keep arriving: every document delivered intact, all acknowledged once, every
acknowledgement answered, the mailbox's ``new`` list empty at the end."""

from __future__ import annotations

import asyncio
import hashlib
import random
from collections import Counter

from tests.faults.conftest import SCALE
from tests.helpers import Account, new_org, upload
from tests.hkp_helpers import NS, envelope, read_answer
from tests.integration.conftest import Gateway

DOCUMENTS = 30 * SCALE
REST_PULLERS = 4
HKP_PULLERS = 2


class Mailroom:
    def __init__(self) -> None:
        self.sent: dict[str, str] = {}  # number -> sha256
        # What is sent or being sent: the addressee may list a document before its sender has
        # read the answer that names its number.
        self.contents: set[str] = set()
        self.hkp_parts: dict[str, str] = {}  # number -> sha256 of the bytes HKP delivered
        self.delivered: Counter[str] = Counter()  # number -> times its bytes arrived intact
        self.acknowledged: Counter[str] = Counter()
        self.sending = True


async def _produce(gw: Gateway, sender: Account, office: Account, room: Mailroom) -> None:
    rng = random.Random(6)
    for i in range(DOCUMENTS):
        content = b"%PDF-1.7\n" + f"{i}".encode() + rng.randbytes(rng.randrange(100, 20_000))
        room.contents.add(hashlib.sha256(content).hexdigest())
        answer = await upload(gw.client, sender, office, content=content)
        assert answer.status_code == 201, answer.text
        room.sent[answer.json()["registration_number"]] = hashlib.sha256(content).hexdigest()
        await asyncio.sleep(rng.uniform(0, 0.01))
    room.sending = False


async def _rest_puller(gw: Gateway, office: Account, room: Mailroom) -> None:
    while True:
        page = await gw.client.get("/api/v1/mailbox", params={"limit": 5}, auth=office.auth)
        assert page.status_code == 200, page.text
        items = page.json()["items"]
        if not items and not room.sending:
            return
        for item in items:
            number = item["registration_number"]
            body = await gw.client.get(f"/api/v1/documents/{number}/content", auth=office.auth)
            assert body.status_code == 200, body.text
            assert hashlib.sha256(body.content).hexdigest() == item["sha256"]
            room.delivered[number] += 1
            ack = await gw.client.post(f"/api/v1/documents/{number}/ack", auth=office.auth)
            assert ack.status_code == 200, ack.text
            room.acknowledged[number] += 1
        await asyncio.sleep(0)


async def _hkp_puller(gw: Gateway, office: Account, room: Mailroom) -> None:
    def call(service: str, form: str) -> bytes:
        return envelope(service, form, username=office.username, password=office.password)

    while True:
        listed = read_answer(await gw.client.post(
            "/hkp", headers={"Content-Type": "text/xml"},
            content=call("DokumentumokLekerdezeseGepiInterfeszAltal2",
                         "<hkp:DokumentumAdatokLetoltesKerdes><hkp:PostafiokAlapjan>"
                         "<hkp:EredmenyekSzama>5</hkp:EredmenyekSzama></hkp:PostafiokAlapjan>"
                         "</hkp:DokumentumAdatokLetoltesKerdes>")))
        assert listed.hiba is None, listed.hiba
        numbers = [d.get("href") or "" for d in listed.form.findall("hkp:DokumentumAdatok", NS)]
        if not numbers and not room.sending:
            return
        for number in numbers:
            delivered = hashlib.sha256(listed.parts[number]).hexdigest()
            assert delivered in room.contents
            room.hkp_parts[number] = delivered  # checked against its number's at the end
            room.delivered[number] += 1
        if numbers:
            items = "".join(
                f"<hkp:VisszaigazolasAdatok><hkp:ErkeztetesiSzam>{n}</hkp:ErkeztetesiSzam>"
                "<hkp:Sikeres>true</hkp:Sikeres></hkp:VisszaigazolasAdatok>" for n in numbers)
            acked = read_answer(await gw.client.post(
                "/hkp", headers={"Content-Type": "text/xml"},
                content=call("SikeresDokumentumokOlvasas",
                             f"<hkp:OlvasasVisszaigazolas>{items}</hkp:OlvasasVisszaigazolas>")))
            assert acked.hiba is None, acked.hiba
            answers = acked.form.findall("hkp:VisszaIgazolasValasz", NS)
            assert [a.findtext("hkp:Uzenet/hkp:Szam", namespaces=NS) for a in answers] == \
                ["0"] * len(numbers)
            room.acknowledged.update(numbers)
        await asyncio.sleep(0)


async def test_pullers_race_for_one_mailbox(gw: Gateway) -> None:
    sender, office = await new_org(gw.ports), await new_org(gw.ports)
    room = Mailroom()
    await asyncio.wait_for(asyncio.gather(
        _produce(gw, sender, office, room),
        *[_rest_puller(gw, office, room) for _ in range(REST_PULLERS)],
        *[_hkp_puller(gw, office, room) for _ in range(HKP_PULLERS)],
    ), timeout=120)

    assert set(room.delivered) == set(room.sent), "a document was never delivered"
    assert all(room.sent[number] == delivered for number, delivered in room.hkp_parts.items())
    assert set(room.acknowledged) == set(room.sent)
    waiting = (await gw.client.get("/api/v1/mailbox", auth=office.auth)).json()["items"]
    assert waiting == []
    everything = (await gw.client.get("/api/v1/mailbox", params={"state": "all", "limit": 500},
                                      auth=office.auth)).json()["items"]
    assert {d["registration_number"] for d in everything} == set(room.sent)
    assert {d["delivery_state"] for d in everything} == {"downloaded"}
    # One download receipt each, however many acknowledgements raced for it.
    for number in room.sent:
        receipts = (await gw.client.get(f"/api/v1/documents/{number}/receipts",
                                        auth=sender.auth)).json()["items"]
        assert [r["kind"] for r in receipts] == ["acceptance", "download"], number
    raced = sum(1 for n in room.acknowledged.values() if n > 1)
    print(f"pullers: {len(room.sent)} documents, {sum(room.delivered.values())} deliveries, "
          f"{sum(room.acknowledged.values())} acknowledgements ({raced} documents acked twice "
          "or more)")


async def test_a_document_listed_before_its_bytes_are_placed_downloads(gw: Gateway) -> None:
    """Found by the race above (PostgreSQL): a puller that lists a document between its
    upload's commit and the move of its bytes into place got HibaUzenet 50 / 503 "the
    document's content cannot be read right now". The reader now finishes the move."""
    sender, office = await new_org(gw.ports), await new_org(gw.ports)
    content = b"%PDF-1.7\nlisted before placed\n"
    answer = (await upload(gw.client, sender, office, content=content)).json()
    sha256 = answer["sha256"]
    # The state between the commit and the move: the row is there, the bytes still staged.
    placed = gw.blob_root / sha256[:2] / sha256[2:4] / sha256
    placed.rename(gw.blob_root / "tmp" / f"{sha256}.0f1e2d.ready")

    body = await gw.client.get(f"/api/v1/documents/{answer['registration_number']}/content",
                               auth=office.auth)
    assert body.status_code == 200, body.text
    assert body.content == content
    assert placed.is_file()
