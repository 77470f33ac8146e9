"""MLflow 3 logged-model routes (``/mlflow/logged-models/...``).

``mlflow.<flavor>.log_model`` in MLflow 3 creates a *logged model* (``m-<id>``), uploads the
model folder to the model's own ``artifact_uri`` and marks it READY. Here a logged model is a
modelworks run of kind ``logged_model``, child of the run that logged it (its
``source_run_id``): name, params, tags and status are that run's, the model folder is its
artifact tree (``run/<id>``), and registering ``models:/m-<id>`` or ``runs:/<source>/<name>``
copies that manifest into the registry (``registry.create_model_version``). Its metrics are
the source run's latest values (MLflow links the run's metrics to the model it logs).

Searches are done in memory over the logged models of the requested experiments: a handful
per run, and MLflow's grammar here filters on the source run's metrics.
"""

from __future__ import annotations

from typing import Any

from modelworks.entities import Run, RunStatus
from modelworks.errors import NotFoundError
from modelworks.server.mlflow._context import Context
from modelworks.server.mlflow._convert import (
    LOGGED_MODEL_KIND,
    MODEL_ID_PREFIX,
    MODEL_STATUS_FROM_MLFLOW,
    MODEL_TYPE_TAG,
    USER_TAG,
    logged_model_json,
    metric_json,
    resolve_experiment_id,
    run_id_of_model,
)
from modelworks.server.mlflow._errors import MlflowError, invalid_value
from modelworks.server.mlflow._locations import list_children
from modelworks.server.mlflow._request import Fields
from modelworks.server.mlflow._search import Clause, matches, page_of, parse_simple

__all__ = [
    "create_logged_model",
    "delete_logged_model",
    "delete_logged_model_tag",
    "finalize_logged_model",
    "get_logged_model",
    "list_logged_model_artifacts",
    "log_logged_model_params",
    "search_logged_models",
    "set_logged_model_tags",
]

_ATTRIBUTES = {
    "name": "str",
    "model_id": "str",
    "source_run_id": "str",
    "status": "str",
    "model_type": "str",
    "creation_timestamp": "num",
    "creation_time": "num",
    "last_updated_timestamp": "num",
}
_STATUS_NAMES = {
    RunStatus.COMPLETED: "READY",
    RunStatus.FAILED: "FAILED",
    RunStatus.CANCELED: "FAILED",
}


def _load(ctx: Context, model_id: str, *, allow_deleted: bool = False) -> Run:
    run_id = run_id_of_model(model_id)
    try:
        run = ctx.meta.get_run(run_id)
    except NotFoundError:
        run = None
    if run is None or run.kind != LOGGED_MODEL_KIND or (run.deleted and not allow_deleted):
        raise MlflowError(
            "RESOURCE_DOES_NOT_EXIST", f"Logged model with ID '{model_id}' not found."
        )
    return run


def _with_source_metrics(
    ctx: Context, run: Run, sources: dict[str, Run] | None = None
) -> dict[str, Any]:
    body = logged_model_json(run)
    source = None
    if run.parent_id:
        if sources is not None:
            source = sources.get(run.parent_id)
        else:
            try:
                source = ctx.meta.get_run(run.parent_id)
            except NotFoundError:
                source = None
    if source is not None:
        model_id = MODEL_ID_PREFIX + run.id
        body["data"]["metrics"] = [
            metric_json(k, v, model_id=model_id, run_id=source.id)
            for k, v in source.metrics.items()
        ]
    return body


