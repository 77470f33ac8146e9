"""Running one claimed command job on a worker: Preparing → Running → Finalizing → end.

- Preparing: the environment is materialised (a cached virtualenv, built once per spec
  hash), the code snapshot is written to a fresh working folder, inputs become local paths
  (cached data/model downloads, uploaded files, URLs) and output folders are made.
- Running: the rendered command runs on the job's compute through the Executor port; its
  output goes to the log sink; cancel requests, a lost lease and ``limits.timeout`` stop it.
- Finalizing: ``std_log.txt``, ``./outputs``, ``./logs`` and the named outputs are stored
  as run artifacts; named outputs are registered as data assets or models.

The job ends Completed, Failed (the exit code and the end of stderr first in the run's
error) or Canceled. Nothing here imports pandas or scikit-learn: starting a job stays cheap.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import shutil
import threading
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from modelworks.compute.base import Execution, Executor, ProcessSpec
from modelworks.entities import ArtifactEntry, RunStatus
from modelworks.environments.builder import BuildCanceled
from modelworks.errors import ModelworksError
from modelworks.jobs._logs import LogSink
from modelworks.jobs._render import render

if TYPE_CHECKING:
    from modelworks.jobs.queue import JobRecord, JobStore
    from modelworks.workspace import Workspace

__all__ = ["JobCanceled", "JobContext", "JobLost", "run_command_job", "workspace_location"]

#: Variables of the worker that must not leak into a job (they name another run).
_PRIVATE_VARS = (
    "MODELWORKS_RUN_ID",
    "MODELWORKS_EXPERIMENT_NAME",
    "MODELWORKS_JOB_NAME",
    "MLFLOW_RUN_ID",
    "MLFLOW_EXPERIMENT_NAME",
    "MLFLOW_EXPERIMENT_ID",
)
STDERR_TAIL_LINES = 20


class JobCanceled(Exception):
    """The job's cancel was requested while it was being prepared."""


class JobLost(Exception):
    """This worker no longer holds the job (its lease expired and it was recovered)."""


@dataclasses.dataclass
class JobContext:
    """What a worker gives a runner: the workspace, the store, events to stop it."""

    ws: Workspace
    store: JobStore
    worker_id: str
    job: JobRecord
    executor: Executor
    tracking_env: Callable[[str, str], dict[str, str]] | None = None
    cancel: threading.Event = dataclasses.field(default_factory=threading.Event)
    lost: threading.Event = dataclasses.field(default_factory=threading.Event)
    poll_s: float = 0.02
    log_flush_s: float = 0.3
    keep_folder: bool = False

    @property
    def run_id(self) -> str:
        return self.job.run_id

    def stopped(self) -> bool:
        return self.cancel.is_set() or self.lost.is_set()

    def check(self) -> None:
        if self.lost.is_set():
            raise JobLost()
        if self.cancel.is_set():
            raise JobCanceled()


def workspace_location(ws: Workspace) -> str:
    """What a job process passes to ``Workspace(...)`` to reach the same workspace."""
    return str(ws.root) if ws.root is not None else ws.location


