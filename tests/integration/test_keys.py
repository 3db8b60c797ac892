"""The kulcstár: parties' encryption certificates, over REST and HKP."""

from __future__ import annotations

import base64
import hashlib

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from sqlalchemy import func, select

from gateway.storage.tables import parties, party_keys
from gateway.storage.uow import SqlUnitOfWork
from tests.certificates import make_certificate
from tests.conftest import TEST_EPOCH
from tests.helpers import new_citizen, new_org
from tests.hkp_helpers import NS, envelope, read_answer
from tests.integration.conftest import Gateway


def _fingerprint(pem: bytes) -> str:
    certificate = x509.load_pem_x509_certificate(pem)
    return hashlib.sha256(certificate.public_bytes(serialization.Encoding.DER)).hexdigest()


async def test_upload_look_up_replace_delete_and_history(gw: Gateway) -> None:
    citizen, office = await new_citizen(gw.ports), await new_org(gw.ports)
    first = make_certificate(gw.clock.now())
    filed = await gw.client.put("/api/v1/keys/me", content=first.pem, auth=citizen.auth,
                                headers={"Content-Type": "application/x-pem-file"})
    assert filed.status_code == 200, filed.text
    assert filed.json()["fingerprint_sha256"] == _fingerprint(first.pem)

    found = await gw.client.get(f"/api/v1/keys/{citizen.code}", auth=office.auth)
    assert found.status_code == 200
    assert found.json()["certificate_pem"].encode().strip() == first.pem.strip()
    assert found.json()["fingerprint_sha256"] == _fingerprint(first.pem)

    second = make_certificate(gw.clock.now(), bits=3072)
    await gw.client.put("/api/v1/keys/me", content=second.pem, auth=citizen.auth)
    found = await gw.client.get(f"/api/v1/keys/{citizen.code}", auth=office.auth)
    assert found.json()["fingerprint_sha256"] == _fingerprint(second.pem)

    deleted = await gw.client.delete("/api/v1/keys/me", auth=citizen.auth)
    assert deleted.status_code == 204
    gone = await gw.client.get(f"/api/v1/keys/{citizen.code}", auth=office.auth)
    assert gone.status_code == 404 and gone.json()["code"] == "key_not_found"
    again = await gw.client.put("/api/v1/keys/me", content=first.pem, auth=citizen.auth)
    assert again.status_code == 200
    # Nothing is erased: three certificates filed, two of them removed.
    async with gw.ports.uow() as uow:
        assert isinstance(uow, SqlUnitOfWork)
        filed_count, removed_count = (await uow._connection.execute(  # type: ignore[union-attr]
            select(func.count(), func.count(party_keys.c.removed_at))
            .select_from(party_keys.join(parties, parties.c.id == party_keys.c.party_id))
            .where(parties.c.code == citizen.code)
        )).one()
    assert (filed_count, removed_count) == (3, 2)


@pytest.mark.parametrize(("certificate", "complaint"), [
    (make_certificate(TEST_EPOCH, expired=True).pem, "expired"),
    (make_certificate(TEST_EPOCH, bits=1024).pem, "1024 bits"),
    (make_certificate(TEST_EPOCH, elliptic=True).pem, "must be RSA"),
    (b"-----BEGIN CERTIFICATE-----\nnot base64\n-----END CERTIFICATE-----\n", "not an X.509"),
    (b"hello", "not an X.509"),
])
async def test_unacceptable_certificates_are_refused(
    gw: Gateway, certificate: bytes, complaint: str
) -> None:
    org = await new_org(gw.ports)
    refused = await gw.client.put("/api/v1/keys/me", content=certificate, auth=org.auth)
    assert refused.status_code == 422
    assert refused.json()["code"] == "invalid_certificate"
    assert complaint in refused.json()["detail"]
    assert (await gw.client.get(f"/api/v1/keys/{org.krid}", auth=org.auth)).status_code == 404


async def test_who_may_look_up_whom(gw: Gateway) -> None:
    alice, bob = await new_citizen(gw.ports), await new_citizen(gw.ports)
    office = await new_org(gw.ports)
    for party in (alice, office):
        await gw.client.put("/api/v1/keys/me", content=make_certificate(gw.clock.now()).pem,
                            auth=party.auth)
    assert (await gw.client.get(f"/api/v1/keys/{office.krid}", auth=bob.auth)).status_code == 200
    citizen_to_citizen = await gw.client.get(f"/api/v1/keys/{alice.code}", auth=bob.auth)
    assert citizen_to_citizen.status_code == 403
    assert (await gw.client.get(f"/api/v1/keys/{alice.code}", auth=office.auth)).status_code \
        == 200
    unknown = await gw.client.get("/api/v1/keys/999999999", auth=office.auth)
    assert unknown.status_code == 404 and unknown.json()["code"] == "key_not_found"


async def test_kulcs_lekerdezes_over_hkp(gw: Gateway) -> None:
    citizen, office = await new_citizen(gw.ports), await new_org(gw.ports)
    certificate = make_certificate(gw.clock.now())
    await gw.client.put("/api/v1/keys/me", content=certificate.pem, auth=citizen.auth)
    answer = read_answer(await gw.client.post("/hkp", headers={"Content-Type": "text/xml"},
                                              content=envelope(
        "KulcsLekerdezes", f"<hkp:KulcsLekerdezesKerdes><hkp:KapcsolatiKod>{citizen.code}"
        "</hkp:KapcsolatiKod></hkp:KulcsLekerdezesKerdes>",
        username=office.username, password=office.password)))
    der = base64.b64decode(answer.form.findtext("hkp:Tanusitvany", namespaces=NS) or "")
    assert x509.load_der_x509_certificate(der) == x509.load_pem_x509_certificate(certificate.pem)
    assert answer.form.findtext("hkp:Ujjlenyomat", namespaces=NS) == _fingerprint(certificate.pem)
