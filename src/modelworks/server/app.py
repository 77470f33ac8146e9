"""The FastAPI application: a thin HTTP layer over a MetadataStore and a BlobStore.

Routes mirror the store methods one-to-one under ``/api/v1`` (see ``server/routers``), so the
REST adapter (``store.rest``) behaves like a local store. ``/health``, ``/docs`` and
``/openapi.json`` are public; every ``/api/v1`` route checks the caller's token and role
(``server.auth``). A background task marks runs whose heartbeat lapsed as Failed.

Start-up must stay fast: nothing here imports pandas, numpy, scikit-learn or pyarrow.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

import anyio.to_thread
from fastapi import APIRouter, Depends, FastAPI

from modelworks.server import routes_pipeline_endpoints
from modelworks.server.auth import TokenAuthenticator, authorize
from modelworks.server.errors import install_error_handlers
from modelworks.server.paths import API_PREFIX, RawPathMiddleware
from modelworks.server.responses import JSON
from modelworks.server.routers import (
    artifacts,
    data,
    experiments,
    health,
    lineage,
    models,
    runs,
    tokens,
)
from modelworks.server.routers import blobs as blob_routes
from modelworks.server.routes_endpoints import router as endpoint_routes
from modelworks.server.routes_jobs import router as job_routes
from modelworks.server.routes_pipelines import router as pipeline_routes
from modelworks.server.scheduling import start_scheduler, stop_scheduler
from modelworks.server.version import server_version
from modelworks.store.base import BlobStore, MetadataStore

__all__ = ["create_app", "reap_interval"]

logger = logging.getLogger("modelworks.server")


def reap_interval(heartbeat_timeout_s: float) -> float:
    """How often to look for stale runs: a quarter of the timeout, between 0.2 s and 5 s."""
    return max(0.2, min(5.0, heartbeat_timeout_s / 4))


async def _reap_forever(meta: MetadataStore, timeout_s: float) -> None:
    """Mark runs whose owner stopped sending heartbeats as Failed, every few seconds."""
    interval = reap_interval(timeout_s)
    timeout_ms = int(timeout_s * 1000)
    while True:
        await asyncio.sleep(interval)
        try:
            reaped = await anyio.to_thread.run_sync(meta.reap_stale_runs, timeout_ms)
        except Exception:  # keep reaping after a transient database error
            logger.exception("Reaping stale runs failed; will retry in %.1f s", interval)
            continue
        if reaped:
            logger.info(
                "Marked %d run(s) Failed after %.0f s without heartbeat: %s",
                len(reaped),
                timeout_s,
                ", ".join(reaped),
            )


def create_app(
    meta: MetadataStore,
    blobs: BlobStore,
    *,
    auth: bool = True,
    heartbeat_timeout_s: float = 60.0,
) -> FastAPI:
    """Build the API over ``meta`` and ``blobs``; the caller owns (and closes) the stores."""

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        reaper = asyncio.create_task(_reap_forever(meta, heartbeat_timeout_s))
        scheduler = start_scheduler(app)  # schedules (issue 7)
        try:
            yield
        finally:
            await stop_scheduler(scheduler)
            reaper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await reaper

    app = FastAPI(
        title="modelworks",
        version=server_version(),
        description="Tracking, data assets, model registry and artifact blobs of a modelworks "
        "workspace. Authenticate with `Authorization: Bearer <token>`.",
        default_response_class=JSON,
        lifespan=lifespan,
    )
    app.state.meta = meta
    app.state.blobs = blobs
    app.state.authenticator = TokenAuthenticator(meta) if auth else None
    app.state.heartbeat_timeout_s = heartbeat_timeout_s
    install_error_handlers(app)
    app.add_middleware(RawPathMiddleware)

    app.include_router(health.router)
    api = APIRouter(prefix=API_PREFIX, dependencies=[Depends(authorize)])
    for module in (experiments, runs, artifacts, data, models, lineage, tokens, blob_routes):
        api.include_router(module.router)
    api.include_router(endpoint_routes)  # online endpoints (issue 6)
    api.include_router(job_routes)  # the job store port: remote job submission
    api.include_router(pipeline_routes)  # components and step reuse (issue 7)
    routes_pipeline_endpoints.install(app, api)  # schedules, published pipelines (issue 7)
    app.include_router(api)
    from modelworks.server import mlflow as mlflow_api  # MLflow REST API (issue 3)

    mlflow_api.install(app)
    return app
