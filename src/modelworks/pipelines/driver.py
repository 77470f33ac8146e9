"""The pipeline driver: runs a pipeline's steps as child jobs, run by a worker for the
pipeline's parent job (like the sweep driver). A command step is a command job; a sweep or
AutoML step is a job of kind ``sweep`` / ``automl`` (whose own driver runs its trials), made
from the job resolved at submission plus the step's inputs. A sweep step's outputs are its
best trial's (the sweep driver copies them to its run); an AutoML step's ``best_model`` is
the best model's folder. Sweep and AutoML steps are never reused.

Each poll it looks at the children's rows, and starts every step whose upstream steps have
completed — independent steps in parallel, as the compute's concurrency limit allows. A step's
inputs are made from the resolved pipeline inputs and its upstream steps' stored outputs
(manifest rows are copied, no bytes). Before starting a deterministic step it computes the
step's fingerprint (:mod:`modelworks.pipelines.reuse`); a match with an earlier successful step
makes a *reused* child at once (Completed, the earlier outputs, no process). ``if_else`` nodes
skip the block their condition did not choose. A failed step stops the pipeline (running
steps are canceled) unless ``continue_on_step_failure``; its dependants never run.

A driver whose worker died is resumed by the next worker: steps are matched to the existing
children by their ``mw.pipeline.step`` tag, so finished steps are not run again and running
ones are waited for.
"""

from __future__ import annotations

import json
import logging
import operator
import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from modelworks.entities import ArtifactEntry, RunStatus
from modelworks.errors import ModelworksError
from modelworks.jobs._logs import LogSink
from modelworks.jobs._submit import create_job
from modelworks.pipelines.reuse import fingerprint, output_entries

if TYPE_CHECKING:
    from modelworks.jobs.queue import JobRecord
    from modelworks.jobs.runner import JobContext
    from modelworks.pipelines.store import PipelineStore

__all__ = ["STEP_TAG", "run_pipeline"]

logger = logging.getLogger("modelworks.pipelines")
POLL_S = 0.02
STEP_TAG = "mw.pipeline.step"
REUSED_TAG = "mw.pipeline.reused_from"
SKIPPED_TAG = "mw.pipeline.skipped."
FINGERPRINT_TAG = "mw.pipeline.fingerprint"
_OPS: dict[str, Callable[[Any, Any], bool]] = {
    "==": operator.eq,
    "!=": operator.ne,
    ">": operator.gt,
    ">=": operator.ge,
    "<": operator.lt,
    "<=": operator.le,
}


class StepFailed(ModelworksError):
    """A step could not be started (e.g. an upstream output it needs is empty)."""


