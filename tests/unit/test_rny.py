"""The Rendelkezési Nyilvántartás's rules (domain/rny.py): scopes, windows, states."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from gateway.domain.parties import Party, PartyKind
from gateway.domain.rny import (
    MAX_SCOPE_OFFICES,
    Agency,
    Mandate,
    MandateScope,
    MandateState,
    mandate_id,
)

T0 = datetime(2030, 3, 4, 9, 0, tzinfo=UTC)
PRINCIPAL = Party(1, PartyKind.CITIZEN, "Elv Ő", "elv", code="p" * 32)
AGENT = Party(2, PartyKind.CITIZEN, "Meg Bízott", "meg", code="a" * 32)


def _mandate(scope: MandateScope, *, until: datetime | None = None,
             accepted: datetime | None = T0, revoked: datetime | None = None) -> Mandate:
    return Mandate(7, PRINCIPAL, AGENT, scope, T0, until, T0, accepted, revoked)


def test_scopes_cover_and_overlap() -> None:
    everything, some = MandateScope.of(None), MandateScope.of(["100000001", "100000003"])
    assert everything.covers("123456789") and everything.covers(None)
    assert some.covers("100000001") and not some.covers("100000002") and not some.covers(None)
    assert everything.overlaps(some) and some.overlaps(everything)
    assert some.overlaps(MandateScope.of(["100000003"]))
    assert not some.overlaps(MandateScope.of(["100000002"]))
    assert MandateScope.from_stored(some.stored()) == some and some.stored() == \
        "100000001,100000003"
    assert MandateScope.from_stored(None) == everything
    most = [str(100000000 + number) for number in range(MAX_SCOPE_OFFICES)]
    assert MandateScope.of(most).offices == frozenset(most)
    for bad in ([], ["12345678"], ["abcdefghi"], [*most, "199999999"]):
        with pytest.raises(ValueError):
            MandateScope.of(bad)


def test_states_follow_the_clock() -> None:
    until = T0 + timedelta(days=2)
    pending = _mandate(MandateScope.of(None), until=until, accepted=None)
    assert pending.state_at(T0) is MandateState.PENDING and not pending.in_force(T0)
    active = _mandate(MandateScope.of(None), until=until)
    assert active.state_at(T0) is MandateState.ACTIVE and active.in_force(T0)
    assert active.state_at(until) is MandateState.EXPIRED and not active.in_force(until)
    assert active.in_force(until - timedelta(microseconds=1))
    revoked = _mandate(MandateScope.of(None), revoked=T0 + timedelta(hours=1))
    assert revoked.in_force(T0) and revoked.state_at(T0 + timedelta(hours=1)) is \
        MandateState.REVOKED
    assert not active.in_force(T0 - timedelta(seconds=1))  # before valid_from


def test_windows_overlap_half_open() -> None:
    first = _mandate(MandateScope.of(None), until=T0 + timedelta(days=1))
    assert first.overlaps(MandateScope.of(None), T0 + timedelta(hours=23), None)
    assert not first.overlaps(MandateScope.of(None), T0 + timedelta(days=1), None)
    assert not first.overlaps(MandateScope.of(None), T0 - timedelta(days=1), T0)
    endless = _mandate(MandateScope.of(["100000001"]))
    assert endless.overlaps(MandateScope.of(None), T0 + timedelta(days=900), None)
    assert not endless.overlaps(MandateScope.of(["100000002"]), T0, None)


def test_an_agency_sees_documents_within_scope() -> None:
    agency = Agency(PRINCIPAL, AGENT, (_mandate(MandateScope.of(["100000001"])),))
    assert agency.sees(50, "100000001", PRINCIPAL.id, None)  # from an office in scope
    assert not agency.sees(51, "100000002", PRINCIPAL.id, None)  # from one outside
    assert agency.sees(PRINCIPAL.id, None, 50, "100000001")  # sent to one in scope
    assert not agency.sees(52, "100000001", 53, None)  # not the principal's at all
    assert agency.offices == frozenset({"100000001"})
    wider = Agency(PRINCIPAL, AGENT, (*agency.mandates, _mandate(MandateScope.of(None))))
    assert wider.offices is None and wider.covers("999999999")


@pytest.mark.parametrize(("text", "expected"), [("12", 12), ("0", None), ("-1", None),
                                                ("1e3", None), ("", None), ("1" * 19, None)])
def test_mandate_ids(text: str, expected: int | None) -> None:
    assert mandate_id(text) == expected
