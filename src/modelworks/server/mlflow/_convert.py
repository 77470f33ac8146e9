"""How modelworks entities look to an MLflow client, and back.

Nothing is stored twice: an MLflow experiment is a modelworks experiment, a run is a run, a
registered model and its versions are ours. What MLflow has and we do not is mapped here:

- Run status: RUNNING/SCHEDULED/FINISHED/FAILED/KILLED <-> Running/Queued/Completed/Failed/
  Canceled (Preparing reads as SCHEDULED; Finalizing and CancelRequested as RUNNING);
  ``lifecycle_stage`` is the deleted flag.
- System tags kept as columns: ``mlflow.runName`` is ``run.name``, ``mlflow.user`` is
  ``run.user``, ``mlflow.parentRunId`` is ``run.parent_id``; they are shown as tags.
- Values MLflow keeps in tables of their own are kept as hidden run tags (names in
  :data:`HIDDEN_RUN_TAGS`): dataset inputs, model inputs and outputs.
- An MLflow 3 *logged model* (``m-<32 hex>``) is a modelworks run of kind ``logged_model``
  whose parent is the run that logged it: its params, tags, metrics, status and artifact tree
  are the run's (see ``logged_models.py``).
- A model version's stage (``Staging``, ``Production``, ``Archived``) is the version tag
  ``mlflow.stage``; no tag means ``None``.
- Artifact URIs are ``mlflow-artifacts:/...`` paths, served by this server's artifact proxy
  (``artifacts.py``): ``<experiment>/<run>/artifacts/...``,
  ``<experiment>/models/m-<id>/artifacts/...`` and ``registry/<model>/<version>/...``.
- The Default experiment (MLflow id ``"0"``) is the experiment named ``Default``, created when
  first used.
"""

from __future__ import annotations

import json
import math
from typing import Any
from urllib.parse import quote

from modelworks.entities import Experiment, ModelVersion, RegisteredModel, Run, RunStatus
from modelworks.errors import AlreadyExistsError, NotFoundError
from modelworks.server.mlflow._errors import MlflowError, invalid_value
from modelworks.store.base import MetadataStore

__all__ = [
    "DEFAULT_EXPERIMENT_ID",
    "DEFAULT_EXPERIMENT_NAME",
    "LOGGED_MODEL_KIND",
    "experiment_json",
    "metric_json",
    "model_version_json",
    "registered_model_json",
    "resolve_experiment_id",
    "run_info_json",
    "run_json",
    "status_from_mlflow",
    "status_to_mlflow",
]

DEFAULT_EXPERIMENT_ID = "0"
DEFAULT_EXPERIMENT_NAME = "Default"
LOGGED_MODEL_KIND = "logged_model"
MODEL_ID_PREFIX = "m-"

RUN_NAME_TAG = "mlflow.runName"
USER_TAG = "mlflow.user"
PARENT_RUN_TAG = "mlflow.parentRunId"
DATASET_INPUT_TAG = "mlflow.datasetInput."  # + a hash of (name, digest): one JSON each
MODEL_INPUTS_TAG = "mlflow.modelInputs"  # JSON list of model ids
MODEL_OUTPUTS_TAG = "mlflow.modelOutputs"  # JSON list of {model_id, step}
MODEL_TYPE_TAG = "mlflow.loggedModel.modelType"  # on logged models
STAGE_TAG = "mlflow.stage"  # on model versions
LOG_MODEL_HISTORY_TAG = "mlflow.log-model.history"

HIDDEN_RUN_TAGS = frozenset({MODEL_INPUTS_TAG, MODEL_OUTPUTS_TAG, MODEL_TYPE_TAG})
STAGES = ("None", "Staging", "Production", "Archived")

_TO_MLFLOW = {
    RunStatus.QUEUED: "SCHEDULED",
    RunStatus.PREPARING: "SCHEDULED",
    RunStatus.RUNNING: "RUNNING",
    RunStatus.FINALIZING: "RUNNING",
    RunStatus.CANCEL_REQUESTED: "RUNNING",
    RunStatus.COMPLETED: "FINISHED",
    RunStatus.FAILED: "FAILED",
    RunStatus.CANCELED: "KILLED",
}
_FROM_MLFLOW = {
    "RUNNING": RunStatus.RUNNING,
    "SCHEDULED": RunStatus.QUEUED,
    "FINISHED": RunStatus.COMPLETED,
    "FAILED": RunStatus.FAILED,
    "KILLED": RunStatus.CANCELED,
}
_RUN_STATUS_NUMBERS = {"1": "RUNNING", "2": "SCHEDULED", "3": "FINISHED", "4": "FAILED"}
_RUN_STATUS_NUMBERS["5"] = "KILLED"


def status_to_mlflow(status: RunStatus) -> str:
    return _TO_MLFLOW[status]


def status_from_mlflow(value: str, field: str = "status") -> RunStatus:
    """MLflow's status name (or enum number) as a RunStatus; INVALID_PARAMETER_VALUE if unknown."""
    name = _RUN_STATUS_NUMBERS.get(str(value), str(value).upper())
    status = _FROM_MLFLOW.get(name)
    if status is None:
        raise invalid_value(field, value, f"expected one of {', '.join(_FROM_MLFLOW)}")
    return status


