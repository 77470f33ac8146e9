"""Submitting an AutoML job (``type: automl``): checked and resolved once, stored as a job of
kind ``automl`` whose queue row a worker's driver (:mod:`modelworks.automl.driver`) claims.

Everything that can be checked without reading the data is checked here, so a bad spec
fails at ``job create`` rather than in a worker: the settings (budget, metric, algorithm
names), the compute, and each data input — a data asset is pinned to its version now
(``azureml:bank@latest`` means the latest *at submission*), a local file or folder (relative
to the YAML file) is uploaded with the job as it is at submission, as for command jobs.
"""

from __future__ import annotations

from collections.abc import Collection
from pathlib import Path
from typing import TYPE_CHECKING, Any

from modelworks.jobs._submit import (
    _param_text,
    create_job,
    resolve_compute,
    resolve_inputs,
    upload_entries,
)
from modelworks.specs.automl import AutoMLJobSpec, DataInput
from modelworks.specs.jobs import JobInputSpec

if TYPE_CHECKING:
    from modelworks.entities import Run
    from modelworks.jobs.queue import JobRecord, JobStore
    from modelworks.workspace import Workspace

__all__ = ["DATA_INPUTS", "prepare_automl", "submit_automl"]

DATA_INPUTS = ("training_data", "validation_data", "test_data")
"""The spec's data inputs, in the order they are resolved and read."""


def _input_spec(data: DataInput) -> JobInputSpec:
    """The command-job input for an AutoML data input. A local *file* given as ``mltable``
    (a CSV next to the YAML is common) is uploaded as the file it is."""
    kind = data.type
    local = Path(data.path.removeprefix("file://")).expanduser()
    if kind != "uri_file" and "://" not in data.path and local.is_file():
        kind = "uri_file"
    return JobInputSpec.model_construct(
        type=kind, path=data.path, mode=None, optional=False, value=None
    )


def prepare_automl(
    ws: Workspace,
    store: JobStore,
    spec: AutoMLJobSpec,
    *,
    max_attempts: int = 2,
    bound_inputs: Collection[str] = (),
) -> dict[str, Any]:
    """Check and resolve an AutoML job: the keyword arguments of
    :func:`~modelworks.jobs._submit.create_job` that queue it. The data inputs named in
    ``bound_inputs`` are not resolved here: the caller (a pipeline, when the step starts)
    adds them to ``resolved["inputs"]``."""
    from modelworks.automl._executor import trial_compute
    from modelworks.automl.job import settings_from_spec
    from modelworks.automl.learners import available_learners

    settings = settings_from_spec(spec).check()
    if spec.task != "forecasting":
        available_learners(
            spec.task,
            allowed=settings.allowed_learners,
            blocked=settings.blocked_learners,
            onnx_only=settings.enable_onnx_compatible_models,
        )
    compute, _record = resolve_compute(store, spec.compute)
    trial_compute(compute, ws, strict=False)  # a Ray compute must be reachable by actors
    wanted = {
        n: _input_spec(getattr(spec, n))
        for n in DATA_INPUTS
        if getattr(spec, n) and n not in bound_inputs
    }
    inputs, uploads = resolve_inputs(ws, wanted)
    entries = upload_entries(ws, None, uploads, inputs)
    experiment = spec.experiment_name
    resolved: dict[str, Any] = {
        "type": "automl",
        # the compute as resolved now ("ray" -> the registered Ray compute's name, an
        # unregistered Azure cluster -> local): the driver runs the trials there
        "automl": {
            **spec.model_dump(mode="json", by_alias=True, exclude_none=True),
            "compute": compute,
        },
        "inputs": inputs,
        "compute": compute,
        "experiment_name": experiment,
    }
    tags = {
        **spec.tags,
        "mw.job.type": "automl",
        "mw.job.compute": compute,
        "mw.automl.task": spec.task,
    }
    if spec.display_name:
        tags["mw.job.display_name"] = spec.display_name
    return {
        "resolved": resolved,
        "kind": "automl",
        "compute": compute,
        "experiment": experiment,
        "name": spec.name,
        "description": spec.description,
        "tags": tags,
        "params": {k: _param_text(v) for k, v in inputs.items()},
        "entries": entries,
        "max_attempts": max_attempts,
    }


def submit_automl(
    ws: Workspace, store: JobStore, spec: AutoMLJobSpec, *, max_attempts: int = 2
) -> tuple[Run, JobRecord]:
    """Check, resolve and queue an AutoML job; returns its run (Queued) and queue row."""
    return create_job(ws, store, **prepare_automl(ws, store, spec, max_attempts=max_attempts))
