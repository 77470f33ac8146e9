"""MLflow run routes (``/mlflow/runs/...``, ``/mlflow/metrics/...``, ``/mlflow/artifacts/list``).

An MLflow run is a modelworks run: the run id is our 32-hex id, statuses map as in
``_convert``, and every write is ``MetadataStore.log_batch`` (one transaction), so a run
logged through MLflow reads the same through ``ws.runs``. Runs of kind ``logged_model`` (MLflow
3 logged models) are left out of run searches.

Metrics logged with a ``model_id`` (MLflow 3 links a run's metrics to the model it logs) stay
on the run, as in MLflow; the copy the client sends again for the link is not stored twice.
"""

from __future__ import annotations

import hashlib
import json
import time
from typing import Any

from modelworks.entities import Metric, Run
from modelworks.server.mlflow._context import Context
from modelworks.server.mlflow._convert import (
    DATASET_INPUT_TAG,
    LOG_MODEL_HISTORY_TAG,
    LOGGED_MODEL_KIND,
    MODEL_INPUTS_TAG,
    MODEL_OUTPUTS_TAG,
    PARENT_RUN_TAG,
    RUN_NAME_TAG,
    USER_TAG,
    metric_json,
    resolve_experiment_id,
    run_artifact_uri,
    run_info_json,
    run_json,
    status_from_mlflow,
)
from modelworks.server.mlflow._errors import MlflowError, batch_limit_error, invalid_value
from modelworks.server.mlflow._locations import list_children
from modelworks.server.mlflow._request import Fields
from modelworks.server.mlflow._search import page_of, run_filter, run_order_by
from modelworks.server.mlflow.experiments import view_type

__all__ = [
    "create_run",
    "delete_run",
    "delete_tag",
    "get_metric_history",
    "get_metric_history_bulk_interval",
    "get_run",
    "list_run_artifacts",
    "log_batch",
    "log_inputs",
    "log_metric",
    "log_model",
    "log_outputs",
    "log_param",
    "restore_run",
    "search_runs",
    "set_tag",
    "update_run",
]

MAX_METRICS_PER_BATCH = 1000
MAX_PARAMS_TAGS_PER_BATCH = 100
MAX_ENTITIES_PER_BATCH = 1000
MAX_TAG_VALUE = 8000
MAX_RUNS_BULK_HISTORY = 100
MAX_RESULTS_PER_RUN = 2500
NOT_LOGGED_MODEL = f"attributes.kind != '{LOGGED_MODEL_KIND}'"


def _run_id(q: Fields) -> str:
    """``run_id``, or the older ``run_uuid`` some clients still send."""
    return q.text("run_id") or q.text("run_uuid", required=True)


def _now() -> int:
    return int(time.time() * 1000)


# -- life cycle -----------------------------------------------------------------------------
def create_run(ctx: Context, q: Fields) -> dict[str, Any]:
    experiment_id = resolve_experiment_id(ctx.meta, q.text("experiment_id", default="0"))
    tags = q.key_values("tags")
    name = q.text("run_name") or tags.get(RUN_NAME_TAG) or None
    user = q.text("user_id") or tags.get(USER_TAG, "")
    parent_id = tags.pop(PARENT_RUN_TAG, None) or None
    for column in (RUN_NAME_TAG, USER_TAG):
        tags.pop(column, None)
    run = ctx.meta.create_run(
        experiment_id,
        name=name,
        parent_id=parent_id,
        user=user,
        tags=tags,
        start_time=q.integer("start_time"),
    )
    return {"run": run_json(run)}


def get_run(ctx: Context, q: Fields) -> dict[str, Any]:
    return {"run": run_json(ctx.meta.get_run(_run_id(q)))}


def update_run(ctx: Context, q: Fields) -> dict[str, Any]:
    status = q.text("status")
    run = ctx.meta.update_run(
        _run_id(q),
        status=status_from_mlflow(status) if status else None,
        end_time=q.integer("end_time"),
        name=q.opt_text("run_name"),
    )
    return {"run_info": run_info_json(run)}


def delete_run(ctx: Context, q: Fields) -> dict[str, Any]:
    ctx.meta.update_run(_run_id(q), deleted=True)
    return {}


def restore_run(ctx: Context, q: Fields) -> dict[str, Any]:
    ctx.meta.update_run(_run_id(q), deleted=False)
    return {}


# -- logging --------------------------------------------------------------------------------
def _metric(m: Fields) -> Metric:
    return Metric(
        key=m.text("key", required=True),
        value=m.number("value", required=True) or 0.0,
        step=m.integer("step", default=0) or 0,
        timestamp=m.integer("timestamp", default=0) or _now(),
    )


