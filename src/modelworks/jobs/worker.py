"""Workers: processes that claim queued jobs and run them (``python -m modelworks.jobs.worker``).

A worker serves the ``local`` compute and every registered compute of its workspace. Its
loop claims jobs (never more than a compute's concurrency limit across all workers, enforced
by the store), runs each in a thread (a command runner or a sweep driver), renews the
leases of the jobs it holds, relays cancel requests, and recovers jobs whose worker died:
requeued or failed by policy, and their orphaned processes on this host killed.

Submitters ring a *doorbell* (a file in the workspace cache whose modification time changes)
so an idle worker starts a new job within milliseconds; without it (another host), the
worker polls the queue every ``poll_s`` seconds. A worker started on demand exits after
``idle_exit_s`` seconds without work.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import socket
import sys
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from modelworks.compute.base import Execution, Executor, ProcessSpec
from modelworks.entities import now_ms
from modelworks.jobs.kinds import KINDS, driver_kinds, load_attr
from modelworks.jobs.queue import ComputeRecord, JobRecord, JobStore, WorkerRecord

if TYPE_CHECKING:
    from modelworks.jobs.runner import JobContext
    from modelworks.workspace import Workspace

__all__ = [
    "DEFAULT_LEASE_S",
    "ENV_LEASE",
    "Worker",
    "doorbell_path",
    "main",
    "ring_doorbell",
]

logger = logging.getLogger("modelworks.jobs")

ENV_LEASE = "MODELWORKS_JOB_LEASE_SECONDS"
DEFAULT_LEASE_S = 30.0
WORKER_HEARTBEAT_S = 2.0
WORKER_ALIVE_MS = 10_000
LOCAL = "local"


def lease_seconds() -> float:
    raw = os.environ.get(ENV_LEASE)
    return float(raw) if raw else DEFAULT_LEASE_S


def doorbell_path(ws: Workspace) -> Path:
    return Path(ws.cache_dir) / "jobs" / "doorbell"


def ring_doorbell(ws: Workspace) -> None:
    """Tell idle workers on this machine that there is something to do."""
    path = doorbell_path(ws)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "a") as handle:
            handle.write(".")
            if handle.tell() > 4096:
                handle.truncate(0)
    except OSError:
        pass


def _kill_orphan(job: JobRecord) -> bool:
    """Kill the process tree a dead worker left behind on this host (if it is still that one)."""
    if not job.pid or job.host != socket.gethostname():
        return False
    import psutil

    from modelworks.compute.local import kill_process_tree

    try:
        proc = psutil.Process(job.pid)
        started = int(proc.create_time() * 1000)
    except psutil.NoSuchProcess:
        # The group leader is gone; members of its group may remain.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(job.pid, 9)
        return False
    if job.pid_started_at and abs(started - job.pid_started_at) > 2000:
        return False  # the pid was reused by an unrelated process
    kill_process_tree(job.pid, grace_s=1.0)
    return True


class Worker:
    """Claims and runs jobs of one workspace until stopped (or idle for ``idle_exit_s``)."""

    def __init__(
        self,
        ws: Workspace,
        store: JobStore,
        *,
        computes: list[str] | None = None,
        lease_s: float | None = None,
        poll_s: float = 0.5,
        idle_exit_s: float | None = None,
        max_concurrency: int | None = None,
        tracking_env: Callable[[str, str], dict[str, str]] | None = None,
        worker_id: str | None = None,
    ) -> None:
        self.ws = ws
        self.store = store
        self.only_computes = computes
        self.lease_s = lease_s if lease_s is not None else lease_seconds()
        self.poll_s = poll_s
        self.idle_exit_s = idle_exit_s
        self.max_concurrency = max_concurrency
        self.tracking_env = tracking_env
        self.host = socket.gethostname()
        self.id = worker_id or f"{self.host}-{os.getpid()}-{uuid.uuid4().hex[:8]}"
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._active: dict[str, JobContext] = {}
        self._threads: dict[str, threading.Thread] = {}
        self._lock = threading.Lock()
        self._executors: dict[str, Executor] = {}
        self._computes: list[ComputeRecord] = []
        self._computes_at = 0.0
        self._thread: threading.Thread | None = None
        self._released: set[str] = set()
        #: Called once the loop has ended (e.g. to stop a tracking server made for the worker).
        self.on_stop: Callable[[], None] | None = None

    # -- life cycle -------------------------------------------------------------------------
    def start(self) -> Worker:
        """Run the loop in a background thread (for in-process use and tests)."""
        self._thread = threading.Thread(target=self.run, name=f"worker-{self.id}", daemon=True)
        self._thread.start()
        return self

    def stop(self, *, wait: bool = True, cancel_jobs: bool = False, release: bool = False) -> None:
        """Stop claiming; with ``wait``, let running jobs finish. ``cancel_jobs`` cancels them;
        ``release`` stops them and puts them back in the queue (a retry, if attempts remain)."""
        with self._lock:
            for ctx in self._active.values():
                if release:
                    self._released.add(ctx.run_id)
                    ctx.lost.set()
                elif cancel_jobs:
                    ctx.cancel.set()
        self._stop.set()
        self._wake.set()
        if wait and self._thread is not None:
            self._thread.join(timeout=120)

    def __enter__(self) -> Worker:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop(cancel_jobs=True)

    @property
    def active_jobs(self) -> list[str]:
        with self._lock:
            return list(self._active)

    def run(self) -> None:
        """The loop. Returns when stopped, asked to stop, or idle for ``idle_exit_s``."""
        started = now_ms()
        self.store.register_worker(
            WorkerRecord(
                id=self.id,
                host=self.host,
                pid=os.getpid(),
                computes=self.only_computes or ["*"],
                started_at=started,
                heartbeat_at=started,
            )
        )
        bell = doorbell_path(self.ws)
        bell_seen = _mtime(bell)
        next_claim = next_beat = next_renew = next_recover = 0.0
        idle_since = time.monotonic()
        try:
            while not self._stop.is_set():
                now = time.monotonic()
                rang = _mtime(bell)
                if rang != bell_seen:
                    bell_seen = rang
                    next_claim = 0.0
                if now >= next_recover:
                    self._recover()
                    next_recover = now + max(0.5, min(5.0, self.lease_s / 4))
                if now >= next_claim or self._wake.is_set():
                    self._wake.clear()
                    self._claim()
                    self._check_cancels()
                    next_claim = now + self.poll_s
                if now >= next_renew:
                    self._renew()
                    next_renew = now + max(0.2, self.lease_s / 3)
                if now >= next_beat:
                    if self.store.heartbeat_worker(self.id):
                        logger.info("worker %s asked to stop", self.id)
                        break
                    if self.ws.root is not None and not Path(self.ws.root).exists():
                        break  # the workspace folder was deleted
                    next_beat = now + WORKER_HEARTBEAT_S
                if self.active_jobs:
                    idle_since = now
                elif self.idle_exit_s is not None and now - idle_since > self.idle_exit_s:
                    break
                self._wake.wait(0.02)
        finally:
            self._drain()
            if self._released:  # expire their leases now so that recovery requeues them
                with contextlib.suppress(Exception):
                    self.store.renew(self.id, sorted(self._released), -1)
                    self._recover()
            with contextlib.suppress(Exception):
                self.store.unregister_worker(self.id)
            for executor in self._executors.values():
                with contextlib.suppress(Exception):
                    executor.close()
            if self.on_stop is not None:
                with contextlib.suppress(Exception):
                    self.on_stop()

    def _drain(self) -> None:
        with self._lock:
            threads = list(self._threads.values())
        for thread in threads:
            while thread.is_alive():
                thread.join(timeout=self.lease_s / 3)
                if thread.is_alive():
                    self._renew()

    # -- claiming ---------------------------------------------------------------------------
    def _served_computes(self) -> list[ComputeRecord]:
        if time.monotonic() - self._computes_at > 5.0:
            self._computes = self.store.list_computes()
            self._computes_at = time.monotonic()
        found = {c.name: c for c in self._computes}
        if LOCAL not in found:
            found[LOCAL] = ComputeRecord(name=LOCAL, type="local", created_at=0)
        chosen = list(found.values())
        if self.only_computes:
            chosen = [c for c in chosen if c.name in self.only_computes]
        return chosen

    def _limit(self, compute: ComputeRecord) -> int:
        if compute.max_concurrency:
            return compute.max_concurrency
        if compute.type == "local":
            return self.max_concurrency or os.cpu_count() or 1
        return self.max_concurrency or 64

    def _claim(self) -> None:
        for compute in self._served_computes():
            for kinds, limit in ((("command",), self._limit(compute)), (driver_kinds(), None)):
                claimed = self.store.claim(
                    self.id,
                    compute=compute.name,
                    kinds=kinds,
                    limit=limit,
                    max_claims=limit if limit is not None else 16,
                    lease_ms=int(self.lease_s * 1000),
                    host=self.host,
                )
                for job in claimed:
                    self._launch(job, compute)

    def _executor(self, compute: ComputeRecord) -> Executor:
        found = self._executors.get(compute.name)
        if found is None:
            from modelworks.compute import open_executor

            found = self._executors[compute.name] = open_executor(
                None if compute.type == "local" else compute
            )
        return found

    def _launch(self, job: JobRecord, compute: ComputeRecord) -> None:
        from modelworks.jobs.runner import JobContext

        ctx = JobContext(
            ws=self.ws,
            store=self.store,
            worker_id=self.id,
            job=job,
            executor=self._executor(compute) if job.kind == "command" else _NoExecutor(),
            tracking_env=self.tracking_env,
        )
        thread = threading.Thread(
            target=self._run_job, args=(ctx,), name=f"job-{job.name}", daemon=True
        )
        with self._lock:
            self._active[job.run_id] = ctx
            self._threads[job.run_id] = thread
        thread.start()

    def _run_job(self, ctx: JobContext) -> None:
        try:
            driver = KINDS[ctx.job.kind].driver if ctx.job.kind in KINDS else None
            if driver is not None:
                load_attr(driver)(ctx, ring=lambda: ring_doorbell(self.ws))
            else:
                from modelworks.jobs.runner import run_command_job

                run_command_job(ctx)
        except Exception:
            logger.exception("job %s crashed its runner", ctx.job.name)
            with contextlib.suppress(Exception):
                self.store.set_state(
                    ctx.run_id, "Failed", worker_id=self.id, error="The job's runner crashed."
                )
        finally:
            with self._lock:
                self._active.pop(ctx.run_id, None)
                self._threads.pop(ctx.run_id, None)
            ring_doorbell(self.ws)
            self._wake.set()

    # -- leases, cancels, recovery ----------------------------------------------------------
    def _renew(self) -> None:
        with self._lock:
            held = dict(self._active)
        if not held:
            return
        try:
            lost = self.store.renew(self.id, list(held), int(self.lease_s * 1000))
        except Exception:
            logger.exception("renewing leases failed")
            return
        for run_id in lost:
            held[run_id].lost.set()

    def _check_cancels(self) -> None:
        with self._lock:
            held = dict(self._active)
        if not held:
            return
        for run_id in self.store.cancel_requested(list(held)):
            held[run_id].cancel.set()

    def _recover(self) -> None:
        try:
            recovered = self.store.recover_expired()
        except Exception:
            logger.exception("recovering expired jobs failed")
            return
        for item in recovered:
            killed = _kill_orphan(item.job)
            logger.warning(
                "job %s %s after its worker %s stopped%s",
                item.job.name,
                item.action,
                item.job.worker_id,
                " (its orphaned process was killed)" if killed else "",
            )


class _NoExecutor(Executor):
    """Placeholder executor for driver jobs (a sweep's driver submits trials, it runs nothing)."""

    kind = "none"

    def start(self, spec: ProcessSpec) -> Execution:  # pragma: no cover - never called
        raise RuntimeError("driver jobs do not start processes")


def _mtime(path: Path) -> int:
    try:
        return path.stat().st_mtime_ns
    except OSError:
        return 0


def main(argv: list[str] | None = None) -> int:
    """``python -m modelworks.jobs.worker --workspace W``: run a worker until stopped."""
    parser = argparse.ArgumentParser(prog="python -m modelworks.jobs.worker")
    parser.add_argument("--workspace", required=True)
    parser.add_argument("--compute", action="append", help="serve only these computes")
    parser.add_argument("--lease-seconds", type=float, default=None)
    parser.add_argument("--poll-seconds", type=float, default=0.5)
    parser.add_argument("--idle-exit", type=float, default=None, help="exit after idle seconds")
    parser.add_argument("--max-concurrency", type=int, default=None)
    parser.add_argument("--tracking-uri", default=None, help="a modelworks server for MLflow")
    parser.add_argument("--tracking-token", default=None)
    args = parser.parse_args(argv)
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(asctime)s %(name)s: %(message)s"))
    logging.getLogger("modelworks").addHandler(handler)
    logging.getLogger("modelworks").setLevel(logging.INFO)
    from modelworks.jobs.tracking import tracking_env_factory
    from modelworks.workspace import Workspace

    ws = Workspace(args.workspace)
    from modelworks.jobs.operations import open_job_store

    tracking_env, server = tracking_env_factory(ws, args.tracking_uri, args.tracking_token)
    worker = Worker(
        ws,
        open_job_store(ws),
        computes=args.compute,
        lease_s=args.lease_seconds,
        poll_s=args.poll_seconds,
        idle_exit_s=args.idle_exit,
        max_concurrency=args.max_concurrency,
        tracking_env=tracking_env,
    )
    import signal

    def _term(_sig: int, _frame: Any) -> None:
        worker.stop(wait=False, release=True)

    signal.signal(signal.SIGTERM, _term)
    signal.signal(signal.SIGINT, _term)
    try:
        worker.run()
    finally:
        if server is not None:
            server.stop()
        ws.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
