"""The sweep driver: Optuna's ask → run a trial job → tell loop, run by a worker for a sweep's
parent job.

Trials are ordinary command jobs (children of the sweep's run) on the sweep's compute, so the
compute's concurrency limit, leases, cancellation and logs apply to them as to any job. The
driver keeps at most ``max_concurrent_trials`` trials unfinished, reports each running trial's
primary-metric history to Optuna (``trial.report``) and cancels the trials its pruner (the
early-termination policy) stops. When the sweep ends the parent run records the best trial
(``best_child_run_id``, its params and value), a copy of its outputs, and a summary table of
every trial (``sweep/trials.json`` and ``sweep/trials.csv``).

A driver whose worker died is resumed by the next worker: finished trials are told to a new
study from their runs, unfinished ones are waited for, and the sweep goes on.
"""

from __future__ import annotations

import csv
import io
import itertools
import json
import logging
import math
import shutil
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from modelworks.entities import ArtifactEntry, Metric, RunStatus, now_ms
from modelworks.errors import ModelworksError
from modelworks.jobs._logs import LogSink
from modelworks.jobs._submit import create_job
from modelworks.specs.jobs import (
    EarlyTerminationSpec,
    ObjectiveSpec,
    SamplingAlgorithmSpec,
    SearchSpaceSpec,
    SweepLimitsSpec,
)
from modelworks.sweep.policies import make_pruner, make_sampler
from modelworks.sweep.space import SearchSpace

if TYPE_CHECKING:
    import optuna

    from modelworks.jobs.queue import JobRecord
    from modelworks.jobs.runner import JobContext

__all__ = ["run_sweep"]

logger = logging.getLogger("modelworks.sweep")
POLL_S = 0.02


@dataclass
class _Trial:
    index: int
    run_id: str
    name: str
    values: dict[str, Any]
    raw: dict[str, Any]
    optuna_trial: optuna.trial.Trial | None
    reported: dict[int, float] = field(default_factory=dict)
    pruned_at: int | None = None


@dataclass
class _Done:
    index: int
    run_id: str
    name: str
    status: str
    values: dict[str, Any]
    value: float | None
    early_terminated: bool


def _fmt(values: dict[str, Any]) -> str:
    return ", ".join(f"{k}={v}" for k, v in values.items())


