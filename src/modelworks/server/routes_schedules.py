"""``/api/v1/schedules``: schedules through the server (``Workspace(url).schedules``).

The client validates the YAML and uploads the job snapshot; these routes re-check what they
store and use the server's workspace database. The scheduler itself runs in the server's
lifespan (``server/scheduling.py``), not behind a route.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Body, Request
from starlette.responses import Response

from modelworks.schedules.operations import RECENT_FIRES, check_schedule_values, set_enabled
from modelworks.server.responses import JSON
from modelworks.server.workspace import server_workspace
from modelworks.store.sql.triggers import TriggerStore, open_trigger_store

__all__ = ["router"]

router = APIRouter(prefix="/schedules", tags=["schedules"])


def _store(request: Request) -> TriggerStore:
    state = request.app.state
    found: TriggerStore | None = getattr(state, "trigger_store", None)
    if found is None:
        found = open_trigger_store(server_workspace(request), "Schedules")
        state.trigger_store = found
    return found


@router.post("", status_code=201)
def create_schedule(request: Request, body: dict[str, Any] = Body(...)) -> Response:
    """Store a schedule the SDK validated and snapshotted."""
    schedule = _store(request).create_schedule(check_schedule_values(body))
    return JSON(schedule.to_dict(), status_code=201)


@router.get("")
def list_schedules(request: Request) -> Response:
    return JSON({"value": [s.to_dict() for s in _store(request).list_schedules()]})


@router.get("/{name:seg}")
def get_schedule(name: str, request: Request, fires: int = RECENT_FIRES) -> Response:
    """A schedule with its ``fires`` most recent fires."""
    return JSON(_store(request).get_schedule(name, fires=fires).to_dict())


@router.get("/{name:seg}/fires")
def list_fires(name: str, request: Request, limit: int = RECENT_FIRES) -> Response:
    return JSON({"value": [f.to_dict() for f in _store(request).list_fires(name, limit=limit)]})


@router.post("/{name:seg}/enable")
def enable(name: str, request: Request) -> Response:
    return JSON(set_enabled(_store(request), name, True).to_dict())


@router.post("/{name:seg}/disable")
def disable(name: str, request: Request) -> Response:
    return JSON(set_enabled(_store(request), name, False).to_dict())


@router.delete("/{name:seg}", status_code=204)
def delete_schedule(name: str, request: Request) -> Response:
    _store(request).delete_schedule(name)
    return Response(status_code=204)
