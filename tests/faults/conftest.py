"""The fault suite: the in-process app (the integration tier's fixtures) and real servers.

``KAPU_FAULTS_SCALE`` (``make faults``) multiplies rounds and sizes for the longer runs."""

from __future__ import annotations

import os

from tests.integration.conftest import gw, settings

SCALE = max(1, int(os.environ.get("KAPU_FAULTS_SCALE", "1")))

__all__ = ["SCALE", "gw", "settings"]
