"""The fluent tracking API: ``with mw.start_run(): mw.log_metric("auc", 0.9)``.

State (the stack of active runs) lives in a ContextVar, not a module global, so threads and
asyncio tasks each see their own active run. Every function is a thin call on the explicit
:class:`~modelworks.tracking.client.TrackingClient` of the run's workspace.
"""

from __future__ import annotations

import contextvars
import os
import traceback
import warnings
from collections.abc import Sequence
from types import TracebackType
from typing import TYPE_CHECKING, Any

from modelworks.entities import Run, RunStatus
from modelworks.errors import ConflictError, InvalidInputError, ModelworksError

if TYPE_CHECKING:
    from modelworks.workspace import Workspace

__all__ = [
    "ActiveRun",
    "active_run",
    "end_run",
    "flush",
    "log_artifact",
    "log_artifacts",
    "log_dict",
    "log_figure",
    "log_input",
    "log_metric",
    "log_metrics",
    "log_model",
    "log_param",
    "log_params",
    "log_text",
    "set_tag",
    "set_tags",
    "start_run",
]

ENV_RUN_ID = "MODELWORKS_RUN_ID"
ENV_EXPERIMENT = "MODELWORKS_EXPERIMENT_NAME"

_stack: contextvars.ContextVar[tuple[ActiveRun, ...]] = contextvars.ContextVar(
    "modelworks_active_runs", default=()
)


class ActiveRun:
    """A run this process is logging to. Use as a context manager to end it automatically:
    Completed on success, Failed (with the traceback's last line) on an exception, Canceled
    on KeyboardInterrupt."""

    def __init__(self, workspace: Workspace, run: Run, *, owned: bool = True) -> None:
        self.workspace = workspace
        self._run = run
        self._owned = owned

    @property
    def id(self) -> str:
        return self._run.id

    @property
    def name(self) -> str:
        return self._run.name

    @property
    def info(self) -> Run:
        """The run as stored now (re-read, after flushing queued metrics)."""
        self.workspace.runs.flush()
        self._run = self.workspace.runs.get(self.id)
        return self._run

    def __enter__(self) -> ActiveRun:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc_type is None:
            end_run(RunStatus.COMPLETED, run=self)
        elif issubclass(exc_type, KeyboardInterrupt):
            end_run(RunStatus.CANCELED, run=self, error="Interrupted (KeyboardInterrupt).")
        else:
            text = "".join(traceback.format_exception(exc_type, exc, tb))
            end_run(RunStatus.FAILED, run=self, error=text[-4000:])

    def __repr__(self) -> str:
        return f"<ActiveRun id={self.id} name={self.name!r}>"


def _default_workspace() -> Workspace:
    from modelworks.workspace import Workspace

    return Workspace()


def start_run(
    experiment: str | None = None,
    *,
    workspace: Workspace | None = None,
    run_name: str | None = None,
    run_id: str | None = None,
    nested: bool = False,
    tags: dict[str, Any] | None = None,
    description: str = "",
    log_system_info: bool = True,
) -> ActiveRun:
    """Start (or, with ``run_id``, resume) a run and make it the active one.

    Inside a job, ``MODELWORKS_RUN_ID`` names the job's run and is resumed automatically. A
    run started while another is active needs ``nested=True`` and becomes its child.
    """
    stack = _stack.get()
    if stack and not nested:
        raise ConflictError(
            f"Run {stack[-1].id} is already active. End it with mw.end_run(), or pass "
            "nested=True to start a child run."
        )
    ws = workspace or (stack[-1].workspace if stack else _default_workspace())
    resume_id = run_id or (os.environ.get(ENV_RUN_ID) if not stack else None)
    if resume_id:
        run = ws.runs.get(resume_id)
        if run.status != RunStatus.RUNNING:
            run = ws.meta.update_run(resume_id, status=RunStatus.RUNNING)
        active = ActiveRun(ws, run, owned=run_id is not None)
    else:
        experiment_name = experiment or os.environ.get(ENV_EXPERIMENT) or "Default"
        all_tags = {}
        if log_system_info:
            from modelworks.tracking.sysinfo import system_tags

            all_tags.update(system_tags())
        all_tags.update({k: str(v) for k, v in (tags or {}).items()})
        run = ws.runs.create(
            experiment_name,
            name=run_name,
            parent_id=stack[-1].id if stack else None,
            tags=all_tags,
            description=description,
            heartbeat=True,
        )
        if log_system_info:
            _log_packages(ws, run.id)
        active = ActiveRun(ws, run)
    _stack.set((*stack, active))
    return active


