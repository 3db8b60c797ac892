"""``kapu disposition show``: one real process for the JSON answer; the plain lines and the
refusals through the same entry point in-process (each process start costs seconds)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from gateway.cli import main
from gateway.cli.common import with_ports
from gateway.config import Settings
from gateway.domain.rny import MandateScope
from gateway.services import mandates, parties, rny
from gateway.services.ports import Ports
from tests.conftest import fresh_krid, fresh_short_name
from tests.e2e.test_cli import kapu


def test_disposition_show(database_url: str, tmp_path: Path, keys_dir: Path,
                          monkeypatch: pytest.MonkeyPatch,
                          capsys: pytest.CaptureFixture[str]) -> None:
    data_dir, krid = tmp_path / "data", fresh_krid()
    settings = Settings(database_url=database_url, data_dir=data_dir, keys_dir=keys_dir)

    async def arrange(ports: Ports) -> tuple[str, str, int]:
        principal = await parties.register_citizen(ports, name="Kiss Anna",
                                                   email="anna@example.hu")
        agent = await parties.register_citizen(ports, name="Nagy Béla", email="bela@example.hu")
        await parties.register_organisation(ports, krid=krid, short_name=fresh_short_name(),
                                            name="Próba Hivatal")
        async with ports.uow() as uow:
            found = await uow.parties.by_username(principal.username)
        assert found is not None and principal.code and agent.code
        await rny.declare(ports, found, electronic_contact=True)
        offered = await mandates.offer(ports, found, agent_code=agent.code,
                                       scope=MandateScope.of([krid]))
        async with ports.uow() as uow:
            agent_party = await uow.parties.by_username(agent.username)
        assert agent_party is not None
        await mandates.accept(ports, agent_party, offered.id)
        return principal.code, agent.code, offered.id

    code, agent_code, mandate_id = with_ports(settings, arrange)
    shown = kapu(database_url, data_dir, "disposition", "show", code, "--json",
                 env={"KAPU_KEYS_DIR": str(keys_dir)})
    assert shown.returncode == 0, shown.stderr
    answer = json.loads(shown.stdout)
    assert answer["electronic_contact"] is True and answer["since"]
    assert answer["official_address"] == {"kind": "tarhely", "code": code}
    [mandate] = answer["mandates"]
    assert mandate["id"] == mandate_id and mandate["state"] == "active"
    assert mandate["agent"] == {"name": "Nagy Béla", "code": agent_code}
    assert mandate["scope"] == {"offices": [krid]}

    # The same command in-process: plain lines, an earlier moment, refusals.
    monkeypatch.setenv("KAPU_DATABASE_URL", database_url)
    monkeypatch.setenv("KAPU_DATA_DIR", str(data_dir))
    monkeypatch.setenv("KAPU_KEYS_DIR", str(keys_dir))
    capsys.readouterr()
    assert main(["disposition", "show", code]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[:3] == ["electronic_contact: yes", f"official_address: tarhely {code}",
                         f"since: {answer['since']}"]
    assert lines[3].startswith(f"mandate {mandate_id}: agent Nagy Béla ({agent_code}), "
                               f"offices {krid}, from ")
    assert lines[3].endswith("until no end")
    assert main(["disposition", "show", code, "--at", "2001-01-01T00:00:00+01:00"]) == 0
    assert capsys.readouterr().out.splitlines() == [
        "electronic_contact: no", f"official_address: tarhely {code}", "since: not declared",
        "mandates: none"]
    for args, status, complaint in (
            (["0" * 32], 1, "kapu: error: no party with the address '00000000000000000000000000"
                            "000000' (a kapcsolati kód or a KRID)"),
            ([code, "--at", "2027-01-04T09:00:00"], 2, "argument --at: give the offset too"),
            ([code, "--at", "tegnap"], 2, "argument --at: not an ISO 8601 time"),
            ([code, "--at", "0001-01-01T00:00:00+14:00"], 2, "argument --at: give a time")):
        with pytest.raises(SystemExit) as exited:
            main(["disposition", "show", *args])
        assert exited.value.code == status, args
        refused = capsys.readouterr()
        assert refused.out == "" and complaint in refused.err.strip(), refused.err
        assert len(refused.err.strip().splitlines()) == 1