def number_json(value: float) -> float | str:
    """A double in protobuf's JSON mapping: NaN and infinities as strings."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    return value


def key_values(items: dict[str, str]) -> list[dict[str, str]]:
    return [{"key": k, "value": v} for k, v in items.items()]


# -- experiments ----------------------------------------------------------------------------
def resolve_experiment_id(meta: MetadataStore, experiment_id: str) -> str:
    """Our id for an MLflow experiment id: ``"0"`` is the Default experiment (made if absent)."""
    if experiment_id != DEFAULT_EXPERIMENT_ID:
        return experiment_id
    return default_experiment(meta).id


def default_experiment(meta: MetadataStore) -> Experiment:
    try:
        return meta.get_experiment_by_name(DEFAULT_EXPERIMENT_NAME)
    except NotFoundError:
        try:
            return meta.create_experiment(DEFAULT_EXPERIMENT_NAME)
        except AlreadyExistsError:  # another request made it just now
            return meta.get_experiment_by_name(DEFAULT_EXPERIMENT_NAME)


def experiment_artifact_location(experiment_id: str) -> str:
    return f"mlflow-artifacts:/{experiment_id}"


def experiment_json(exp: Experiment) -> dict[str, Any]:
    return {
        "experiment_id": exp.id,
        "name": exp.name,
        "artifact_location": experiment_artifact_location(exp.id),
        "lifecycle_stage": "deleted" if exp.deleted else "active",
        "last_update_time": exp.created_at,
        "creation_time": exp.created_at,
        "tags": key_values(exp.tags),
    }


# -- runs -----------------------------------------------------------------------------------
def run_artifact_uri(run: Run) -> str:
    return f"mlflow-artifacts:/{run.experiment_id}/{run.id}/artifacts"


def run_info_json(run: Run) -> dict[str, Any]:
    info: dict[str, Any] = {
        "run_id": run.id,
        "run_uuid": run.id,
        "run_name": run.name,
        "experiment_id": run.experiment_id,
        "user_id": run.user,
        "status": status_to_mlflow(run.status),
        "artifact_uri": run_artifact_uri(run),
        "lifecycle_stage": "deleted" if run.deleted else "active",
    }
    if run.start_time is not None:
        info["start_time"] = run.start_time
    if run.end_time is not None:
        info["end_time"] = run.end_time
    return info


def metric_json(
    key: str, value: float, step: int = 0, timestamp: int = 0, **extra: str
) -> dict[str, Any]:
    out: dict[str, Any] = {"key": key, "value": number_json(value), "timestamp": timestamp}
    out["step"] = step
    out.update({k: v for k, v in extra.items() if v})
    return out


def visible_tags(run: Run) -> dict[str, str]:
    """The run's tags as MLflow shows them: system columns added, bookkeeping tags hidden."""
    tags = {
        k: v
        for k, v in run.tags.items()
        if k not in HIDDEN_RUN_TAGS and not k.startswith(DATASET_INPUT_TAG)
    }
    tags[RUN_NAME_TAG] = run.name
    if run.user and USER_TAG not in tags:
        tags[USER_TAG] = run.user
    if run.parent_id and PARENT_RUN_TAG not in tags:
        tags[PARENT_RUN_TAG] = run.parent_id
    return tags


def _json_list(text: str | None) -> list[Any]:
    if not text:
        return []
    try:
        value = json.loads(text)
    except ValueError:
        return []
    return value if isinstance(value, list) else []


def run_inputs_json(run: Run) -> dict[str, Any]:
    datasets = []
    for key in sorted(run.tags):
        if key.startswith(DATASET_INPUT_TAG):
            try:
                datasets.append(json.loads(run.tags[key]))
            except ValueError:
                continue
    models = [{"model_id": m} for m in _json_list(run.tags.get(MODEL_INPUTS_TAG))]
    return {"dataset_inputs": datasets, "model_inputs": models}


def run_outputs_json(run: Run) -> dict[str, Any]:
    return {"model_outputs": _json_list(run.tags.get(MODEL_OUTPUTS_TAG))}


def run_json(run: Run) -> dict[str, Any]:
    return {
        "info": run_info_json(run),
        "data": {
            "metrics": [metric_json(k, v) for k, v in run.metrics.items()],
            "params": key_values(run.params),
            "tags": key_values(visible_tags(run)),
        },
        "inputs": run_inputs_json(run),
        "outputs": run_outputs_json(run),
    }


# -- logged models --------------------------------------------------------------------------
def model_id_of(run_id: str) -> str:
    return MODEL_ID_PREFIX + run_id


def run_id_of_model(model_id: str, field: str = "model_id") -> str:
    """The id of the run holding logged model ``m-<hex>``."""
    if not model_id.startswith(MODEL_ID_PREFIX) or len(model_id) <= len(MODEL_ID_PREFIX):
        raise invalid_value(field, model_id, "a logged model id looks like 'm-<32 hex digits>'")
    return model_id[len(MODEL_ID_PREFIX) :]


