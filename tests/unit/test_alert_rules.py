"""The Prometheus alert rules in deploy/: Debian's ``promtool`` checks them and runs their own
tests (each alert fires on a series that should fire it, and stays silent on one beside it)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

RULES = Path(__file__).resolve().parents[2] / "deploy" / "prometheus"


def _promtool(*args: str) -> subprocess.CompletedProcess[str]:
    promtool = shutil.which("promtool")
    assert promtool, "promtool is needed (make test installs Debian's prometheus package)"
    return subprocess.run([promtool, *args], cwd=RULES, capture_output=True, text=True,
                          timeout=60, check=False)


def test_promtool_accepts_the_rules() -> None:
    checked = _promtool("check", "rules", "kapu-alerts.yml")
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "SUCCESS: 9 rules found" in checked.stdout


def test_every_alert_fires_when_it_should_and_only_then() -> None:
    tested = _promtool("test", "rules", "kapu-alerts.test.yml")
    assert tested.returncode == 0, tested.stdout + tested.stderr
    rules = (RULES / "kapu-alerts.yml").read_text()
    tests = (RULES / "kapu-alerts.test.yml").read_text()
    alerts = [line.split(":", 1)[1].strip() for line in rules.splitlines()
              if line.strip().startswith("- alert:")]
    assert len(alerts) == 9
    for alert in alerts:  # no alert without a test
        assert f"alertname: {alert}\n" in tests, alert