def _log_packages(ws: Workspace, run_id: str) -> None:
    """Best effort: a run must start even when its package list cannot be stored."""
    from modelworks.tracking.sysinfo import installed_packages

    try:
        ws.runs.log_text(run_id, installed_packages(), "system/requirements.txt")
    except (ModelworksError, OSError) as e:
        warnings.warn(
            f"modelworks could not store the package list of run {run_id}: {e}",
            RuntimeWarning,
            stacklevel=3,
        )


def active_run() -> ActiveRun | None:
    stack = _stack.get()
    return stack[-1] if stack else None


def _require_run() -> ActiveRun:
    stack = _stack.get()
    if stack:
        return stack[-1]
    return start_run()


def end_run(
    status: RunStatus | str = RunStatus.COMPLETED,
    *,
    run: ActiveRun | None = None,
    error: str | None = None,
) -> None:
    """End the active run (or ``run``) with ``status``; a no-op when nothing is active."""
    stack = _stack.get()
    target = run or (stack[-1] if stack else None)
    if target is None:
        return
    _stack.set(tuple(r for r in stack if r is not target))
    target.workspace.runs.end(target.id, RunStatus.parse(status), error=error)


def flush() -> None:
    """Write every queued metric of the active runs now."""
    for run in _stack.get():
        run.workspace.runs.flush()


def log_metric(key: str, value: float, step: int = 0, timestamp: int | None = None) -> None:
    run = _require_run()
    run.workspace.runs.log_metric(run.id, key, value, step=step, timestamp=timestamp)


def log_metrics(metrics: dict[str, float], step: int = 0) -> None:
    run = _require_run()
    run.workspace.runs.log_metrics(run.id, metrics, step=step)


def log_param(key: str, value: Any) -> None:
    run = _require_run()
    run.workspace.runs.log_param(run.id, key, value)


def log_params(params: dict[str, Any]) -> None:
    run = _require_run()
    run.workspace.runs.log_params(run.id, params)


def set_tag(key: str, value: Any) -> None:
    run = _require_run()
    run.workspace.runs.set_tag(run.id, key, value)


def set_tags(tags: dict[str, Any]) -> None:
    run = _require_run()
    run.workspace.runs.set_tags(run.id, tags)


def log_artifact(local_path: str | os.PathLike[str], artifact_path: str = "") -> None:
    run = _require_run()
    run.workspace.runs.log_artifact(run.id, local_path, artifact_path)


log_artifacts = log_artifact


def log_text(text: str, artifact_file: str) -> None:
    run = _require_run()
    run.workspace.runs.log_text(run.id, text, artifact_file)


def log_dict(data: dict[str, Any] | list[Any], artifact_file: str) -> None:
    run = _require_run()
    run.workspace.runs.log_dict(run.id, data, artifact_file)


def log_figure(figure: Any, artifact_file: str) -> None:
    run = _require_run()
    run.workspace.runs.log_figure(run.id, figure, artifact_file)


def log_model(
    model: Any,
    artifact_path: str = "model",
    *,
    input_example: Any = None,
    signature: dict[str, Any] | None = None,
    registered_model_name: str | None = None,
    pip_requirements: Sequence[str] | None = None,
    artifacts: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Log a model (sklearn, lightgbm, xgboost, onnx or a PythonModel) to the active run.

    With ``registered_model_name`` it is also registered as that model's next version.
    """
    run = _require_run()
    info = run.workspace.runs.log_model(
        run.id,
        model,
        artifact_path,
        input_example=input_example,
        signature=signature,
        pip_requirements=pip_requirements,
        artifacts=artifacts,
    )
    if registered_model_name:
        version = run.workspace.models.register(info["model_uri"], name=registered_model_name)
        info["registered_version"] = version.version
    return info


def log_input(data: Any) -> None:
    """Record that the active run read a data asset (a DataAsset or 'name@latest' reference)."""
    run = _require_run()
    if isinstance(data, str):
        data = run.workspace.data.get(data)
    if not hasattr(data, "name") or not hasattr(data, "version"):
        raise InvalidInputError(
            f"log_input takes a data asset or a reference like 'bank@latest', not {type(data).__name__}."
        )
    run.workspace.data.record_input(run.id, data.name, data.version)
