"""``/api/v1/job-store/<method>``: the job store port over HTTP (client:
:mod:`modelworks.store.rest.jobs`).

One POST per port method, keyword arguments as the JSON body, ``{"result": ...}`` back, so a
remote ``Workspace(url).jobs`` behaves like a local one and this file cannot drift from the
port. Reading methods need the reader role, submitting and canceling the writer role, and the
worker-side methods (claiming, leases, state changes, recovery, workers) an admin token. A
job queued here rings the server's workers, starting one when none is alive.
"""

from __future__ import annotations

from typing import Any

import anyio.to_thread
from fastapi import APIRouter, Body, Request

from modelworks.errors import InvalidInputError, NotFoundError, PermissionDeniedError
from modelworks.jobs.queue import (
    JOB_READ_METHODS,
    JOB_WORKER_METHODS,
    JOB_WRITE_METHODS,
    ComputeRecord,
    JobStore,
    WorkerRecord,
)
from modelworks.server.auth import role_allows
from modelworks.server.workspace import server_workspace

__all__ = ["router"]

router = APIRouter(tags=["jobs"])

_KNOWN = JOB_READ_METHODS | JOB_WRITE_METHODS | JOB_WORKER_METHODS
_RECORD_ARGUMENTS: dict[str, tuple[str, type[WorkerRecord] | type[ComputeRecord]]] = {
    "register_worker": ("worker", WorkerRecord),
    "create_compute": ("compute", ComputeRecord),
}


def _encode(value: Any) -> Any:
    if hasattr(value, "to_dict"):
        return value.to_dict()
    if isinstance(value, list | tuple):
        if len(value) == 2 and hasattr(value[0], "to_dict") and isinstance(value[1], bool):
            return {"environment": value[0].to_dict(), "created": value[1]}
        return [_encode(v) for v in value]
    if isinstance(value, set | frozenset):
        return sorted(value)
    return value


def _check_role(request: Request, method: str) -> None:
    token = getattr(request.state, "token", None)
    if token is None or method not in JOB_WORKER_METHODS or role_allows(token.role, "admin"):
        return
    raise PermissionDeniedError(
        f"job-store/{method} is a worker operation and needs the 'admin' role; token "
        f"{token.name!r} has role {token.role!r}. Jobs run on the server's workers "
        "(`modelworks up`); a remote worker needs an admin token.",
        needed_role="admin",
        token_role=token.role,
    )


@router.post("/job-store/{method}", summary="Call one JobStore method")
async def call(
    request: Request, method: str, body: dict[str, Any] = Body(default_factory=dict)
) -> dict[str, Any]:
    """``method`` is a :class:`~modelworks.jobs.queue.JobStore` method; the body its keyword
    arguments."""
    if method not in _KNOWN:
        known = ", ".join(sorted(_KNOWN))
        raise NotFoundError(f"Unknown job store method {method!r}; known: {known}.")
    _check_role(request, method)
    if method in _RECORD_ARGUMENTS:
        key, record = _RECORD_ARGUMENTS[method]
        if not isinstance(body.get(key), dict):
            raise InvalidInputError(f"job-store/{method} needs {key!r} as an object.")
        body = {**body, key: record.from_dict(body[key])}
    ws = await anyio.to_thread.run_sync(server_workspace, request)
    store: JobStore = ws.jobs.store

    def run() -> Any:
        try:
            result = getattr(store, method)(**body)
        except TypeError as e:
            raise InvalidInputError(f"job-store/{method}: {e}.") from e
        if method in ("enqueue", "request_cancel"):
            from modelworks.jobs.worker import ring_doorbell

            ring_doorbell(ws)
            if method == "enqueue":
                ws.jobs.ensure_worker()
        return result

    return {"result": _encode(await anyio.to_thread.run_sync(run))}
