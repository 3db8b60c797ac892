"""``kapu office topics set|list``, run as a real process against a real database."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import fresh_krid, fresh_short_name
from tests.e2e.test_cli import kapu


def _office(database_url: str, data_dir: Path, kind: str = "hivatali") -> str:
    krid = fresh_krid()
    added = kapu(database_url, data_dir, "org", "add", "--krid", krid, "--short-name",
                 fresh_short_name(), "--name", "Próba Hivatal", "--type", kind)
    assert added.returncode == 0, added.stderr
    return krid


def test_set_list_replace_and_clear(database_url: str, tmp_path: Path) -> None:
    krid = _office(database_url, tmp_path)
    listed = kapu(database_url, tmp_path, "office", "topics", "list", "--krid", krid, "--json")
    assert listed.returncode == 0, listed.stderr
    assert json.loads(listed.stdout) == {
        "krid": krid, "items": [{"code": "ALTALANOS", "name": "általános ügy"}]}

    saved = kapu(database_url, tmp_path, "office", "topics", "set", "--krid", krid,
                 "ADO_UGY=Adóügyek", "EPITES = Építésügy és űrlapok", "--json")
    assert saved.returncode == 0, saved.stderr
    expected = {"krid": krid, "items": [{"code": "ADO_UGY", "name": "Adóügyek"},
                                        {"code": "EPITES", "name": "Építésügy és űrlapok"}]}
    assert json.loads(saved.stdout) == expected
    listed = kapu(database_url, tmp_path, "office", "topics", "list", "--krid", krid, "--json")
    assert json.loads(listed.stdout) == expected
    plain = kapu(database_url, tmp_path, "office", "topics", "list", "--krid", krid)
    assert plain.stdout.split("\n")[0].split() == ["ADO_UGY", "Adóügyek"]

    cleared = kapu(database_url, tmp_path, "office", "topics", "set", "--krid", krid, "--json")
    assert cleared.returncode == 0, cleared.stderr
    assert json.loads(cleared.stdout) == {"krid": krid, "items": []}
    listed = kapu(database_url, tmp_path, "office", "topics", "list", "--krid", krid, "--json")
    assert json.loads(listed.stdout)["items"] == [{"code": "ALTALANOS",
                                                   "name": "általános ügy"}]


# Each bad list of pairs, and the one line it is refused with (exit 2, nothing changed).
BAD_PAIRS = [
    (["x="], 'kapu: error: bad topic "x=": the code must be 1–32 characters of A–Z, 0–9 '
             "and _"),
    (["ADO="], 'kapu: error: bad topic "ADO=": the name is empty'),
    (["ADO Adó"], 'kapu: error: bad topic "ADO Adó": write it as CODE=NAME'),
    (["ADO=a", "ADO=b"], 'kapu: error: bad topic "ADO=b": that code is given twice'),
    (["ADO=Adó\u202eügy"], 'kapu: error: bad topic "ADO=Adó\\u202eügy": the name holds '
                           "U+202E (a control or format character)"),
]


# Refused before the database is read: one database is enough.
@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_a_bad_pair_exits_2_with_one_line_and_changes_nothing(
        database_url: str, tmp_path: Path) -> None:
    # One office for every bad list: each command is a process start of its own.
    krid = _office(database_url, tmp_path)
    kept = kapu(database_url, tmp_path, "office", "topics", "set", "--krid", krid, "ADO=Adó")
    assert kept.returncode == 0, kept.stderr
    for pairs, complaint in BAD_PAIRS:
        refused = kapu(database_url, tmp_path, "office", "topics", "set", "--krid", krid,
                       *pairs)
        assert refused.returncode == 2, pairs
        assert refused.stderr.strip() == complaint and refused.stdout == ""
    listed = kapu(database_url, tmp_path, "office", "topics", "list", "--krid", krid, "--json")
    assert json.loads(listed.stdout)["items"] == [{"code": "ADO", "name": "Adó"}]


def test_a_company_or_an_unknown_krid_exits_2(database_url: str, tmp_path: Path) -> None:
    company = _office(database_url, tmp_path, "ceg")
    for krid in (company, "999999999"):
        refused = kapu(database_url, tmp_path, "office", "topics", "list", "--krid", krid)
        assert refused.returncode == 2
        assert refused.stderr.strip() == f"kapu: error: no office (hivatali kapu) with KRID {krid}"
    malformed = kapu(database_url, tmp_path, "office", "topics", "set", "--krid", "12", "A=a")
    assert malformed.returncode == 2 and "KRID must be exactly 9 digits" in malformed.stderr
    assert len(malformed.stderr.strip().splitlines()) == 1


def test_help_says_how_to_write_a_topic(tmp_path: Path) -> None:
    shown = kapu("sqlite+aiosqlite:///unused.db", tmp_path, "office", "topics", "set", "--help")
    assert shown.returncode == 0
    assert "CODE=NAME" in shown.stdout and "ALTALANOS" in shown.stdout
