"""``/api/v1/runs``: runs, metric batches, heartbeats, metric history and search."""

from __future__ import annotations

from fastapi import APIRouter
from starlette.responses import Response

from modelworks.entities import RunStatus
from modelworks.server.deps import Meta
from modelworks.server.responses import JSON, entity, page
from modelworks.server.schemas import (
    LogBatch,
    ReapStale,
    RunCreate,
    RunCreateBatch,
    RunSearch,
    RunUpdate,
)

router = APIRouter(prefix="/runs", tags=["runs"])


@router.post("", status_code=201)
def create_run(body: RunCreate, meta: Meta) -> Response:
    """Create a run in an experiment."""
    run = meta.create_run(
        body.experiment_id,
        name=body.name,
        parent_id=body.parent_id,
        kind=body.kind,
        status=RunStatus.parse(body.status),
        description=body.description,
        user=body.user,
        tags=body.tags,
        params=body.params,
        start_time=body.start_time,
        run_id=body.run_id,
    )
    return entity(run, status_code=201)


@router.post("/batch", status_code=201)
def create_runs(body: RunCreateBatch, meta: Meta) -> Response:
    """Create several runs in one transaction (clients pipeline run creation through this)."""
    runs = meta.create_runs([r.model_dump() for r in body.runs])
    response = page(runs)
    response.status_code = 201
    return response


@router.post("/search")
def search_runs(body: RunSearch, meta: Meta) -> Response:
    """Runs matching a filter, ordered, one page at a time (a read: POST for the long body)."""
    result = meta.search_runs(
        body.experiment_ids,
        filter=body.filter,
        order_by=body.order_by,
        max_results=body.max_results,
        page_token=body.page_token,
        include_deleted=body.include_deleted,
    )
    return page(result.items, result.next_page_token)


@router.post("/reap-stale")
def reap_stale_runs(body: ReapStale, meta: Meta) -> Response:
    """Mark Running runs whose heartbeat lapsed as Failed; returns their ids."""
    return JSON({"run_ids": meta.reap_stale_runs(body.timeout_ms)})


@router.get("/{run_id:seg}")
def get_run(run_id: str, meta: Meta) -> Response:
    """One run with its params, tags and latest metrics."""
    return entity(meta.get_run(run_id))


@router.patch("/{run_id:seg}")
def update_run(run_id: str, body: RunUpdate, meta: Meta) -> Response:
    """Change status, end time, name, description, error or the deleted flag."""
    run = meta.update_run(
        run_id,
        status=None if body.status is None else RunStatus.parse(body.status),
        end_time=body.end_time,
        name=body.name,
        description=body.description,
        error=body.error,
        deleted=body.deleted,
    )
    return entity(run)


@router.post("/{run_id:seg}/heartbeat", status_code=204)
def heartbeat(run_id: str, meta: Meta) -> Response:
    """Record that the process owning the run is alive."""
    meta.heartbeat(run_id)
    return Response(status_code=204)


@router.post("/{run_id:seg}/log-batch", status_code=204)
def log_batch(run_id: str, body: LogBatch, meta: Meta) -> Response:
    """Append metrics and set params/tags in one transaction."""
    meta.log_batch(
        run_id,
        metrics=[m.to_entity() for m in body.metrics],
        params=body.params,
        tags=body.tags,
    )
    return Response(status_code=204)


@router.delete("/{run_id:seg}/tags", status_code=204)
def delete_tag(run_id: str, key: str, meta: Meta) -> Response:
    """Remove one tag (``key`` is a query parameter: keys may contain '/')."""
    meta.delete_tag(run_id, key)
    return Response(status_code=204)


@router.get("/{run_id:seg}/metrics/history")
def get_metric_history(run_id: str, key: str, meta: Meta) -> Response:
    """Every value of one metric, ordered by step then timestamp."""
    return page(meta.get_metric_history(run_id, key))
