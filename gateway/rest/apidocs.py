"""``/docs`` (Swagger UI) and ``/redoc``, whole offline: their scripts, styles and icon are
served by Kapu from the fastapi-offline package, so the pages work without another host.
FastAPI's own pages load them from a CDN, ReDoc Google's fonts, and Swagger UI its
validator's badge."""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

from fastapi import APIRouter, FastAPI, Request
from fastapi.openapi.docs import (
    get_redoc_html,
    get_swagger_ui_html,
    get_swagger_ui_oauth2_redirect_html,
)
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

ASSETS = "/docs-assets"
router = APIRouter(include_in_schema=False)


def install(app: FastAPI) -> None:
    """Serve the two documentation pages and their assets; the app was built with
    ``docs_url=None, redoc_url=None``."""
    app.mount(ASSETS, StaticFiles(directory=Path(str(files("fastapi_offline") / "static"))),
              name="docs-assets")
    app.include_router(router)


def _title(request: Request, page: str) -> str:
    return f"{request.app.title} – {page}"


@router.get("/docs")
async def swagger_ui(request: Request) -> HTMLResponse:
    return get_swagger_ui_html(
        openapi_url=request.app.openapi_url, title=_title(request, "Swagger UI"),
        oauth2_redirect_url=request.app.swagger_ui_oauth2_redirect_url,
        swagger_js_url=f"{ASSETS}/swagger-ui-bundle.js",
        swagger_css_url=f"{ASSETS}/swagger-ui.css",
        swagger_favicon_url=f"{ASSETS}/favicon.png",
        # Swagger UI would otherwise show a badge fetched from validator.swagger.io.
        swagger_ui_parameters={"validatorUrl": None})


@router.get("/docs/oauth2-redirect")
async def swagger_ui_redirect() -> HTMLResponse:
    return get_swagger_ui_oauth2_redirect_html()


@router.get("/redoc")
async def redoc(request: Request) -> HTMLResponse:
    return get_redoc_html(
        openapi_url=request.app.openapi_url, title=_title(request, "ReDoc"),
        redoc_js_url=f"{ASSETS}/redoc.standalone.js",
        redoc_favicon_url=f"{ASSETS}/favicon.png", with_google_fonts=False)
