"""``/api/v1/experiments``: MetadataStore's experiment methods."""

from __future__ import annotations

from fastapi import APIRouter
from starlette.responses import Response

from modelworks.server.deps import Meta
from modelworks.server.responses import entity, page
from modelworks.server.schemas import ExperimentCreate, ExperimentUpdate

router = APIRouter(prefix="/experiments", tags=["experiments"])


@router.post("", status_code=201)
def create_experiment(body: ExperimentCreate, meta: Meta) -> Response:
    """Create an experiment (409 if the name is taken, even by a deleted one)."""
    return entity(meta.create_experiment(body.name, tags=body.tags), status_code=201)


@router.get("")
def list_experiments(meta: Meta, include_deleted: bool = False) -> Response:
    """All experiments (``include_deleted`` adds soft-deleted ones)."""
    return page(meta.list_experiments(include_deleted=include_deleted))


@router.get("/by-name/{name:seg}")
def get_experiment_by_name(name: str, meta: Meta) -> Response:
    """One experiment by name."""
    return entity(meta.get_experiment_by_name(name))


@router.get("/{experiment_id:seg}")
def get_experiment(experiment_id: str, meta: Meta) -> Response:
    """One experiment by id."""
    return entity(meta.get_experiment(experiment_id))


@router.patch("/{experiment_id:seg}")
def update_experiment(experiment_id: str, body: ExperimentUpdate, meta: Meta) -> Response:
    """Rename, soft-delete/restore or merge tags."""
    return entity(
        meta.update_experiment(experiment_id, name=body.name, deleted=body.deleted, tags=body.tags)
    )
