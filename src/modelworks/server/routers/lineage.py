"""``/api/v1/lineage``: which runs read which data and produced which models."""

from __future__ import annotations

from fastapi import APIRouter
from starlette.responses import Response

from modelworks.server.deps import Meta
from modelworks.server.responses import page
from modelworks.server.schemas import LineageBody

router = APIRouter(prefix="/lineage", tags=["lineage"])


@router.post("", status_code=204)
def add_lineage(body: LineageBody, meta: Meta) -> Response:
    """Record an edge (recording it twice is a no-op)."""
    meta.add_lineage(body.to_entity())
    return Response(status_code=204)


@router.get("")
def list_lineage(
    meta: Meta,
    run_id: str | None = None,
    asset_kind: str | None = None,
    name: str | None = None,
    version: str | None = None,
) -> Response:
    """Edges matching every given filter."""
    return page(meta.list_lineage(run_id=run_id, asset_kind=asset_kind, name=name, version=version))
