"""``/health``, ``/ready``, ``/metrics``, ``/status`` (HTML) and ``/api/v1/status`` (JSON)."""

from __future__ import annotations

import hmac
from typing import Annotated, Any

from babel.numbers import format_decimal
from fastapi import APIRouter, Path, Request, Response
from fastapi.responses import HTMLResponse, JSONResponse

from gateway.config import Settings
from gateway.domain.limits import MAX_ID
from gateway.domain.registration import budapest_local
from gateway.ops.metrics import exposition
from gateway.rest.problems import problem_responses
from gateway.services import operations
from gateway.services.ports import Ports
from gateway.web import i18n, pages

router = APIRouter()
LOW_DAY = 95.0  # a day below this shows red on the status page's strip


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
async def metrics(request: Request) -> Response:
    """Prometheus text; public unless ``KAPU_METRICS_TOKEN`` is set, then only for
    ``Authorization: Bearer <token>`` (compared in constant time)."""
    settings: Settings = request.app.state.settings
    if settings.metrics_token is not None:
        expected = f"Bearer {settings.metrics_token.get_secret_value()}".encode()
        given = request.headers.get("authorization", "").encode("latin-1")
        if not hmac.compare_digest(given, expected):
            return Response("a bearer token is required\n", status_code=401,
                            media_type="text/plain",
                            headers={"WWW-Authenticate": 'Bearer realm="kapu-metrics"'})
    body, content_type = exposition()
    return Response(body, media_type=content_type)


def _status_json(status: operations.Status) -> dict[str, Any]:
    return {
        "status": "ok" if status.ok else "degraded",
        "checks": {name: error or "ok" for name, error in status.checks.items()},
        "availability": {"month": status.month, "percent": status.availability,
                         "target_percent": operations.AVAILABILITY_TARGET},
        "open_incidents": [{"id": i.id, "title": i.title, "outage": i.outage,
                            "affected": i.affected,
                            "opened_at": budapest_local(i.opened_at).isoformat()}
                           for i in status.open_incidents],
        "maintenance": [{"start": budapest_local(w.start_at).isoformat(),
                         "end": budapest_local(w.end_at).isoformat(), "reason": w.reason}
                        for w in status.maintenance],
    }


@router.get("/api/v1/status", summary="Health, availability this month, incidents, maintenance")
async def status_json(request: Request) -> dict[str, Any]:
    return _status_json(await operations.status(_ports(request)))


@router.get("/api/v1/status/incidents/{incident_id}/certificate",
            summary="The signed outage certificate of a closed incident (public)",
            response_class=Response,
            responses={200: {"content": {"application/xml": {}}},
                       **problem_responses(404, 422)})
async def outage_certificate(
    incident_id: Annotated[int, Path(ge=1, le=MAX_ID)], request: Request
) -> Response:
    certificate = await operations.outage_certificate(_ports(request), incident_id)
    return Response(certificate.xml, media_type="application/xml", headers={
        "Content-Disposition": f'inline; filename="uzemzavar-{incident_id}.xml"'})


def _level(percent: float | None) -> str:
    if percent is None:
        return "none"
    if percent >= operations.AVAILABILITY_TARGET:
        return "full"
    return "partial" if percent >= LOW_DAY else "low"


@router.get("/status", response_class=HTMLResponse, summary="Status page for people")
async def status_page(request: Request) -> Response:
    ports = _ports(request)
    status = await operations.status(ports)
    past = await operations.history(ports)
    language = pages.language_of(request)

    def percent(value: float) -> str:
        return f"{format_decimal(value, format='0.0#', locale=i18n.locale(language))} %"

    meets = "" if status.availability is None else (
        "meets" if status.availability >= operations.AVAILABILITY_TARGET else "misses")
    # Always 200: people read this page; machines ask /ready.
    return pages.render(request, "status.html", {
        "ok": status.ok, "failing": [(n, e) for n, e in status.checks.items() if e],
        "month": status.month, "availability": status.availability, "meets": meets,
        "target": operations.AVAILABILITY_TARGET, "percent": percent, "level": _level,
        "days": past.days, "open_incidents": status.open_incidents, "ended": past.incidents,
        "maintenance": status.maintenance, "now": ports.clock.now(),
    })
