"""``/api/v1/models`` and ``/api/v1/model-versions``: the model registry."""

from __future__ import annotations

from fastapi import APIRouter
from starlette.responses import Response

from modelworks.server.deps import Meta
from modelworks.server.responses import entity, page
from modelworks.server.schemas import (
    AliasSet,
    ModelCreate,
    ModelUpdate,
    ModelVersionCreate,
    ModelVersionUpdate,
)

router = APIRouter(tags=["models"])


@router.post("/models", status_code=201)
def create_registered_model(body: ModelCreate, meta: Meta) -> Response:
    """Create a registered model (409 if it exists)."""
    model = meta.create_registered_model(body.name, description=body.description, tags=body.tags)
    return entity(model, status_code=201)


@router.get("/models")
def list_registered_models(meta: Meta, name_like: str | None = None) -> Response:
    """Registered models, optionally filtered by a name pattern."""
    return page(meta.list_registered_models(name_like=name_like))


@router.get("/model-versions")
def list_model_versions(meta: Meta, name: str | None = None, run_id: str | None = None) -> Response:
    """Versions of one model (or all), newest first, optionally from one run."""
    return page(meta.list_model_versions(name, run_id=run_id))


@router.get("/models/{name:seg}")
def get_registered_model(name: str, meta: Meta) -> Response:
    """One registered model with its aliases and latest version."""
    return entity(meta.get_registered_model(name))


@router.patch("/models/{name:seg}")
def update_registered_model(name: str, body: ModelUpdate, meta: Meta) -> Response:
    """Change description or tags."""
    return entity(meta.update_registered_model(name, description=body.description, tags=body.tags))


@router.delete("/models/{name:seg}", status_code=204)
def delete_registered_model(name: str, meta: Meta) -> Response:
    """Delete a model with all its versions, aliases and manifests."""
    meta.delete_registered_model(name)
    return Response(status_code=204)


@router.post("/models/{name:seg}/versions", status_code=201)
def create_model_version(name: str, body: ModelVersionCreate, meta: Meta) -> Response:
    """Register a version (creating the model if new)."""
    version = meta.create_model_version(
        name,
        entries=[e.to_entity() for e in body.entries],
        source=body.source,
        run_id=body.run_id,
        flavors=body.flavors,
        type=body.type,
        signature=body.signature,
        content_hash=body.content_hash,
        version=body.version,
        description=body.description,
        tags=body.tags,
    )
    return entity(version, status_code=201)


@router.get("/models/{name:seg}/versions/{version:seg}")
def get_model_version(name: str, version: str, meta: Meta) -> Response:
    """One version (``latest`` allowed)."""
    return entity(meta.get_model_version(name, version))


@router.patch("/models/{name:seg}/versions/{version:seg}")
def update_model_version(name: str, version: str, body: ModelVersionUpdate, meta: Meta) -> Response:
    """Change description, tags or the archived flag."""
    return entity(
        meta.update_model_version(
            name, version, description=body.description, tags=body.tags, archived=body.archived
        )
    )


@router.delete("/models/{name:seg}/versions/{version:seg}", status_code=204)
def delete_model_version(name: str, version: str, meta: Meta) -> Response:
    """Delete one version."""
    meta.delete_model_version(name, version)
    return Response(status_code=204)


@router.get("/models/{name:seg}/aliases/{alias:seg}")
def get_model_version_by_alias(name: str, alias: str, meta: Meta) -> Response:
    """The version an alias points to."""
    return entity(meta.get_model_version_by_alias(name, alias))


@router.put("/models/{name:seg}/aliases/{alias:seg}", status_code=204)
def set_model_alias(name: str, alias: str, body: AliasSet, meta: Meta) -> Response:
    """Point an alias at a version (moving it if it pointed elsewhere)."""
    meta.set_model_alias(name, alias, body.version)
    return Response(status_code=204)


@router.delete("/models/{name:seg}/aliases/{alias:seg}", status_code=204)
def delete_model_alias(name: str, alias: str, meta: Meta) -> Response:
    """Remove an alias."""
    meta.delete_model_alias(name, alias)
    return Response(status_code=204)
