"""``/api/v1/online-endpoints`` and ``/api/v1/online-deployments``: endpoints through a server.

Each route calls the operations a local workspace uses (``ws.online_endpoints`` /
``ws.online_deployments`` on the server's own workspace), so the rules, messages and error
classes are the same through REST (the client is :mod:`modelworks.store.rest.endpoints`). The
endpoint host runs on the server's machine: ``modelworks up`` hosts the endpoints, otherwise
the first create starts a detached host. Creating a deployment returns at once with its
generation (the client polls the deployment); the other changes wait until the host applied
them, as locally.

The caller's side reads the YAML, registers an inline model, uploads the scoring code and
reads an inline environment's files; the server receives the prepared deployment.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

from fastapi import APIRouter, Body, Depends, Query
from starlette.responses import Response

from modelworks.errors import InvalidInputError
from modelworks.server.responses import JSON, entity, page
from modelworks.server.workspace import server_workspace

if TYPE_CHECKING:
    from modelworks.workspace import Workspace

__all__ = ["router"]

router = APIRouter(tags=["online endpoints"])


Ws = Annotated["Workspace", Depends(server_workspace)]
Timeout = Annotated[float, Query(gt=0, le=3600)]


@router.get("/online-endpoints")
def list_online_endpoints(ws: Ws) -> Response:
    """Every online endpoint of the workspace."""
    return page(ws.online_endpoints.list())


@router.put("/online-endpoints/{name:seg}")
def put_online_endpoint(name: str, ws: Ws, body: Annotated[dict[str, Any], Body()]) -> Response:
    """Create or update an endpoint from its spec (``{"spec", "port", "timeout"}``); waits
    until the host listens on its port."""
    spec = dict(body.get("spec") or {})
    if spec.get("name", name) != name:
        raise InvalidInputError(f"The spec names endpoint {spec['name']!r}, the URL {name!r}.")
    spec["name"] = name
    poller = ws.online_endpoints.begin_create_or_update(
        spec, port=body.get("port"), timeout=float(body.get("timeout") or 60.0)
    )
    return entity(poller.result())


@router.get("/online-endpoints/{name:seg}")
def get_online_endpoint(name: str, ws: Ws) -> Response:
    """One endpoint (its scoring URI names the server's machine)."""
    return entity(ws.online_endpoints.get(name))


@router.delete("/online-endpoints/{name:seg}", status_code=204)
def delete_online_endpoint(name: str, ws: Ws, timeout: Timeout = 120.0) -> Response:
    """Delete an endpoint and its deployments; waits until their workers stopped."""
    ws.online_endpoints.begin_delete(name, timeout=timeout).result()
    return Response(status_code=204)


@router.put("/online-endpoints/{name:seg}/traffic")
def put_traffic(name: str, ws: Ws, body: Annotated[dict[str, Any], Body()]) -> Response:
    """Change the traffic split and/or mirror traffic (``{"traffic", "mirror_traffic"}``)."""
    endpoint = ws.online_endpoints.update_traffic(
        name,
        body.get("traffic"),
        mirror_traffic=body.get("mirror_traffic"),
        timeout=float(body.get("timeout") or 60.0),
    )
    return entity(endpoint)


@router.post("/online-endpoints/{name:seg}/keys")
def get_keys(name: str, ws: Ws) -> Response:
    """The keys, the first time only (key mode), or a new token (aml_token mode)."""
    return JSON(ws.online_endpoints.get_keys(name))


@router.post("/online-endpoints/{name:seg}/token")
def get_token(name: str, ws: Ws, body: Annotated[dict[str, Any], Body()]) -> Response:
    """A signed token for the endpoint (``{"ttl_s"}``, default an hour)."""
    return JSON(ws.online_endpoints.get_token(name, ttl_s=float(body.get("ttl_s") or 3600)))


@router.post("/online-endpoints/{name:seg}/regenerate-keys")
def regenerate_keys(name: str, ws: Ws, body: Annotated[dict[str, Any], Body()]) -> Response:
    """Replace the ``key_type`` key (``primary`` | ``secondary``); returns it once."""
    key = ws.online_endpoints.regenerate_keys(
        name,
        key_type=str(body.get("key_type") or "primary"),
        timeout=float(body.get("timeout") or 60.0),
    )
    return JSON(key)


@router.post("/online-endpoints/{name:seg}/invoke")
def invoke(name: str, ws: Ws, body: Annotated[dict[str, Any], Body()]) -> Response:
    """Score ``{"body"}`` through the endpoint from the server's machine; ``{"text"}``."""
    text = ws.online_endpoints.invoke(
        name,
        data=str(body.get("body") or "").encode("utf-8"),
        deployment_name=body.get("deployment_name"),
        key=body.get("key"),
        path=str(body.get("path") or "/score"),
        timeout=float(body.get("timeout") or 60.0),
    )
    return JSON({"text": text})


@router.get("/online-endpoints/{name:seg}/deployments")
def list_deployments(name: str, ws: Ws) -> Response:
    """The deployments of one endpoint."""
    ws.online_endpoints.get(name)
    return page(ws.online_deployments.list(name))


@router.get("/online-deployments")
def list_all_deployments(ws: Ws) -> Response:
    """The deployments of every endpoint."""
    return page(ws.online_deployments.list())


@router.put("/online-endpoints/{endpoint:seg}/deployments/{name:seg}")
def put_deployment(
    endpoint: str, name: str, ws: Ws, body: Annotated[dict[str, Any], Body()]
) -> Response:
    """Store a prepared deployment (``{"spec", "model_name", "model_version", "code_owner"}``)
    and start rolling it out; ``{"generation"}`` at once (poll the deployment)."""
    spec = body.get("spec")
    if not isinstance(spec, dict):
        raise InvalidInputError("The body needs 'spec', the deployment's spec as a mapping.")
    if spec.get("endpoint_name") != endpoint or spec.get("name") != name:
        raise InvalidInputError(
            f"The spec names deployment {spec.get('name')!r} of {spec.get('endpoint_name')!r}; "
            f"the URL {name!r} of {endpoint!r}."
        )
    ws.online_endpoints.get(endpoint)
    generation = ws.online_deployments.submit(body)
    return JSON({"generation": generation}, status_code=202)


@router.get("/online-endpoints/{endpoint:seg}/deployments/{name:seg}")
def get_deployment(endpoint: str, name: str, ws: Ws) -> Response:
    """One deployment with its state, error and running instances."""
    return entity(ws.online_deployments.get(name, endpoint))


@router.delete("/online-endpoints/{endpoint:seg}/deployments/{name:seg}", status_code=204)
def delete_deployment(endpoint: str, name: str, ws: Ws, timeout: Timeout = 120.0) -> Response:
    """Delete a deployment that takes no traffic; waits until its workers stopped."""
    ws.online_deployments.begin_delete(name, endpoint, timeout=timeout).result()
    return Response(status_code=204)


@router.get("/online-endpoints/{endpoint:seg}/deployments/{name:seg}/logs")
def get_logs(
    endpoint: str, name: str, ws: Ws, lines: Annotated[int, Query(ge=1, le=100_000)] = 50
) -> Response:
    """The last ``lines`` lines of the deployment's workers' log (``{"text"}``)."""
    return JSON({"text": ws.online_deployments.get_logs(name, endpoint, lines=lines)})
