"""``GET /health`` and ``GET /api/v1/health``: liveness, without auth."""

from __future__ import annotations

from fastapi import APIRouter
from starlette.responses import Response

from modelworks.server.paths import API_PREFIX
from modelworks.server.responses import JSON
from modelworks.server.version import server_version

router = APIRouter(tags=["health"])


@router.get("/health")
@router.get(f"{API_PREFIX}/health")
async def health() -> Response:
    """``{"status": "ok", "version": ...}`` while the server is up."""
    return JSON({"status": "ok", "version": server_version()})
