"""The rules the web door asks of the domain (issue 28): Budapest days, date filters, the
sandbox console's clock moves, who acts for a mailbox, whose receipts are shown, and the
door's refusal table."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta

import pytest

from gateway.domain.documents import DeliveryState, Document, PartyRef, shows_evidence
from gateway.domain.limits import (
    LATEST_DAY,
    MAX_ADVANCE_DAYS,
    AdvanceRefusal,
    clock_advance,
    filter_day,
)
from gateway.domain.parties import Party, PartyKind, on_behalf
from gateway.domain.receiving import offers_opening
from gateway.domain.registration import budapest_days, budapest_midnight
from gateway.errors import (
    Expired,
    Forbidden,
    InvalidRequest,
    KeyNotFound,
    NotFound,
    Unavailable,
)
from gateway.web.refusals import CsrfRefused, page_of


def test_a_budapest_day_begins_at_its_midnight_in_winter_and_summer() -> None:
    assert budapest_midnight(date(2026, 1, 15)) == datetime(2026, 1, 14, 23, tzinfo=UTC)
    assert budapest_midnight(date(2026, 7, 1)) == datetime(2026, 6, 30, 22, tzinfo=UTC)


def test_a_span_of_days_holds_both_days_whole() -> None:
    since, until = budapest_days(date(2026, 3, 28), date(2026, 3, 29))
    assert since == datetime(2026, 3, 27, 23, tzinfo=UTC)
    # The spring-forward day is 23 hours long; the span ends at the next Budapest midnight.
    assert until == datetime(2026, 3, 29, 22, tzinfo=UTC)
    assert budapest_days(None, None) == (None, None)


def test_a_date_filter_is_a_day_unreadable_or_refused() -> None:
    assert filter_day("2026-02-03", "from") == date(2026, 2, 3)
    assert filter_day("", "from") is None and filter_day(None, "to") is None
    with pytest.raises(ValueError):
        filter_day("03/02/2026", "from")
    with pytest.raises(InvalidRequest) as refused:
        filter_day("1899-12-31", "to")
    assert refused.value.field == "to"
    assert filter_day(LATEST_DAY.isoformat(), "to") == LATEST_DAY


@pytest.mark.parametrize(("days", "hours", "expected"), [
    ("1", "0", timedelta(days=1)), ("", "", timedelta(0)), ("0", "23", timedelta(hours=23)),
    (str(MAX_ADVANCE_DAYS), "", timedelta(days=MAX_ADVANCE_DAYS)),
    (str(MAX_ADVANCE_DAYS + 1), "0", AdvanceRefusal.NOT_NUMBERS),
    ("0", "24", AdvanceRefusal.NOT_NUMBERS), ("1.5", "0", AdvanceRefusal.NOT_NUMBERS),
    ("egy", "0", AdvanceRefusal.NOT_NUMBERS), ("-1", "0", AdvanceRefusal.BACKWARDS),
    ("1", "-2", AdvanceRefusal.BACKWARDS),
])
def test_the_console_moves_the_clock_forward_within_bounds(
        days: str, hours: str, expected: timedelta | AdvanceRefusal) -> None:
    assert clock_advance(days, hours) == expected


def _party(party_id: int, kind: PartyKind, username: str) -> Party:
    return Party(id=party_id, kind=kind, username=username, name=username, short_name=None,
                 krid="123456789" if kind is not PartyKind.CITIZEN else None)


_NOW = datetime(2026, 1, 5, 9, tzinfo=UTC)


def _document(sender: Party, recipient: Party) -> Document:
    return Document(
        id=1, registration_number="1" * 27, registered_at=_NOW, valid_until=_NOW,
        sender_id=sender.id, recipient_id=recipient.id,
        sender=PartyRef(kind=sender.kind, name=sender.name),
        recipient=PartyRef(kind=recipient.kind, name=recipient.name),
        reference_number=None, doc_type_office="", doc_type_id="", doc_type_description="",
        note=None, file_name="a.pdf", size=1, sha256="0" * 64, reply_encryption=False,
        return_receipt=False, system_message=False, delivery_state=DeliveryState.WAITING,
        acknowledged_at=None)


def test_a_person_acts_for_an_office_and_as_themselves_in_their_own_box() -> None:
    person = _party(1, PartyKind.CITIZEN, "kiss.anna")
    office = _party(2, PartyKind.HIVATALI, "hivatal")
    assert on_behalf(person, office) == "kiss.anna"
    assert on_behalf(person, person) is None


def test_receipts_are_shown_to_the_sender_and_opening_offered_to_a_citizen() -> None:
    citizen = _party(1, PartyKind.CITIZEN, "kiss.anna")
    office = _party(2, PartyKind.HIVATALI, "hivatal")
    sent = _document(office, citizen)
    assert shows_evidence(office, sent) and not shows_evidence(citizen, sent)
    assert offers_opening(citizen, sent) and not offers_opening(office, sent)
    assert not offers_opening(citizen, replace(sent, delivery_state=DeliveryState.EXPIRED))
    assert not offers_opening(citizen, replace(sent, delivery_state=DeliveryState.DOWNLOADED))
    assert not offers_opening(office, _document(citizen, office))


def test_the_web_refusal_table() -> None:
    assert page_of(NotFound("x")) == (404, "not_found.html")
    assert page_of(KeyNotFound("x")) == (404, "not_found.html")  # by its nearest class
    assert page_of(Forbidden("x")) == (404, "not_found.html")  # as if it did not exist
    assert page_of(Expired("x")) == (410, "expired.html")
    assert page_of(CsrfRefused()) == (403, "forbidden.html")
    assert page_of(Unavailable("x")) is None  # left to the application's handlers
