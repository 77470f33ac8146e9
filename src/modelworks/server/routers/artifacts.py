"""``/api/v1/artifacts``: artifact manifests (owner + path -> blob digest).

Owners look like ``run/<id>`` or ``model/<name>/<version>``, so they travel as a query
parameter (GET/DELETE) or in the body (PUT), never as a path segment.
"""

from __future__ import annotations

from fastapi import APIRouter
from starlette.responses import Response

from modelworks.server.deps import Meta
from modelworks.server.responses import JSON, page
from modelworks.server.schemas import ArtifactsPut

router = APIRouter(prefix="/artifacts", tags=["artifacts"])


@router.put("", status_code=204)
def put_artifact_entries(body: ArtifactsPut, meta: Meta) -> Response:
    """Add or replace files in an owner's tree (their blobs must already be uploaded)."""
    meta.put_artifact_entries(body.owner, [e.to_entity() for e in body.entries])
    return Response(status_code=204)


@router.get("")
def list_artifact_entries(owner: str, meta: Meta, prefix: str = "") -> Response:
    """Files of an owner's tree under ``prefix``, sorted by path."""
    return page(meta.list_artifact_entries(owner, prefix))


@router.delete("")
def delete_artifact_entries(owner: str, meta: Meta, prefix: str = "") -> Response:
    """Remove files under ``prefix``; answers how many."""
    return JSON({"deleted": meta.delete_artifact_entries(owner, prefix)})


@router.get("/referenced-digests")
def referenced_digests(meta: Meta) -> Response:
    """Every blob digest some manifest still references (sorted)."""
    return page(sorted(meta.referenced_digests()))