def logged_model_artifact_uri(run: Run) -> str:
    return f"mlflow-artifacts:/{run.experiment_id}/models/{model_id_of(run.id)}/artifacts"


_MODEL_STATUS = {
    RunStatus.COMPLETED: "LOGGED_MODEL_READY",
    RunStatus.FAILED: "LOGGED_MODEL_UPLOAD_FAILED",
    RunStatus.CANCELED: "LOGGED_MODEL_UPLOAD_FAILED",
}
MODEL_STATUS_FROM_MLFLOW = {
    "LOGGED_MODEL_READY": RunStatus.COMPLETED,
    "LOGGED_MODEL_UPLOAD_FAILED": RunStatus.FAILED,
    "LOGGED_MODEL_PENDING": RunStatus.RUNNING,
    "READY": RunStatus.COMPLETED,
    "FAILED": RunStatus.FAILED,
    "PENDING": RunStatus.RUNNING,
}


def logged_model_json(run: Run) -> dict[str, Any]:
    tags = {k: v for k, v in run.tags.items() if k not in HIDDEN_RUN_TAGS}
    info: dict[str, Any] = {
        "model_id": model_id_of(run.id),
        "experiment_id": run.experiment_id,
        "name": run.name,
        "creation_timestamp_ms": run.created_at,
        "last_updated_timestamp_ms": run.end_time or run.start_time or run.created_at,
        "artifact_uri": logged_model_artifact_uri(run),
        "status": _MODEL_STATUS.get(run.status, "LOGGED_MODEL_PENDING"),
        "tags": key_values(tags),
        "registrations": [],
    }
    if run.tags.get(MODEL_TYPE_TAG):
        info["model_type"] = run.tags[MODEL_TYPE_TAG]
    if run.parent_id:
        info["source_run_id"] = run.parent_id
    if run.error:
        info["status_message"] = run.error
    model_id = model_id_of(run.id)
    metrics = [
        metric_json(k, v, model_id=model_id, run_id=run.parent_id or "")
        for k, v in run.metrics.items()
    ]
    return {"info": info, "data": {"params": key_values(run.params), "metrics": metrics}}


# -- registry -------------------------------------------------------------------------------
def registry_artifact_uri(name: str, version: str) -> str:
    return f"mlflow-artifacts:/registry/{quote(name, safe='')}/{quote(version, safe='')}"


def stage_of(version: ModelVersion) -> str:
    return version.tags.get(STAGE_TAG) or "None"


def canonical_stage(stage: str, field: str = "stage") -> str:
    for known in STAGES:
        if known.lower() == stage.strip().lower():
            return known
    raise MlflowError(
        "INVALID_PARAMETER_VALUE",
        f"Invalid Model Version stage: {stage}. Value must be one of {', '.join(STAGES)}.",
    )


def version_model_id(version: ModelVersion) -> str | None:
    """The logged model a version was registered from, if its source names one."""
    source = version.source
    if source.startswith("models:/" + MODEL_ID_PREFIX) and "/" not in source[len("models:/") :]:
        return source[len("models:/") :]
    return None


def model_version_json(version: ModelVersion) -> dict[str, Any]:
    out: dict[str, Any] = {
        "name": version.name,
        "version": version.version,
        "creation_timestamp": version.created_at,
        "last_updated_timestamp": version.created_at,
        "current_stage": stage_of(version),
        "description": version.description,
        "source": version.source,
        "status": "READY",
        "tags": key_values({k: v for k, v in version.tags.items() if k != STAGE_TAG}),
        "aliases": list(version.aliases),
    }
    if version.run_id:
        out["run_id"] = version.run_id
    model_id = version_model_id(version)
    if model_id:
        out["model_id"] = model_id
    return out


def latest_per_stage(
    versions: list[ModelVersion], stages: list[str] | None = None
) -> list[ModelVersion]:
    """The newest version in each stage (of ``stages``, or of every stage), oldest first."""
    wanted = {canonical_stage(s, "stages") for s in stages} if stages else set(STAGES)
    best: dict[str, ModelVersion] = {}
    for version in versions:
        stage = stage_of(version)
        if stage not in wanted:
            continue
        current = best.get(stage)
        if current is None or _version_key(version) > _version_key(current):
            best[stage] = version
    return sorted(best.values(), key=_version_key)


def _version_key(version: ModelVersion) -> tuple[int, str]:
    return (int(version.version) if version.version.isdigit() else -1, version.version)


def registered_model_json(
    model: RegisteredModel, versions: list[ModelVersion] | None = None
) -> dict[str, Any]:
    out: dict[str, Any] = {
        "name": model.name,
        "creation_timestamp": model.created_at,
        "last_updated_timestamp": model.updated_at,
        "description": model.description,
        "tags": key_values(model.tags),
        "aliases": [{"alias": a, "version": v} for a, v in sorted(model.aliases.items())],
    }
    if versions is not None:
        out["latest_versions"] = [model_version_json(v) for v in latest_per_stage(versions)]
    return out
