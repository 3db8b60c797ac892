"""Errors as ``application/problem+json`` (RFC 9457), mapped from the error tree by one table."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gateway import errors

log = logging.getLogger(__name__)

STATUS: dict[type[errors.GatewayError], int] = {
    errors.Unauthorized: 401,
    errors.TooManyAttempts: 429,
    errors.Forbidden: 403,
    errors.NotFound: 404,
    errors.KeyNotFound: 404,
    errors.InvalidRequest: 422,
    errors.RecipientUnknown: 422,
    errors.HashMismatch: 422,
    errors.EmptyContent: 422,
    errors.NotAuthenticatedPdf: 422,
    errors.InvalidCertificate: 422,
    errors.FormatNotAllowed: 415,
    errors.FormatMismatch: 415,
    errors.TooLarge: 413,
    errors.QuotaExceeded: 413,
    errors.Conflict: 409,
    errors.IdempotencyConflict: 409,
    errors.MandateConflict: 409,
    errors.Expired: 410,
    errors.DailySequenceExhausted: 503,
    errors.RangeNotSatisfiable: 416,
    errors.Unavailable: 503,
    errors.Overloaded: 503,
}
_HTTP_CODES = {401: "unauthorized", 403: "forbidden", 404: "not_found", 405: "invalid_request",
               413: "too_large", 415: "format_not_allowed", 422: "invalid_request"}


class Problem(BaseModel):
    """The body of every refusal (``application/problem+json``)."""

    type: str
    title: str
    status: int
    detail: str
    code: str
    field: str | None = None


_PROBLEM_SCHEMA = Problem.model_json_schema()
# What any authenticated operation may answer: bad credentials, a party not allowed, a document
# that is not (or not the party's), a refused parameter, a throttled login, the database or
# blob store down.
AUTHENTICATED = (401, 403, 404, 422, 429, 503)


def problem_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` declaring ``statuses`` as problem+json answers."""
    return {status: {"content": {"application/problem+json": {"schema": _PROBLEM_SCHEMA}}}
            for status in statuses}


def problem(status: int, code: str, title: str, detail: str, **extra: Any) -> JSONResponse:
    body = {"type": f"urn:kapu:problem:{code}", "title": title, "status": status,
            "detail": detail, "code": code, **extra}
    headers = {"WWW-Authenticate": 'Basic realm="kapu"'} if status == 401 else None
    if status == 503:
        headers = {"Retry-After": "1"}
    return JSONResponse(body, status_code=status, headers=headers,
                        media_type="application/problem+json")


def status_of(error: errors.GatewayError) -> int:
    for cls in type(error).__mro__:
        if cls in STATUS:
            return STATUS[cls]
    return 500


async def _gateway_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, errors.GatewayError)
    extra = {"field": exc.field} if exc.field else {}
    answer = problem(status_of(exc), exc.code, exc.title, exc.detail, **extra)
    if isinstance(exc, errors.RangeNotSatisfiable):
        answer.headers["Content-Range"] = f"bytes */{exc.size}"  # RFC 9110 15.5.17
    if isinstance(exc, errors.TooManyAttempts):
        answer.headers["Retry-After"] = str(exc.retry_after)
    return answer


async def _validation_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    first = exc.errors()[0] if exc.errors() else {}
    location = ".".join(str(part) for part in first.get("loc", ()) if part not in ("body",))
    if first.get("type") == "json_invalid":
        location = "body"  # its loc names the character offset, not a field
    detail = f"{location}: {first.get('msg', 'invalid')}" if location else "invalid request"
    return problem(422, "invalid_request", "Invalid request", detail, field=location or None)


async def _http_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    if exc.status_code == 400:
        # FastAPI's answer to a body it cannot parse (JSON that is not JSON): a refused
        # request like any other, 422 invalid_request (section 9 has no 400).
        return problem(422, "invalid_request", "Invalid request",
                       f"body: {exc.detail}", field="body")
    code = _HTTP_CODES.get(exc.status_code, "invalid_request")
    return problem(exc.status_code, code, str(exc.detail), str(exc.detail))


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    log.exception("unexpected error on %s %s", request.method, request.url.path, exc_info=exc)
    return problem(500, "internal_error", "Internal error",
                   "the gateway failed; the error is logged")


class ContainErrors:
    """Answers an unexpected error with a 500 problem and keeps the connection.

    Starlette's outermost handler answers it too but then re-raises, and the server closes
    the keep-alive connection, so a client's next request on it gets no answer. Here the
    error ends with the answer, unless the answer had already begun (a download cut off
    mid-stream): then the connection must close, so that the client sees it was cut."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def watch(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, watch)
        except Exception as exc:
            if started:
                raise
            response = await _unexpected(Request(scope), exc)
            await response(scope, receive, send)


def install(app: FastAPI) -> None:
    app.add_exception_handler(errors.GatewayError, _gateway_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(Exception, _unexpected)
    app.add_middleware(ContainErrors)
