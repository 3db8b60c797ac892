"""AVDH carries no deadline (contract 20): shed with the listings, not kept like uploads."""

from __future__ import annotations

import pytest

from gateway.ops.admission import Priority, rest_priority


@pytest.mark.parametrize("path", ["/api/v1/authenticate", "/api/v1/authenticate/verify"])
def test_avdh_is_sheddable(path: str) -> None:
    assert rest_priority("POST", path) is Priority.SHEDDABLE
    assert rest_priority("POST", "/api/v1/documents") is Priority.DEADLINES
