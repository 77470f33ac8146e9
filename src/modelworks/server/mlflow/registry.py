"""MLflow model-registry routes (``/mlflow/registered-models/...``, ``/mlflow/model-versions/...``).

An MLflow registered model IS a modelworks model and a version IS a modelworks version:
creating a version copies the manifest of its source (a logged model ``models:/m-<id>``, a run
folder ``runs:/<id>/<path>`` or ``mlflow-artifacts:/...``, another version) into the
registry's ``model/<name>/<version>`` tree, with the flavors and signature read from the
MLmodel file, exactly as ``ws.models.register`` does, so ``ws.models.load`` and the endpoints
use it like any model. No bytes are copied.

A version's download URI is ``mlflow-artifacts:/registry/<name>/<version>``, which the
artifact proxy serves from that tree: ``mlflow.pyfunc.load_model("models:/name/1")`` works for
models registered either way. Stages are the ``mlflow.stage`` version tag.
"""

from __future__ import annotations

import json
from typing import Any

from modelworks.artifacts import ArtifactTrees, tree_hash
from modelworks.entities import ArtifactEntry, LineageEdge, ModelVersion, RegisteredModel
from modelworks.errors import NotFoundError
from modelworks.server.mlflow._context import Context
from modelworks.server.mlflow._convert import (
    STAGE_TAG,
    canonical_stage,
    latest_per_stage,
    model_version_json,
    registered_model_json,
    registry_artifact_uri,
    run_id_of_model,
    stage_of,
    version_model_id,
)
from modelworks.server.mlflow._errors import MlflowError
from modelworks.server.mlflow._locations import resolve_source
from modelworks.server.mlflow._request import Fields
from modelworks.server.mlflow._search import matches, page_of, parse_order, parse_simple, sort_items
from modelworks.store.base import BlobStore

__all__ = [
    "create_model_version",
    "create_registered_model",
    "delete_model_alias",
    "delete_model_version",
    "delete_registered_model",
    "get_latest_versions",
    "get_model_version",
    "get_model_version_by_alias",
    "get_model_version_download_uri",
    "get_registered_model",
    "search_model_versions",
    "search_registered_models",
    "set_model_alias",
    "set_model_version_tag",
    "set_registered_model_tag",
    "transition_stage",
    "unsupported_tag_delete",
    "update_model_version",
    "update_registered_model",
]

_MODEL_ATTRIBUTES = {"name": "str", "creation_timestamp": "num", "last_updated_timestamp": "num"}
_VERSION_ATTRIBUTES = {
    "name": "str",
    "version_number": "num",
    "run_id": "str",
    "source_path": "str",
    "model_id": "str",
    "current_stage": "str",
    "creation_timestamp": "num",
    "last_updated_timestamp": "num",
}


def describe_model(blobs: BlobStore, entries: list[ArtifactEntry]) -> tuple[list[str], Any]:
    """Flavors and signature from the MLmodel file among ``entries`` (as ``ws.models`` does)."""
    import yaml

    mlmodel = next((e for e in entries if e.path == "MLmodel"), None)
    if mlmodel is None:
        return [], None
    with blobs.open(mlmodel.digest) as handle:
        try:
            data = yaml.safe_load(handle.read().decode("utf-8")) or {}
        except (yaml.YAMLError, UnicodeDecodeError) as e:
            raise MlflowError(
                "INVALID_PARAMETER_VALUE", f"The model's MLmodel file is not valid YAML: {e}"
            ) from e
    if not isinstance(data, dict):
        return [], None
    flavors = list((data.get("flavors") or {}).keys())
    signature = data.get("signature") or None
    if isinstance(signature, dict):
        signature = {k: json.loads(v) if isinstance(v, str) else v for k, v in signature.items()}
    return flavors, signature


# -- registered models ----------------------------------------------------------------------
def _versions(ctx: Context, name: str) -> list[ModelVersion]:
    return ctx.meta.list_model_versions(name)


def _model_body(ctx: Context, model: RegisteredModel) -> dict[str, Any]:
    return {"registered_model": registered_model_json(model, _versions(ctx, model.name))}


def create_registered_model(ctx: Context, q: Fields) -> dict[str, Any]:
    model = ctx.meta.create_registered_model(
        q.text("name", required=True),
        description=q.text("description"),
        tags=q.key_values("tags"),
    )
    return {"registered_model": registered_model_json(model, [])}


def get_registered_model(ctx: Context, q: Fields) -> dict[str, Any]:
    return _model_body(ctx, ctx.meta.get_registered_model(q.text("name", required=True)))


