"""The JobStore contract, on SQLite and PostgreSQL: claims, limits, leases, recovery, cancel,
live log chunks, workers, environments and computes."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from modelworks.entities import RunStatus, now_ms
from modelworks.errors import AlreadyExistsError, NotFoundError
from modelworks.jobs.queue import ComputeRecord, JobStore, WorkerRecord
from modelworks.store.sql import SqlMetadataStore
from modelworks.store.sql.jobs import SqlJobStore


@pytest.fixture(params=["sqlite", "postgres"])
def stores(
    request: pytest.FixtureRequest, tmp_path: Path
) -> Iterator[tuple[SqlMetadataStore, JobStore]]:
    if request.param == "sqlite":
        meta = SqlMetadataStore(f"sqlite:///{tmp_path / 'jobs.db'}")
    else:
        url = request.getfixturevalue("postgres_url")
        meta = SqlMetadataStore(url)
        from sqlalchemy import text

        with meta._write_engine.begin() as conn:  # the session database is shared: start empty
            for table in ("jobs", "job_log_chunks", "workers", "environments", "computes"):
                conn.execute(text(f"DELETE FROM {table}"))
    yield meta, SqlJobStore(meta)
    meta.close()


def _queue(meta: SqlMetadataStore, store: JobStore, name: str, **kwargs: object) -> str:
    exp = meta.list_experiments()
    exp_id = exp[0].id if exp else meta.create_experiment("jobs").id
    run = meta.create_run(exp_id, name=name, kind="command", status=RunStatus.QUEUED)
    store.enqueue(
        run.id,
        name=name,
        kind=str(kwargs.get("kind", "command")),
        compute=str(kwargs.get("compute", "local")),
        spec={"command": "echo"},
        max_attempts=int(kwargs.get("max_attempts", 1)),  # type: ignore[call-overload]
    )
    return run.id


def test_claim_moves_job_and_run_to_preparing(stores: tuple[SqlMetadataStore, JobStore]) -> None:
    meta, store = stores
    run_id = _queue(meta, store, "a")
    with pytest.raises(AlreadyExistsError):
        _queue(meta, store, "a")
    claimed = store.claim(
        "w1", compute="local", kinds=["command"], limit=2, max_claims=5, lease_ms=5000
    )
    assert [j.run_id for j in claimed] == [run_id]
    assert claimed[0].state == "Preparing" and claimed[0].attempts == 1
    assert meta.get_run(run_id).status == RunStatus.PREPARING
    assert (
        store.claim("w2", compute="local", kinds=["command"], limit=2, max_claims=5, lease_ms=5000)
        == []
    )
    assert store.set_state(run_id, "Running", worker_id="w1", pid=123)
    assert not store.set_state(run_id, "Completed", worker_id="someone-else")
    assert store.set_state(run_id, "Completed", worker_id="w1", exit_code=0)
    run = meta.get_run(run_id)
    assert run.status == RunStatus.COMPLETED and run.end_time is not None
    assert store.get_job(run_id).exit_code == 0
    assert not store.set_state(run_id, "Failed")  # terminal states are final


def test_claims_never_exceed_the_limit_under_contention(
    stores: tuple[SqlMetadataStore, JobStore],
) -> None:
    meta, store = stores
    ids = {_queue(meta, store, f"job-{i}") for i in range(30)}
    claimed: list[str] = []
    lock = threading.Lock()

    def claimer(worker: str) -> None:
        for _ in range(20):
            got = store.claim(
                worker, compute="local", kinds=["command"], limit=3, max_claims=3, lease_ms=5000
            )
            with lock:
                claimed.extend(j.run_id for j in got)

    threads = [threading.Thread(target=claimer, args=(f"w{i}",)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(claimed) == 3 and len(set(claimed)) == 3 and set(claimed) <= ids
    for run_id in claimed:
        job = store.get_job(run_id)
        store.set_state(run_id, "Completed", worker_id=job.worker_id)
    again = store.claim(
        "w9", compute="local", kinds=["command"], limit=3, max_claims=10, lease_ms=5000
    )
    assert len(again) == 3 and not set(j.run_id for j in again) & set(claimed)


def test_limits_are_per_compute_and_sweeps_are_unlimited(
    stores: tuple[SqlMetadataStore, JobStore],
) -> None:
    meta, store = stores
    _queue(meta, store, "local-1")
    _queue(meta, store, "ray-1", compute="cluster")
    _queue(meta, store, "sweep-1", kind="sweep")
    local = store.claim(
        "w", compute="local", kinds=["command"], limit=1, max_claims=5, lease_ms=5000
    )
    assert [j.name for j in local] == ["local-1"]
    sweeps = store.claim(
        "w", compute="local", kinds=["sweep"], limit=None, max_claims=5, lease_ms=5000
    )
    assert [j.name for j in sweeps] == ["sweep-1"]
    ray = store.claim(
        "w", compute="cluster", kinds=["command"], limit=1, max_claims=5, lease_ms=5000
    )
    assert [j.name for j in ray] == ["ray-1"]


def test_expired_lease_is_retried_then_failed(stores: tuple[SqlMetadataStore, JobStore]) -> None:
    meta, store = stores
    run_id = _queue(meta, store, "flaky", max_attempts=2)
    store.claim("w1", compute="local", kinds=["command"], limit=None, max_claims=1, lease_ms=1000)
    store.set_state(run_id, "Running", worker_id="w1")
    store.append_log(run_id, 0, 0, "attempt one\n")
    assert store.recover_expired(at_ms=now_ms()) == []  # not expired yet
    recovered = store.recover_expired(at_ms=now_ms() + 5000)
    assert [(r.job.run_id, r.action) for r in recovered] == [(run_id, "retried")]
    assert meta.get_run(run_id).status == RunStatus.QUEUED
    assert store.read_log(run_id) == []  # the new attempt starts a new log
    store.claim("w2", compute="local", kinds=["command"], limit=None, max_claims=1, lease_ms=1000)
    assert store.get_job(run_id).attempts == 2
    assert store.renew("w1", [run_id], 1000) == {run_id}  # w1 lost it
    assert store.renew("w2", [run_id], 1000) == set()
    recovered = store.recover_expired(at_ms=now_ms() + 5000)
    assert [r.action for r in recovered] == ["failed"]
    run = meta.get_run(run_id)
    assert run.status == RunStatus.FAILED
    assert "lease" in (run.error or "") and "attempt 2 of 2" in (run.error or "")


def test_cancel_queued_and_claimed(stores: tuple[SqlMetadataStore, JobStore]) -> None:
    meta, store = stores
    running = _queue(meta, store, "r")
    store.claim("w", compute="local", kinds=["command"], limit=None, max_claims=1, lease_ms=5000)
    queued = _queue(meta, store, "q")
    assert store.request_cancel(queued).state == "Canceled"
    assert meta.get_run(queued).status == RunStatus.CANCELED
    record = store.request_cancel(running)
    assert record.state == "Preparing" and record.cancel_requested
    assert meta.get_run(running).status == RunStatus.CANCEL_REQUESTED
    assert store.cancel_requested([queued, running]) == {queued, running}
    store.set_state(running, "Canceled", worker_id="w")
    assert store.request_cancel(running).state == "Canceled"


def test_log_chunks_workers_environments_computes(
    stores: tuple[SqlMetadataStore, JobStore],
) -> None:
    meta, store = stores
    run_id = _queue(meta, store, "logs")
    store.append_log(run_id, 0, 0, "hello ")
    store.append_log(run_id, 1, 6, "world\n")
    assert [c.data for c in store.read_log(run_id, after_seq=0)] == ["world\n"]
    store.delete_log(run_id)
    assert store.read_log(run_id) == []
    now = now_ms()
    store.register_worker(WorkerRecord("w1", "host", 1, ["*"], now, now))
    assert [w.id for w in store.list_workers(alive_within_ms=10_000)] == ["w1"]
    assert store.heartbeat_worker("w1") is False
    assert store.request_worker_stop() == 1
    assert store.heartbeat_worker("w1") is True
    store.unregister_worker("w1")
    assert store.list_workers() == []
    env, created = store.create_environment("sk", spec={"kind": "venv"}, spec_hash="h1")
    same, again = store.create_environment("sk", spec={"kind": "venv"}, spec_hash="h1")
    assert (env.version, created, same.version, again) == ("1", True, "1", False)
    store.create_environment("sk", spec={"kind": "venv", "x": 1}, spec_hash="h2")
    assert store.get_environment("sk").version == "2"
    with pytest.raises(NotFoundError, match=r"has no version 9; it has 1, 2"):
        store.get_environment("sk", "9")
    with pytest.raises(
        NotFoundError, match=r"No environment named 'sx'. Existing environments: sk"
    ):
        store.get_environment("sx")
    assert [e.name for e in store.list_environments()] == ["sk"]
    store.create_compute(ComputeRecord("cluster", "ray", now, address="127.0.0.1:6379"))
    with pytest.raises(AlreadyExistsError):
        store.create_compute(ComputeRecord("cluster", "ray", now, address="x"))
    assert store.get_compute("cluster").address == "127.0.0.1:6379"
    store.delete_compute("cluster")
    with pytest.raises(NotFoundError):
        store.get_compute("cluster")