def run_command_job(ctx: JobContext) -> str:
    """Run ``ctx.job`` to its end; returns the final state. Never raises for job failures."""
    job = ctx.job
    folder = Path(ctx.ws.cache_dir) / "jobs" / job.run_id
    if folder.exists():
        shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    sink = LogSink(ctx.store, job.run_id, folder / "std_log.txt", flush_interval_s=ctx.log_flush_s)
    state, error, exit_code = RunStatus.FAILED.value, None, None
    extra: list[ArtifactEntry] = []
    try:
        if job.attempts > 1:
            sink.system(
                f"attempt {job.attempts} of {job.max_attempts} (the worker of the last one stopped)"
            )
        prepared = _prepare(ctx, folder, sink, extra)
        ctx.check()
        execution = ctx.executor.start(prepared)
        where = execution.describe()
        if not ctx.store.set_state(
            job.run_id,
            RunStatus.RUNNING.value,
            worker_id=ctx.worker_id,
            pid=where.get("pid"),
            pid_started_at=where.get("pid_started_at"),
        ):
            execution.cancel(grace_s=1.0)
            raise JobLost()
        exit_code, reason = _supervise(ctx, execution, sink, job.spec.get("timeout"))
        if ctx.lost.is_set():
            raise JobLost()
        if reason == "canceled":
            state = RunStatus.CANCELED.value  # the run keeps the reason the cancel gave
        elif reason == "timeout":
            error = (
                f"The job ran longer than limits.timeout ({job.spec.get('timeout')} s) and was "
                "stopped."
            )
        elif exit_code == 0:
            state = RunStatus.COMPLETED.value
        else:
            tail = sink.stderr_tail(STDERR_TAIL_LINES)
            error = f"Command exited with code {exit_code}."
            if tail:
                error += f"\n--- last lines of stderr ---\n{tail}"
        if state != RunStatus.CANCELED.value:
            ctx.store.set_state(job.run_id, RunStatus.FINALIZING.value, worker_id=ctx.worker_id)
        outputs_ok = _collect(ctx, folder, sink, extra, register=state == RunStatus.COMPLETED.value)
        if outputs_ok is not None:
            state, error = RunStatus.FAILED.value, outputs_ok
    except JobLost:
        sink.close()
        shutil.rmtree(folder, ignore_errors=True)
        return "lost"
    except (JobCanceled, BuildCanceled):
        state = RunStatus.CANCELED.value  # the run keeps the reason the cancel gave
    except ModelworksError as e:
        error = e.message
    except Exception as e:  # noqa: BLE001 - a job failure must never kill the worker
        error = f"Internal error while running the job: {e}\n{traceback.format_exc()[-3000:]}"
    finally:
        sink.close()
    if not _logs_uploaded(extra):
        with contextlib.suppress(Exception):  # best effort: the job's end matters more
            _upload(ctx, [*extra, *ctx.ws.runs.trees.store_path(folder / "std_log.txt", "logs")])
    ctx.ws.runs.flush()
    if not ctx.keep_folder:  # before the final state: whoever waits on it sees a clean end
        shutil.rmtree(folder, ignore_errors=True)
    ctx.store.set_state(
        job.run_id, state, worker_id=ctx.worker_id, error=error, exit_code=exit_code
    )
    ctx.store.delete_log(job.run_id)
    return state


def _logs_uploaded(extra: list[ArtifactEntry]) -> bool:
    return any(e.path == "logs/std_log.txt" for e in extra)


def _upload(ctx: JobContext, entries: list[ArtifactEntry]) -> None:
    if entries:
        ctx.ws.meta.put_artifact_entries(f"run/{ctx.run_id}", entries)


def _prepare(
    ctx: JobContext, folder: Path, sink: LogSink, extra: list[ArtifactEntry]
) -> ProcessSpec:
    spec = ctx.job.spec
    ws = ctx.ws
    env_info = _environment(ctx, spec.get("environment") or {}, folder, sink, extra)
    ctx.check()
    work = folder / "code"
    if spec.get("code"):
        ws.runs.trees.download(f"run/{ctx.run_id}", "code", folder)
    work.mkdir(exist_ok=True)
    values: dict[str, dict[str, str]] = {"inputs": {}, "outputs": {}, "search_space": {}}
    for name, entry in (spec.get("inputs") or {}).items():
        ctx.check()
        value = _input_value(ctx, name, entry, folder)
        if value is not None:
            values["inputs"][name] = value
            if entry.get("type") == "search_space":
                values["search_space"][name] = value
    outputs_dir = folder / "outputs"
    outputs_dir.mkdir()
    for name, entry in (spec.get("outputs") or {}).items():
        target = outputs_dir / name
        if entry.get("type") != "uri_file":
            target.mkdir()
        values["outputs"][name] = str(target)
    command = render(spec["command"], values)
    env = {k: v for k, v in os.environ.items() if k not in _PRIVATE_VARS}
    env.update(spec.get("environment_variables") or {})
    experiment = str(spec.get("experiment_name") or "Default")
    env.update(
        {
            "MODELWORKS_RUN_ID": ctx.run_id,
            "MODELWORKS_WORKSPACE": workspace_location(ws),
            "MODELWORKS_EXPERIMENT_NAME": experiment,
            "MODELWORKS_JOB_NAME": ctx.job.name,
            "PYTHONUNBUFFERED": "1",
            "PATH": env_info["bin_dir"] + os.pathsep + os.environ.get("PATH", ""),
        }
    )
    if env_info.get("venv"):
        env["VIRTUAL_ENV"] = env_info["venv"]
    token = getattr(getattr(ws.meta, "_http", None), "token", None)
    if ws.is_remote and token:
        env["MODELWORKS_TOKEN"] = token
    if ctx.tracking_env is not None:
        env.update(ctx.tracking_env(ctx.run_id, experiment))
    return ProcessSpec(
        command=command,
        cwd=str(work),
        env=env,
        name=ctx.job.name,
        job_vars=frozenset(spec.get("environment_variables") or {}),
        path_prefix=env_info["bin_dir"],
    )


