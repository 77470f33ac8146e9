"""The job store port: the queue with leases, live logs, workers, environments and computes.

A job is a run (``MetadataStore``) plus one queue row here. Workers claim queued rows with a
lease that they renew while the job runs; a row whose lease expired belongs to a dead worker
and is retried or failed by :meth:`JobStore.recover_expired`, so no job stays Running forever.

Contract of every implementation (``store.sql.jobs.SqlJobStore``, checked by tests/jobs):

- Thread- and process-safe: each method is one transaction. :meth:`claim` is atomic with
  respect to other claimers on the same database: two workers never claim the same row, and
  the number of claimed command jobs of one compute never exceeds the ``limit`` passed.
- Job state transitions write the queue row and the run's status in the same transaction.
  A worker's write (``set_state`` with ``worker_id``) only applies while that worker still
  holds the job; otherwise it returns False and the worker must stop working on it.
- ``get_*`` raise :class:`~modelworks.errors.NotFoundError`; ``enqueue`` raises
  :class:`~modelworks.errors.AlreadyExistsError` for a job name in use.
- Returned records are snapshots (frozen dataclasses).
"""

from __future__ import annotations

import abc
import dataclasses
from collections.abc import Sequence
from typing import Any

from modelworks.entities import Record

__all__ = [
    "ACTIVE_STATES",
    "JOB_READ_METHODS",
    "JOB_WORKER_METHODS",
    "JOB_WRITE_METHODS",
    "TERMINAL_STATES",
    "ComputeRecord",
    "EnvironmentRecord",
    "JobRecord",
    "JobStore",
    "LogChunk",
    "Recovered",
    "WorkerRecord",
]

#: States in which a job holds a slot of its compute (its process exists or is being set up).
ACTIVE_STATES = ("Preparing", "Running")
#: States a worker holds a lease in.
LEASED_STATES = ("Preparing", "Running", "Finalizing", "CancelRequested")
TERMINAL_STATES = ("Completed", "Failed", "Canceled")

#: The port's methods by who may call them over HTTP (``server/routes_jobs.py``): readers,
#: writers (submit, cancel, register environments and computes), and workers (admin tokens).
JOB_READ_METHODS = frozenset(
    {
        "get_job",
        "get_job_by_name",
        "list_jobs",
        "cancel_requested",
        "read_log",
        "list_workers",
        "get_environment",
        "list_environments",
        "get_compute",
        "list_computes",
    }
)
JOB_WRITE_METHODS = frozenset(
    {"enqueue", "request_cancel", "delete_log", "create_environment", "create_compute"}
)
JOB_WORKER_METHODS = frozenset(
    {
        "claim",
        "set_state",
        "renew",
        "recover_expired",
        "append_log",
        "register_worker",
        "heartbeat_worker",
        "unregister_worker",
        "request_worker_stop",
        "delete_compute",
    }
)


@dataclasses.dataclass(frozen=True)
class JobRecord(Record):
    """One row of the queue."""

    run_id: str
    name: str
    kind: str
    compute: str
    state: str
    spec: dict[str, Any]
    created_at: int
    parent_id: str | None = None
    priority: int = 0
    attempts: int = 0
    max_attempts: int = 1
    worker_id: str | None = None
    lease_expires_at: int | None = None
    cancel_requested: bool = False
    host: str | None = None
    pid: int | None = None
    pid_started_at: int | None = None
    exit_code: int | None = None
    claimed_at: int | None = None
    finished_at: int | None = None

    @property
    def is_terminal(self) -> bool:
        return self.state in TERMINAL_STATES


@dataclasses.dataclass(frozen=True)
class Recovered(Record):
    """A job whose worker's lease expired, and what recovery did with it."""

    job: JobRecord
    action: str  # "retried" | "failed" | "canceled"


@dataclasses.dataclass(frozen=True)
class LogChunk(Record):
    """A piece of a job's combined stdout/stderr; ``offset`` counts characters before it."""

    seq: int
    offset: int
    data: str


@dataclasses.dataclass(frozen=True)
class WorkerRecord(Record):
    id: str
    host: str
    pid: int
    computes: list[str]
    started_at: int
    heartbeat_at: int
    stopping: bool = False


@dataclasses.dataclass(frozen=True)
class EnvironmentRecord(Record):
    """One version of a registered environment (the spec as a JSON-safe mapping)."""

    name: str
    version: str
    spec: dict[str, Any]
    spec_hash: str
    created_at: int
    description: str = ""
    tags: dict[str, str] = dataclasses.field(default_factory=dict)
    archived: bool = False


@dataclasses.dataclass(frozen=True)
class ComputeRecord(Record):
    """A named compute target: ``local`` (worker processes here) or ``ray`` (a cluster)."""

    name: str
    type: str
    created_at: int
    address: str | None = None
    max_concurrency: int | None = None
    description: str = ""
    config: dict[str, Any] = dataclasses.field(default_factory=dict)


