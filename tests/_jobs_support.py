"""Helpers shared by the jobs, compute and sweep tests: a workspace with an in-process worker,
and scripts written into a code folder."""

from __future__ import annotations

import os
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import modelworks as mw


def write(folder: Path, name: str, text: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(textwrap.dedent(text).lstrip())
    return path


def wait_for(predicate: Any, timeout: float = 30.0, interval: float = 0.05) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"condition not met within {timeout} s")


def pid_alive(pid: int) -> bool:
    import psutil

    try:
        proc = psutil.Process(pid)
    except psutil.NoSuchProcess:
        return False
    return proc.status() != psutil.STATUS_ZOMBIE


@pytest.fixture
def env_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    cache = tmp_path / "env-cache"
    monkeypatch.setenv("MODELWORKS_ENV_CACHE", str(cache))
    return cache


@pytest.fixture
def jobs_ws(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[mw.Workspace]:
    """A local workspace whose jobs run on an in-process worker (no process spawned)."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MODELWORKS_ENV_CACHE", str(tmp_path / "env-cache"))
    ws = mw.Workspace(tmp_path / "ws")
    worker = ws.jobs.worker(lease_s=10, poll_s=0.2).start()
    wait_for(lambda: ws.jobs.live_workers())
    yield ws
    worker.stop(cancel_jobs=True)
    ws.jobs.stop_workers(wait_s=5)
    ws.close()


def run_job(ws: mw.Workspace, job: Any, timeout: float = 60.0, **kwargs: Any) -> Any:
    created = ws.jobs.create(job, start_worker=False, **kwargs)
    return ws.jobs.wait(created.name, timeout=timeout)


__all__ = ["env_cache", "jobs_ws", "os", "pid_alive", "run_job", "wait_for", "write"]
