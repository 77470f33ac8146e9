"""The job store port (:class:`~modelworks.jobs.queue.JobStore`) over a ``modelworks server``.

With it, ``Workspace("http://host:8080", token=...).jobs`` submits, lists, follows and cancels
jobs (command, sweep, pipeline, AutoML) exactly as a local workspace does: the caller's side
validates the YAML, uploads code and inputs through the blob API and creates the run; the
server queues it and wakes its workers (``modelworks up``, or one it starts on demand).

Each port method is one ``POST /api/v1/job-store/<method>`` with the keyword arguments as a
JSON body; records come back as their ``to_dict`` form. The worker-side methods (claim, leases,
state changes, recovery) need an admin token, so a remote worker is possible but deliberate.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from modelworks.jobs.queue import (
    ComputeRecord,
    EnvironmentRecord,
    JobRecord,
    JobStore,
    LogChunk,
    Recovered,
    WorkerRecord,
)
from modelworks.store.rest._http import Http

__all__ = ["RestJobStore"]


def _recovered(data: dict[str, Any]) -> Recovered:
    return Recovered(job=JobRecord.from_dict(data["job"]), action=str(data["action"]))


class RestJobStore(JobStore):
    """A JobStore served by ``modelworks server`` (see the module docstring)."""

    def __init__(self, meta: Any) -> None:
        http = getattr(meta, "_http", None)
        if not isinstance(http, Http):
            raise TypeError(f"{type(meta).__name__} is not a REST metadata store")
        self._http = http

    def _call(self, method: str, *, idempotent: bool = False, **kwargs: Any) -> Any:
        return self._http.json("POST", f"/job-store/{method}", body=kwargs, idempotent=idempotent)[
            "result"
        ]

    # -- the queue --------------------------------------------------------------------------
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
        found = self._call(
            "enqueue",
            run_id=run_id,
            name=name,
            kind=kind,
            compute=compute,
            spec=spec,
            parent_id=parent_id,
            priority=priority,
            max_attempts=max_attempts,
        )
        return JobRecord.from_dict(found)

    def get_job(self, run_id: str) -> JobRecord:
        return JobRecord.from_dict(self._call("get_job", idempotent=True, run_id=run_id))

    def get_job_by_name(self, name: str) -> JobRecord:
        return JobRecord.from_dict(self._call("get_job_by_name", idempotent=True, name=name))

    def list_jobs(
        self,
        *,
        states: Sequence[str] | None = None,
        parent_id: str | None = None,
        compute: str | None = None,
        limit: int = 1000,
    ) -> list[JobRecord]:
        found = self._call(
            "list_jobs",
            idempotent=True,
            states=list(states) if states is not None else None,
            parent_id=parent_id,
            compute=compute,
            limit=limit,
        )
        return [JobRecord.from_dict(d) for d in found]

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
        found = self._call(
            "claim",
            worker_id=worker_id,
            compute=compute,
            kinds=list(kinds),
            limit=limit,
            max_claims=max_claims,
            lease_ms=lease_ms,
            host=host,
        )
        return [JobRecord.from_dict(d) for d in found]

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
        applied = self._call(
            "set_state",
            run_id=run_id,
            state=state,
            worker_id=worker_id,
            error=error,
            exit_code=exit_code,
            pid=pid,
            pid_started_at=pid_started_at,
        )
        return bool(applied)

    def renew(self, worker_id: str, run_ids: Sequence[str], lease_ms: int) -> set[str]:
        found = self._call("renew", worker_id=worker_id, run_ids=list(run_ids), lease_ms=lease_ms)
        return set(found)

    def request_cancel(self, run_id: str, *, reason: str = "") -> JobRecord:
        return JobRecord.from_dict(self._call("request_cancel", run_id=run_id, reason=reason))

    def cancel_requested(self, run_ids: Sequence[str]) -> set[str]:
        return set(self._call("cancel_requested", idempotent=True, run_ids=list(run_ids)))

    def recover_expired(self, *, at_ms: int | None = None) -> list[Recovered]:
        return [_recovered(d) for d in self._call("recover_expired", at_ms=at_ms)]

    # -- logs -------------------------------------------------------------------------------
    def append_log(self, run_id: str, seq: int, offset: int, data: str) -> None:
        self._call("append_log", run_id=run_id, seq=seq, offset=offset, data=data)

    def read_log(self, run_id: str, *, after_seq: int = -1) -> list[LogChunk]:
        found = self._call("read_log", idempotent=True, run_id=run_id, after_seq=after_seq)
        return [LogChunk.from_dict(d) for d in found]

    def delete_log(self, run_id: str) -> None:
        self._call("delete_log", run_id=run_id)

    # -- workers ----------------------------------------------------------------------------
    def register_worker(self, worker: WorkerRecord) -> None:
        self._call("register_worker", worker=worker.to_dict())

    def heartbeat_worker(self, worker_id: str) -> bool:
        return bool(self._call("heartbeat_worker", worker_id=worker_id))

    def unregister_worker(self, worker_id: str) -> None:
        self._call("unregister_worker", worker_id=worker_id)

    def list_workers(self, *, alive_within_ms: int | None = None) -> list[WorkerRecord]:
        found = self._call("list_workers", idempotent=True, alive_within_ms=alive_within_ms)
        return [WorkerRecord.from_dict(d) for d in found]

    def request_worker_stop(self, worker_id: str | None = None) -> int:
        return int(self._call("request_worker_stop", worker_id=worker_id))

    # -- environments and computes ----------------------------------------------------------
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
        found = self._call(
            "create_environment",
            name=name,
            spec=spec,
            spec_hash=spec_hash,
            version=version,
            description=description,
            tags=tags,
        )
        return EnvironmentRecord.from_dict(found["environment"]), bool(found["created"])

    def get_environment(self, name: str, version: str = "latest") -> EnvironmentRecord:
        found = self._call("get_environment", idempotent=True, name=name, version=version)
        return EnvironmentRecord.from_dict(found)

    def list_environments(self, name: str | None = None) -> list[EnvironmentRecord]:
        found = self._call("list_environments", idempotent=True, name=name)
        return [EnvironmentRecord.from_dict(d) for d in found]

    def create_compute(self, compute: ComputeRecord, *, replace: bool = False) -> ComputeRecord:
        found = self._call("create_compute", compute=compute.to_dict(), replace=replace)
        return ComputeRecord.from_dict(found)

    def get_compute(self, name: str) -> ComputeRecord:
        return ComputeRecord.from_dict(self._call("get_compute", idempotent=True, name=name))

    def list_computes(self) -> list[ComputeRecord]:
        return [ComputeRecord.from_dict(d) for d in self._call("list_computes", idempotent=True)]

    def delete_compute(self, name: str) -> None:
        self._call("delete_compute", name=name)
