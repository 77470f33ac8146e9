"""MLflow experiment routes (``/mlflow/experiments/...``) over ``MetadataStore`` experiments.

An MLflow experiment is a modelworks experiment (same id, name, tags, deleted flag). The
MLflow id ``"0"`` is the experiment named ``Default``, created on first use, so
``mlflow.start_run()`` with no experiment set works. Experiments are searched in memory
(``_search.parse_simple``): a workspace has tens or hundreds of them, not millions.
"""

from __future__ import annotations

from typing import Any

from modelworks.entities import Experiment
from modelworks.server.mlflow._context import Context
from modelworks.server.mlflow._convert import (
    DEFAULT_EXPERIMENT_NAME,
    default_experiment,
    experiment_json,
    resolve_experiment_id,
)
from modelworks.server.mlflow._errors import MlflowError
from modelworks.server.mlflow._request import Fields
from modelworks.server.mlflow._search import (
    matches,
    page_of,
    parse_order,
    parse_simple,
    sort_items,
)

__all__ = [
    "create_experiment",
    "delete_experiment",
    "delete_experiment_tag",
    "get_experiment",
    "get_experiment_by_name",
    "restore_experiment",
    "search_experiments",
    "set_experiment_tag",
    "update_experiment",
    "view_type",
]

_ATTRIBUTES = {
    "name": "str",
    "experiment_id": "str",
    "creation_time": "num",
    "last_update_time": "num",
}
_VIEW_TYPES = {"ACTIVE_ONLY": "active", "DELETED_ONLY": "deleted", "ALL": "all"}
_VIEW_TYPES |= {"1": "active", "2": "deleted", "3": "all"}


def view_type(q: Fields, field: str) -> str:
    """``active``, ``deleted`` or ``all`` from MLflow's ViewType (name or number)."""
    raw = q.text(field, default="ACTIVE_ONLY").upper()
    found = _VIEW_TYPES.get(raw)
    if found is None:
        from modelworks.server.mlflow._errors import invalid_value

        raise invalid_value(field, raw, "expected ACTIVE_ONLY, DELETED_ONLY or ALL")
    return found


def _experiment_id(ctx: Context, q: Fields) -> str:
    return resolve_experiment_id(ctx.meta, q.text("experiment_id", required=True))


def create_experiment(ctx: Context, q: Fields) -> dict[str, Any]:
    name = q.text("name", required=True)
    if q.has("artifact_location"):
        raise MlflowError(
            "INVALID_PARAMETER_VALUE",
            f"artifact_location {q.text('artifact_location')!r} cannot be set: modelworks keeps "
            "every artifact in the workspace's artifact store and serves it through this "
            "server (mlflow-artifacts:/...). Create the experiment without artifact_location.",
        )
    experiment = ctx.meta.create_experiment(name, tags=q.key_values("tags"))
    return {"experiment_id": experiment.id}


def get_experiment(ctx: Context, q: Fields) -> dict[str, Any]:
    return {"experiment": experiment_json(ctx.meta.get_experiment(_experiment_id(ctx, q)))}


def get_experiment_by_name(ctx: Context, q: Fields) -> dict[str, Any]:
    name = q.text("experiment_name", required=True)
    if name == DEFAULT_EXPERIMENT_NAME:
        return {"experiment": experiment_json(default_experiment(ctx.meta))}
    return {"experiment": experiment_json(ctx.meta.get_experiment_by_name(name))}


def _lookup(experiment: Experiment) -> Any:
    def lookup(entity: str, key: str) -> str | float | None:
        if entity == "tag":
            return experiment.tags.get(key)
        if key == "name":
            return experiment.name
        if key == "experiment_id":
            return experiment.id
        return float(experiment.created_at)

    return lookup


def _sort_key(experiment: Experiment, name: str) -> Any:
    if name == "name":
        return experiment.name
    if name == "experiment_id":
        return experiment.id
    return experiment.created_at


def search_experiments(ctx: Context, q: Fields) -> dict[str, Any]:
    max_results = q.integer("max_results", default=1000, minimum=1, maximum=50_000) or 1000
    clauses = parse_simple(q.text("filter"), attributes=_ATTRIBUTES)
    order = parse_order(q.texts("order_by"), attributes=list(_ATTRIBUTES))
    view = view_type(q, "view_type")
    experiments = ctx.meta.list_experiments(include_deleted=view != "active")
    if view == "deleted":
        experiments = [e for e in experiments if e.deleted]
    found = [e for e in experiments if matches(clauses, _lookup(e))]
    found.sort(key=lambda e: e.id)
    found.sort(key=lambda e: e.created_at, reverse=True)
    sort_items(found, order, _sort_key)
    chunk, token = page_of(found, q.opt_text("page_token"), max_results)
    out: dict[str, Any] = {"experiments": [experiment_json(e) for e in chunk]}
    if token:
        out["next_page_token"] = token
    return out


def update_experiment(ctx: Context, q: Fields) -> dict[str, Any]:
    experiment_id = _experiment_id(ctx, q)
    new_name = q.opt_text("new_name")
    if new_name:
        ctx.meta.update_experiment(experiment_id, name=new_name)
    return {}


def delete_experiment(ctx: Context, q: Fields) -> dict[str, Any]:
    ctx.meta.update_experiment(_experiment_id(ctx, q), deleted=True)
    return {}


def restore_experiment(ctx: Context, q: Fields) -> dict[str, Any]:
    ctx.meta.update_experiment(_experiment_id(ctx, q), deleted=False)
    return {}


def set_experiment_tag(ctx: Context, q: Fields) -> dict[str, Any]:
    experiment_id = _experiment_id(ctx, q)
    key = q.text("key", required=True)
    ctx.meta.update_experiment(experiment_id, tags={key: q.text("value")})
    return {}


def delete_experiment_tag(ctx: Context, q: Fields) -> dict[str, Any]:
    experiment_id = _experiment_id(ctx, q)
    key = q.text("key", required=True)
    experiment = ctx.meta.get_experiment(experiment_id)
    if key not in experiment.tags:
        raise MlflowError(
            "RESOURCE_DOES_NOT_EXIST", f"No tag with name: {key} in experiment {experiment_id}."
        )
    raise MlflowError(
        "NOT_IMPLEMENTED",
        "Deleting an experiment tag is not supported by modelworks yet; set the tag to a new "
        f"value instead (mlflow.set_experiment_tag({key!r}, ...)).",
    )
