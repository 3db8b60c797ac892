"""``/health``: the process serves. (Readiness with dependency checks is ``/ready``.)"""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter()


@router.get("/health", summary="The process is serving")
async def health() -> dict[str, str]:
    return {"status": "ok"}
