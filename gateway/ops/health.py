"""``/health``, ``/ready``, ``/metrics``, ``/status`` (HTML) and ``/api/v1/status`` (JSON)."""

from __future__ import annotations

from datetime import datetime
from html import escape
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import HTMLResponse, JSONResponse

from gateway.domain.registration import budapest_local
from gateway.ops.metrics import exposition
from gateway.services import operations
from gateway.services.ports import Ports

router = APIRouter()


def _ports(request: Request) -> Ports:
    ports: Ports = request.app.state.ports
    return ports


@router.get("/health", summary="The process is serving")
async def health() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/ready", summary="The database and the blob store answer",
            responses={503: {"description": "a check failed; \"failing\" names it"}})
async def ready(request: Request) -> JSONResponse:
    checks = await operations.readiness(_ports(request))
    failing = {name: error for name, error in checks.items() if error}
    if failing:
        return JSONResponse({"status": "unavailable", "failing": failing}, status_code=503)
    return JSONResponse({"status": "ok", "checks": sorted(checks)})


@router.get("/metrics", include_in_schema=False)
async def metrics() -> Response:
    body, content_type = exposition()
    return Response(body, media_type=content_type)


def _time(at: datetime) -> str:
    return f"{budapest_local(at):%Y-%m-%d %H:%M}"


def _status_json(status: operations.Status) -> dict[str, Any]:
    return {
        "status": "ok" if status.ok else "degraded",
        "checks": {name: error or "ok" for name, error in status.checks.items()},
        "availability": {"month": status.month, "percent": status.availability,
                         "target_percent": operations.AVAILABILITY_TARGET},
        "open_incidents": [{"id": i.id, "title": i.title, "outage": i.outage,
                            "opened_at": budapest_local(i.opened_at).isoformat()}
                           for i in status.open_incidents],
        "maintenance": [{"start": budapest_local(w.start_at).isoformat(),
                         "end": budapest_local(w.end_at).isoformat(), "reason": w.reason}
                        for w in status.maintenance],
    }


@router.get("/api/v1/status", summary="Health, availability this month, incidents, maintenance")
async def status_json(request: Request) -> dict[str, Any]:
    return _status_json(await operations.status(_ports(request)))


_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Kapu – állapot / status</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
 body {{ font-family: system-ui, sans-serif; margin: 2rem auto; max-width: 46rem; color: #1b1b1b; }}
 h1 {{ font-size: 1.5rem; }} h2 {{ font-size: 1.1rem; margin-top: 2rem; }}
 .state {{ display: inline-block; padding: .3rem .8rem; border-radius: .3rem; color: white; }}
 .ok {{ background: #1e7b34; }} .degraded {{ background: #b3261e; }}
 .figure {{ font-size: 2.2rem; font-weight: 600; }} .meets {{ color: #1e7b34; }}
 .misses {{ color: #b3261e; }} table {{ border-collapse: collapse; width: 100%; }}
 td, th {{ text-align: left; padding: .3rem .5rem; border-bottom: 1px solid #ddd; }}
</style></head>
<body><main>
<h1>Kapu gateway status</h1>
<p id="state"><span class="state {state}">{state_text}</span> {checks}</p>
<h2>Availability in {month}</h2>
<p id="availability"><span class="figure {meets}">{figure}</span>
 &nbsp;target {target} %</p>
<h2>Open incidents</h2>
{incidents}
<h2>Announced maintenance</h2>
{maintenance}
<p><small>Updated {now} (Budapest); reload the page for newer figures (it does not reload
by itself, which would interrupt people reading it). JSON:
<a href="/api/v1/status">/api/v1/status</a></small></p>
</main></body></html>
"""


def _table(rows: list[list[str]], header: list[str], empty: str, element_id: str) -> str:
    if not rows:
        return f'<p id="{element_id}">{escape(empty)}</p>'
    head = "".join(f"<th>{escape(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{escape(c)}</td>" for c in row) + "</tr>"
                   for row in rows)
    return f'<table id="{element_id}"><tr>{head}</tr>{body}</table>'


@router.get("/status", response_class=HTMLResponse, summary="Status page for people")
async def status_page(request: Request) -> HTMLResponse:
    ports = _ports(request)
    status = await operations.status(ports)
    figure = "no data yet" if status.availability is None else f"{status.availability:.2f} %"
    meets = "" if status.availability is None else (
        "meets" if status.availability >= operations.AVAILABILITY_TARGET else "misses")
    failing = [f"{name}: {error}" for name, error in status.checks.items() if error]
    page = _PAGE.format(
        state="ok" if status.ok else "degraded",
        state_text="Operational" if status.ok else "Degraded",
        checks=escape("; ".join(failing)), month=escape(status.month), figure=figure,
        meets=meets, target=operations.AVAILABILITY_TARGET,
        incidents=_table([[_time(i.opened_at), i.title, "outage" if i.outage else "degraded"]
                          for i in status.open_incidents],
                         ["since", "incident", "impact"], "No open incidents.", "incidents"),
        maintenance=_table([[_time(w.start_at), _time(w.end_at), w.reason]
                            for w in status.maintenance],
                           ["from", "until", "reason"], "None announced.", "maintenance"),
        now=_time(ports.clock.now()),
    )
    # Always 200: people read this page; machines ask /ready.
    return HTMLResponse(page)