def _plain_metrics(raw: Any, now: int) -> list[Metric] | None:
    """The common case read fast: plain JSON numbers, no model link. None for anything else,
    which the field-by-field path then reads (and names what is wrong)."""
    if not isinstance(raw, list):
        return None
    out = []
    for m in raw:
        if type(m) is not dict or m.get("model_id"):
            return None
        key: Any = m.get("key")
        value: Any = m.get("value")
        timestamp: Any = m.get("timestamp", 0)
        step: Any = m.get("step", 0)
        if (
            type(key) is not str
            or not key
            or type(value) not in (float, int)
            or type(timestamp) is not int
            or type(step) is not int
        ):
            return None
        out.append(Metric(key, float(value), step, timestamp or now))
    return out


def _without_relinked(ctx: Context, run_id: str, linked: list[Metric]) -> list[Metric]:
    """Drop metrics sent again only to link them to a logged model (already on the run)."""
    out = []
    history: dict[str, set[tuple[int, int, float]]] = {}
    for metric in linked:
        if metric.key not in history:
            history[metric.key] = {
                (h.step, h.timestamp, h.value)
                for h in ctx.meta.get_metric_history(run_id, metric.key)
            }
        if (metric.step, metric.timestamp, metric.value) not in history[metric.key]:
            out.append(metric)
    return out


def log_metric(ctx: Context, q: Fields) -> dict[str, Any]:
    run_id = _run_id(q)
    metrics = None if q.query else _plain_metrics([q.data], _now())
    if metrics is None:
        metrics = [_metric(q)]
        if q.has("model_id"):
            metrics = _without_relinked(ctx, run_id, metrics)
    if metrics:
        ctx.meta.log_batch(run_id, metrics=metrics)
    return {}


def log_param(ctx: Context, q: Fields) -> dict[str, Any]:
    key = q.text("key", required=True)
    ctx.meta.log_batch(_run_id(q), params={key: q.text("value")})
    return {}


def _set_tags(ctx: Context, run_id: str, tags: dict[str, str]) -> None:
    """Write tags; ``mlflow.runName`` renames the run instead (it is the run's name)."""
    name = tags.pop(RUN_NAME_TAG, None)
    if tags:
        ctx.meta.log_batch(run_id, tags=tags)
    if name:
        ctx.meta.update_run(run_id, name=name)


def set_tag(ctx: Context, q: Fields) -> dict[str, Any]:
    key = q.text("key", required=True)
    _set_tags(ctx, _run_id(q), {key: q.text("value")})
    return {}


def delete_tag(ctx: Context, q: Fields) -> dict[str, Any]:
    key = q.text("key", required=True)
    if key == RUN_NAME_TAG:
        raise invalid_value("key", key, "a run's name cannot be removed, only changed")
    ctx.meta.delete_tag(_run_id(q), key)
    return {}


def log_batch(ctx: Context, q: Fields) -> dict[str, Any]:
    run_id = _run_id(q)
    raw_metrics = q.data.get("metrics")
    n_metrics = (
        len(raw_metrics) if isinstance(raw_metrics, list) else len(list(q.objects("metrics")))
    )
    param_fields = list(q.objects("params"))
    tag_fields = list(q.objects("tags"))
    for entity, limit, length in (
        ("metrics", MAX_METRICS_PER_BATCH, n_metrics),
        ("params", MAX_PARAMS_TAGS_PER_BATCH, len(param_fields)),
        ("tags", MAX_PARAMS_TAGS_PER_BATCH, len(tag_fields)),
        (
            "metrics, params, and tags",
            MAX_ENTITIES_PER_BATCH,
            n_metrics + len(param_fields) + len(tag_fields),
        ),
    ):
        if length > limit:
            raise batch_limit_error(entity, limit, length)
    linked: list[Metric] = []
    metrics = _plain_metrics(raw_metrics, _now()) if not q.query else None
    if metrics is None:
        metrics = []
        for m in q.objects("metrics"):
            (linked if m.has("model_id") else metrics).append(_metric(m))
    if linked:
        metrics.extend(_without_relinked(ctx, run_id, linked))
    params: dict[str, str] = {}
    for p in param_fields:
        key, value = p.text("key", required=True), p.text("value")
        if params.get(key, value) != value:
            raise MlflowError(
                "INVALID_PARAMETER_VALUE",
                f"Duplicate parameter keys have been submitted: [{key!r}]. Please ensure the "
                "request contains only one param value per param key.",
            )
        params[key] = value
    tags = {t.text("key", required=True): t.text("value") for t in tag_fields}
    name = tags.pop(RUN_NAME_TAG, None)
    if metrics or params or tags:
        ctx.meta.log_batch(run_id, metrics=metrics, params=params, tags=tags)
    if name:
        ctx.meta.update_run(run_id, name=name)
    return {}


