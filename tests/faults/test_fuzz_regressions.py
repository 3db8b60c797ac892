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
