"""The AutoML job driver: what a worker runs for a job of kind ``automl``.

The job's run is the AutoML parent run: the driver reads the data inputs resolved at
submission (a pinned data asset version, or the files uploaded with the job), runs AutoML in
this worker's thread — trials in their own worker processes, each a child run — and writes
the live view to the job's log (``job stream`` / ``job create --stream`` show it: elapsed vs
budget, trials done and running, the best score, the top of the leaderboard). The best model
is logged to the run and registered (``model_name``, by default ``<experiment>-model``).

A cancel request stops the search at once (running trials are killed, finished child runs are
kept) and ends the job Canceled. Bad data (no target column, a single class, ...) ends it
Failed with the message, before any trial runs.
"""

from __future__ import annotations

import logging
import shutil
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from modelworks.entities import RunStatus
from modelworks.errors import ModelworksError
from modelworks.jobs._logs import LogSink

if TYPE_CHECKING:
    from modelworks.jobs.runner import JobContext

__all__ = ["run_automl_driver"]

logger = logging.getLogger("modelworks.automl")


def _read_input(ctx: JobContext, name: str, entry: dict[str, Any], folder: Path) -> Any:
    """The table of one resolved input (recording lineage for a data asset)."""
    from modelworks.data.readers import read_table

    ws = ctx.ws
    kind = entry.get("kind")
    if kind == "data":
        asset = ws.data.get(entry["ref"])
        frame = read_table(str(asset.download()), asset.type)
        ws.data.record_input(ctx.run_id, asset.name, asset.version)
        return frame
    if kind == "upload":
        path = ws.runs.trees.download(f"run/{ctx.run_id}", entry["artifact"], folder / name)
        return read_table(str(path), "auto")
    if kind == "url":
        return read_table(str(entry["uri"]), "auto")
    raise ModelworksError(f"Input {name!r} has an unknown resolved kind {kind!r}.")


def _best_model_output(ctx: JobContext) -> None:
    """``outputs.best_model``: the best model's files (``model/``, an MLflow model folder) as
    the job's named output ``outputs/best_model`` — manifest rows, no bytes copied — so a
    pipeline step downstream (or ``job download --output-name best_model``) reads them."""
    from modelworks.entities import ArtifactEntry

    ctx.ws.runs.flush()
    owner = f"run/{ctx.run_id}"
    found = ctx.ws.meta.list_artifact_entries(owner, "model")
    if not found:
        raise ModelworksError("outputs.best_model: the run logged no best model (model/).")
    moved = [
        ArtifactEntry("outputs/best_model/" + e.path[len("model/") :], e.digest, e.size)
        for e in found
        if e.path.startswith("model/")
    ]
    ctx.ws.meta.put_artifact_entries(owner, moved)


def run_automl_driver(ctx: JobContext, *, ring: Callable[[], None]) -> str:
    """Run the AutoML job ``ctx.job`` to its end; returns the final state (or "lost")."""
    from modelworks.automl.job import run_automl_job, settings_from_spec
    from modelworks.automl.progress import LogView
    from modelworks.automl.search import SearchCanceled
    from modelworks.specs.automl import AutoMLJobSpec

    ws, store = ctx.ws, ctx.store
    folder = Path(ws.cache_dir) / "jobs" / ctx.run_id
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    sink = LogSink(store, ctx.run_id, folder / "std_log.txt", flush_interval_s=0.3)
    if not store.set_state(ctx.run_id, RunStatus.RUNNING.value, worker_id=ctx.worker_id):
        sink.close()
        return "lost"

    def write(text: str) -> None:
        sink.write("stdout", text)
        sink.flush()

    state, error = RunStatus.FAILED.value, None
    try:
        if ctx.job.attempts > 1:
            sink.system(f"attempt {ctx.job.attempts} of {ctx.job.max_attempts}")
        spec = AutoMLJobSpec.model_validate(ctx.job.spec["automl"])
        tables = {}
        for name, entry in (ctx.job.spec.get("inputs") or {}).items():
            ctx.check()
            sink.system(f"reading {name} ({entry.get('ref') or entry.get('artifact', '')})")
            tables[name] = _read_input(ctx, name, entry, folder / "inputs")
        view = LogView(settings_from_spec(spec, workspace=ws), write, stop=ctx.stopped)
        result = run_automl_job(ws, spec, progress=view, parent_id=ctx.run_id, tables=tables)
        outcome = result.outcome
        write(
            "Leaderboard:\n"
            + outcome.leaderboard.head(10).to_string(
                columns=[
                    c
                    for c in ("rank", "model", result.metric, "status", "duration_s")
                    if c in outcome.leaderboard.columns
                ],
                index=False,
            )
            + "\n"
        )
        if result.model is not None:
            write(f"registered model {result.model.name}:{result.model.version}\n")
        for key, value in result.test_metrics.items():
            write(f"test {key}: {value:.6g}\n")
        if "best_model" in (spec.outputs or {}):
            _best_model_output(ctx)
        state = RunStatus.COMPLETED.value
    except SearchCanceled as e:
        state, error = RunStatus.CANCELED.value, f"Canceled by request; {e.message}"
        sink.system(error)
    except ModelworksError as e:
        if ctx.lost.is_set():
            sink.close()
            return "lost"
        if ctx.cancel.is_set():
            state, error = RunStatus.CANCELED.value, "Canceled by request."
        else:
            error = e.message
        sink.system(error)
    except Exception as e:  # a driver reports every failure on its job
        error = f"{type(e).__name__}: {e}"
        sink.write("stderr", traceback.format_exc())
        logger.exception("AutoML job %s failed", ctx.job.name)
    sink.close()
    try:
        entries = ws.runs.trees.store_path(folder / "std_log.txt", "logs")
        ws.meta.put_artifact_entries(f"run/{ctx.run_id}", entries)
    except Exception:  # the log is in the store chunks too
        logger.exception("could not store the log of AutoML job %s", ctx.job.name)
    ws.runs.flush()
    store.set_state(ctx.run_id, state, worker_id=ctx.worker_id, error=error)
    store.delete_log(ctx.run_id)
    ring()
    shutil.rmtree(folder, ignore_errors=True)
    return state