def update_registered_model(ctx: Context, q: Fields) -> dict[str, Any]:
    name = q.text("name", required=True)
    description = q.text("description") if "description" in q.data else None
    return _model_body(ctx, ctx.meta.update_registered_model(name, description=description))


def delete_registered_model(ctx: Context, q: Fields) -> dict[str, Any]:
    ctx.meta.delete_registered_model(q.text("name", required=True))
    return {}


def rename_registered_model(ctx: Context, q: Fields) -> dict[str, Any]:
    name = q.text("name", required=True)
    ctx.meta.get_registered_model(name)
    raise MlflowError(
        "NOT_IMPLEMENTED",
        f"Renaming registered models is not supported by modelworks; register the versions "
        f"of {name!r} under the new name instead (models:/{name}/<version> as the source).",
    )


def set_registered_model_tag(ctx: Context, q: Fields) -> dict[str, Any]:
    name = q.text("name", required=True)
    ctx.meta.update_registered_model(name, tags={q.text("key", required=True): q.text("value")})
    return {}


def unsupported_tag_delete(ctx: Context, q: Fields) -> dict[str, Any]:
    q.text("name", required=True)
    key = q.text("key", required=True)
    raise MlflowError(
        "NOT_IMPLEMENTED",
        f"Deleting registry tags is not supported by modelworks yet; set tag {key!r} to a new "
        "value instead.",
    )


def search_registered_models(ctx: Context, q: Fields) -> dict[str, Any]:
    clauses = parse_simple(q.text("filter"), attributes=_MODEL_ATTRIBUTES)
    order = parse_order(q.texts("order_by"), attributes=list(_MODEL_ATTRIBUTES))
    max_results = q.integer("max_results", default=100, minimum=1, maximum=1000) or 100
    models = ctx.meta.list_registered_models()

    def lookup(model: RegisteredModel) -> Any:
        def get(entity: str, key: str) -> str | float | None:
            if entity == "tag":
                return model.tags.get(key)
            if key == "name":
                return model.name
            return float(model.created_at if key == "creation_timestamp" else model.updated_at)

        return get

    found = [m for m in models if matches(clauses, lookup(m))]
    sort_items(
        found,
        order,
        lambda m, key: (
            m.name
            if key == "name"
            else (m.created_at if key == "creation_timestamp" else m.updated_at)
        ),
    )
    chunk, token = page_of(found, q.opt_text("page_token"), max_results)
    versions: dict[str, list[ModelVersion]] = {}
    if chunk:
        for version in ctx.meta.list_model_versions():
            versions.setdefault(version.name, []).append(version)
    out: dict[str, Any] = {
        "registered_models": [registered_model_json(m, versions.get(m.name, [])) for m in chunk]
    }
    if token:
        out["next_page_token"] = token
    return out


def get_latest_versions(ctx: Context, q: Fields) -> dict[str, Any]:
    name = q.text("name", required=True)
    stages = q.texts("stages") or None
    latest = latest_per_stage(_versions(ctx, name), stages)
    return {"model_versions": [model_version_json(v) for v in latest]}


# -- aliases --------------------------------------------------------------------------------
def set_model_alias(ctx: Context, q: Fields) -> dict[str, Any]:
    ctx.meta.set_model_alias(
        q.text("name", required=True),
        q.text("alias", required=True),
        q.text("version", required=True),
    )
    return {}


def delete_model_alias(ctx: Context, q: Fields) -> dict[str, Any]:
    ctx.meta.delete_model_alias(q.text("name", required=True), q.text("alias", required=True))
    return {}


def get_model_version_by_alias(ctx: Context, q: Fields) -> dict[str, Any]:
    version = ctx.meta.get_model_version_by_alias(
        q.text("name", required=True), q.text("alias", required=True)
    )
    return {"model_version": model_version_json(version)}


