"""``ws.jobs``: submit, find, follow, cancel and download jobs (``az ml job`` / MLClient.jobs).

A job is a run (``ws.runs``) with a queue row. :meth:`JobOperations.create` validates and
resolves the spec, stores the run as Queued and rings the workers' doorbell; on a local
workspace it also starts a worker process if none is alive (it exits again after a few idle
minutes; ``modelworks up`` keeps workers running beside the server).
"""

from __future__ import annotations

import builtins
import contextlib
import os
import re
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from modelworks.entities import Run, RunStatus
from modelworks.errors import InvalidInputError, NotFoundError
from modelworks.jobs.entities import Job
from modelworks.jobs.kinds import KINDS, get_kind, load_attr
from modelworks.jobs.queue import JobRecord, JobStore, Recovered
from modelworks.jobs.worker import WORKER_ALIVE_MS, Worker, ring_doorbell
from modelworks.specs.jobs import load_job_spec

if TYPE_CHECKING:
    from modelworks.workspace import Workspace

__all__ = ["ENV_IDLE_EXIT", "JobOperations", "open_job_store"]

ENV_IDLE_EXIT = "MODELWORKS_WORKER_IDLE_EXIT"
ENV_MAX_ATTEMPTS = "MODELWORKS_JOB_MAX_ATTEMPTS"
DEFAULT_IDLE_EXIT_S = 300.0
_RUN_ID = re.compile(r"^[0-9a-f]{32}$")


def open_job_store(ws: Workspace) -> JobStore:
    """The job store of a workspace: its SQL database, or the server it points at."""
    from modelworks.store.sql import SqlMetadataStore

    if isinstance(ws.meta, SqlMetadataStore):
        from modelworks.store.sql.jobs import SqlJobStore

        return SqlJobStore(ws.meta)
    from modelworks.store.rest.jobs import RestJobStore

    return RestJobStore(ws.meta)


