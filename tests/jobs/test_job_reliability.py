"""A worker process killed with SIGKILL mid-job: the job is recovered within the lease timeout
(retried, or failed with the reason), its orphaned process is killed, nothing stays Running."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import pytest

import modelworks as mw
from _jobs_support import pid_alive, wait_for, write
from modelworks.jobs import command

LEASE_S = 2.0

SCRIPT = """
import os, sys, time
marker, pid_file = sys.argv[1], sys.argv[2]
if os.path.exists(marker):
    print("second attempt")
    sys.exit(0)
open(marker, "w").write("1")
open(pid_file, "w").write(str(os.getpid()))
print("first attempt", flush=True)
time.sleep(600)
"""


def _start(ws: mw.Workspace, tmp_path: Path, max_attempts: int) -> tuple[str, int, int]:
    write(tmp_path / "src", "attempts.py", SCRIPT)
    marker, pid_file = tmp_path / "marker", tmp_path / "pid"
    worker_pid = ws.jobs.start_worker(idle_exit_s=0, lease_seconds=LEASE_S, poll_seconds=0.1)
    job = command(code=str(tmp_path / "src"), command=f"python attempts.py {marker} {pid_file}")
    created = ws.jobs.create(job, start_worker=False, max_attempts=max_attempts)
    wait_for(lambda: pid_file.exists() and pid_file.read_text(), timeout=60)
    wait_for(lambda: ws.jobs.get(created.name).status == mw.RunStatus.RUNNING)
    return created.name, worker_pid, int(pid_file.read_text())


@pytest.mark.slow
def test_killed_worker_job_is_retried_and_orphan_killed(tmp_path: Path) -> None:
    ws = mw.Workspace(tmp_path / "ws")
    name, worker_pid, job_pid = _start(ws, tmp_path, max_attempts=2)
    os.kill(worker_pid, signal.SIGKILL)
    killed_at = time.monotonic()
    with ws.jobs.worker(lease_s=LEASE_S, poll_s=0.1):
        wait_for(lambda: ws.jobs.get(name).attempts == 2, timeout=30)
        recovered_after = time.monotonic() - killed_at
        final = ws.jobs.wait(name, timeout=60)
    assert recovered_after < LEASE_S + 3.0
    assert final.status == mw.RunStatus.COMPLETED, final.error
    assert final.attempts == 2
    assert not pid_alive(job_pid)  # the first attempt's process did not outlive its worker
    log = ws.jobs.logs(name)
    assert "attempt 2 of 2" in log and "second attempt" in log and "first attempt" not in log
    ws.close()


@pytest.mark.slow
def test_killed_worker_without_retries_fails_with_the_reason(tmp_path: Path) -> None:
    ws = mw.Workspace(tmp_path / "ws")
    name, worker_pid, job_pid = _start(ws, tmp_path, max_attempts=1)
    os.kill(worker_pid, signal.SIGKILL)
    final = wait_for(
        lambda: (ws.jobs.recover(), ws.jobs.get(name))[1].status.is_terminal and ws.jobs.get(name),
        timeout=LEASE_S + 10,
    )
    assert final.status == mw.RunStatus.FAILED
    assert "stopped renewing its lease" in final.error and "attempt 1 of 1" in final.error
    assert not pid_alive(job_pid)
    running = ws.runs.search(filter="attributes.status = 'Running'")
    assert list(running) == []
    ws.close()


@pytest.mark.slow
def test_on_demand_worker_process_runs_jobs_and_stops(tmp_path: Path) -> None:
    ws = mw.Workspace(tmp_path / "ws")
    created = ws.jobs.create(command(command="echo from a worker process"))
    final = ws.jobs.wait(created.name, timeout=60)
    assert final.status == mw.RunStatus.COMPLETED
    assert ws.jobs.logs(created.name) == "from a worker process\n"
    workers = ws.jobs.live_workers()
    assert len(workers) == 1 and workers[0].pid != os.getpid()
    assert ws.jobs.ensure_worker() is None  # one is alive: none started
    ws.jobs.stop_workers(wait_s=15)
    assert ws.jobs.live_workers() == []
    wait_for(lambda: not pid_alive(workers[0].pid), timeout=15)
    ws.close()