def _environment(
    ctx: JobContext,
    resolved: dict[str, Any],
    folder: Path,
    sink: LogSink,
    extra: list[ArtifactEntry],
) -> dict[str, str]:
    from modelworks.environments.builder import materialise
    from modelworks.environments.operations import dockerfile_for

    label = resolved.get("label", "inherit")
    if resolved.get("kind", "inherit") != "inherit":
        sink.system(f"preparing environment {label}")
        sink.flush(force=True)
    lines: list[str] = []

    def on_line(line: str) -> None:
        lines.append(line)

    info = materialise(
        resolved,
        on_line=on_line,
        on_warning=lambda message: sink.system(f"warning: {message}"),
        cancel=ctx.cancel,
    )
    if info.built:
        sink.system(f"built environment {label} ({len(lines)} lines of build log)")
    elif resolved.get("kind") == "venv":
        sink.system(f"using cached environment {label}")
    trees = ctx.ws.runs.trees
    if info.log_path and os.path.exists(info.log_path):
        extra.extend(trees.store_path(info.log_path, "logs"))
        extra[-1] = ArtifactEntry("logs/environment_build.txt", extra[-1].digest, extra[-1].size)
    dockerfile = dockerfile_for(resolved)
    if dockerfile:
        path = folder / "Dockerfile"
        path.write_text(dockerfile)
        extra.extend(trees.store_path(path, "environment"))
        if resolved.get("requirements"):
            req = folder / "requirements.txt"
            req.write_text("\n".join(resolved["requirements"]) + "\n")
            extra.extend(trees.store_path(req, "environment"))
    out = {"bin_dir": info.bin_dir, "python": info.python}
    if info.path:
        out["venv"] = info.path
    return out


def _input_value(ctx: JobContext, name: str, entry: dict[str, Any], folder: Path) -> str | None:
    kind = entry.get("kind")
    ws = ctx.ws
    mode = entry.get("mode", "ro_mount")
    copy = mode in ("download", "rw_mount", "eval_download")
    if kind == "absent":
        return None
    if kind == "literal":
        return str(entry["value"])
    if kind == "data":
        asset = ws.data.get(entry["ref"])
        if copy:
            path = asset.download(folder / "inputs" / name)
        else:
            path = _link_tree(asset.download(), folder / "inputs" / name)
        ws.data.record_input(ctx.run_id, asset.name, asset.version)
        return str(path)
    if kind == "model":
        if copy:
            return str(ws.models.download(entry["ref"], folder / "inputs" / name))
        return str(_link_tree(ws.models.local_path(entry["ref"]), folder / "inputs" / name))
    if kind == "upload":
        target = folder / "inputs" / name
        return str(ws.runs.trees.download(f"run/{ctx.run_id}", entry["artifact"], target))
    if kind == "url":
        uri = entry["uri"]
        if mode == "direct":
            return str(uri)
        return str(_fetch_url(uri, folder / "inputs" / name))
    raise ModelworksError(f"Input {name!r} has an unknown resolved kind {kind!r}.")


def _link_tree(cached: Path, target: Path) -> Path:
    """A read-only view of a cached download: symlinks to its files (cache markers left out).

    A file stays the cached file itself."""
    if cached.is_file():
        return cached
    target.mkdir(parents=True, exist_ok=True)
    for root, _dirs, files in os.walk(cached):
        relative = Path(root).relative_to(cached)
        for file_name in files:
            if file_name.startswith(".modelworks-"):
                continue
            link = target / relative / file_name
            link.parent.mkdir(parents=True, exist_ok=True)
            os.symlink(Path(root) / file_name, link)
    return target


