"""The S3 store's timestamps read by the standard library give what botocore's own parser
gives, for the forms S3 sends and for the ones left to botocore."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from botocore.utils import parse_timestamp

from gateway.storage.s3bucket import store_timestamp


@pytest.mark.parametrize("value", [
    "Sun, 06 Dec 2026 16:41:01 GMT",  # Last-Modified of a HEAD or GET (RFC 7231)
    "Mon, 01 Mar 2027 00:00:59 GMT",
    "2026-12-06T16:41:01.000Z",  # LastModified of a listing (ISO 8601)
    "2026-12-06T16:41:01.123456Z",
    "2026-12-06T17:41:01+01:00",
])
def test_the_forms_s3_sends_give_botocores_instant_with_its_zone(value: str) -> None:
    ours, botocores = store_timestamp(value), parse_timestamp(value)
    assert ours == botocores
    assert ours.utcoffset() is not None


@pytest.mark.parametrize("value", [
    "2026-12-06T16:41:01",  # no time zone
    "1796575261",  # epoch seconds
    1796575261,
])
def test_other_forms_are_botocores_to_read(value: str | int) -> None:
    ours, botocores = store_timestamp(value), parse_timestamp(value)
    assert ours == botocores
    assert ours.tzinfo == botocores.tzinfo


def test_a_header_date_is_read_without_dateutil() -> None:
    parsed = store_timestamp("Sun, 06 Dec 2026 16:41:01 GMT")
    assert parsed == datetime(2026, 12, 6, 16, 41, 1, tzinfo=UTC)
    assert parsed.tzinfo is UTC


def test_what_neither_reads_is_refused() -> None:
    with pytest.raises(ValueError):
        store_timestamp("not a date")
