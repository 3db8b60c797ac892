"""Defects the fuzzing tests (test_fuzz_rest.py, test_fuzz_hkp.py) found, each with the test
that failed before its fix."""

from __future__ import annotations

from datetime import datetime, timedelta

from gateway.errors import InvalidRequest, Unavailable
from tests.helpers import new_citizen, new_org, upload
from tests.integration.conftest import Gateway, sandbox_auth


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
    auth = await sandbox_auth(sandbox)
    for body, field in (({"advance": "P999999999D"}, "advance"),
                        ({"advance": "P400000D"}, "advance"),
                        ({"set": "9999-12-31T23:59:59+01:00"}, "set"),
                        ({"set": "0001-01-01T00:00:00+01:00"}, "set")):
        response = await sandbox.client.post("/api/v1/sandbox/clock", json=body, auth=auth)
        assert response.status_code == 422, body
        assert response.json()["code"] == "invalid_request"
        assert response.json()["field"] == field
        assert (await sandbox.client.get("/api/v1/sandbox/clock", auth=auth)).status_code == 200
    assert (await sandbox.client.post("/api/v1/sandbox/run-due", auth=auth)).status_code == 200
    # On PostgreSQL the session's tests share one database, so one offset: compare to it.
    before = datetime.fromisoformat(
        (await sandbox.client.get("/api/v1/sandbox/clock", auth=auth)).json()["now"])
    # (a day only: the other PostgreSQL tests of the session read this clock too)
    moved = await sandbox.client.post("/api/v1/sandbox/clock", json={"advance": "P1D"}, auth=auth)
    assert moved.status_code == 200
    assert datetime.fromisoformat(moved.json()["now"]) - before >= timedelta(days=1)
    assert (await sandbox.client.post("/api/v1/sandbox/run-due", auth=auth)).status_code == 200


async def test_nul_characters_are_refused_naming_the_field(gw: Gateway) -> None:
    """Was, on PostgreSQL: 500 (no text column stores a NUL; SQLite stored it). Found by
    fuzzing after the REST fuzzing's NUL-bearing strings passed on SQLite."""
    sender, office = await new_org(gw.ports), await new_org(gw.ports)
    for field in ("doc_type_office", "doc_type_id", "doc_type_description", "note",
                  "reference_number"):
        response = await upload(gw.client, sender, office, **{field: "a\x00b"})
        assert response.status_code == 422, field
        assert response.json()["field"] == field
    for field in ("name", "short_name", "krid"):
        response = await gw.client.get("/api/v1/offices", params={field: "\x00"},
                                       auth=office.auth)
        assert response.status_code == 422, field
        assert response.json()["field"] == field
    response = await gw.client.get("/api/v1/mailbox", params={"doc_type_id": "a\x00"},
                                   auth=office.auth)
    assert response.status_code == 422 and response.json()["field"] == "doc_type_id"
    # Nothing was accepted on the way.
    assert (await gw.client.get("/api/v1/mailbox", auth=office.auth)).json()["items"] == []


async def test_nul_in_addresses_and_credentials_names_nothing(gw: Gateway) -> None:
    """Was, on PostgreSQL: 500 for each of these."""
    office = await new_org(gw.ports)
    citizen = await new_citizen(gw.ports)
    for method, path, who in (("GET", "/api/v1/documents/%00", office),
                              ("GET", "/api/v1/documents/1%00/content", office),
                              ("POST", "/api/v1/documents/%00/ack", office),
                              ("POST", "/api/v1/documents/%00/keep", citizen),
                              ("DELETE", "/api/v1/storage/%00", citizen)):
        response = await gw.client.request(method, path, auth=who.auth)
        assert response.status_code == 404, path
        assert response.json()["code"] == "not_found"
    key = await gw.client.get("/api/v1/keys/a%00b", auth=office.auth)
    assert key.status_code == 404 and key.json()["code"] == "key_not_found"
    login = await gw.client.get("/api/v1/mailbox", auth=(office.username + "\x00", "x"))
    assert login.status_code == 401


async def test_webhook_url_too_long_unreadable_or_with_nul_is_refused(gw: Gateway) -> None:
    """Was: 500 for "http://[x" (urlsplit's ValueError) on both databases; on PostgreSQL also
    for a URL longer than its column (2,048) or holding a NUL."""
    office = await new_org(gw.ports)
    for url in ("http://[x", "http://a/" + "x" * 2_040, "http://a/\x00"):
        response = await gw.client.put("/api/v1/webhook", json={"url": url}, auth=office.auth)
        assert response.status_code == 422, url
        assert response.json()["field"] == "url"
    fits = await gw.client.put("/api/v1/webhook", json={"url": "http://a/" + "x" * 2_039},
                               auth=office.auth)
    assert fits.status_code == 200


async def test_a_value_postgresql_cannot_store_is_invalid_request(
    gw: Gateway, database_url: str
) -> None:
    """The storage layer's net under the services' checks: SQLSTATE class 22 (data exception)
    is the request's fault, an InvalidRequest, never a 500 nor an outage."""
    refused: BaseException | None = None
    try:
        async with gw.ports.uow() as uow:
            await uow.documents.by_number("\x00")
    except Exception as exc:
        refused = exc
    if database_url.startswith("sqlite"):
        assert refused is None  # SQLite stores and compares a NUL like any character
    else:
        assert isinstance(refused, InvalidRequest) and not isinstance(refused, Unavailable)


async def test_test_clock_takes_iso_strings_only(sandbox: Gateway) -> None:
    """Was: 200 for {"advance": 5} (five seconds) and {"set": 1700000000} (a Unix time),
    values the OpenAPI document declares invalid (ISO 8601 strings only)."""
    auth = await sandbox_auth(sandbox)
    for body, field in (({"advance": 5}, "advance"), ({"advance": 1.5}, "advance"),
                        ({"advance": True}, "advance"), ({"set": 1_700_000_000}, "set")):
        response = await sandbox.client.post("/api/v1/sandbox/clock", json=body, auth=auth)
        assert response.status_code == 422, body
        assert response.json()["field"] == field
    moved = await sandbox.client.post("/api/v1/sandbox/clock", json={"advance": "PT1S"}, auth=auth)
    assert moved.status_code == 200


async def test_openapi_declares_the_problem_answers(gw: Gateway) -> None:
    """Was: refusals undeclared (a 401, 404 or 503 of any operation), and 422 declared as
    FastAPI's validation error in application/json where the gateway answers problem+json."""
    spec = (await gw.client.get("/openapi.json")).json()
    mailbox = spec["paths"]["/api/v1/mailbox"]["get"]["responses"]
    for status in ("401", "403", "404", "422", "503"):
        schema = mailbox[status]["content"]["application/problem+json"]["schema"]
        assert {"type", "title", "status", "detail", "code"} <= set(schema["required"])
    upload = spec["paths"]["/api/v1/documents"]["post"]["responses"]
    assert {"409", "413", "415"} <= set(upload)
    assert "401" not in spec["paths"]["/api/v1/trust"]["get"]["responses"]
    assert "503" in spec["paths"]["/ready"]["get"]["responses"]