def create_logged_model(ctx: Context, q: Fields) -> dict[str, Any]:
    experiment_id = resolve_experiment_id(ctx.meta, q.text("experiment_id", required=True))
    tags = q.key_values("tags")
    user = tags.pop(USER_TAG, "") or (ctx.token.name if ctx.token else "")
    model_type = q.text("model_type")
    if model_type:
        tags[MODEL_TYPE_TAG] = model_type
    source_run_id = q.opt_text("source_run_id")
    if source_run_id:
        source = ctx.meta.get_run(source_run_id)
        if source.experiment_id != experiment_id:
            raise invalid_value(
                "source_run_id",
                source_run_id,
                f"the run belongs to experiment {source.experiment_id}, not {experiment_id}",
            )
    run = ctx.meta.create_run(
        experiment_id,
        name=q.opt_text("name"),
        parent_id=source_run_id,
        kind=LOGGED_MODEL_KIND,
        status=RunStatus.RUNNING,
        user=user,
        tags=tags,
        params=q.key_values("params"),
    )
    return {"model": _with_source_metrics(ctx, run)}


def get_logged_model(ctx: Context, q: Fields) -> dict[str, Any]:
    run = _load(ctx, ctx.path["model_id"], allow_deleted=q.flag("allow_deleted"))
    return {"model": _with_source_metrics(ctx, run)}


def finalize_logged_model(ctx: Context, q: Fields) -> dict[str, Any]:
    model_id = ctx.path["model_id"]
    _load(ctx, model_id)
    raw = q.text("status", required=True)
    status = MODEL_STATUS_FROM_MLFLOW.get(raw.upper())
    if status is None:
        raise invalid_value(
            "status", raw, "expected LOGGED_MODEL_READY or LOGGED_MODEL_UPLOAD_FAILED"
        )
    run = ctx.meta.update_run(run_id_of_model(model_id), status=status)
    return {"model": _with_source_metrics(ctx, run)}


def delete_logged_model(ctx: Context, q: Fields) -> dict[str, Any]:
    model_id = ctx.path["model_id"]
    _load(ctx, model_id)
    ctx.meta.update_run(run_id_of_model(model_id), deleted=True)
    return {}


def set_logged_model_tags(ctx: Context, q: Fields) -> dict[str, Any]:
    model_id = ctx.path["model_id"]
    _load(ctx, model_id)
    tags = q.key_values("tags")
    if tags:
        ctx.meta.log_batch(run_id_of_model(model_id), tags=tags)
    return {"model": _with_source_metrics(ctx, _load(ctx, model_id))}


def delete_logged_model_tag(ctx: Context, q: Fields) -> dict[str, Any]:
    model_id = ctx.path["model_id"]
    _load(ctx, model_id)
    ctx.meta.delete_tag(run_id_of_model(model_id), ctx.path["tag_key"])
    return {}


def log_logged_model_params(ctx: Context, q: Fields) -> dict[str, Any]:
    model_id = ctx.path["model_id"]
    _load(ctx, model_id)
    params = q.key_values("params")
    if params:
        ctx.meta.log_batch(run_id_of_model(model_id), params=params)
    return {}


def list_logged_model_artifacts(ctx: Context, q: Fields) -> dict[str, Any]:
    from modelworks._validation import validate_relative_path

    model_id = ctx.path["model_id"]
    run = _load(ctx, model_id)
    prefix = validate_relative_path(
        q.text("artifact_directory_path") or q.text("path"), allow_empty=True
    )
    files = []
    for full, is_dir, size in list_children(ctx.meta, f"run/{run.id}", prefix):
        item: dict[str, Any] = {"path": full, "is_dir": is_dir}
        if size is not None:
            item["file_size"] = size
        files.append(item)
    root = f"mlflow-artifacts:/{run.experiment_id}/models/{model_id}/artifacts"
    return {"root_uri": root, "files": files}


# -- search ---------------------------------------------------------------------------------
def _lookup(run: Run, source: Run | None) -> Any:
    def lookup(entity: str, key: str) -> str | float | None:
        if entity == "tag":
            return run.tags.get(key)
        if entity == "param":
            return run.params.get(key)
        if entity == "metric":
            metrics = source.metrics if source is not None else run.metrics
            return metrics.get(key)
        if key == "name":
            return run.name
        if key == "model_id":
            return MODEL_ID_PREFIX + run.id
        if key == "source_run_id":
            return run.parent_id
        if key == "status":
            return _STATUS_NAMES.get(run.status, "PENDING")
        if key == "model_type":
            return run.tags.get(MODEL_TYPE_TAG)
        if key == "last_updated_timestamp":
            return float(run.end_time or run.start_time or run.created_at)
        return float(run.created_at)

    return lookup


