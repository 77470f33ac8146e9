"""``/api/v1/pipeline-endpoints``: publish, inspect and invoke published pipelines.

Management routes sit behind the workspace token check like every ``/api/v1`` route. Starting
a run (``POST .../runs`` and ``.../versions/{v}/runs``) is mounted outside it and accepts an
*endpoint key* (``Authorization: Bearer <key>``) or a workspace token with the writer role::

    curl -X POST -H "Authorization: Bearer $KEY" -H "Content-Type: application/json" \\
         -d '{"inputs": {"lr": 0.1}}' http://127.0.0.1:8080/api/v1/pipeline-endpoints/retrain/runs

answers 201 ``{"name", "run_id", "url", "status", "version"}``; unknown input names give 422
naming them and the known ones; a disabled endpoint 409; an unknown one 404; a bad key 401.
"""

from __future__ import annotations

import json
from typing import Any

import anyio.to_thread
from fastapi import APIRouter, Body, FastAPI, Request
from starlette.responses import Response

from modelworks.errors import (
    InvalidInputError,
    PermissionDeniedError,
    UnauthenticatedError,
)
from modelworks.pipeline_endpoints._service import LocalPipelineEndpoints
from modelworks.server.auth import _secret_from_header
from modelworks.server.responses import JSON
from modelworks.server.tokens import role_allows
from modelworks.server.workspace import server_workspace

__all__ = ["install", "router", "runs_router"]

router = APIRouter(prefix="/pipeline-endpoints", tags=["pipeline endpoints"])
runs_router = APIRouter(prefix="/api/v1/pipeline-endpoints", tags=["pipeline endpoints"])


def _service(request: Request) -> LocalPipelineEndpoints:
    state = request.app.state
    found: LocalPipelineEndpoints | None = getattr(state, "pipeline_endpoints", None)
    if found is None:
        found = LocalPipelineEndpoints(server_workspace(request))
        state.pipeline_endpoints = found
    return found


def _endpoint_json(request: Request, endpoint: Any) -> dict[str, Any]:
    data: dict[str, Any] = endpoint.to_dict()
    return data


@router.get("")
def list_endpoints(request: Request) -> Response:
    """Every pipeline endpoint with its versions."""
    return JSON({"value": [_endpoint_json(request, e) for e in _service(request).list()]})


@router.get("/{name:seg}")
def get_endpoint(name: str, request: Request) -> Response:
    return JSON(_endpoint_json(request, _service(request).get(name)))


@router.post("/{name:seg}/versions", status_code=201)
def publish_version(name: str, request: Request, body: dict[str, Any] = Body(...)) -> Response:
    """Add a version from a snapshotted job template (the client uploaded its files)."""
    template = body.get("template")
    if not isinstance(template, dict):
        raise InvalidInputError('"template" must be the job template the SDK builds.')
    endpoint = _service(request).publish(
        name,
        template=template,
        version=body.get("version"),
        description=str(body.get("description") or ""),
        tags=dict(body.get("tags") or {}),
        make_default=bool(body.get("make_default", True)),
    )
    return JSON(_endpoint_json(request, endpoint), status_code=201)


@router.patch("/{name:seg}")
def update_endpoint(name: str, request: Request, body: dict[str, Any] = Body(...)) -> Response:
    """Change the default version or enable/disable the endpoint."""
    endpoint = _service(request).update(
        name, default_version=body.get("default_version"), enabled=body.get("enabled")
    )
    return JSON(_endpoint_json(request, endpoint))


@router.delete("/{name:seg}", status_code=204)
def delete_endpoint(name: str, request: Request) -> Response:
    _service(request).delete(name)
    return Response(status_code=204)


@router.post("/{name:seg}/credentials")
def get_credentials(name: str, request: Request) -> Response:
    """The keys, once (they are stored as hashes)."""
    return JSON(_service(request).get_credentials(name))