# -- model versions -------------------------------------------------------------------------
def create_model_version(ctx: Context, q: Fields) -> dict[str, Any]:
    name = q.text("name", required=True)
    source = q.text("source", required=True)
    model_id = q.opt_text("model_id")
    ctx.meta.get_registered_model(name)  # MLflow: the registered model must exist first
    location = resolve_source(ctx.meta, source, model_id)
    try:
        entries = ArtifactTrees(ctx.meta, ctx.blobs).copy(location.owner, location.prefix, "")
    except NotFoundError as e:
        raise MlflowError(
            "INVALID_PARAMETER_VALUE",
            f"Model version source {source!r} holds no files; log the model first "
            "(mlflow.<flavor>.log_model) and register what it returned.",
        ) from e
    flavors, signature = describe_model(ctx.blobs, entries)
    run_id = q.opt_text("run_id") or location.run_id
    if location.model_id and run_id == run_id_of_model(location.model_id):
        run_id = location.run_id  # the lineage goes to the run that logged the model
    if location.model_id and not source.startswith("models:/m-"):
        source = f"models:/{location.model_id}"
    version = ctx.meta.create_model_version(
        name,
        entries=entries,
        source=source,
        run_id=run_id,
        flavors=flavors,
        type="mlflow_model" if flavors else "custom_model",
        signature=signature,
        content_hash=tree_hash(entries),
        description=q.text("description"),
        tags=q.key_values("tags"),
    )
    if run_id is not None:
        ctx.meta.add_lineage(LineageEdge(run_id, "output", "model", name, version.version))
    return {"model_version": model_version_json(version)}


def _version(q: Fields) -> tuple[str, str]:
    return q.text("name", required=True), q.text("version", required=True)


def get_model_version(ctx: Context, q: Fields) -> dict[str, Any]:
    return {"model_version": model_version_json(ctx.meta.get_model_version(*_version(q)))}


def update_model_version(ctx: Context, q: Fields) -> dict[str, Any]:
    name, version = _version(q)
    description = q.text("description") if "description" in q.data else None
    found = ctx.meta.update_model_version(name, version, description=description)
    return {"model_version": model_version_json(found)}


def delete_model_version(ctx: Context, q: Fields) -> dict[str, Any]:
    ctx.meta.delete_model_version(*_version(q))
    return {}


def set_model_version_tag(ctx: Context, q: Fields) -> dict[str, Any]:
    name, version = _version(q)
    key = q.text("key", required=True)
    value = q.text("value")
    if key == STAGE_TAG:
        value = canonical_stage(value, "value")
    ctx.meta.update_model_version(name, version, tags={key: value})
    return {}


def get_model_version_download_uri(ctx: Context, q: Fields) -> dict[str, Any]:
    found = ctx.meta.get_model_version(*_version(q))
    return {"artifact_uri": registry_artifact_uri(found.name, found.version)}


def transition_stage(ctx: Context, q: Fields) -> dict[str, Any]:
    name, version = _version(q)
    stage = canonical_stage(q.text("stage", required=True))
    target = ctx.meta.get_model_version(name, version)
    if q.flag("archive_existing_versions") and stage in ("Staging", "Production"):
        for other in _versions(ctx, name):
            if other.version != target.version and stage_of(other) == stage:
                ctx.meta.update_model_version(name, other.version, tags={STAGE_TAG: "Archived"})
    found = ctx.meta.update_model_version(name, target.version, tags={STAGE_TAG: stage})
    return {"model_version": model_version_json(found)}


def search_model_versions(ctx: Context, q: Fields) -> dict[str, Any]:
    clauses = parse_simple(q.text("filter"), attributes=_VERSION_ATTRIBUTES)
    order = parse_order(q.texts("order_by"), attributes=list(_VERSION_ATTRIBUTES))
    max_results = q.integer("max_results", default=10_000, minimum=1, maximum=200_000) or 10_000
    names = [
        c.value for c in clauses if c.entity == "attribute" and c.key == "name" and c.op == "="
    ]
    try:
        versions = ctx.meta.list_model_versions(str(names[0]) if names else None)
    except NotFoundError:
        versions = []

    def lookup(version: ModelVersion) -> Any:
        def get(entity: str, key: str) -> str | float | None:
            if entity == "tag":
                return version.tags.get(key)
            value: Any = {
                "name": version.name,
                "run_id": version.run_id,
                "source_path": version.source,
                "model_id": version_model_id(version),
                "current_stage": stage_of(version),
            }.get(key)
            if key in ("name", "run_id", "source_path", "model_id", "current_stage"):
                return value
            if key == "version_number":
                return float(version.version) if version.version.isdigit() else None
            return float(version.created_at)

        return get

    found = [v for v in versions if matches(clauses, lookup(v))]
    found.sort(key=lambda v: int(v.version) if v.version.isdigit() else -1, reverse=True)
    found.sort(key=lambda v: v.name)
    sort_items(found, order, lambda v, key: lookup(v)("attribute", key) or 0)
    chunk, token = page_of(found, q.opt_text("page_token"), max_results)
    out: dict[str, Any] = {"model_versions": [model_version_json(v) for v in chunk]}
    if token:
        out["next_page_token"] = token
    return out
