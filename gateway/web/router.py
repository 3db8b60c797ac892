"""``/ui``: the pages' routers, one per page group, under one router for app.py. Each route
reads a form, calls a service, and renders a page; the services decide (who may see what:
services/staff.py), the refusals are mapped by one table (web/refusals.py)."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.responses import Response
from fastapi.staticfiles import StaticFiles

from gateway.web import (
    authentication,
    documents,
    epapir,
    notices_publish,
    offices,
    rny,
    sandbox,
    sending,
    session,
    storage,
)
from gateway.web.deps import session_person
from gateway.web.refusals import WebRoute, not_found
from gateway.web.session import root

router = APIRouter(prefix="/ui", include_in_schema=False, route_class=WebRoute)
for group in (session, sandbox, documents, storage, sending, offices, authentication,
              epapir, rny, notices_publish):
    router.include_router(group.router)
static = StaticFiles(directory=Path(__file__).parent / "static")

__all__ = ["root", "router", "static"]


# Last: any other path under /ui is a page that does not exist (with the person's frame).
@router.get("/{anything:path}")
async def missing(request: Request, anything: str) -> Response:
    await session_person(request)
    return not_found(request)
