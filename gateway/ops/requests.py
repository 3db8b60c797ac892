"""One JSON log line and the metrics of every request, with its X-Request-ID.

A pure ASGI middleware (not BaseHTTPMiddleware, which would buffer streamed downloads). It logs
method, route, status, duration, party and, for HKP, the Szolgaltatas and kri:sessionID; never
a header value, a password, a token or document bytes.
"""

from __future__ import annotations

import re
import time
import uuid
from typing import Any

import structlog
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gateway.ops import metrics

log = structlog.get_logger("kapu.request")
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")


class RequestContext:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        offered = dict(scope["headers"]).get(b"x-request-id", b"").decode("latin-1")
        request_id = offered if _REQUEST_ID.match(offered) else uuid.uuid4().hex
        state: dict[str, Any] = scope.setdefault("state", {})
        state["request_id"] = request_id
        structlog.contextvars.bind_contextvars(request_id=request_id)
        status = 500
        started = time.perf_counter()

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", []),
                                      (b"x-request-id", request_id.encode())]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            duration = time.perf_counter() - started
            route = getattr(scope.get("route"), "path", None) or "unmatched"
            method = scope["method"]
            metrics.HTTP_REQUESTS.labels(method=method, route=route, status=str(status)).inc()
            metrics.HTTP_LATENCY.labels(method=method, route=route).observe(duration)
            operation = state.get("hkp_operation")
            if operation:
                outcome = "fault" if status >= 400 else str(state.get("hkp_outcome", "ok"))
                metrics.HKP_REQUESTS.labels(operation=operation, outcome=outcome).inc()
                metrics.HKP_LATENCY.labels(operation=operation).observe(duration)
            log.info("request", method=method, route=route, status=status,
                     duration_ms=round(duration * 1000, 2), party=state.get("party"),
                     operation=operation, session_id=state.get("hkp_session_id"))
            structlog.contextvars.clear_contextvars()


def configure_logging() -> None:
    """JSON lines on standard output, with the request's id wherever it is bound."""
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info,
            structlog.processors.JSONRenderer(ensure_ascii=False),
        ],
        # Not cached: each line goes to the sys.stdout of its moment (tests capture it).
        cache_logger_on_first_use=False,
    )
