"""``mlflow_env``: the environment under which a job's unchanged MLflow script logs into the
job's own run (what the jobs code sets for every job process)."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

import modelworks as mw
from modelworks.entities import RunStatus
from modelworks.server.mlflow import mlflow_env


def test_mlflow_env_names_the_run_server_and_token() -> None:
    env = mlflow_env("http://127.0.0.1:8080/", "a" * 32, "training", "mw_secret")
    assert env == {
        "MLFLOW_TRACKING_URI": "http://127.0.0.1:8080",
        "MLFLOW_RUN_ID": "a" * 32,
        "MLFLOW_EXPERIMENT_NAME": "training",
        "MLFLOW_TRACKING_TOKEN": "mw_secret",
    }
    assert "MLFLOW_TRACKING_TOKEN" not in mlflow_env("http://h:1", "b" * 32, "e", None)


SCRIPT = textwrap.dedent(
    """
    import mlflow
    with mlflow.start_run() as run:
        mlflow.log_param("lr", 0.1)
        for step in range(3):
            mlflow.log_metric("loss", 1.0 / (step + 1), step=step)
        mlflow.log_text("done", "out/log.txt")
    print(run.info.run_id)
    """
)


@pytest.mark.slow
def test_a_job_script_logs_into_the_jobs_run(sqlite_server: Any, tmp_path: Path) -> None:
    ws = mw.Workspace(sqlite_server.url, token=sqlite_server.writer)
    name = f"job-{os.urandom(4).hex()}"
    job = ws.runs.create(name, kind="command", status=RunStatus.QUEUED)  # what a job runner makes
    ws.runs.flush()
    (tmp_path / "train.py").write_text(SCRIPT)
    env = {
        **os.environ,
        **mlflow_env(sqlite_server.url, job.id, name, sqlite_server.writer),
        "MLFLOW_DISABLE_TELEMETRY": "true",
    }
    env.pop("MLFLOW_EXPERIMENT_ID", None)
    out = subprocess.run(
        [sys.executable, "train.py"], cwd=tmp_path, env=env, capture_output=True, text=True
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().splitlines()[-1] == job.id
    run = ws.runs.get(job.id)
    assert run.params == {"lr": "0.1"} and run.metrics["loss"] == pytest.approx(1 / 3)
    assert run.kind == "command" and run.status is RunStatus.COMPLETED
    assert [e.path for e in ws.runs.list_artifacts(job.id)] == ["out/log.txt"]
    assert len(ws.runs.search(name)) == 1  # no second run was made