class SweepDriver:
    """One sweep's loop; see the module docstring."""

    def __init__(self, ctx: JobContext, ring: Callable[[], None]) -> None:
        import optuna

        optuna.logging.set_verbosity(optuna.logging.WARNING)
        warnings.filterwarnings("ignore", module="optuna")
        self.ctx = ctx
        self.ring = ring
        self.ws = ctx.ws
        self.store = ctx.store
        spec = ctx.job.spec
        self.spec = spec
        self.space = SearchSpace(
            {k: SearchSpaceSpec.model_validate(v) for k, v in spec["search_space"].items()}
        )
        self.objective = ObjectiveSpec.model_validate(spec["objective"])
        self.limits = SweepLimitsSpec.model_validate(spec.get("limits") or {})
        policy = spec.get("early_termination")
        self.policy = EarlyTerminationSpec.model_validate(policy) if policy else None
        algorithm = SamplingAlgorithmSpec.model_validate(spec.get("sampling_algorithm") or {})
        self.maximize = self.objective.goal == "maximize"
        self.study = optuna.create_study(
            direction="maximize" if self.maximize else "minimize",
            sampler=make_sampler(algorithm, self.space),
            pruner=make_pruner(self.policy),
        )
        total = self.limits.max_total_trials
        self.grid = algorithm.type == "grid"
        if self.grid:
            total = min(total, self.space.grid_size())
        self.max_total = total
        self.max_concurrent = min(self.limits.max_concurrent_trials or total, total)
        self.active: dict[str, _Trial] = {}
        self.finalizing: set[str] = set()
        self.existing_raw: list[dict[str, Any]] = []
        self.done: list[_Done] = []
        self.next_index = 0
        self.folder = Path(self.ws.cache_dir) / "jobs" / ctx.run_id
        self.parent_entries: list[ArtifactEntry] = []

    # -- the loop ---------------------------------------------------------------------------
    def run(self) -> str:
        ctx = self.ctx
        if self.folder.exists():
            shutil.rmtree(self.folder, ignore_errors=True)
        self.folder.mkdir(parents=True)
        self.sink = LogSink(
            self.store, ctx.run_id, self.folder / "std_log.txt", flush_interval_s=0.2
        )
        if not self.store.set_state(ctx.run_id, RunStatus.RUNNING.value, worker_id=ctx.worker_id):
            return "lost"
        owner = f"run/{ctx.run_id}"
        self.parent_entries = [
            *self.ws.meta.list_artifact_entries(owner, "code"),
            *self.ws.meta.list_artifact_entries(owner, "inputs"),
        ]
        self._resume()
        if self.grid:  # every point not tried yet, in order
            grid = self.space.grid()
            seen = {json.dumps(raw, sort_keys=True) for raw in self.existing_raw}
            for point in itertools.product(*grid.values()):
                params = dict(zip(grid, point, strict=True))
                if json.dumps(params, sort_keys=True) not in seen:
                    self.study.enqueue_trial(params)
        deadline = time.monotonic() + self.limits.timeout if self.limits.timeout else None
        self.sink.system(
            f"sweep of up to {self.max_total} trials, {self.max_concurrent} at a time, "
            f"{self.objective.goal} {self.objective.primary_metric}"
        )
        reason = None
        while True:
            if ctx.lost.is_set():
                self.sink.close()
                return "lost"
            if ctx.cancel.is_set():
                reason = "canceled"
                break
            if deadline is not None and time.monotonic() > deadline:
                reason = "timeout"
                break
            self._watch()
            self._fill()
            self.sink.flush()
            if not self.active and self.next_index >= self.max_total:
                break
            if not self.active and self.study_stopped():
                break
            time.sleep(POLL_S)
        if reason is not None:
            for trial in list(self.active.values()):
                why = (
                    "Canceled with its sweep."
                    if reason == "canceled"
                    else (f"The sweep reached limits.timeout ({self.limits.timeout} s).")
                )
                self.store.request_cancel(trial.run_id, reason=why)
            self.ring()
            self.sink.system(f"sweep {reason}; {len(self.active)} unfinished trial(s) canceled")
        return self._finish(reason)

    def study_stopped(self) -> bool:
        return bool(getattr(self.study, "_stop_flag", False))

    # -- trials -----------------------------------------------------------------------------
    def _fill(self) -> None:
        submitted = False
        # A trial that is Finalizing (its process has ended; its outputs are being stored)
        # no longer counts against max_concurrent_trials, as it holds no compute slot either.
        while (
            len(self.active) - len(self.finalizing & set(self.active)) < self.max_concurrent
            and self.next_index < self.max_total
        ):
            if self.study_stopped():
                break
            trial = self.study.ask(self.space.distributions)
            values = self.space.values(trial.params)
            index = self.next_index
            self.next_index += 1
            run_id, name = self._submit(index, values, trial.params)
            self.active[run_id] = _Trial(index, run_id, name, values, dict(trial.params), trial)
            submitted = True
        if submitted:
            self.ring()

    def _submit(self, index: int, values: dict[str, Any], raw: dict[str, Any]) -> tuple[str, str]:
        spec = self.spec
        trial = spec["trial"]
        inputs = dict(spec.get("inputs") or {})
        for key, value in values.items():
            inputs[key] = {"kind": "literal", "type": "search_space", "value": value}
        outputs = {
            k: {**v, "name": None, "version": None} for k, v in (spec.get("outputs") or {}).items()
        }
        resolved = {
            "type": "command",
            "command": trial["command"],
            "inputs": inputs,
            "outputs": outputs,
            "environment": trial["environment"],
            "environment_variables": trial.get("environment_variables") or {},
            "timeout": self.limits.trial_timeout,
            "code": trial.get("code", False),
            "experiment_name": spec["experiment_name"],
        }
        parent = self.ctx.job
        tags = {
            "mw.job.type": "command",
            "mw.job.compute": spec["compute"],
            "mw.job.environment": str(trial["environment"].get("label", "inherit")),
            "mw.sweep.trial": str(index),
            "mw.sweep.raw_params": json.dumps(raw),
        }
        params = {k: str(v.get("ref") or v.get("value") or "") for k, v in inputs.items()}
        params = {k: v for k, v in params.items() if v}
        run, _record = create_job(
            self.ws,
            self.store,
            resolved=resolved,
            kind="command",
            compute=spec["compute"],
            experiment=spec["experiment_name"],
            name=f"{parent.name}_{index}",
            parent_id=parent.run_id,
            tags=tags,
            params=params,
            entries=self.parent_entries,
        )
        return run.id, run.name

    def _watch(self) -> None:
        if not self.active:
            return
        records = {
            r.run_id: r for r in self.store.list_jobs(parent_id=self.ctx.run_id, limit=100_000)
        }
        self.finalizing = {i for i, r in records.items() if r.state == "Finalizing"}
        if self.policy is not None:
            running = [
                t
                for run_id, t in self.active.items()
                if t.optuna_trial is not None
                and t.pruned_at is None
                and run_id in records
                and records[run_id].state == "Running"
            ]
            for trial in running:  # every trial's new values first, so they compare step by step
                self._report(trial)
            for trial in running:  # then ask the pruner (again each poll: others may catch up)
                self._maybe_prune(trial)
        for run_id, trial in list(self.active.items()):
            record = records.get(run_id)
            if record is not None and record.is_terminal:
                self._told(trial, record)
                del self.active[run_id]

    def _report(self, trial: _Trial) -> None:
        assert trial.optuna_trial is not None
        history = self.ws.meta.get_metric_history(trial.run_id, self.objective.primary_metric)
        for metric in history:
            if metric.step in trial.reported or math.isnan(metric.value):
                continue
            trial.reported[metric.step] = metric.value
            trial.optuna_trial.report(metric.value, metric.step)

    def _maybe_prune(self, trial: _Trial) -> None:
        assert trial.optuna_trial is not None
        if not trial.reported or not trial.optuna_trial.should_prune():
            return
        step = max(trial.reported)
        trial.pruned_at = step
        policy = self.policy.type if self.policy else "early termination"
        message = (
            f"Early-terminated by the {policy} policy at step {step} "
            f"({self.objective.primary_metric}={trial.reported[step]:g})."
        )
        self.store.request_cancel(trial.run_id, reason=message)
        self.ws.runs.set_tag(trial.run_id, "mw.sweep.early_terminated", "true")
        self.ring()
        self.sink.system(f"trial {trial.index} ({_fmt(trial.values)}): {message}")

    def _told(self, trial: _Trial, record: JobRecord) -> None:
        import optuna
        from optuna.trial import TrialState

        run = self.ws.meta.get_run(trial.run_id)
        value = run.metrics.get(self.objective.primary_metric)
        usable = value is not None and not math.isnan(value)
        pruned = trial.pruned_at is not None
        if trial.optuna_trial is not None:
            if pruned:
                self.study.tell(trial.optuna_trial, state=TrialState.PRUNED)
            elif record.state == "Completed" and usable:
                self.study.tell(trial.optuna_trial, value)
            else:
                self.study.tell(trial.optuna_trial, state=TrialState.FAIL)
        else:  # resumed after a restart: told from its run
            state = (
                TrialState.PRUNED
                if run.tags.get("mw.sweep.early_terminated")
                else TrialState.COMPLETE
                if record.state == "Completed" and usable
                else TrialState.FAIL
            )
            self.study.add_trial(
                optuna.trial.create_trial(
                    params=trial.raw,
                    distributions=self.space.distributions,
                    value=value if state == TrialState.COMPLETE else None,
                    state=state,
                )
            )
        status = "EarlyTerminated" if pruned else record.state
        self.done.append(
            _Done(trial.index, trial.run_id, trial.name, status, trial.values, value, pruned)
        )
        best = self._best()
        note = ""
        if record.state == "Completed" and not usable:
            note = f" but logged no {self.objective.primary_metric}"
        elif record.state == "Failed":
            note = f": {(run.error or '').splitlines()[0] if run.error else 'failed'}"
        shown = (
            f" {self.objective.primary_metric}={value:g}" if usable and value is not None else ""
        )
        star = " (best so far)" if best is not None and best.run_id == trial.run_id else ""
        self.sink.system(
            f"trial {trial.index} ({_fmt(trial.values)}) {status}{shown}{note}{star} "
            f"[{len(self.done)}/{self.max_total}]"
        )

    def _best(self) -> _Done | None:
        scored = [d for d in self.done if d.status == "Completed" and d.value is not None]
        if not scored:
            return None
        sign = 1.0 if self.maximize else -1.0
        return max(scored, key=lambda d: sign * float(d.value or 0.0))

    def _resume(self) -> None:
        """Pick up trials made before a restart of this sweep."""
        import optuna
        from optuna.trial import TrialState

        children = self.store.list_jobs(parent_id=self.ctx.run_id, limit=100_000)
        if not children:
            return
        for record in sorted(children, key=lambda r: r.created_at):
            run = self.ws.meta.get_run(record.run_id)
            index = int(run.tags.get("mw.sweep.trial", "-1"))
            self.next_index = max(self.next_index, index + 1)
            raw = json.loads(run.tags.get("mw.sweep.raw_params", "{}"))
            self.existing_raw.append(raw)
            values = self.space.values(raw) if raw else {}
            trial = _Trial(index, record.run_id, record.name, values, raw, None)
            if not record.is_terminal:
                self.active[record.run_id] = trial
                continue
            value = run.metrics.get(self.objective.primary_metric)
            usable = value is not None and not math.isnan(value)
            pruned = bool(run.tags.get("mw.sweep.early_terminated"))
            state = (
                TrialState.PRUNED
                if pruned
                else TrialState.COMPLETE
                if record.state == "Completed" and usable
                else TrialState.FAIL
            )
            if raw:
                self.study.add_trial(
                    optuna.trial.create_trial(
                        params=raw,
                        distributions=self.space.distributions,
                        value=value if state == TrialState.COMPLETE else None,
                        state=state,
                    )
                )
            status = "EarlyTerminated" if pruned else record.state
            self.done.append(
                _Done(index, record.run_id, record.name, status, values, value, pruned)
            )
        self.sink.system(
            f"resumed: {len(self.done)} trial(s) finished, {len(self.active)} still running"
        )

    # -- the end ----------------------------------------------------------------------------
    def _finish(self, reason: str | None) -> str:
        ctx = self.ctx
        owner = f"run/{ctx.run_id}"
        best = self._best()
        entries = self._summary()
        error = None
        if best is not None:
            metric = self.objective.primary_metric
            self.ws.meta.log_batch(
                ctx.run_id,
                metrics=[Metric(metric, float(best.value or 0.0), 0, now_ms())],
                tags={
                    "best_child_run_id": best.run_id,
                    "mw.sweep.best_trial": best.name,
                    "mw.sweep.best_params": json.dumps(best.values, default=str),
                    **{f"mw.sweep.best.{k}": str(v) for k, v in best.values.items()},
                },
            )
            entries.extend(
                ArtifactEntry(e.path, e.digest, e.size)
                for e in self.ws.meta.list_artifact_entries(f"run/{best.run_id}", "outputs")
            )
            self.sink.system(
                f"best trial: {best.name} ({_fmt(best.values)}) {metric}={best.value:g}"
            )
        self.sink.close()
        entries.extend(self.ws.runs.trees.store_path(self.folder / "std_log.txt", "logs"))
        self.ws.meta.put_artifact_entries(owner, entries)
        if reason == "canceled":
            state, error = (
                RunStatus.CANCELED.value,
                "Canceled by request; finished trials are kept.",
            )
        elif best is None:
            state = RunStatus.FAILED.value
            failures = [d for d in self.done if d.status == "Failed"]
            first = ""
            if failures:
                run = self.ws.meta.get_run(failures[0].run_id)
                first = f" First failure ({failures[0].name}): {(run.error or '').strip()[:1500]}"
            error = (
                f"None of the {len(self.done)} trial(s) completed with a value of "
                f"{self.objective.primary_metric}.{first}"
            )
        else:
            state = RunStatus.COMPLETED.value
            error = self._register_outputs(best)
            if error:
                state = RunStatus.FAILED.value
        self.ws.runs.flush()
        self.store.set_state(ctx.run_id, state, worker_id=ctx.worker_id, error=error)
        self.store.delete_log(ctx.run_id)
        shutil.rmtree(self.folder, ignore_errors=True)
        return state

    def _summary(self) -> list[ArtifactEntry]:
        rows = []
        for d in sorted(self.done, key=lambda d: d.index):
            rows.append(
                {
                    "trial": d.index,
                    "job": d.name,
                    "run_id": d.run_id,
                    "status": d.status,
                    self.objective.primary_metric: d.value,
                    **{f"param.{k}": v for k, v in d.values.items()},
                }
            )
        (self.folder / "trials.json").write_text(json.dumps(rows, indent=2, default=str))
        buffer = io.StringIO()
        columns: list[str] = []
        for row in rows:
            columns.extend(k for k in row if k not in columns)
        writer = csv.DictWriter(buffer, fieldnames=columns)
        writer.writeheader()
        writer.writerows(rows)
        (self.folder / "trials.csv").write_text(buffer.getvalue())
        trees = self.ws.runs.trees
        return [
            *trees.store_path(self.folder / "trials.json", "sweep"),
            *trees.store_path(self.folder / "trials.csv", "sweep"),
        ]

    def _register_outputs(self, best: _Done) -> str | None:
        problems = []
        for name, entry in (self.spec.get("outputs") or {}).items():
            if not entry.get("name"):
                continue
            try:
                if entry["type"] in ("custom_model", "mlflow_model"):
                    model = self.ws.models.register(
                        f"runs:/{best.run_id}/outputs/{name}",
                        name=entry["name"],
                        version=entry.get("version"),
                        type=entry["type"],
                    )
                    ref = f"azureml:{model.name}:{model.version}"
                else:
                    local = self.ws.runs.trees.download(
                        f"run/{best.run_id}", f"outputs/{name}", self.folder / "best"
                    )
                    asset = self.ws.data.create(
                        entry["name"], str(local), type=entry["type"], version=entry.get("version")
                    )
                    ref = f"azureml:{asset.name}:{asset.version}"
                self.ws.runs.set_tag(self.ctx.run_id, f"mw.job.output.{name}", ref)
            except ModelworksError as e:
                problems.append(
                    f"registering output {name!r} of the best trial failed: {e.message}"
                )
        return "; ".join(problems) or None


def run_sweep(ctx: JobContext, *, ring: Callable[[], None]) -> str:
    """Drive the sweep ``ctx.job`` to its end; returns the final state (or "lost")."""
    try:
        return SweepDriver(ctx, ring).run()
    except ModelworksError as e:
        ctx.store.set_state(
            ctx.run_id, RunStatus.FAILED.value, worker_id=ctx.worker_id, error=e.message
        )
        return RunStatus.FAILED.value