@router.post("/{name:seg}/regenerate-keys")
def regenerate_keys(
    name: str, request: Request, body: dict[str, Any] = Body(default={})
) -> Response:
    return JSON(
        _service(request).regenerate_keys(name, key_type=str(body.get("key_type") or "primary"))
    )


@router.get("/{name:seg}/runs")
def list_runs(name: str, request: Request, max_results: int = 100) -> Response:
    """The runs this endpoint started, newest first."""
    runs = _service(request).list_runs(name, max_results=max_results)
    return JSON({"value": [r.to_dict() for r in runs]})


def _caller(request: Request, service: LocalPipelineEndpoints, name: str) -> str:
    """Who may start a run: an endpoint key or a writer token; 401/403 otherwise."""
    service.get(name)  # 404 with a clear message for an unknown (or deleted) endpoint
    authenticator = request.app.state.authenticator
    if authenticator is None:
        return "anonymous"
    header = request.headers.get("authorization")
    secret = _secret_from_header(header) if header else None
    how = (
        f"Send `Authorization: Bearer <key>` with a key of pipeline endpoint {name!r} "
        f"(`modelworks pipeline get-credentials --name {name}` shows them once; "
        "`regenerate-keys` makes new ones) or a workspace token with the writer role."
    )
    if secret is None:
        raise UnauthenticatedError(f"Starting a run needs a key. {how}")
    if service.authenticate(name, secret):
        return "endpoint key"
    token = authenticator.lookup(secret)
    if token is None:
        raise UnauthenticatedError(f"The key is not valid for this endpoint. {how}")
    if not role_allows(token.role, "writer"):
        raise PermissionDeniedError(
            f"Token {token.name!r} has role {token.role!r}; starting a run needs 'writer'. {how}"
        )
    return f"token {token.name}"


def _start(request: Request, name: str, version: str | None, body: Any) -> Response:
    service = _service(request)
    invoked_by = _caller(request, service, name)
    body = body if body is not None else {}
    if not isinstance(body, dict):
        raise InvalidInputError(
            'The body must be a JSON object: {"inputs": {...}, "experiment_name": ..., '
            '"display_name": ...}.'
        )
    unknown = sorted(set(body) - {"inputs", "experiment_name", "display_name"})
    if unknown:
        raise InvalidInputError(
            f"Unknown key(s) {', '.join(unknown)} in the body; use inputs, experiment_name, "
            "display_name."
        )
    result = service.invoke(
        name,
        inputs=body.get("inputs") or {},
        version=version,
        experiment_name=body.get("experiment_name"),
        display_name=body.get("display_name"),
        invoked_by=invoked_by,
    )
    result["url"] = f"{str(request.base_url).rstrip('/')}/api/v1/runs/{result['run_id']}"
    return JSON(result, status_code=201)


async def _body(request: Request) -> Any:
    """The JSON body whatever the Content-Type says (``curl -d`` sends form encoding)."""
    raw = await request.body()
    if not raw.strip():
        return {}
    try:
        return json.loads(raw)
    except ValueError as e:
        raise InvalidInputError(
            f'The body is not JSON ({e}); send {{"inputs": {{"name": value}}}}.'
        ) from e


@runs_router.post("/{name:seg}/runs", status_code=201)
async def start_run(name: str, request: Request) -> Response:
    """Start a run of the default version with input overrides."""
    body = await _body(request)
    return await anyio.to_thread.run_sync(_start, request, name, None, body)


@runs_router.post("/{name:seg}/versions/{version:seg}/runs", status_code=201)
async def start_version_run(name: str, version: str, request: Request) -> Response:
    """Start a run of one version."""
    body = await _body(request)
    return await anyio.to_thread.run_sync(_start, request, name, version, body)


def install(app: FastAPI, api: APIRouter) -> None:
    """Register the routes of issue 7: schedules and endpoint management on ``api``
    (token-checked), run starts on ``app`` (endpoint keys)."""
    from modelworks.server.routes_schedules import router as schedule_routes

    api.include_router(schedule_routes)
    api.include_router(router)
    app.include_router(runs_router)
