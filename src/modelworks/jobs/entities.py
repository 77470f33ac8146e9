"""The SDK's job objects, as in Azure ML's ``azure.ai.ml``: :func:`command`, :func:`sweep`,
:class:`Input`, :class:`Output`, and :class:`Job` (a submitted job as stored).

::

    from modelworks import Input, Output, command

    job = command(
        code="./src",
        command="python train.py --data ${{inputs.data}} --out ${{outputs.model}}",
        inputs={"data": Input(type="mltable", path="azureml:bank@latest")},
        outputs={"model": Output(type="custom_model")},
        environment="inherit",
    )
    ws.jobs.create(job)       # sets job.name
    ws.jobs.stream(job.name)

The objects are the same validated models the YAML loader builds, so a job made in Python
and one read from ``job.yml`` go through one path.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from pydantic import ValidationError

from modelworks.entities import Record, Run, RunStatus
from modelworks.errors import SpecError
from modelworks.specs._loading import format_key_path
from modelworks.specs.jobs import (
    CommandJobSpec,
    EnvironmentSpec,
    JobInputSpec,
    JobOutputSpec,
    SweepJobSpec,
)

__all__ = ["CommandJob", "Input", "Job", "Output", "SweepJob", "command", "sweep"]


class Input(JobInputSpec):
    """A job input: ``Input(type="uri_file", path="azureml:bank@latest")`` or a literal
    ``Input(type="number", default=0.1)``."""


class Output(JobOutputSpec):
    """A job output: ``Output(type="custom_model", name="bank-clf")`` registers the folder the
    job writes as a model version when the job completes."""


class CommandJob(CommandJobSpec):
    """A command job (what ``type: command`` YAML describes)."""


class SweepJob(SweepJobSpec):
    """A sweep job (what ``type: sweep`` YAML describes)."""


def _build(cls: type[Any], data: dict[str, Any], source: str) -> Any:
    try:
        return cls.model_validate(data)
    except ValidationError as e:
        problems = [f"{format_key_path(tuple(err['loc']))}: {err['msg']}" for err in e.errors()]
        raise SpecError(
            f"Invalid {source} ({len(problems)} problem{'s' if len(problems) != 1 else ''}):\n"
            + "\n".join(f"  - {p}" for p in problems),
            problems=problems,
        ) from e


def _plain(value: Any) -> Any:
    if hasattr(value, "model_dump"):
        return value.model_dump(by_alias=True, exclude_none=True)
    return value


def command(
    *,
    command: str,
    code: str | None = None,
    inputs: dict[str, Any] | None = None,
    outputs: dict[str, Any] | None = None,
    environment: str | EnvironmentSpec | dict[str, Any] | None = None,
    environment_variables: dict[str, str] | None = None,
    compute: str | None = None,
    name: str | None = None,
    display_name: str | None = None,
    experiment_name: str | None = None,
    description: str = "",
    tags: dict[str, str] | None = None,
    timeout: int | None = None,
) -> CommandJob:
    """A command job; ``timeout`` (seconds) is ``limits.timeout``."""
    data: dict[str, Any] = {
        "command": command,
        "code": code,
        "inputs": {k: _plain(v) for k, v in (inputs or {}).items()},
        "outputs": {k: _plain(v) for k, v in (outputs or {}).items()},
        "environment": _plain(environment),
        "environment_variables": environment_variables or {},
        "compute": compute,
        "name": name,
        "display_name": display_name,
        "experiment_name": experiment_name,
        "description": description,
        "tags": tags or {},
        "limits": {"timeout": timeout} if timeout else {},
    }
    job: CommandJob = _build(CommandJob, data, "command()")
    return job


def sweep(
    trial: CommandJobSpec,
    *,
    search_space: dict[str, Any],
    primary_metric: str,
    goal: str = "maximize",
    sampling_algorithm: str | dict[str, Any] = "random",
    early_termination: dict[str, Any] | None = None,
    max_total_trials: int = 20,
    max_concurrent_trials: int | None = None,
    timeout: int | None = None,
    trial_timeout: int | None = None,
    compute: str | None = None,
    name: str | None = None,
    display_name: str | None = None,
    experiment_name: str | None = None,
    description: str = "",
    tags: dict[str, str] | None = None,
) -> SweepJob:
    """A sweep over ``search_space`` of ``trial`` (a :func:`command` job whose command uses
    ``${{search_space.<name>}}`` or ``${{inputs.<name>}}`` for the tuned values).

    Search-space entries are mappings as in YAML, e.g. ``{"type": "uniform", "min_value": 0.01,
    "max_value": 1.0}`` or ``{"type": "choice", "values": [1, 2, 4]}``.
    """
    space = {k: _plain(v) for k, v in search_space.items()}
    trial_inputs = {
        k: v.model_dump(by_alias=True, exclude_none=True)
        for k, v in trial.inputs.items()
        if k not in space
    }
    data: dict[str, Any] = {
        "type": "sweep",
        "trial": {
            "command": trial.command,
            "code": trial.code,
            "environment": _plain(trial.environment),
            "environment_variables": dict(trial.environment_variables),
        },
        "inputs": trial_inputs,
        "outputs": {
            k: v.model_dump(by_alias=True, exclude_none=True) for k, v in trial.outputs.items()
        },
        "search_space": space,
        "objective": {"goal": goal, "primary_metric": primary_metric},
        "sampling_algorithm": sampling_algorithm,
        "early_termination": early_termination,
        "limits": {
            "max_total_trials": max_total_trials,
            "max_concurrent_trials": max_concurrent_trials,
            "timeout": timeout,
            "trial_timeout": trial_timeout,
        },
        "compute": compute or trial.compute,
        "name": name,
        "display_name": display_name,
        "experiment_name": experiment_name or trial.experiment_name,
        "description": description,
        "tags": tags or {},
    }
    job: SweepJob = _build(SweepJob, data, "sweep()")
    return job


@dataclasses.dataclass(frozen=True)
class Job(Record):
    """A submitted job as stored: its run plus what the queue knows."""

    name: str
    id: str
    type: str
    status: RunStatus
    experiment_id: str
    compute: str
    created_at: int
    display_name: str | None = None
    description: str = ""
    start_time: int | None = None
    end_time: int | None = None
    parent_id: str | None = None
    error: str | None = None
    exit_code: int | None = None
    attempts: int = 0
    inputs: dict[str, Any] = dataclasses.field(default_factory=dict)
    outputs: dict[str, Any] = dataclasses.field(default_factory=dict)
    environment: str | None = None
    params: dict[str, str] = dataclasses.field(default_factory=dict)
    metrics: dict[str, float] = dataclasses.field(default_factory=dict)
    tags: dict[str, str] = dataclasses.field(default_factory=dict)

    @property
    def is_terminal(self) -> bool:
        return self.status.is_terminal

    @classmethod
    def from_parts(cls, run: Run, record: Any) -> Job:
        """Build from the run and its queue row (``jobs.queue.JobRecord``)."""
        spec = record.spec if record is not None else {}
        return cls(
            name=run.name,
            id=run.id,
            type=run.kind,
            status=run.status,
            experiment_id=run.experiment_id,
            compute=record.compute if record is not None else "",
            created_at=run.created_at,
            display_name=run.tags.get("mw.job.display_name"),
            description=run.description,
            start_time=run.start_time,
            end_time=run.end_time,
            parent_id=run.parent_id,
            error=run.error,
            exit_code=record.exit_code if record is not None else None,
            attempts=record.attempts if record is not None else 0,
            inputs=dict(spec.get("inputs", {})),
            outputs=dict(spec.get("outputs", {})),
            environment=(spec.get("environment") or {}).get("label"),
            params=dict(run.params),
            metrics=dict(run.metrics),
            tags=dict(run.tags),
        )
