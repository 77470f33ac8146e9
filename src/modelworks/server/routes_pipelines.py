"""``/api/v1/components`` and ``/api/v1/pipeline-reuse``: the pipeline store port over HTTP
(client: :mod:`modelworks.store.rest.pipelines`).

Reading needs the reader role, registering and archiving the writer role; writing the reuse
index is the drivers' business (they run on the server's workers) and needs an admin token.
"""

from __future__ import annotations

from typing import Any

import anyio.to_thread
from fastapi import APIRouter, Body, Request

from modelworks.errors import PermissionDeniedError
from modelworks.pipelines.store import ComponentRecord, PipelineStore
from modelworks.server.auth import role_allows
from modelworks.server.workspace import server_workspace

__all__ = ["router"]

router = APIRouter(tags=["pipelines"])


async def _store(request: Request) -> PipelineStore:
    from modelworks.pipelines.components import open_pipeline_store

    ws = await anyio.to_thread.run_sync(server_workspace, request)
    return open_pipeline_store(ws)


def _admin(request: Request, what: str) -> None:
    token = getattr(request.state, "token", None)
    if token is None or role_allows(token.role, "admin"):
        return
    raise PermissionDeniedError(
        f"{what} is written by pipeline drivers on the server's workers and needs the 'admin' "
        f"role; token {token.name!r} has role {token.role!r}.",
        needed_role="admin",
        token_role=token.role,
    )


@router.post("/components", status_code=201, summary="Register a component version")
async def create_component(request: Request, body: dict[str, Any] = Body(...)) -> dict[str, Any]:
    store = await _store(request)
    record = ComponentRecord.from_dict(body)
    return (await anyio.to_thread.run_sync(store.create_component, record)).to_dict()


@router.get("/components", summary="List component versions")
async def list_components(
    request: Request, name: str | None = None, include_archived: bool = False
) -> dict[str, Any]:
    store = await _store(request)
    found = await anyio.to_thread.run_sync(
        lambda: store.list_components(name, include_archived=include_archived)
    )
    return {"items": [r.to_dict() for r in found]}


@router.get("/components/{name}/versions/{version}", summary="Get a component version")
async def get_component(request: Request, name: str, version: str) -> dict[str, Any]:
    store = await _store(request)
    return (await anyio.to_thread.run_sync(store.get_component, name, version)).to_dict()


@router.post("/components/{name}/archive", summary="Archive or restore component versions")
async def archive_component(
    request: Request, name: str, body: dict[str, Any] = Body(default_factory=dict)
) -> dict[str, Any]:
    store = await _store(request)
    version, archived = body.get("version"), bool(body.get("archived", True))
    count = await anyio.to_thread.run_sync(store.set_component_archived, name, version, archived)
    return {"count": count}


@router.get("/pipeline-reuse/{fingerprint}", summary="The run a step fingerprint names")
async def find_reusable(request: Request, fingerprint: str) -> dict[str, Any]:
    store = await _store(request)
    return {"run_id": await anyio.to_thread.run_sync(store.find_reusable, fingerprint)}


@router.put("/pipeline-reuse/{fingerprint}", summary="Record a reusable step")
async def record_reusable(
    request: Request, fingerprint: str, body: dict[str, Any] = Body(...)
) -> dict[str, Any]:
    _admin(request, "pipeline-reuse")
    store = await _store(request)
    await anyio.to_thread.run_sync(store.record_reusable, fingerprint, str(body["run_id"]))
    return {"fingerprint": fingerprint, "run_id": body["run_id"]}


@router.delete("/pipeline-reuse/{fingerprint}", summary="Forget a reusable step")
async def forget_reusable(request: Request, fingerprint: str) -> dict[str, Any]:
    _admin(request, "pipeline-reuse")
    store = await _store(request)
    await anyio.to_thread.run_sync(store.forget_reusable, fingerprint)
    return {"fingerprint": fingerprint}
