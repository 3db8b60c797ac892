"""The throttling rule's arithmetic: when a refusal ends, how long an attempt waits."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta

from gateway.ops.admission import claimed_username
from gateway.services.auth import ATTEMPTS, MAX_DELAY, SLOW_AFTER, WINDOW, refused_until, slow_down

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def _newest_first(*minutes: float) -> list[datetime]:
    return sorted((T0 + timedelta(minutes=m) for m in minutes), reverse=True)


def test_the_fifth_failure_within_the_window_starts_a_refusal_of_the_window() -> None:
    assert refused_until(_newest_first(0, 1, 2, 3)) is None
    assert refused_until(_newest_first(0, 1, 2, 3, 4)) == T0 + timedelta(minutes=4) + WINDOW
    assert ATTEMPTS == 5 and WINDOW == timedelta(minutes=15)


def test_failures_spread_wider_than_the_window_refuse_nothing() -> None:
    assert refused_until(_newest_first(0, 4, 8, 12, 15)) is None
    # After a refusal has run out, the next failures start counting afresh.
    assert refused_until(_newest_first(1, 2, 3, 4, 19)) is None
    assert refused_until(_newest_first(19, 20, 21, 22, 23)) == \
        T0 + timedelta(minutes=23) + WINDOW


def test_slowing_grows_past_fifty_failures_and_stops_at_two_seconds() -> None:
    assert slow_down(0) == slow_down(SLOW_AFTER) == 0.0
    assert 0 < slow_down(SLOW_AFTER + 1) < slow_down(SLOW_AFTER + 5) < MAX_DELAY
    assert slow_down(SLOW_AFTER + 1_000_000) == MAX_DELAY == 2.0


def test_the_username_a_request_names_is_read_without_checking_it() -> None:
    def scope(authorization: bytes) -> dict[str, object]:
        return {"headers": [(b"authorization", authorization)]}

    basic = b"Basic " + base64.b64encode(b"hivatal-1:titok:kettosponttal")
    assert claimed_username(scope(basic), None) == "hivatal-1"
    assert claimed_username(scope(b"Basic !!!nem-base64"), None) is None
    assert claimed_username(scope(b"Bearer abc"), None) is None
    assert claimed_username({"headers": []}, None) is None
    peeked = (b'<soapenv:Header><wsse:Security xmlns:wsse="urn:x"><wsse:UsernameToken>'
              b"<wsse:Username> hivatal-2 </wsse:Username><wsse:Password>p</wsse:Password>")
    assert claimed_username({"headers": []}, peeked) == "hivatal-2"
    assert claimed_username({"headers": []}, b"<soapenv:Envelope>") is None
