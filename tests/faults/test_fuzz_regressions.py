"""Defects the fuzzing tests (test_fuzz_rest.py, test_fuzz_hkp.py) found, each with the test
that failed before its fix."""

from __future__ import annotations

from tests.helpers import new_org
from tests.integration.conftest import Gateway


async def test_unparsable_json_body_is_invalid_request_not_400(gw: Gateway) -> None:
    """Was: 400 "There was an error parsing the body", a status outside the error codes."""
    office = await new_org(gw.ports)
    for body in (b"{", b"\xff\xfe", b'{"url": "http://a"'):
        response = await gw.client.put("/api/v1/webhook", content=body, auth=office.auth,
                                       headers={"Content-Type": "application/json"})
        assert response.status_code == 422, body
        assert response.headers["content-type"] == "application/problem+json"
        assert response.json()["code"] == "invalid_request"
        assert response.json()["field"] == "body"


async def test_test_clock_out_of_range_is_refused_and_the_sandbox_keeps_working(
    sandbox: Gateway,
) -> None:
    """Was: 500 (OverflowError), and the offset was already stored, so every later request
    that read the test clock answered 500 as well."""
    for body, field in (({"advance": "P999999999D"}, "advance"),
                        ({"advance": "P400000D"}, "advance"),
                        ({"set": "9999-12-31T23:59:59+01:00"}, "set"),
                        ({"set": "0001-01-01T00:00:00+01:00"}, "set")):
        response = await sandbox.client.post("/api/v1/sandbox/clock", json=body)
        assert response.status_code == 422, body
        assert response.json()["code"] == "invalid_request"
        assert response.json()["field"] == field
        assert (await sandbox.client.get("/api/v1/sandbox/clock")).status_code == 200
    assert (await sandbox.client.post("/api/v1/sandbox/run-due")).status_code == 200
    moved = await sandbox.client.post("/api/v1/sandbox/clock", json={"advance": "P36500D"})
    assert moved.status_code == 200 and moved.json()["now"].startswith("2126-")
    assert (await sandbox.client.post("/api/v1/sandbox/run-due")).status_code == 200
