"""The Grafana dashboard and the alert rules in deploy/ ask only for metrics Kapu exports: a
running app's /metrics, after the traffic and background steps that produce each series."""

from __future__ import annotations

import json
import re
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

from gateway import worker
from gateway.app import sample_pool
from gateway.config import Settings
from gateway.wiring import build_runtime
from tests.helpers import new_org, upload
from tests.hkp_helpers import kezbesitettseg
from tests.integration.conftest import Gateway

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
_METRIC = re.compile(r"\bkapu_[a-z0-9_]+")


def _dashboard_metrics() -> set[str]:
    dashboard = json.loads((DEPLOY / "grafana" / "kapu-dashboard.json").read_text())
    expressions = [target["expr"] for panel in dashboard["panels"]
                   for target in panel["targets"]]
    assert len(dashboard["panels"]) >= 12 and expressions
    return {name for expr in expressions for name in _METRIC.findall(expr)}


async def test_every_metric_the_dashboard_and_alerts_ask_for_is_exported(
    gw: Gateway, settings: Settings
) -> None:
    sender, office = await new_org(gw.ports), await new_org(gw.ports)
    accepted = await upload(gw.client, sender, office)
    assert accepted.status_code == 201
    refused = await upload(gw.client, sender, office, content=b"MZ\x90\x00", file_name="x.exe")
    assert refused.status_code == 415
    number = accepted.json()["registration_number"]
    assert await kezbesitettseg(gw.client, sender.username, sender.password, number)
    # What the background jobs do every 15 s (sampling a pool like the app's) and every minute.
    runtime = build_runtime(settings, clock=gw.clock)
    try:
        await worker._observe(runtime.ports, lambda: sample_pool(runtime.engine))
    finally:
        await runtime.engine.dispose()
    await worker._probe(gw.ports)
    exported = (await gw.client.get("/metrics")).text
    samples = {sample.name for family in text_string_to_metric_families(exported)
               for sample in family.samples}
    wanted = _dashboard_metrics()
    rules = (DEPLOY / "prometheus" / "kapu-alerts.yml").read_text()
    wanted |= set(_METRIC.findall(rules))
    assert {"kapu_certificate_not_after_timestamp_seconds", "kapu_outbox_dead_letters",
            "kapu_hkp_request_duration_seconds_bucket"} <= wanted
    assert wanted - samples == set()