def _json_tag(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), sort_keys=True)


def _merged_list(run: Run, tag: str, new: list[Any], key: str) -> str:
    """The JSON list in ``tag`` with ``new`` items added (items with the same ``key`` replaced)."""
    try:
        current = json.loads(run.tags.get(tag) or "[]")
    except ValueError:
        current = []
    kept = [item for item in current if item.get(key) not in {n.get(key) for n in new}]
    return _json_tag(kept + new)


def log_inputs(ctx: Context, q: Fields) -> dict[str, Any]:
    """Dataset inputs become hidden tags (one per dataset); model inputs one JSON list tag."""
    run_id = _run_id(q)
    tags: dict[str, str] = {}
    for item in q.objects("datasets"):
        dataset = item.object("dataset")
        if dataset is None:
            raise MlflowError(
                "INVALID_PARAMETER_VALUE",
                f"Missing value for required parameter '{item.name('dataset')}'.",
            )
        described: dict[str, str] = {
            field: dataset.text(field)
            for field in ("name", "digest", "source_type", "source", "schema", "profile")
            if dataset.has(field)
        }
        for field in ("name", "digest", "source_type", "source"):
            if field not in described:
                raise MlflowError(
                    "INVALID_PARAMETER_VALUE",
                    f"Missing value for required parameter '{dataset.name(field)}'.",
                )
        input_tags = [{"key": k, "value": v} for k, v in item.key_values("tags").items()]
        text = _json_tag({"dataset": described, "tags": input_tags})
        for bulky in ("profile", "schema"):  # keep the tag within a tag's size limit
            if len(text) > MAX_TAG_VALUE:
                described.pop(bulky, None)
                text = _json_tag({"dataset": described, "tags": input_tags})
        if len(text) > MAX_TAG_VALUE:
            raise invalid_value(item.name("dataset"), described["name"], "too large")
        ident = f"{described['name']}\0{described['digest']}"
        tags[DATASET_INPUT_TAG + hashlib.sha256(ident.encode()).hexdigest()[:16]] = text
    models = [m.text("model_id", required=True) for m in q.objects("models")]
    if models:
        run = ctx.meta.get_run(run_id)
        current = json.loads(run.tags.get(MODEL_INPUTS_TAG) or "[]")
        tags[MODEL_INPUTS_TAG] = _json_tag(current + [m for m in models if m not in current])
    if tags:
        ctx.meta.log_batch(run_id, tags=tags)
    return {}


def log_outputs(ctx: Context, q: Fields) -> dict[str, Any]:
    run_id = _run_id(q)
    outputs = [
        {"model_id": m.text("model_id", required=True), "step": m.integer("step", default=0)}
        for m in q.objects("models")
    ]
    if outputs:
        run = ctx.meta.get_run(run_id)
        merged = _merged_list(run, MODEL_OUTPUTS_TAG, outputs, "model_id")
        ctx.meta.log_batch(run_id, tags={MODEL_OUTPUTS_TAG: merged})
    return {}


def log_model(ctx: Context, q: Fields) -> dict[str, Any]:
    """MLflow 2's record of a model logged in a run: the ``mlflow.log-model.history`` tag."""
    run_id = _run_id(q)
    text = q.text("model_json", required=True)
    try:
        model = json.loads(text)
    except ValueError as e:
        raise invalid_value("model_json", text[:100], "expected a JSON object") from e
    run = ctx.meta.get_run(run_id)
    try:
        history = json.loads(run.tags.get(LOG_MODEL_HISTORY_TAG) or "[]")
    except ValueError:
        history = []
    history.append(model)
    value = _json_tag(history)
    while len(value) > MAX_TAG_VALUE and len(history) > 1:  # keep the newest that fit
        history.pop(0)
        value = _json_tag(history)
    ctx.meta.log_batch(run_id, tags={LOG_MODEL_HISTORY_TAG: value})
    return {}