def _fetch_url(uri: str, target: Path) -> Path:
    import fsspec

    fs, remote = fsspec.core.url_to_fs(uri)
    if not fs.exists(remote):
        from modelworks.errors import NotFoundError

        raise NotFoundError(f"Input URL {uri!r} does not exist.")
    target.mkdir(parents=True, exist_ok=True)
    local = target / (Path(remote.rstrip("/")).name or "data")
    fs.get(remote, str(local), recursive=fs.isdir(remote))
    return local


def _supervise(
    ctx: JobContext, execution: Execution, sink: LogSink, timeout: int | None
) -> tuple[int | None, str | None]:
    """Wait for the command, moving its output to the sink; returns (exit code, stop reason)."""
    deadline = time.monotonic() + timeout if timeout else None
    while True:
        code = execution.wait(timeout=ctx.poll_s)
        for stream, text in execution.read():
            sink.write(stream, text)
        if code is not None:
            for stream, text in execution.read():
                sink.write(stream, text)
            return code, None
        sink.flush()
        if ctx.cancel.is_set() or ctx.lost.is_set():
            execution.cancel()
            for stream, text in execution.read():
                sink.write(stream, text)
            return None, "canceled"
        if deadline is not None and time.monotonic() > deadline:
            sink.system(f"stopping the job: it exceeded limits.timeout ({timeout} s)")
            execution.cancel()
            for stream, text in execution.read():
                sink.write(stream, text)
            return None, "timeout"


def _collect(
    ctx: JobContext,
    folder: Path,
    sink: LogSink,
    extra: list[ArtifactEntry],
    *,
    register: bool,
) -> str | None:
    """Store logs and outputs as run artifacts; register named outputs. Returns an error
    message if registering failed."""
    trees = ctx.ws.runs.trees
    work = folder / "code"
    sink.close()
    entries = list(extra)
    for local, prefix in ((work / "outputs", "outputs"), (work / "logs", "logs")):
        if local.is_dir() and any(local.iterdir()):
            entries.extend(trees.store_path(local, prefix))
    outputs = ctx.job.spec.get("outputs") or {}
    written: dict[str, Path] = {}
    for name in outputs:
        path = folder / "outputs" / name
        if path.is_file() or (path.is_dir() and any(path.iterdir())):
            stored = trees.store_path(path, "outputs" if path.is_file() else f"outputs/{name}")
            entries.extend(stored)
            written[name] = path
    entries.extend(trees.store_path(folder / "std_log.txt", "logs"))
    extra[:] = entries
    _upload(ctx, entries)
    if not register:
        return None
    problems = []
    for name, entry in outputs.items():
        asset_name = entry.get("name")
        if not asset_name:
            continue
        if name not in written:
            problems.append(f"output {name!r} is empty, so {asset_name!r} was not registered")
            continue
        try:
            ref = _register_output(ctx, name, entry, written[name])
            ctx.ws.runs.set_tag(ctx.run_id, f"mw.job.output.{name}", ref)
        except ModelworksError as e:
            problems.append(f"registering output {name!r} as {asset_name!r} failed: {e.message}")
    if problems:
        return "The command succeeded but " + "; ".join(problems) + "."
    return None


def _register_output(ctx: JobContext, name: str, entry: dict[str, Any], path: Path) -> str:
    ws = ctx.ws
    kind = entry.get("type", "uri_folder")
    version = entry.get("version")
    if kind in ("custom_model", "mlflow_model"):
        source = f"runs:/{ctx.run_id}/outputs/{name}"
        model = ws.models.register(
            source,
            name=entry["name"],
            version=version,
            description=entry.get("description") or "",
            type=kind,
        )
        return f"azureml:{model.name}:{model.version}"
    asset = ws.data.create(
        entry["name"],
        str(path),
        type=kind,
        version=version,
        description=entry.get("description") or f"Output {name} of job {ctx.job.name}.",
        profile=False,
    )
    return f"azureml:{asset.name}:{asset.version}"
