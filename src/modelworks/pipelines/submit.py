"""Submitting a pipeline job: validate the graph, resolve what can be resolved once (pipeline
inputs, each step's component, code snapshot and environment), and queue the parent run of
kind ``pipeline`` whose driver a worker runs (:mod:`modelworks.pipelines.driver`).

A sweep or AutoML step is prepared here by the submit functions of its kind
(:func:`~modelworks.sweep.submit.prepare_sweep`, :func:`~modelworks.automl.submit.prepare_automl`)
— everything but its inputs, which the driver binds when the step starts."""

from __future__ import annotations

import hashlib
import json
from typing import TYPE_CHECKING, Any

from modelworks.entities import ArtifactEntry, Run
from modelworks.environments.resolve import resolve_environment
from modelworks.jobs._submit import (
    _param_text,
    create_job,
    default_experiment,
    job_tags,
    resolve_compute,
    resolve_inputs,
    resolve_outputs,
    upload_entries,
)
from modelworks.pipelines.components import ComponentOperations, snapshot_code
from modelworks.pipelines.validate import StepPlan, validate_pipeline
from modelworks.specs.environment import EnvironmentSpec
from modelworks.specs.jobs import JobInputSpec
from modelworks.specs.pipelines import PipelineJobSpec

if TYPE_CHECKING:
    from modelworks.jobs.queue import JobRecord, JobStore
    from modelworks.workspace import Workspace

__all__ = ["submit_pipeline"]


def _digest(value: Any) -> str:
    return hashlib.sha256(json.dumps(value, sort_keys=True, default=str).encode()).hexdigest()


def submit_pipeline(
    ws: Workspace, store: JobStore, spec: PipelineJobSpec, *, max_attempts: int = 3
) -> tuple[Run, JobRecord]:
    """Check, resolve and queue a pipeline job; returns its run and queue row."""
    from modelworks.artifacts import tree_hash

    components = ComponentOperations(ws)
    plan = validate_pipeline(spec, components)
    default_compute, _record = resolve_compute(store, spec.settings.default_compute)
    inputs, uploads = resolve_inputs(ws, spec.inputs)
    step_inputs: dict[str, JobInputSpec] = {}
    for name, step in plan.steps.items():
        for key, entry in step.inputs.items():
            if entry["kind"] == "data_value":
                step_inputs[f"{name}__{key}"] = JobInputSpec.model_validate(entry["spec"])
    step_resolved, step_uploads = resolve_inputs(ws, step_inputs)
    entries: list[ArtifactEntry] = upload_entries(
        ws, None, {**uploads, **step_uploads}, {**inputs, **step_resolved}
    )
    for key, entry in step_resolved.items():
        inputs.setdefault(key, entry)  # only as storage: steps point at it below
    steps: dict[str, Any] = {}
    environments: dict[str, dict[str, Any]] = {}
    experiment = spec.experiment_name or default_experiment()
    for name in plan.order:
        step = plan.steps[name]
        code_hash = None
        code_owner = step.code_owner
        if code_owner is not None:
            record = components.get_record(step.component_ref)
            code_hash = record.code_hash
        elif step.component.code or step.component.additional_includes:
            code = snapshot_code(ws, step.component)
            code_hash = tree_hash(code)
            entries.extend(ArtifactEntry(f"steps/{name}/{e.path}", e.digest, e.size) for e in code)
            code_owner = "parent"
        compute, _ = resolve_compute(store, step.compute or spec.settings.default_compute)
        job: dict[str, Any] | None = None
        if step.kind != "command":
            job, job_entries = _prepare_job(ws, store, step, compute, experiment)
            entries.extend(
                ArtifactEntry(f"steps/{name}/job/{e.path}", e.digest, e.size) for e in job_entries
            )
            environment = dict(job["resolved"].get("environment") or {})
        else:
            env = step.component.environment
            env_key = json.dumps(
                env.model_dump() if isinstance(env, EnvironmentSpec) else env,
                sort_keys=True,
                default=str,
            )
            if env_key not in environments:
                environments[env_key] = resolve_environment(env, store=store)
            environment = environments[env_key]
        step_inputs_resolved: dict[str, Any] = {}
        for key, entry in step.inputs.items():
            if entry["kind"] == "data_value":
                entry = {
                    "kind": "parent_input",
                    "name": f"{name}__{key}",
                    "type": entry["spec"]["type"],
                }
            step_inputs_resolved[key] = entry
        component = step.component.model_dump(by_alias=True, exclude_none=True)
        component.pop("code", None)
        component.pop("additional_includes", None)
        steps[name] = {
            "component": component,
            "component_ref": step.component_ref,
            "component_version": step.component_version,
            "code_owner": code_owner,
            "code_hash": code_hash,
            "command": step.component.command,
            "environment": environment,
            "environment_hash": _digest(environment),
            "environment_variables": {
                **step.component.environment_variables,
                **step.environment_variables,
            },
            "inputs": step_inputs_resolved,
            "outputs": step.outputs,
            "after": step.after,
            "compute": compute,
            "force_rerun": step.force_rerun,
            "is_deterministic": step.is_deterministic,
            "timeout": step.timeout,
            "display_name": step.display_name,
        }
        if job is not None:
            steps[name].update(kind=step.kind, job=job)
    conditions = {
        name: {
            "binding": c.binding.model_dump(),
            "op": c.op,
            "value": c.value,
            "true_block": c.true_block,
            "false_block": c.false_block,
            "text": str(spec.jobs[name].condition),
        }
        for name, c in plan.conditions.items()
    }
    resolved = {
        "type": "pipeline",
        "inputs": inputs,
        "outputs": resolve_outputs(spec.outputs),
        "settings": {
            "continue_on_step_failure": spec.settings.continue_on_step_failure,
            "force_rerun": spec.settings.force_rerun,
        },
        "steps": steps,
        "conditions": conditions,
        "order": plan.order,
        "experiment_name": experiment,
        "compute": default_compute,
    }
    tags = job_tags(spec, "pipeline", default_compute, {"label": "per step"})
    tags["mw.pipeline.steps"] = str(len(steps))
    return create_job(
        ws,
        store,
        resolved=resolved,
        kind="pipeline",
        compute=default_compute,
        experiment=experiment,
        name=spec.name,
        description=spec.description,
        tags=tags,
        params={
            k: _param_text(v) for k, v in inputs.items() if v["kind"] != "absent" and "__" not in k
        },
        entries=entries,
        max_attempts=max(max_attempts, 3),
    )


def _prepare_job(
    ws: Workspace, store: JobStore, step: StepPlan, compute: str, experiment: str
) -> tuple[dict[str, Any], list[ArtifactEntry]]:
    """A sweep or AutoML step's job, resolved by its kind's submit logic but not queued: the
    keyword arguments of ``create_job`` (without its inputs, which the step binds when it
    starts) and the files to store with it."""
    job = step.job.model_copy(update={"compute": compute, "experiment_name": experiment})
    if step.kind == "sweep":
        from modelworks.sweep.submit import prepare_sweep

        bound = {key: entry["kind"] == "absent" for key, entry in step.inputs.items()}
        prepared = prepare_sweep(ws, store, job, bound_inputs=bound)
    elif step.kind == "automl":
        from modelworks.automl.submit import DATA_INPUTS, prepare_automl

        prepared = prepare_automl(ws, store, job, bound_inputs=DATA_INPUTS)
    else:  # pragma: no cover - validate_pipeline makes only these kinds
        raise ValueError(f"unknown step kind {step.kind!r}")
    files: list[ArtifactEntry] = prepared.pop("entries") or []
    prepared.pop("name", None)
    return prepared, files