def _status_name(value: str | float) -> str | float:
    if not isinstance(value, str):
        return value
    return value.upper().removeprefix("LOGGED_MODEL_").replace("UPLOAD_FAILED", "FAILED")


def _normalise(clauses: list[Clause]) -> list[Clause]:
    """Accept MLflow's LOGGED_MODEL_READY spelling of statuses as well as READY."""
    out = []
    for c in clauses:
        if c.entity == "attribute" and c.key == "status":
            value = c.value
            fixed = (
                tuple(_status_name(v) for v in value)
                if isinstance(value, tuple)
                else _status_name(value)
            )
            c = Clause(c.entity, c.key, c.op, fixed)
        out.append(c)
    return out


def search_logged_models(ctx: Context, q: Fields) -> dict[str, Any]:
    experiment_ids = [resolve_experiment_id(ctx.meta, e) for e in q.texts("experiment_ids")]
    if not experiment_ids:
        raise MlflowError(
            "INVALID_PARAMETER_VALUE", "Missing value for required parameter 'experiment_ids'."
        )
    if any(True for _ in q.objects("datasets")):
        raise MlflowError(
            "NOT_IMPLEMENTED",
            "Filtering logged models by dataset is not supported by modelworks; filter on "
            "metrics.<key> without datasets.",
        )
    clauses = _normalise(
        parse_simple(
            q.text("filter"),
            attributes=_ATTRIBUTES,
            entities=("attribute", "tag", "param", "metric"),
        )
    )
    max_results = q.integer("max_results", default=100, minimum=1, maximum=50_000) or 100
    models: list[Run] = []
    cursor: str | None = None
    while True:
        page = ctx.meta.search_runs(
            experiment_ids,
            filter=f"attributes.kind = '{LOGGED_MODEL_KIND}'",
            max_results=50_000,
            page_token=cursor,
        )
        models.extend(page.items)
        cursor = page.next_page_token
        if cursor is None:
            break
    sources = _sources(ctx, models)
    found = [m for m in models if matches(clauses, _lookup(m, sources.get(m.parent_id or "")))]
    found.sort(key=lambda r: r.created_at, reverse=True)
    for order in reversed(list(q.objects("order_by"))):
        field = order.text("field_name", required=True)
        entity, _, key = field.partition(".") if "." in field else ("attribute", "", field)
        entity = {
            "metrics": "metric",
            "params": "param",
            "tags": "tag",
            "attributes": "attribute",
        }.get(entity, entity)
        if entity == "attribute" and key not in _ATTRIBUTES:
            raise invalid_value(
                order.name("field_name"),
                field,
                f"order by one of {', '.join(_ATTRIBUTES)} or metrics.<key>",
            )
        ascending = order.flag("ascending", default=True)
        values = {r.id: _lookup(r, sources.get(r.parent_id or ""))(entity, key) for r in found}
        present = [r for r in found if values[r.id] is not None]
        missing = [r for r in found if values[r.id] is None]
        present.sort(key=lambda r: values[r.id], reverse=not ascending)
        found = present + missing
    chunk, token = page_of(found, q.opt_text("page_token"), max_results)
    out: dict[str, Any] = {"models": [_with_source_metrics(ctx, m, sources) for m in chunk]}
    if token:
        out["next_page_token"] = token
    return out


def _sources(ctx: Context, models: list[Run]) -> dict[str, Run]:
    ids = sorted({m.parent_id for m in models if m.parent_id})
    found: dict[str, Run] = {}
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        quoted = ", ".join(f"'{i}'" for i in chunk)
        page = ctx.meta.search_runs(
            None,
            filter=f"attributes.id IN ({quoted})",
            max_results=len(chunk),
            include_deleted=True,
        )
        found.update({r.id: r for r in page.items})
    return found
