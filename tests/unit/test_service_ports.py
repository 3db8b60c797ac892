"""Each service function takes the ports of its slice (services/ports/slices.py), never the
whole ``Ports``; and ``Ports`` holds every member of every slice, of the same type (mypy checks
the same at each door's call; this names the member when it does not hold)."""

from __future__ import annotations

import ast
import dataclasses
import typing
from pathlib import Path

import pytest

from gateway.services.ports import Ports, slices

SERVICES = Path(__file__).resolve().parents[2] / "gateway" / "services"
SLICES = {name: value for name, value in vars(slices).items()
          if isinstance(value, type) and issubclass(value, typing.Protocol)
          and value.__module__ == slices.__name__}


def _service_parameters() -> list[tuple[str, str, str]]:
    """(where, parameter, annotation) of every parameter named ``ports`` or annotated with
    ``Ports`` in a service module (the ports package aside)."""
    found = []
    for path in sorted(SERVICES.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                continue
            arguments = node.args
            for arg in [*arguments.posonlyargs, *arguments.args, *arguments.kwonlyargs]:
                annotation = ast.unparse(arg.annotation) if arg.annotation else ""
                if arg.arg == "ports" or annotation == "Ports":
                    found.append((f"{path.name}:{node.lineno} {node.name}", arg.arg, annotation))
    return found


def test_no_service_function_takes_the_whole_ports() -> None:
    parameters = _service_parameters()
    assert len(parameters) > 100  # the scan found the services' functions
    whole = [where for where, _, annotation in parameters if annotation == "Ports"]
    assert whole == []
    unnamed = [(where, annotation) for where, _, annotation in parameters
               if annotation not in SLICES]
    assert unnamed == []


def _members(protocol: type) -> dict[str, object]:
    """The protocol's members and their types, its bases' included (a property: what it
    returns)."""
    namespace = vars(slices)
    members: dict[str, object] = {}
    for cls in reversed(protocol.__mro__):
        if cls.__module__ != slices.__name__:
            continue
        members.update(typing.get_type_hints(cls, namespace, include_extras=True))
        for name, value in vars(cls).items():
            if isinstance(value, property):
                assert value.fget is not None
                members[name] = typing.get_type_hints(value.fget, namespace)["return"]
    return members


@pytest.mark.parametrize("name", sorted(SLICES))
def test_ports_hold_every_member_of_each_slice(name: str) -> None:
    wired = typing.get_type_hints(Ports)
    fields = {field.name for field in dataclasses.fields(Ports)}
    members = _members(SLICES[name])
    assert members, f"{name} names nothing"
    for member, kind in members.items():
        assert member in fields, f"{name}.{member} is no field of Ports"
        assert wired[member] == kind, f"{name}.{member}: {kind} here, {wired[member]} in Ports"
