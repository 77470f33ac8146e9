"""The job types a workspace runs, in one table.

Each ``type:`` of a job YAML maps to how it is submitted and how a worker runs it. A
*command* job is a process on a compute; the other kinds (sweep, automl, pipeline) are
*drivers*: a worker runs their function in a thread, and the driver submits child jobs or does
its own work. Adding a job type is one entry here (plus its spec class in
:data:`modelworks.specs.jobs.SPEC_TYPES`); entries name their functions as ``"module:attr"`` so
nothing heavy is imported until a job of that type is used.
"""

from __future__ import annotations

import dataclasses
import importlib
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from modelworks.entities import Run
    from modelworks.jobs.queue import JobRecord, JobStore
    from modelworks.workspace import Workspace

__all__ = ["KINDS", "JobKind", "driver_kinds", "get_kind", "load_attr"]


@dataclasses.dataclass(frozen=True)
class JobKind:
    """How one job type is submitted, run and canceled.

    ``submit`` is ``(ws, store, spec, *, max_attempts) -> (Run, JobRecord)``; ``driver`` is
    ``(ctx: JobContext, ring: Callable[[], None]) -> None`` or None for a command job (a
    process on the compute); ``cancel_children`` cancels child jobs with the parent.
    """

    type: str
    submit: str
    driver: str | None = None
    cancel_children: bool = True


def _command(
    ws: Workspace, store: JobStore, spec: Any, *, max_attempts: int
) -> tuple[Run, JobRecord]:
    from modelworks.environments.resolve import resolve_environment
    from modelworks.jobs._submit import submit_command

    environment = resolve_environment(spec.environment, store=store)
    return submit_command(ws, store, spec, environment=environment, max_attempts=max_attempts)


def _sweep(
    ws: Workspace, store: JobStore, spec: Any, *, max_attempts: int
) -> tuple[Run, JobRecord]:
    from modelworks.sweep.submit import submit_sweep

    return submit_sweep(ws, store, spec)


KINDS: dict[str, JobKind] = {
    "command": JobKind("command", submit="modelworks.jobs.kinds:_command", cancel_children=False),
    "sweep": JobKind(
        "sweep", submit="modelworks.jobs.kinds:_sweep", driver="modelworks.sweep.driver:run_sweep"
    ),
    "pipeline": JobKind(
        "pipeline",
        submit="modelworks.pipelines.submit:submit_pipeline",
        driver="modelworks.pipelines.driver:run_pipeline",
    ),
    "automl": JobKind(
        "automl",
        submit="modelworks.automl.submit:submit_automl",
        driver="modelworks.automl.driver:run_automl_driver",
    ),
}


def get_kind(type_: str) -> JobKind:
    """The entry for a job type (``KeyError`` names the known ones)."""
    try:
        return KINDS[type_]
    except KeyError:
        raise KeyError(f"unknown job type {type_!r}; known: {', '.join(KINDS)}") from None


def driver_kinds() -> tuple[str, ...]:
    """The job types a worker runs as a driver thread (no compute slot)."""
    return tuple(k for k, v in KINDS.items() if v.driver is not None)


def load_attr(ref: str) -> Callable[..., Any]:
    """Import ``"package.module:attr"``."""
    module, _, attr = ref.partition(":")
    found: Callable[..., Any] = getattr(importlib.import_module(module), attr)
    return found
