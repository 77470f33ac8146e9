"""``SqlJobStore``: the JobStore port on the workspace's SQL database (SQLite or PostgreSQL).

It shares the engines of a :class:`~modelworks.store.sql.SqlMetadataStore`, so a job's queue
row and its run change in one transaction. Claims are serialised per database: SQLite's
``BEGIN IMMEDIATE`` write lock, or a transaction-scoped advisory lock per compute on
PostgreSQL; inside it the claimer counts the compute's active jobs, so the concurrency limit
holds across any number of worker processes.
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence
from types import SimpleNamespace
from typing import Any

from sqlalchemy import Connection, and_, delete, func, insert, select, text, update

from modelworks._validation import validate_name
from modelworks.entities import RunStatus, now_ms
from modelworks.errors import AlreadyExistsError, InvalidInputError, NotFoundError
from modelworks.jobs.queue import (
    ACTIVE_STATES,
    LEASED_STATES,
    TERMINAL_STATES,
    ComputeRecord,
    EnvironmentRecord,
    JobRecord,
    JobStore,
    LogChunk,
    Recovered,
    WorkerRecord,
)
from modelworks.store.sql import schema as core
from modelworks.store.sql import schema_jobs as t
from modelworks.store.sql._base import SqlBase, suggest
from modelworks.store.sql.store import SqlMetadataStore

__all__ = ["SqlJobStore"]


def _job(row: Any) -> JobRecord:
    return JobRecord(
        run_id=row.run_id,
        name=row.name,
        kind=row.kind,
        compute=row.compute,
        state=row.state,
        spec=dict(row.spec or {}),
        created_at=row.created_at,
        parent_id=row.parent_id,
        priority=row.priority,
        attempts=row.attempts,
        max_attempts=row.max_attempts,
        worker_id=row.worker_id,
        lease_expires_at=row.lease_expires_at,
        cancel_requested=bool(row.cancel_requested),
        host=row.host,
        pid=row.pid,
        pid_started_at=row.pid_started_at,
        exit_code=row.exit_code,
        claimed_at=row.claimed_at,
        finished_at=row.finished_at,
    )


def _environment(row: Any) -> EnvironmentRecord:
    return EnvironmentRecord(
        name=row.name,
        version=row.version,
        spec=dict(row.spec or {}),
        spec_hash=row.spec_hash,
        created_at=row.created_at,
        description=row.description,
        tags=dict(row.tags or {}),
        archived=bool(row.archived),
    )


def _compute(row: Any) -> ComputeRecord:
    return ComputeRecord(
        name=row.name,
        type=row.type,
        created_at=row.created_at,
        address=row.address,
        max_concurrency=row.max_concurrency,
        description=row.description,
        config=dict(row.config or {}),
    )


def _worker(row: Any) -> WorkerRecord:
    return WorkerRecord(
        id=row.id,
        host=row.host,
        pid=row.pid,
        computes=list(row.computes or []),
        started_at=row.started_at,
        heartbeat_at=row.heartbeat_at,
        stopping=bool(row.stopping),
    )


class SqlJobStore(SqlBase, JobStore):
    """Jobs tables in the same database (and through the same engines) as ``meta``."""

    def __init__(self, meta: SqlMetadataStore) -> None:
        self.meta = meta
        self._read_engine = meta._read_engine
        self._write_engine = meta._write_engine

    # -- helpers ----------------------------------------------------------------------------
    @staticmethod
    def _lock(conn: Connection, key: str) -> None:
        """Serialise writers on ``key`` (SQLite's write transaction already does)."""
        if conn.dialect.name == "postgresql":
            conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": zlib.crc32(key.encode())})

    @staticmethod
    def _update_runs(conn: Connection, run_ids: Sequence[str], **values: Any) -> None:
        if run_ids:
            conn.execute(
                update(core.runs).where(core.runs.c.id.in_(list(run_ids))).values(**values)
            )

    def _get(self, conn: Connection, run_id: str) -> JobRecord:
        row = conn.execute(select(t.jobs).where(t.jobs.c.run_id == run_id)).first()
        if row is None:
            raise NotFoundError(f"No job with run id {run_id!r}.")
        return _job(row)

    # -- queue ------------------------------------------------------------------------------
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
        row = {
            "run_id": run_id,
            "name": name,
            "kind": kind,
            "compute": compute,
            "state": RunStatus.QUEUED.value,
            "spec": spec,
            "parent_id": parent_id,
            "priority": priority,
            "attempts": 0,
            "max_attempts": max(1, max_attempts),
            "worker_id": None,
            "lease_expires_at": None,
            "cancel_requested": False,
            "host": None,
            "pid": None,
            "pid_started_at": None,
            "exit_code": None,
            "created_at": now_ms(),
            "claimed_at": None,
            "finished_at": None,
        }
        with self._write() as conn:
            taken = conn.execute(select(t.jobs.c.run_id).where(t.jobs.c.name == name)).first()
            if taken is not None:
                raise AlreadyExistsError(
                    f"A job named {name!r} already exists; job names are unique. Pick another "
                    "name or leave it out to get a generated one."
                )
            conn.execute(insert(t.jobs).values(**row))
        return _job(SimpleNamespace(**row))

    def get_job(self, run_id: str) -> JobRecord:
        with self._read() as conn:
            return self._get(conn, run_id)

    def get_job_by_name(self, name: str) -> JobRecord:
        with self._read() as conn:
            row = conn.execute(select(t.jobs).where(t.jobs.c.name == name)).first()
            if row is None:
                recent = list(
                    conn.execute(
                        select(t.jobs.c.name).order_by(t.jobs.c.created_at.desc()).limit(200)
                    ).scalars()
                )
        if row is None:
            raise NotFoundError(f"No job named {name!r}." + suggest(name, recent, "jobs"))
        return _job(row)

    def list_jobs(
        self,
        *,
        states: Sequence[str] | None = None,
        parent_id: str | None = None,
        compute: str | None = None,
        limit: int = 1000,
    ) -> list[JobRecord]:
        query = select(t.jobs).order_by(t.jobs.c.created_at.desc()).limit(limit)
        if states:
            query = query.where(t.jobs.c.state.in_(list(states)))
        if parent_id is not None:
            query = query.where(t.jobs.c.parent_id == parent_id)
        if compute is not None:
            query = query.where(t.jobs.c.compute == compute)
        with self._read() as conn:
            return [_job(r) for r in conn.execute(query)]

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
        if max_claims <= 0:
            return []
        queued = and_(
            t.jobs.c.state == RunStatus.QUEUED.value,
            t.jobs.c.compute == compute,
            t.jobs.c.kind.in_(list(kinds)),
        )
        with self._read() as conn:  # cheap look first: most polls find nothing
            if conn.execute(select(t.jobs.c.run_id).where(queued).limit(1)).first() is None:
                return []
        with self._write() as conn:
            self._lock(conn, f"claim:{compute}")
            want = max_claims
            if limit is not None:
                active = conn.execute(
                    select(func.count())
                    .select_from(t.jobs)
                    .where(
                        t.jobs.c.compute == compute,
                        t.jobs.c.kind.in_(list(kinds)),
                        t.jobs.c.state.in_(ACTIVE_STATES),
                    )
                ).scalar_one()
                want = min(want, limit - int(active))
            if want <= 0:
                return []
            ids = list(
                conn.execute(
                    select(t.jobs.c.run_id)
                    .where(queued)
                    .order_by(t.jobs.c.priority.desc(), t.jobs.c.created_at, t.jobs.c.run_id)
                    .limit(want)
                ).scalars()
            )
            if not ids:
                return []
            now = now_ms()
            conn.execute(
                update(t.jobs)
                .where(t.jobs.c.run_id.in_(ids))
                .values(
                    state=RunStatus.PREPARING.value,
                    worker_id=worker_id,
                    lease_expires_at=now + lease_ms,
                    attempts=t.jobs.c.attempts + 1,
                    claimed_at=now,
                    host=host,
                    pid=None,
                    pid_started_at=None,
                )
            )
            self._update_runs(
                conn, ids, status=RunStatus.PREPARING.value, heartbeat_at=now, error=None
            )
            rows = conn.execute(select(t.jobs).where(t.jobs.c.run_id.in_(ids)))
            by_id = {r.run_id: _job(r) for r in rows}
        return [by_id[i] for i in ids]

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
        status = RunStatus.parse(state)
        now = now_ms()
        values: dict[str, Any] = {"state": status.value}
        if pid is not None:
            values["pid"] = pid
            values["pid_started_at"] = pid_started_at
        if exit_code is not None:
            values["exit_code"] = exit_code
        run_values: dict[str, Any] = {"status": status.value}
        if status.is_terminal:
            values.update(finished_at=now, lease_expires_at=None)
            run_values["end_time"] = now
        else:
            run_values["heartbeat_at"] = now
        if status == RunStatus.RUNNING:
            run_values["start_time"] = now
            run_values["end_time"] = None
        if error is not None:
            run_values["error"] = error
        condition = and_(t.jobs.c.run_id == run_id, t.jobs.c.state.not_in(TERMINAL_STATES))
        if worker_id is not None:
            condition = and_(condition, t.jobs.c.worker_id == worker_id)
        with self._write() as conn:
            done = conn.execute(update(t.jobs).where(condition).values(**values))
            if done.rowcount == 0:
                return False
            self._update_runs(conn, [run_id], **run_values)
        return True

    def renew(self, worker_id: str, run_ids: Sequence[str], lease_ms: int) -> set[str]:
        if not run_ids:
            return set()
        now = now_ms()
        held_q = and_(
            t.jobs.c.run_id.in_(list(run_ids)),
            t.jobs.c.worker_id == worker_id,
            t.jobs.c.state.in_(LEASED_STATES),
        )
        with self._write() as conn:
            held = set(conn.execute(select(t.jobs.c.run_id).where(held_q)).scalars())
            if held:
                conn.execute(
                    update(t.jobs)
                    .where(t.jobs.c.run_id.in_(list(held)))
                    .values(lease_expires_at=now + lease_ms)
                )
                self._update_runs(conn, list(held), heartbeat_at=now)
        return set(run_ids) - held

    def request_cancel(self, run_id: str, *, reason: str = "") -> JobRecord:
        now = now_ms()
        with self._write() as conn:
            job = self._get(conn, run_id)
            if job.is_terminal:
                return job
            message = reason or "Canceled by request."
            if job.state == RunStatus.QUEUED.value:
                conn.execute(
                    update(t.jobs)
                    .where(t.jobs.c.run_id == run_id)
                    .values(state=RunStatus.CANCELED.value, cancel_requested=True, finished_at=now)
                )
                self._update_runs(
                    conn, [run_id], status=RunStatus.CANCELED.value, end_time=now, error=message
                )
            else:
                conn.execute(
                    update(t.jobs).where(t.jobs.c.run_id == run_id).values(cancel_requested=True)
                )
                self._update_runs(
                    conn, [run_id], status=RunStatus.CANCEL_REQUESTED.value, error=message
                )
            return self._get(conn, run_id)

    def cancel_requested(self, run_ids: Sequence[str]) -> set[str]:
        if not run_ids:
            return set()
        with self._read() as conn:
            return set(
                conn.execute(
                    select(t.jobs.c.run_id).where(
                        t.jobs.c.run_id.in_(list(run_ids)), t.jobs.c.cancel_requested.is_(True)
                    )
                ).scalars()
            )

    def recover_expired(self, *, at_ms: int | None = None) -> list[Recovered]:
        now = at_ms if at_ms is not None else now_ms()
        expired = and_(t.jobs.c.state.in_(LEASED_STATES), t.jobs.c.lease_expires_at < now)
        with self._read() as conn:
            if conn.execute(select(t.jobs.c.run_id).where(expired).limit(1)).first() is None:
                return []
        out: list[Recovered] = []
        with self._write() as conn:
            for row in conn.execute(select(t.jobs).where(expired)).fetchall():
                job = _job(row)
                lapsed = f"its worker stopped renewing its lease ({(now - (job.lease_expires_at or now)) / 1000:.0f} s ago; worker {job.worker_id} on {job.host or '?'})"
                if job.cancel_requested:
                    state, action = RunStatus.CANCELED.value, "canceled"
                    error = f"Canceled; {lapsed}."
                elif job.attempts < job.max_attempts:
                    state, action = RunStatus.QUEUED.value, "retried"
                    error = None
                else:
                    state, action = RunStatus.FAILED.value, "failed"
                    error = (
                        f"The job was lost: {lapsed} during attempt {job.attempts} of "
                        f"{job.max_attempts}, so it was failed rather than retried. Submit it "
                        "again to rerun it."
                    )
                values: dict[str, Any] = {
                    "state": state,
                    "worker_id": None,
                    "lease_expires_at": None,
                }
                run_values: dict[str, Any] = {"status": state, "error": error}
                if state != RunStatus.QUEUED.value:
                    values["finished_at"] = now
                    run_values["end_time"] = now
                else:
                    run_values["end_time"] = None
                conn.execute(update(t.jobs).where(t.jobs.c.run_id == job.run_id).values(**values))
                self._update_runs(conn, [job.run_id], **run_values)
                if state == RunStatus.QUEUED.value:
                    conn.execute(
                        delete(t.job_log_chunks).where(t.job_log_chunks.c.run_id == job.run_id)
                    )
                out.append(Recovered(job=job, action=action))
        return out

    # -- live logs --------------------------------------------------------------------------
    def append_log(self, run_id: str, seq: int, offset: int, data: str) -> None:
        with self._write() as conn:
            conn.execute(
                insert(t.job_log_chunks).values(
                    run_id=run_id, seq=seq, offset=offset, data=data, created_at=now_ms()
                )
            )

    def read_log(self, run_id: str, *, after_seq: int = -1) -> list[LogChunk]:
        c = t.job_log_chunks.c
        with self._read() as conn:
            rows = conn.execute(
                select(c.seq, c.offset, c.data)
                .where(c.run_id == run_id, c.seq > after_seq)
                .order_by(c.seq)
            )
            return [LogChunk(seq=r.seq, offset=r.offset, data=r.data) for r in rows]

    def delete_log(self, run_id: str) -> None:
        with self._write() as conn:
            conn.execute(delete(t.job_log_chunks).where(t.job_log_chunks.c.run_id == run_id))

    # -- workers ----------------------------------------------------------------------------
    def register_worker(self, worker: WorkerRecord) -> None:
        stale = now_ms() - 24 * 3600 * 1000  # rows of workers killed without unregistering
        with self._write() as conn:
            conn.execute(
                delete(t.workers).where(
                    (t.workers.c.id == worker.id) | (t.workers.c.heartbeat_at < stale)
                )
            )
            conn.execute(insert(t.workers).values(**worker.to_dict()))

    def heartbeat_worker(self, worker_id: str) -> bool:
        with self._write() as conn:
            conn.execute(
                update(t.workers).where(t.workers.c.id == worker_id).values(heartbeat_at=now_ms())
            )
            row = conn.execute(
                select(t.workers.c.stopping).where(t.workers.c.id == worker_id)
            ).first()
        return row is None or bool(row[0])

    def unregister_worker(self, worker_id: str) -> None:
        with self._write() as conn:
            conn.execute(delete(t.workers).where(t.workers.c.id == worker_id))

    def list_workers(self, *, alive_within_ms: int | None = None) -> list[WorkerRecord]:
        query = select(t.workers).order_by(t.workers.c.started_at)
        if alive_within_ms is not None:
            query = query.where(t.workers.c.heartbeat_at >= now_ms() - alive_within_ms)
        with self._read() as conn:
            return [_worker(r) for r in conn.execute(query)]

    def request_worker_stop(self, worker_id: str | None = None) -> int:
        query = update(t.workers).values(stopping=True)
        if worker_id is not None:
            query = query.where(t.workers.c.id == worker_id)
        with self._write() as conn:
            return int(conn.execute(query).rowcount or 0)

    # -- environments -----------------------------------------------------------------------
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
        validate_name("environment", name)
        e = t.environments.c
        with self._write() as conn:
            if version is None:
                same = conn.execute(
                    select(t.environments)
                    .where(e.name == name, e.spec_hash == spec_hash)
                    .order_by(e.version_num.desc())
                ).first()
                if same is not None:
                    return _environment(same), False
            else:
                taken = conn.execute(
                    select(e.version).where(e.name == name, e.version == version)
                ).first()
                if taken is not None:
                    raise AlreadyExistsError(
                        f"Environment {name}:{version} already exists; versions are immutable. "
                        "Leave the version out to get the next one."
                    )
            top = conn.execute(select(func.max(e.version_num)).where(e.name == name)).scalar()
            number = int(top or 0) + 1
            if version is not None and version.isdigit():
                number = max(number, int(version))
            row = {
                "name": name,
                "version": version or str(number),
                "version_num": number,
                "spec": spec,
                "spec_hash": spec_hash,
                "description": description,
                "tags": dict(tags or {}),
                "created_at": now_ms(),
                "archived": False,
            }
            conn.execute(insert(t.environments).values(**row))
        return _environment(SimpleNamespace(**row)), True

    def get_environment(self, name: str, version: str = "latest") -> EnvironmentRecord:
        e = t.environments.c
        with self._read() as conn:
            if version == "latest":
                row = conn.execute(
                    select(t.environments)
                    .where(e.name == name, e.archived.is_(False))
                    .order_by(e.version_num.desc())
                ).first()
            else:
                row = conn.execute(
                    select(t.environments).where(e.name == name, e.version == str(version))
                ).first()
            if row is not None:
                return _environment(row)
            versions = list(
                conn.execute(
                    select(e.version).where(e.name == name).order_by(e.version_num)
                ).scalars()
            )
            names = list(conn.execute(select(e.name).distinct()).scalars())
        if versions:
            raise NotFoundError(
                f"Environment {name!r} has no version {version}; it has "
                f"{', '.join(versions)}. Use {name}@latest or one of those."
            )
        raise NotFoundError(
            f"No environment named {name!r}."
            + suggest(name, names, "environments")
            + " Register one with `modelworks environment create -f env.yml`."
        )

    def list_environments(self, name: str | None = None) -> list[EnvironmentRecord]:
        e = t.environments.c
        with self._read() as conn:
            if name is not None:
                rows = conn.execute(
                    select(t.environments).where(e.name == name).order_by(e.version_num.desc())
                )
                return [_environment(r) for r in rows]
            latest = (
                select(e.name, func.max(e.version_num).label("top")).group_by(e.name).subquery()
            )
            rows = conn.execute(
                select(t.environments)
                .join(latest, and_(e.name == latest.c.name, e.version_num == latest.c.top))
                .order_by(e.name)
            )
            return [_environment(r) for r in rows]

    # -- computes ---------------------------------------------------------------------------
    def create_compute(self, compute: ComputeRecord, *, replace: bool = False) -> ComputeRecord:
        validate_name("compute", compute.name)
        if compute.type not in ("local", "ray"):
            raise InvalidInputError(
                f"Unknown compute type {compute.type!r}; expected 'local' or 'ray'."
            )
        with self._write() as conn:
            taken = conn.execute(
                select(t.computes.c.name).where(t.computes.c.name == compute.name)
            ).first()
            if taken is not None:
                if not replace:
                    raise AlreadyExistsError(
                        f"Compute {compute.name!r} already exists; delete it first or pick "
                        "another name."
                    )
                conn.execute(delete(t.computes).where(t.computes.c.name == compute.name))
            conn.execute(insert(t.computes).values(**compute.to_dict()))
        return compute

    def get_compute(self, name: str) -> ComputeRecord:
        with self._read() as conn:
            row = conn.execute(select(t.computes).where(t.computes.c.name == name)).first()
            names = list(conn.execute(select(t.computes.c.name)).scalars()) if row is None else []
        if row is None:
            raise NotFoundError(
                f"No compute named {name!r}." + suggest(name, ["local", *names], "computes")
            )
        return _compute(row)

    def list_computes(self) -> list[ComputeRecord]:
        with self._read() as conn:
            return [
                _compute(r) for r in conn.execute(select(t.computes).order_by(t.computes.c.name))
            ]

    def delete_compute(self, name: str) -> None:
        with self._write() as conn:
            done = conn.execute(delete(t.computes).where(t.computes.c.name == name))
        if done.rowcount == 0:
            raise NotFoundError(f"No compute named {name!r}.")
