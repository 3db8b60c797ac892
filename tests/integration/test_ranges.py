"""Ranged downloads on the REST door (section 7) from the filesystem store; the S3 store's are
in tests/e2e/test_several_hosts.py."""

from __future__ import annotations

import os

from tests.helpers import new_org, upload
from tests.integration.conftest import Gateway

CONTENT = os.urandom(50_000)


async def test_one_range_answers_206_several_the_whole_and_past_the_end_416(
        gw: Gateway) -> None:
    sender, office = await new_org(gw.ports), await new_org(gw.ports)
    sent = await upload(gw.client, sender, office, CONTENT, file_name="adat.txt")
    assert sent.status_code == 201, sent.text
    path = f"/api/v1/documents/{sent.json()['registration_number']}/content"

    async def get(range_header: str | None) -> tuple[int, dict[str, str], bytes]:
        headers = {"Range": range_header} if range_header else {}
        answer = await gw.client.get(path, auth=office.auth, headers=headers)
        return answer.status_code, dict(answer.headers), answer.content

    status, headers, body = await get(None)
    assert (status, body, headers["accept-ranges"]) == (200, CONTENT, "bytes")
    status, headers, body = await get("bytes=1000-1999")
    assert (status, body) == (206, CONTENT[1000:2000])
    assert headers["content-range"] == "bytes 1000-1999/50000"
    assert headers["content-length"] == "1000"
    status, headers, body = await get("bytes=49000-")
    assert (status, body, headers["content-range"]) == (
        206, CONTENT[49000:], "bytes 49000-49999/50000")
    status, headers, body = await get("bytes=-100")
    assert (status, body) == (206, CONTENT[-100:])
    status, headers, body = await get("bytes=0-9,20-29")
    assert (status, body) == (200, CONTENT)
    status, headers, body = await get("bytes=50000-")
    assert status == 416
    assert headers["content-range"] == "bytes */50000"
    assert b'"range_not_satisfiable"' in body