class JobOperations:
    """Create, get, list, stream, cancel and download jobs of one workspace."""

    def __init__(self, workspace: Workspace) -> None:
        self._ws = workspace
        self.store = open_job_store(workspace)
        self._spawned_at = 0.0
        self._last_recover = 0.0

    # -- submitting -------------------------------------------------------------------------
    def create(
        self,
        job: Any,
        *,
        overrides: Sequence[str] = (),
        max_attempts: int | None = None,
        start_worker: bool = True,
    ) -> Job:
        """Submit a job: a spec object (from :func:`command`, :func:`sweep`, a pipeline, an
        AutoML job) or a YAML path of any type in :data:`modelworks.jobs.kinds.KINDS`.

        ``overrides`` are ``key.path=value`` strings applied to a YAML file (``--set``).
        Returns the Queued job; an object passed in gets its ``name`` set.
        """
        if isinstance(job, str | os.PathLike):
            spec = load_job_spec(job, overrides=overrides)
        elif overrides:
            from modelworks.specs.jobs import apply_overrides, job_spec_from_dict

            data = apply_overrides(job.model_dump(by_alias=True, exclude_none=True), overrides)
            spec = job_spec_from_dict(data, source="job")
        else:
            spec = job
        attempts = max_attempts or int(os.environ.get(ENV_MAX_ATTEMPTS, "2"))
        kind = get_kind(getattr(spec, "type", "command"))
        run, record = load_attr(kind.submit)(self._ws, self.store, spec, max_attempts=attempts)
        if not isinstance(job, str | os.PathLike):
            with contextlib.suppress(Exception):
                job.name = run.name
        ring_doorbell(self._ws)
        if start_worker:
            self.ensure_worker()
        return Job.from_parts(run, record)

    # -- finding ----------------------------------------------------------------------------
    def _record(self, name_or_id: str) -> tuple[Run, JobRecord | None]:
        if _RUN_ID.match(name_or_id):
            try:
                return self._ws.meta.get_run(name_or_id), self._job_row(name_or_id)
            except NotFoundError:
                pass
        try:
            record = self.store.get_job_by_name(name_or_id)
        except NotFoundError:
            found = self._ws.runs.search(
                filter=f"attributes.name = '{name_or_id.replace(chr(39), chr(39) * 2)}'",
                max_results=2,
            )
            if len(found) == 1:
                return found[0], None
            raise
        return self._ws.meta.get_run(record.run_id), record

    def _job_row(self, run_id: str) -> JobRecord | None:
        try:
            return self.store.get_job(run_id)
        except NotFoundError:
            return None

    def get(self, name: str) -> Job:
        """A job by name (or run id); NotFoundError naming similar jobs otherwise."""
        self._maybe_recover()
        run, record = self._record(name)
        return Job.from_parts(run, record)

    def list(
        self,
        *,
        parent_job_name: str | None = None,
        states: Sequence[str] | None = None,
        max_results: int = 100,
    ) -> list[Job]:
        """Jobs newest first (the children of ``parent_job_name`` for a sweep's trials)."""
        self._maybe_recover()
        parent_id = self.get(parent_job_name).id if parent_job_name else None
        records = self.store.list_jobs(states=states, parent_id=parent_id, limit=max_results)
        if parent_id is None:
            records = [r for r in records if r.parent_id is None]
        out = []
        for record in records:
            with contextlib.suppress(NotFoundError):
                out.append(Job.from_parts(self._ws.meta.get_run(record.run_id), record))
        return out

    # -- following --------------------------------------------------------------------------
    def events(
        self, name: str, *, poll_s: float = 0.2, timeout: float | None = None
    ) -> Iterator[tuple[str, Any]]:
        """Follow a job: yields ``("status", Run)`` on each status change, ``("log", text)``
        for new output, and finally ``("end", Job)``. TimeoutError after ``timeout`` s."""
        run, record = self._record(name)
        deadline = time.monotonic() + timeout if timeout else None
        last_status: RunStatus | None = None
        seq, offset, attempts = -1, 0, record.attempts if record else 0
        while True:
            record = self._job_row(run.id)
            run = self._ws.meta.get_run(run.id)
            finished = record.is_terminal if record is not None else run.status.is_terminal
            if run.status != last_status and not finished:
                last_status = run.status
                yield "status", run
            if record is not None and record.attempts != attempts:
                seq, offset, attempts = -1, 0, record.attempts
            for chunk in self.store.read_log(run.id, after_seq=seq):
                seq = chunk.seq
                end = chunk.offset + len(chunk.data)
                if end > offset:
                    yield "log", chunk.data[max(0, offset - chunk.offset) :]
                    offset = end
            if finished:
                rest = self._final_log(run.id)[offset:]
                if rest:
                    yield "log", rest
                run = self._ws.meta.get_run(run.id)
                if run.status != last_status:
                    yield "status", run
                yield "end", Job.from_parts(run, record)
                return
            if deadline is not None and time.monotonic() > deadline:
                raise TimeoutError(f"Job {run.name} is still {run.status.value} after {timeout} s.")
            self._maybe_recover()
            time.sleep(poll_s)

    def _final_log(self, run_id: str) -> str:
        entries = self._ws.meta.list_artifact_entries(f"run/{run_id}", "logs/std_log.txt")
        if not entries:
            return ""
        with self._ws.blobs.open(entries[0].digest) as handle:
            return handle.read().decode("utf-8", errors="replace")

    def stream(
        self,
        name: str,
        *,
        file: TextIO | None = None,
        poll_s: float = 0.2,
        timeout: float | None = None,
    ) -> Job:
        """Print a job's output as it runs (status changes as ``[modelworks]`` lines) and
        return it when it has ended."""
        out = file if file is not None else sys.stdout
        final: Job | None = None
        for kind, value in self.events(name, poll_s=poll_s, timeout=timeout):
            if kind == "log":
                out.write(value)
                out.flush()
            elif kind == "status":
                out.write(f"[modelworks] {value.name}: {value.status.value}\n")
                out.flush()
            elif kind == "end":
                final = value
        assert final is not None
        if final.status == RunStatus.FAILED and final.error:
            out.write(f"[modelworks] error: {final.error}\n")
        return final

    def wait(self, name: str, *, timeout: float | None = None, poll_s: float = 0.02) -> Job:
        """Block until the job has ended; returns it. TimeoutError after ``timeout`` s."""
        run, record = self._record(name)
        deadline = time.monotonic() + timeout if timeout else None
        while True:
            record = self._job_row(run.id)
            done = (
                record.is_terminal
                if record is not None
                else self._ws.meta.get_run(run.id).status.is_terminal
            )
            if done:
                return Job.from_parts(self._ws.meta.get_run(run.id), record)
            if deadline is not None and time.monotonic() > deadline:
                status = self._ws.meta.get_run(run.id).status.value
                raise TimeoutError(f"Job {run.name} is still {status} after {timeout} s.")
            self._maybe_recover()
            time.sleep(poll_s)

    def logs(self, name: str) -> str:
        """The job's output so far (the whole log once it has ended)."""
        run, record = self._record(name)
        if record is None or record.is_terminal:
            return self._final_log(run.id)
        return "".join(c.data for c in self.store.read_log(run.id))

    # -- acting -----------------------------------------------------------------------------
    def cancel(self, name: str) -> Job:
        """Cancel a job: a queued one at once, a running one within a moment (its process tree
        is killed). Canceling a sweep, AutoML or pipeline job cancels its child jobs too. A finished
        job is left as it is."""
        run, record = self._record(name)
        if record is None:
            raise InvalidInputError(f"Run {run.name} is not a job; it cannot be canceled.")
        self.store.request_cancel(run.id)
        if record.kind in KINDS and KINDS[record.kind].cancel_children:
            for child in self.store.list_jobs(parent_id=run.id):
                self.store.request_cancel(
                    child.run_id, reason=f"Canceled with its {record.kind} job {run.name}."
                )
        ring_doorbell(self._ws)
        return self.get(run.id)

    def download(
        self,
        name: str,
        *,
        download_path: str | os.PathLike[str] = ".",
        output_name: str | None = None,
        all: bool = False,
    ) -> Path:
        """Download a named output (``outputs/<output_name>``), or the logs and outputs (or
        every artifact with ``all``) under ``download_path/<job name>``; returns the path."""
        run, _record = self._record(name)
        owner = f"run/{run.id}"
        trees = self._ws.runs.trees
        if output_name is not None:
            if not self._ws.meta.list_artifact_entries(owner, f"outputs/{output_name}"):
                declared = sorted((_record.spec if _record else {}).get("outputs") or {})
                raise NotFoundError(
                    f"Job {run.name} has no output {output_name!r}"
                    + (f"; its outputs: {', '.join(declared)}." if declared else ".")
                )
            return trees.download(owner, f"outputs/{output_name}", Path(download_path))
        target = Path(download_path) / run.name
        if all:
            return trees.download(owner, "", target)
        for prefix in ("outputs", "logs"):
            if self._ws.meta.list_artifact_entries(owner, prefix):
                trees.download(owner, prefix, target)
        return target

    def recover(self) -> builtins.list[Recovered]:
        """Requeue or fail the jobs whose worker died (their lease expired)."""
        from modelworks.jobs.worker import _kill_orphan

        recovered = self.store.recover_expired()
        for item in recovered:
            _kill_orphan(item.job)
        if recovered:
            ring_doorbell(self._ws)
        return recovered

    def _maybe_recover(self) -> None:
        if self._ws.root is None:
            return  # through a server: its workers recover their own jobs
        if time.monotonic() - self._last_recover > 5.0:
            self._last_recover = time.monotonic()
            with contextlib.suppress(Exception):
                self.recover()

    # -- workers ----------------------------------------------------------------------------
    def worker(self, *, tracking: bool = False, **options: Any) -> Worker:
        """A worker for this workspace in this process: ``with ws.jobs.worker(): ...`` runs it
        in a background thread until the block ends (its running jobs are canceled then).

        With ``tracking``, jobs also get MLflow variables pointing at an API server the worker
        serves on loopback (worker processes always do this)."""
        if tracking and "tracking_env" not in options:
            from modelworks.jobs.tracking import tracking_env_factory

            env_for, server = tracking_env_factory(self._ws)
            options["tracking_env"] = env_for
            worker = Worker(self._ws, self.store, **options)
            worker.on_stop = server.stop if server is not None else None
            return worker
        return Worker(self._ws, self.store, **options)

    def live_workers(self) -> builtins.list[Any]:
        return self.store.list_workers(alive_within_ms=WORKER_ALIVE_MS)

    def ensure_worker(self) -> int | None:
        """Start a worker process unless one is alive (or was started moments ago); returns
        the new process id, if one was started."""
        if self._ws.root is None:
            return None
        if time.monotonic() - self._spawned_at < 15.0 or self.live_workers():
            return None
        self._spawned_at = time.monotonic()
        return self.start_worker()

    def start_worker(self, *, idle_exit_s: float | None = None, **args: Any) -> int:
        """Start a detached worker process (``python -m modelworks.jobs.worker``)."""
        if self._ws.root is None:
            raise InvalidInputError("Workers run on a local workspace folder, not a URL.")
        idle = (
            idle_exit_s
            if idle_exit_s is not None
            else float(os.environ.get(ENV_IDLE_EXIT, DEFAULT_IDLE_EXIT_S))
        )
        logs = Path(self._ws.cache_dir) / "jobs"
        logs.mkdir(parents=True, exist_ok=True)
        argv = [sys.executable, "-m", "modelworks.jobs.worker", "--workspace", str(self._ws.root)]
        if idle > 0:
            argv += ["--idle-exit", str(idle)]
        for key, value in args.items():
            argv += [f"--{key.replace('_', '-')}", str(value)]
        log = logs / f"worker-{socket.gethostname()}.log"
        # Started in the background by a shell that exits at once, so the worker is nobody's
        # child here (no zombie, no ResourceWarning) and lives on after this process.
        script = 'exec "$@" >>"$MW_WORKER_LOG" 2>&1 </dev/null & echo $!'
        done = subprocess.run(
            ["/bin/sh", "-c", script, "sh", *argv],
            env={**os.environ, "MW_WORKER_LOG": str(log)},
            capture_output=True,
            text=True,
            start_new_session=True,
            check=True,
        )
        return int(done.stdout.strip())

    def stop_workers(self, *, wait_s: float = 10.0) -> int:
        """Ask every worker of this workspace to stop; waits up to ``wait_s`` for them."""
        asked = self.store.request_worker_stop()
        deadline = time.monotonic() + wait_s
        while time.monotonic() < deadline and self.live_workers():
            time.sleep(0.1)
        return asked