# -- reading --------------------------------------------------------------------------------
def get_metric_history(ctx: Context, q: Fields) -> dict[str, Any]:
    run_id = _run_id(q)
    key = q.text("metric_key", required=True)
    max_results = q.integer("max_results", minimum=1)
    history = ctx.meta.get_metric_history(run_id, key)
    if max_results is None and not q.has("page_token"):
        chunk, token = history, None
    else:
        chunk, token = page_of(history, q.opt_text("page_token"), max_results or 25_000)
    out: dict[str, Any] = {
        "metrics": [metric_json(m.key, m.value, m.step, m.timestamp) for m in chunk]
    }
    if token:
        out["next_page_token"] = token
    return out


def _sample_steps(steps: list[int], wanted: int) -> set[int]:
    """At most ``wanted`` steps spread evenly over ``steps`` (first and last kept)."""
    if len(steps) <= wanted:
        return set(steps)
    if wanted == 1:
        return {steps[0]}
    stride = (len(steps) - 1) / (wanted - 1)
    return {steps[round(i * stride)] for i in range(wanted)}


def get_metric_history_bulk_interval(ctx: Context, q: Fields) -> dict[str, Any]:
    run_ids = q.texts("run_ids", required=True)
    if len(run_ids) > MAX_RUNS_BULK_HISTORY:
        raise MlflowError(
            "INVALID_PARAMETER_VALUE",
            f"GetMetricHistoryBulkInterval request must specify at most "
            f"{MAX_RUNS_BULK_HISTORY} run_ids. Received {len(run_ids)} run_ids.",
        )
    key = q.text("metric_key", required=True)
    max_results = q.integer(
        "max_results", default=MAX_RESULTS_PER_RUN, minimum=1, maximum=MAX_RESULTS_PER_RUN
    )
    start, end = q.integer("start_step"), q.integer("end_step")
    if (start is None) != (end is None):
        raise MlflowError(
            "INVALID_PARAMETER_VALUE",
            "If either start step or end step are specified, both must be specified.",
        )
    if start is not None and end is not None and start > end:
        raise MlflowError(
            "INVALID_PARAMETER_VALUE",
            f"end_step must be greater than start_step. Found start_step={start} and "
            f"end_step={end}.",
        )
    histories = {run_id: ctx.meta.get_metric_history(run_id, key) for run_id in sorted(run_ids)}
    steps = sorted(
        {
            m.step
            for h in histories.values()
            for m in h
            if start is None or end is None or start <= m.step <= end
        }
    )
    keep = _sample_steps(steps, max_results or MAX_RESULTS_PER_RUN)
    metrics = [
        metric_json(m.key, m.value, m.step, m.timestamp, run_id=run_id)
        for run_id, history in histories.items()
        for m in history
        if m.step in keep
    ]
    return {"metrics": metrics}


def search_runs(ctx: Context, q: Fields) -> dict[str, Any]:
    experiment_ids = [resolve_experiment_id(ctx.meta, e) for e in q.texts("experiment_ids")]
    max_results = q.integer("max_results", default=1000, minimum=1, maximum=50_000) or 1000
    flt = run_filter(q.text("filter"), extra=NOT_LOGGED_MODEL)
    order_by = run_order_by(q.texts("order_by"))
    view = view_type(q, "run_view_type")
    token = q.opt_text("page_token")
    if view == "deleted":  # no deleted attribute to filter on: select here, page here
        runs: list[Run] = []
        cursor: str | None = None
        while True:
            page = ctx.meta.search_runs(
                experiment_ids,
                filter=flt,
                order_by=order_by,
                max_results=50_000,
                page_token=cursor,
                include_deleted=True,
            )
            runs.extend(r for r in page.items if r.deleted)
            cursor = page.next_page_token
            if cursor is None:
                break
        chunk, next_token = page_of(runs, token, max_results)
    else:
        page = ctx.meta.search_runs(
            experiment_ids,
            filter=flt,
            order_by=order_by,
            max_results=max_results,
            page_token=token,
            include_deleted=view == "all",
        )
        chunk, next_token = page.items, page.next_page_token
    out: dict[str, Any] = {"runs": [run_json(r) for r in chunk]}
    if next_token:
        out["next_page_token"] = next_token
    return out


def list_run_artifacts(ctx: Context, q: Fields) -> dict[str, Any]:
    """``/mlflow/artifacts/list``: a run folder's children, with paths from the run's root."""
    run = ctx.meta.get_run(_run_id(q))
    from modelworks._validation import validate_relative_path

    prefix = validate_relative_path(q.text("path"), allow_empty=True)
    files = []
    for full, is_dir, size in list_children(ctx.meta, f"run/{run.id}", prefix):
        item: dict[str, Any] = {"path": full, "is_dir": is_dir}
        if size is not None:
            item["file_size"] = size
        files.append(item)
    return {"root_uri": run_artifact_uri(run), "files": files}
