"""``/api/v1/data``: versions of data assets."""

from __future__ import annotations

from fastapi import APIRouter
from starlette.responses import Response

from modelworks.server.deps import Meta
from modelworks.server.responses import JSON, entity, page
from modelworks.server.schemas import DataVersionCreate, DataVersionUpdate

router = APIRouter(prefix="/data", tags=["data"])


@router.post("", status_code=201)
def create_data_version(body: DataVersionCreate, meta: Meta) -> Response:
    """Register a version; answers ``{"data_version", "created"}`` (200 if it already existed)."""
    version, created = meta.create_data_version(
        body.name,
        type=body.type,
        source=body.source,
        content_hash=body.content_hash,
        entries=[e.to_entity() for e in body.entries],
        version=body.version,
        description=body.description,
        tags=body.tags,
        profile=body.profile,
        force=body.force,
    )
    return JSON(
        {"data_version": version.to_dict(), "created": created},
        status_code=201 if created else 200,
    )


@router.get("")
def list_data_versions(
    meta: Meta, name: str | None = None, include_archived: bool = False
) -> Response:
    """Versions of one asset, newest first, or the latest version of every asset."""
    return page(meta.list_data_versions(name, include_archived=include_archived))


@router.get("/{name:seg}/versions/{version:seg}")
def get_data_version(name: str, version: str, meta: Meta) -> Response:
    """One version (``latest`` = newest non-archived)."""
    return entity(meta.get_data_version(name, version))


@router.patch("/{name:seg}/versions/{version:seg}")
def update_data_version(name: str, version: str, body: DataVersionUpdate, meta: Meta) -> Response:
    """Change description, tags or the archived flag."""
    return entity(
        meta.update_data_version(
            name, version, description=body.description, tags=body.tags, archived=body.archived
        )
    )