class JobStore(abc.ABC):
    """Queue rows, leases, live log chunks, workers, environments and computes."""

    # -- queue ------------------------------------------------------------------------------
    @abc.abstractmethod
    def enqueue(
        self,
        run_id: str,
        *,
        name: str,
        kind: str,
        compute: str,
        spec: dict[str, Any],
        parent_id: str | None = None,
        priority: int = 0,
        max_attempts: int = 1,
    ) -> JobRecord:
        """Add a Queued row for an existing run (whose status must already be Queued)."""

    @abc.abstractmethod
    def get_job(self, run_id: str) -> JobRecord: ...

    @abc.abstractmethod
    def get_job_by_name(self, name: str) -> JobRecord: ...

    @abc.abstractmethod
    def list_jobs(
        self,
        *,
        states: Sequence[str] | None = None,
        parent_id: str | None = None,
        compute: str | None = None,
        limit: int = 1000,
    ) -> list[JobRecord]:
        """Rows newest first."""

    @abc.abstractmethod
    def claim(
        self,
        worker_id: str,
        *,
        compute: str,
        kinds: Sequence[str],
        limit: int | None,
        max_claims: int,
        lease_ms: int,
        host: str = "",
    ) -> list[JobRecord]:
        """Move up to ``max_claims`` Queued jobs to Preparing under a lease for ``worker_id``.

        With ``limit``, claims only while fewer than ``limit`` jobs of ``compute`` (of the
        given kinds) are in :data:`ACTIVE_STATES`. Oldest first within a priority.
        """

    @abc.abstractmethod
    def set_state(
        self,
        run_id: str,
        state: str,
        *,
        worker_id: str | None = None,
        error: str | None = None,
        exit_code: int | None = None,
        pid: int | None = None,
        pid_started_at: int | None = None,
    ) -> bool:
        """Move a job (and its run) to ``state``. With ``worker_id`` the write applies only
        while that worker holds the job; returns whether it applied. Terminal states release
        the lease."""

    @abc.abstractmethod
    def renew(self, worker_id: str, run_ids: Sequence[str], lease_ms: int) -> set[str]:
        """Extend the leases (and run heartbeats) of jobs ``worker_id`` still holds; returns
        the ids it no longer holds. ``lease_ms`` < 0 expires them now (a release)."""

    @abc.abstractmethod
    def request_cancel(self, run_id: str, *, reason: str = "") -> JobRecord:
        """Cancel a job: a Queued one ends Canceled at once; a claimed one gets its cancel
        flag set (run status CancelRequested) for its worker to act on. A finished job is
        returned unchanged."""

    @abc.abstractmethod
    def cancel_requested(self, run_ids: Sequence[str]) -> set[str]:
        """Which of ``run_ids`` have their cancel flag set."""

    @abc.abstractmethod
    def recover_expired(self, *, at_ms: int | None = None) -> list[Recovered]:
        """Requeue (attempts left) or fail (none left) the jobs whose lease expired; jobs
        whose cancel was requested end Canceled."""

    # -- live logs --------------------------------------------------------------------------
    @abc.abstractmethod
    def append_log(self, run_id: str, seq: int, offset: int, data: str) -> None: ...

    @abc.abstractmethod
    def read_log(self, run_id: str, *, after_seq: int = -1) -> list[LogChunk]: ...

    @abc.abstractmethod
    def delete_log(self, run_id: str) -> None: ...

    # -- workers ----------------------------------------------------------------------------
    @abc.abstractmethod
    def register_worker(self, worker: WorkerRecord) -> None: ...

    @abc.abstractmethod
    def heartbeat_worker(self, worker_id: str) -> bool:
        """Record the worker is alive; returns True when it has been asked to stop."""

    @abc.abstractmethod
    def unregister_worker(self, worker_id: str) -> None: ...

    @abc.abstractmethod
    def list_workers(self, *, alive_within_ms: int | None = None) -> list[WorkerRecord]: ...

    @abc.abstractmethod
    def request_worker_stop(self, worker_id: str | None = None) -> int:
        """Ask one worker (or all) to stop after their current jobs; returns how many."""

    # -- environments -----------------------------------------------------------------------
    @abc.abstractmethod
    def create_environment(
        self,
        name: str,
        *,
        spec: dict[str, Any],
        spec_hash: str,
        version: str | None = None,
        description: str = "",
        tags: dict[str, str] | None = None,
    ) -> tuple[EnvironmentRecord, bool]:
        """Register a version; identical spec (same hash) returns the existing one and False."""

    @abc.abstractmethod
    def get_environment(self, name: str, version: str = "latest") -> EnvironmentRecord: ...

    @abc.abstractmethod
    def list_environments(self, name: str | None = None) -> list[EnvironmentRecord]:
        """Versions of one environment newest first, or the latest of each."""

    # -- computes ---------------------------------------------------------------------------
    @abc.abstractmethod
    def create_compute(self, compute: ComputeRecord, *, replace: bool = False) -> ComputeRecord: ...

    @abc.abstractmethod
    def get_compute(self, name: str) -> ComputeRecord: ...

    @abc.abstractmethod
    def list_computes(self) -> list[ComputeRecord]: ...

    @abc.abstractmethod
    def delete_compute(self, name: str) -> None: ...
