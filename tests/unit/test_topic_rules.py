"""An office's e-Papír topics: the rules for codes, names and the list (domain/epapir.py)."""

from __future__ import annotations

import pytest

from gateway.domain.epapir import (
    MAX_TOPICS,
    TopicFault,
    TopicRefusal,
    checked_topics,
    read_topics,
    topic_refusal,
)
from gateway.errors import InvalidRequest


def test_good_topics_are_read_with_spaces_around_either_side_dropped() -> None:
    assert read_topics(["ADO_UGY = Adóügyek", "X=y=z", " EPITES_2= Építésügy  "]) == [
        ("ADO_UGY", "Adóügyek"), ("X", "y=z"), ("EPITES_2", "Építésügy")]
    assert read_topics([]) == []
    longest = [("A" * 32, "n" * 200)] + [(f"T{number}", "név") for number in range(49)]
    assert topic_refusal(longest) is None


@pytest.mark.parametrize(("entries", "fault", "position"), [
    (["ADO Adóügyek"], TopicFault.NO_SEPARATOR, 1),
    (["ADO=Adó", "ado=kisbetűs"], TopicFault.BAD_CODE, 2),
    (["=Név nélküli kód"], TopicFault.BAD_CODE, 1),
    (["ADÓ=ékezet"], TopicFault.BAD_CODE, 1),
    (["ADO-UGY=kötőjel"], TopicFault.BAD_CODE, 1),
    ([f"{'A' * 33}=túl hosszú"], TopicFault.BAD_CODE, 1),
    (["ADO="], TopicFault.EMPTY_NAME, 1),
    (["ADO=   "], TopicFault.EMPTY_NAME, 1),
    ([f"ADO={'n' * 201}"], TopicFault.LONG_NAME, 1),
    (["ADO=Adó\u202eügy"], TopicFault.BAD_CHARACTER, 1),
    (["ADO=Adó\x07"], TopicFault.BAD_CHARACTER, 1),
    (["ADO=Adó", "EPITES=Építés", "ADO=Megint"], TopicFault.DUPLICATE, 3),
    ([f"T{number}=név" for number in range(MAX_TOPICS + 1)], TopicFault.TOO_MANY, 51),
])
def test_each_fault_is_found_with_its_place(entries: list[str], fault: TopicFault,
                                            position: int) -> None:
    refusal = read_topics(entries)
    assert isinstance(refusal, TopicRefusal)
    assert (refusal.fault, refusal.position) == (fault, position)


def test_the_refusal_says_which_topic_and_what_is_wrong() -> None:
    refusal = read_topics(["x="])
    assert isinstance(refusal, TopicRefusal)
    assert refusal.describe() == ('bad topic "x=": the code must be 1–32 characters of A–Z, '
                                  "0–9 and _")
    empty = read_topics(["ADO="])
    assert isinstance(empty, TopicRefusal)
    assert empty.describe() == 'bad topic "ADO=": the name is empty'
    control = topic_refusal([("ADO", "a\x00b")])
    assert control is not None and "U+0000" in control.describe()
    many = topic_refusal([(f"T{n}", "n") for n in range(60)])
    assert many is not None and many.describe() == "too many topics: 60 given, at most 50"


def test_checked_topics_refuses_naming_the_field() -> None:
    assert checked_topics([("ADO", "Adó")]) == [("ADO", "Adó")]
    with pytest.raises(InvalidRequest) as refused:
        checked_topics([("ADO", "Adó"), ("ADO", "Adó")])
    assert refused.value.field == "topics"
    assert "given twice" in refused.value.detail