class PipelineDriver:
    """One pipeline's loop; see the module docstring."""

    def __init__(self, ctx: JobContext, ring: Callable[[], None]) -> None:
        from modelworks.pipelines.components import open_pipeline_store

        self.ctx = ctx
        self.ring = ring
        self.ws = ctx.ws
        self.store = ctx.store
        self.pstore: PipelineStore = open_pipeline_store(ctx.ws)
        self.spec = ctx.job.spec
        self.steps: dict[str, dict[str, Any]] = self.spec["steps"]
        self.order: list[str] = self.spec["order"]
        self.settings = self.spec.get("settings") or {}
        self.run_ids: dict[str, str] = {}
        self.states: dict[str, str] = {}
        self.skipped: dict[str, str] = {}
        self.fingerprints: dict[str, str] = {}
        self.failed: list[str] = []
        self.stopping = False
        self.folder = Path(self.ws.cache_dir) / "jobs" / ctx.run_id
        self.gates: dict[str, tuple[str, dict[str, Any], bool]] = {}
        for cond_name, cond in (self.spec.get("conditions") or {}).items():
            for step in cond["true_block"]:
                self.gates[step] = (cond_name, cond, True)
            for step in cond["false_block"]:
                self.gates[step] = (cond_name, cond, False)

    # -- the loop ---------------------------------------------------------------------------
    def run(self) -> str:
        ctx = self.ctx
        shutil.rmtree(self.folder, ignore_errors=True)
        self.folder.mkdir(parents=True)
        self.sink = LogSink(
            self.store, ctx.run_id, self.folder / "std_log.txt", flush_interval_s=0.2
        )
        if not self.store.set_state(ctx.run_id, RunStatus.RUNNING.value, worker_id=ctx.worker_id):
            self.sink.close()
            return "lost"
        self.parent = self.ws.meta.get_run(ctx.run_id)
        self._resume()
        canceled = False
        while True:
            if ctx.lost.is_set():
                self.sink.close()
                return "lost"
            if ctx.cancel.is_set() and not canceled:
                canceled = self.stopping = True
                self._cancel_running("Canceled with its pipeline.")
            self._watch()
            if not self.stopping:
                self._schedule()
            self.sink.flush()
            if all(self._finished(s) for s in self.order):
                break
            if self.stopping and not any(self.states.get(s) == "running" for s in self.order):
                break
            time.sleep(POLL_S)
        return self._finish(canceled)

    def _finished(self, step: str) -> bool:
        return self.states.get(step) in ("completed", "failed", "canceled", "skipped")

    def _resume(self) -> None:
        children = self.store.list_jobs(parent_id=self.ctx.run_id, limit=100_000)
        for tag, reason in self.parent.tags.items():
            if tag.startswith(SKIPPED_TAG):
                step = tag[len(SKIPPED_TAG) :]
                self.states[step] = "skipped"
                self.skipped[step] = reason
        if not children:
            return
        for record in children:
            run = self.ws.meta.get_run(record.run_id)
            found = run.tags.get(STEP_TAG)
            if found is None or found not in self.steps:
                continue
            step = found
            self.run_ids[step] = record.run_id
            self.states[step] = "running"
            if run.tags.get(FINGERPRINT_TAG):
                self.fingerprints[step] = run.tags[FINGERPRINT_TAG]
        self._watch()
        done = sum(1 for s in self.order if self._finished(s))
        self.sink.system(f"resumed: {done} step(s) finished, {len(self.order) - done} to go")

    def _watch(self) -> None:
        running = [s for s in self.order if self.states.get(s) == "running"]
        if not running:
            return
        records = {
            r.run_id: r for r in self.store.list_jobs(parent_id=self.ctx.run_id, limit=100_000)
        }
        for step in running:
            record = records.get(self.run_ids[step])
            if record is None or not record.is_terminal:
                continue
            self._ended(step, record)

    def _ended(self, step: str, record: JobRecord) -> None:
        if record.state == "Completed":
            self.states[step] = "completed"
            fp = self.fingerprints.get(step)
            if fp and record.kind == "command" and self.steps[step].get("is_deterministic", True):
                self.pstore.record_reusable(fp, record.run_id)
            self.sink.system(f"step {step}: Completed ({record.name})")
            return
        run = self.ws.meta.get_run(record.run_id)
        self.states[step] = "failed" if record.state == "Failed" else "canceled"
        first = (run.error or record.state).strip().splitlines()
        why = first[0] if first else record.state
        self.sink.system(f"step {step}: {record.state} ({record.name}): {why}")
        if record.state == "Failed":
            self.failed.append(step)
            if not self.settings.get("continue_on_step_failure"):
                self.stopping = True
                self._cancel_running(f"Canceled: step {step!r} of the pipeline failed.")

    def _cancel_running(self, reason: str) -> None:
        for step in self.order:
            if self.states.get(step) == "running":
                self.store.request_cancel(self.run_ids[step], reason=reason)
        self.ring()

    def _schedule(self) -> None:
        started = False
        for step in self.order:
            if step in self.states:
                continue
            deps = self.steps[step]["after"]
            if any(not self._finished(d) for d in deps):
                continue
            blocked = [d for d in deps if self.states[d] != "completed"]
            if blocked:
                d = blocked[0]
                what = {"failed": "failed", "canceled": "was canceled", "skipped": "was skipped"}
                self._skip(step, f"upstream step {d!r} {what[self.states[d]]}")
                continue
            gate = self.gates.get(step)
            if gate is not None:
                cond_name, cond, branch = gate
                try:
                    value = self._condition(cond)
                except ModelworksError as e:
                    self._fail_step(step, f"condition {cond_name!r} could not be read: {e.message}")
                    continue
                if value != branch:
                    self._skip(
                        step,
                        f"condition {cond_name!r} ({cond['text']}) is {str(value).lower()}",
                    )
                    continue
            try:
                started = self._start(step) or started
            except ModelworksError as e:
                self._fail_step(step, e.message)
        if started:
            self.ring()

    def _skip(self, step: str, reason: str) -> None:
        self.states[step] = "skipped"
        self.skipped[step] = reason
        self.ws.runs.set_tag(self.ctx.run_id, SKIPPED_TAG + step, reason[:4000])
        self.sink.system(f"step {step}: Skipped — {reason}")

    def _fail_step(self, step: str, reason: str) -> None:
        self.states[step] = "failed"
        self.skipped[step] = reason
        self.failed.append(step)
        self.ws.runs.set_tag(
            self.ctx.run_id, SKIPPED_TAG + step, f"failed to start: {reason}"[:4000]
        )
        self.sink.system(f"step {step}: Failed to start — {reason}")
        if not self.settings.get("continue_on_step_failure"):
            self.stopping = True
            self._cancel_running(f"Canceled: step {step!r} of the pipeline failed.")

    # -- conditions -------------------------------------------------------------------------
    def _condition(self, cond: dict[str, Any]) -> bool:
        binding = cond["binding"]
        run_id = self.run_ids[binding["step"]]
        value: Any
        if binding["kind"] == "step_metric":
            metrics = self.ws.meta.get_run(run_id).metrics
            if binding["name"] not in metrics:
                raise ModelworksError(
                    f"step {binding['step']!r} logged no metric {binding['name']!r}"
                )
            value = metrics[binding["name"]]
        else:
            value = self._read_value(run_id, binding["name"])
        op = cond.get("op")
        if op is None:
            return _truthy(value)
        target = cond.get("value")
        if isinstance(target, float):
            try:
                value = float(value)
            except (TypeError, ValueError):
                raise ModelworksError(
                    f"{value!r} is not a number to compare with {target}"
                ) from None
        elif isinstance(target, bool):
            value = _truthy(value)
        return bool(_OPS[op](value, target))

    def _read_value(self, run_id: str, output: str) -> str:
        entries = output_entries(self.ws, run_id, output)
        if len(entries) != 1:
            raise ModelworksError(
                f"output {output!r} holds {len(entries)} files; a value output is one small file"
            )
        with self.ws.blobs.open(entries[0].digest) as handle:
            return handle.read(4096).decode("utf-8", errors="replace").strip()

    # -- starting a step --------------------------------------------------------------------
    def _inputs(self, step: str) -> tuple[dict[str, Any], list[ArtifactEntry], dict[str, str]]:
        """The child's resolved inputs, the manifest rows it needs, and each input's content
        identity (for the fingerprint)."""
        from modelworks.artifacts import tree_hash

        parent_inputs = self.spec.get("inputs") or {}
        resolved: dict[str, Any] = {}
        entries: list[ArtifactEntry] = []
        identity: dict[str, str] = {}
        for key, entry in self.steps[step]["inputs"].items():
            kind = entry["kind"]
            if kind in ("literal", "absent"):
                resolved[key] = {k: v for k, v in entry.items()}
                identity[key] = json.dumps(entry.get("value"), sort_keys=True, default=str)
                continue
            if kind == "parent_input":
                source = dict(parent_inputs[entry["name"]])
                if source["kind"] == "upload":
                    found = self.ws.meta.list_artifact_entries(
                        f"run/{self.ctx.run_id}", f"inputs/{entry['name']}"
                    )
                    moved = _reroot(found, f"inputs/{entry['name']}", f"inputs/{key}")
                    entries.extend(moved)
                    source["artifact"] = source["artifact"].replace(
                        f"inputs/{entry['name']}", f"inputs/{key}", 1
                    )
                    identity[key] = "tree:" + tree_hash(
                        _reroot(found, f"inputs/{entry['name']}", "")
                    )
                elif source["kind"] == "literal":
                    identity[key] = json.dumps(source.get("value"), sort_keys=True, default=str)
                elif source["kind"] == "absent":
                    identity[key] = "absent"
                else:
                    identity[key] = self._asset_identity(source)
                resolved[key] = source
                continue
            upstream = self.run_ids[entry["step"]]
            output = entry["output"]
            out_type = self.steps[entry["step"]]["outputs"][output]["type"]
            found = output_entries(self.ws, upstream, output)
            if out_type in ("boolean", "integer", "number", "string") and entry["type"] in (
                "boolean",
                "integer",
                "number",
                "string",
            ):
                text = self._read_value(upstream, output) if found else ""
                resolved[key] = {"kind": "literal", "type": entry["type"], "value": text}
                identity[key] = json.dumps(text)
                continue
            if not found:
                raise StepFailed(
                    f"input {key!r}: upstream step {entry['step']!r} wrote nothing to its output "
                    f"{output!r}"
                )
            if len(found) == 1 and found[0].path == f"outputs/{output}":
                moved = [ArtifactEntry(f"inputs/{key}/{output}", found[0].digest, found[0].size)]
                artifact = f"inputs/{key}/{output}"
            else:
                moved = _reroot(found, f"outputs/{output}", f"inputs/{key}")
                artifact = f"inputs/{key}"
            entries.extend(moved)
            resolved[key] = {
                "kind": "upload",
                "type": entry["type"],
                "mode": "ro_mount",
                "artifact": artifact,
            }
            identity[key] = "tree:" + tree_hash(_reroot(moved, f"inputs/{key}", ""))
        return resolved, entries, identity

    def _asset_identity(self, source: dict[str, Any]) -> str:
        """A data or model version by the hash of its files (two versions with the same bytes
        are the same input); a URL by itself."""
        from modelworks.artifacts import tree_hash

        kind = source.get("kind")
        if kind in ("data", "model"):
            prefix = "data" if kind == "data" else "model"
            found = self.ws.meta.list_artifact_entries(
                f"{prefix}/{source['name']}/{source['version']}"
            )
            if found:
                return "tree:" + tree_hash(found)
        return str(source.get("ref") or source.get("uri"))

    def _start(self, step: str) -> bool:
        """Start (or reuse) ``step``; returns whether a job was queued."""
        spec = self.steps[step]
        inputs, entries, identity = self._inputs(step)
        fp = fingerprint(spec, identity)
        self.fingerprints[step] = fp
        force = spec.get("force_rerun")
        if force is None:
            force = bool(self.settings.get("force_rerun"))
        kind = spec.get("kind", "command")
        if kind == "command" and spec.get("is_deterministic", True) and not force:
            reused = self._reusable(fp)
            if reused is not None:
                self._reuse(step, spec, fp, reused, inputs)
                return False
        code = self._code(step, spec)
        if kind != "command":
            return self._start_job(step, spec, fp, inputs, [*code, *entries])
        outputs = {
            name: {
                "type": "uri_file"
                if o["type"] in ("boolean", "integer", "number", "string")
                else o["type"],
                "name": o.get("name"),
                "version": o.get("version"),
                "description": "",
            }
            for name, o in spec["outputs"].items()
        }
        resolved = {
            "type": "command",
            "command": spec["command"],
            "inputs": inputs,
            "outputs": outputs,
            "environment": spec["environment"],
            "environment_variables": spec.get("environment_variables") or {},
            "timeout": spec.get("timeout"),
            "code": bool(code),
            "experiment_name": self.spec["experiment_name"],
        }
        run, _record = create_job(
            self.ws,
            self.store,
            resolved=resolved,
            kind="command",
            compute=spec["compute"],
            experiment=self.spec["experiment_name"],
            name=f"{self.ctx.job.name}_{step}",
            parent_id=self.ctx.run_id,
            tags=self._tags(step, spec, fp),
            params=_params(inputs),
            entries=[*code, *entries],
        )
        self.run_ids[step] = run.id
        self.states[step] = "running"
        self.sink.system(f"step {step}: queued as {run.name}")
        return True

    def _code(self, step: str, spec: dict[str, Any]) -> list[ArtifactEntry]:
        """The step's code snapshot (of its component), as the child's ``code/`` files."""
        owner = spec.get("code_owner")
        if owner == "parent":
            return _reroot(
                self.ws.meta.list_artifact_entries(f"run/{self.ctx.run_id}", f"steps/{step}/code"),
                f"steps/{step}/code",
                "code",
            )
        if owner:
            return self.ws.meta.list_artifact_entries(owner, "code")
        return []

    def _start_job(
        self,
        step: str,
        spec: dict[str, Any],
        fp: str,
        inputs: dict[str, Any],
        entries: list[ArtifactEntry],
    ) -> bool:
        """Queue a sweep or AutoML step: the job its kind's submit resolved at submission, with
        the step's inputs bound now (and the files stored with it)."""
        job = spec["job"]
        resolved = json.loads(json.dumps(job["resolved"]))
        if job["kind"] == "automl":
            inputs = {k: v for k, v in inputs.items() if v.get("kind") != "absent"}
        resolved["inputs"] = {**(resolved.get("inputs") or {}), **inputs}
        code = [e for e in entries if e.path.startswith("code/")]
        if job["kind"] == "sweep" and code:
            resolved["trial"]["code"] = True
        stored = _reroot(
            self.ws.meta.list_artifact_entries(f"run/{self.ctx.run_id}", f"steps/{step}/job"),
            f"steps/{step}/job",
            "",
        )
        tags = {**job["tags"], STEP_TAG: step, FINGERPRINT_TAG: fp}
        tags["mw.pipeline.component"] = spec["component_ref"]
        if spec.get("display_name"):
            tags["mw.job.display_name"] = spec["display_name"]
        run, _record = create_job(
            self.ws,
            self.store,
            resolved=resolved,
            kind=job["kind"],
            compute=job["compute"],
            experiment=job["experiment"],
            name=f"{self.ctx.job.name}_{step}",
            parent_id=self.ctx.run_id,
            description=job.get("description") or "",
            tags=tags,
            params={**(job.get("params") or {}), **_params(inputs)},
            entries=[*stored, *entries],
            max_attempts=int(job.get("max_attempts") or 2),
        )
        self.run_ids[step] = run.id
        self.states[step] = "running"
        self.sink.system(f"step {step}: queued as {run.name} ({job['kind']})")
        return True

    def _tags(self, step: str, spec: dict[str, Any], fp: str) -> dict[str, str]:
        tags = {
            "mw.job.type": "command",
            "mw.job.compute": spec["compute"],
            "mw.job.environment": str(spec["environment"].get("label", "inherit")),
            STEP_TAG: step,
            FINGERPRINT_TAG: fp,
            "mw.pipeline.component": spec["component_ref"]
            + (
                f" (v{spec['component_version']})"
                if spec.get("component_version") and spec["component_ref"].startswith("/")
                else ""
            ),
        }
        if spec.get("display_name"):
            tags["mw.job.display_name"] = spec["display_name"]
        return tags

    def _reusable(self, fp: str) -> str | None:
        from modelworks.errors import NotFoundError

        run_id = self.pstore.find_reusable(fp)
        if run_id is None:
            return None
        try:
            record = self.store.get_job(run_id)
        except NotFoundError:
            record = None
        if record is None or record.state != "Completed":
            self.pstore.forget_reusable(fp)
            return None
        return run_id

    def _reuse(
        self, step: str, spec: dict[str, Any], fp: str, source: str, inputs: dict[str, Any]
    ) -> None:
        from modelworks.tracking.sysinfo import current_user

        origin = self.ws.meta.get_run(source)
        original = origin.tags.get(REUSED_TAG, source)
        name = f"{self.ctx.job.name}_{step}"
        run = self.ws.meta.create_run(
            self.parent.experiment_id,
            name=name,
            parent_id=self.ctx.run_id,
            kind="command",
            status=RunStatus.QUEUED,
            user=current_user(),
            tags={**self._tags(step, spec, fp), REUSED_TAG: original},
            params=_params(inputs),
        )
        outputs = self.ws.meta.list_artifact_entries(f"run/{source}", "outputs")
        if outputs:
            self.ws.meta.put_artifact_entries(f"run/{run.id}", outputs)
        metrics = origin.metrics
        if metrics:
            from modelworks.entities import Metric, now_ms

            stamp = now_ms()
            self.ws.meta.log_batch(
                run.id, metrics=[Metric(k, v, 0, stamp) for k, v in metrics.items()]
            )
        self.store.enqueue(
            run.id,
            name=name,
            kind="reused",
            compute=spec["compute"],
            spec={
                "type": "command",
                "command": spec["command"],
                "reused_from": original,
                "inputs": inputs,
                "outputs": spec["outputs"],
            },
            parent_id=self.ctx.run_id,
        )
        self.store.set_state(run.id, RunStatus.COMPLETED.value)
        self.run_ids[step] = run.id
        self.states[step] = "completed"
        self.sink.system(f"step {step}: Reused the outputs of {origin.name}")

    # -- the end ----------------------------------------------------------------------------
    def _finish(self, canceled: bool) -> str:
        ctx = self.ctx
        owner = f"run/{ctx.run_id}"
        entries: list[ArtifactEntry] = []
        problems: list[str] = []
        for step in self.order:
            if self.states.get(step) != "completed":
                continue
            for output, out in self.steps[step]["outputs"].items():
                target = out.get("bind")
                if not target:
                    continue
                found = output_entries(self.ws, self.run_ids[step], output)
                if len(found) == 1 and found[0].path == f"outputs/{output}":
                    entries.append(
                        ArtifactEntry(f"outputs/{target}", found[0].digest, found[0].size)
                    )
                else:
                    entries.extend(_reroot(found, f"outputs/{output}", f"outputs/{target}"))
        if entries:
            self.ws.meta.put_artifact_entries(owner, entries)
        error = None
        if canceled:
            state, error = RunStatus.CANCELED.value, "Canceled by request; finished steps are kept."
        elif self.failed:
            state = RunStatus.FAILED.value
            parts = []
            for step in self.failed:
                if step in self.run_ids:
                    run = self.ws.meta.get_run(self.run_ids[step])
                    why = (run.error or "failed").strip()
                    parts.append(f"step {step!r} ({run.name}) failed: {why[:1500]}")
                else:
                    parts.append(f"step {step!r} failed: {self.skipped.get(step, '')}")
            error = "\n".join(parts)
        else:
            state = RunStatus.COMPLETED.value
            problems = self._register_outputs()
            if problems:
                state, error = RunStatus.FAILED.value, "; ".join(problems)
        summary = ", ".join(f"{s}={self.states.get(s, 'not started')}" for s in self.order)
        self.sink.system(f"pipeline {state}: {summary}")
        self.sink.close()
        self.ws.meta.put_artifact_entries(
            owner, self.ws.runs.trees.store_path(self.folder / "std_log.txt", "logs")
        )
        self.ws.runs.flush()
        self.store.set_state(ctx.run_id, state, worker_id=ctx.worker_id, error=error)
        self.store.delete_log(ctx.run_id)
        shutil.rmtree(self.folder, ignore_errors=True)
        return state

    def _register_outputs(self) -> list[str]:
        problems = []
        for name, entry in (self.spec.get("outputs") or {}).items():
            if not entry.get("name"):
                continue
            try:
                if entry["type"] in ("custom_model", "mlflow_model"):
                    model = self.ws.models.register(
                        f"runs:/{self.ctx.run_id}/outputs/{name}",
                        name=entry["name"],
                        version=entry.get("version"),
                        type=entry["type"],
                    )
                    ref = f"azureml:{model.name}:{model.version}"
                else:
                    local = self.ws.runs.trees.download(
                        f"run/{self.ctx.run_id}", f"outputs/{name}", self.folder / "out"
                    )
                    asset = self.ws.data.create(
                        entry["name"],
                        str(local),
                        type=entry["type"],
                        version=entry.get("version"),
                        profile=False,
                    )
                    ref = f"azureml:{asset.name}:{asset.version}"
                self.ws.runs.set_tag(self.ctx.run_id, f"mw.job.output.{name}", ref)
            except ModelworksError as e:
                problems.append(f"registering pipeline output {name!r} failed: {e.message}")
        return problems


def _truthy(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float):
        return value != 0
    return str(value).strip().lower() in ("true", "1", "yes", "y")


def _reroot(entries: list[ArtifactEntry], old: str, new: str) -> list[ArtifactEntry]:
    out = []
    for e in entries:
        relative = e.path[len(old) :].lstrip("/") if e.path.startswith(old) else e.path
        path = f"{new}/{relative}" if new and relative else new or relative
        out.append(ArtifactEntry(path, e.digest, e.size))
    return out


def _params(inputs: dict[str, Any]) -> dict[str, str]:
    params = {}
    for key, entry in inputs.items():
        value = entry.get("ref") or entry.get("uri") or entry.get("value")
        if value is None and entry.get("kind") == "upload":
            value = entry.get("artifact")
        if value is not None and value != "":
            params[key] = str(value)
    return params


def run_pipeline(ctx: JobContext, *, ring: Callable[[], None]) -> str:
    """Drive the pipeline ``ctx.job`` to its end; returns the final state (or "lost")."""
    try:
        return PipelineDriver(ctx, ring).run()
    except ModelworksError as e:
        ctx.store.set_state(
            ctx.run_id, RunStatus.FAILED.value, worker_id=ctx.worker_id, error=e.message
        )
        return RunStatus.FAILED.value
