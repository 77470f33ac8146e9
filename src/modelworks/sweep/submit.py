"""Submitting a sweep job: checked and resolved once, stored as the parent run (kind
``sweep``) whose queue row a worker's driver claims. The trials' shared parts — inputs,
code snapshot, environment — are resolved here and reused by every trial."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from modelworks.entities import Run
from modelworks.environments.resolve import resolve_environment
from modelworks.errors import SpecError
from modelworks.jobs._render import check_references
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
from modelworks.specs.jobs import SweepJobSpec
from modelworks.sweep.space import SearchSpace

if TYPE_CHECKING:
    from modelworks.jobs.queue import JobRecord, JobStore
    from modelworks.workspace import Workspace

__all__ = ["prepare_sweep", "submit_sweep"]


def prepare_sweep(
    ws: Workspace,
    store: JobStore,
    spec: SweepJobSpec,
    *,
    bound_inputs: Mapping[str, bool] | None = None,
) -> dict[str, Any]:
    """Check and resolve a sweep job: the keyword arguments of
    :func:`~modelworks.jobs._submit.create_job` that queue it.

    ``bound_inputs`` names inputs that are not in ``spec.inputs`` but filled in when the sweep
    is started (a pipeline step's inputs, bound to upstream outputs): name → whether it may be
    absent. They are checked against the trial command, and resolved by the caller."""
    bound = dict(bound_inputs or {})
    space = SearchSpace(spec.search_space)  # builds the Optuna distributions: fails early
    if spec.sampling_algorithm.type == "grid":
        space.grid()
    clash = sorted(set(spec.search_space) & (set(spec.inputs) | set(bound)))
    if clash:
        raise SpecError(
            f"search_space and inputs both define {', '.join(clash)}; a tuned parameter is "
            "not also an input."
        )
    compute, _record = resolve_compute(store, spec.compute)
    environment = resolve_environment(spec.trial.environment, store=store)
    inputs, uploads = resolve_inputs(ws, spec.inputs)
    outputs = resolve_outputs(spec.outputs)
    absent = [n for n, v in inputs.items() if v["kind"] == "absent"]
    absent += [n for n, optional in bound.items() if optional]
    # ${{inputs.<tuned>}} also names a tuned value (as the Azure SDK's sweep() does).
    check_references(
        spec.trial.command,
        inputs=[*inputs, *bound, *spec.search_space],
        outputs=outputs,
        search_space=list(spec.search_space),
        optional=absent,
        where="trial.command",
    )
    experiment = spec.experiment_name or default_experiment()
    entries = upload_entries(ws, spec.trial.code, uploads, inputs)
    limits = spec.limits
    resolved = {
        "type": "sweep",
        "trial": {
            "command": spec.trial.command,
            "environment": environment,
            "environment_variables": {
                k: str(v) for k, v in spec.trial.environment_variables.items()
            },
            "code": bool(spec.trial.code),
        },
        "inputs": inputs,
        "outputs": outputs,
        "search_space": {k: v.model_dump(exclude_none=True) for k, v in spec.search_space.items()},
        "sampling_algorithm": spec.sampling_algorithm.model_dump(exclude_none=True),
        "objective": spec.objective.model_dump(),
        "early_termination": (
            spec.early_termination.model_dump(exclude_none=True)
            if spec.early_termination is not None
            else None
        ),
        "limits": limits.model_dump(exclude_none=True),
        "compute": compute,
        "experiment_name": experiment,
        "environment": environment,
    }
    tags = job_tags(spec, "sweep", compute, environment)
    tags["mw.sweep.primary_metric"] = spec.objective.primary_metric
    tags["mw.sweep.goal"] = spec.objective.goal
    return {
        "resolved": resolved,
        "kind": "sweep",
        "compute": compute,
        "experiment": experiment,
        "name": spec.name,
        "description": spec.description,
        "tags": tags,
        "params": {k: _param_text(v) for k, v in inputs.items() if v["kind"] != "absent"},
        "entries": entries,
        "max_attempts": 3,
    }


def submit_sweep(ws: Workspace, store: JobStore, spec: SweepJobSpec) -> tuple[Run, JobRecord]:
    """Check, resolve and queue a sweep job."""
    return create_job(ws, store, **prepare_sweep(ws, store, spec))
