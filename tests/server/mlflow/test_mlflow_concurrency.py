"""Sixteen MLflow client processes logging at once into one server: every value is stored.

One launcher process imports mlflow and forks the sixteen clients (importing mlflow sixteen
times over would take most of a minute on a small machine); each client then makes its own
connections and logs with the stock fluent API and MlflowClient.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

import modelworks as mw

CLIENTS = 16
SINGLE = 40  # mlflow.log_metric calls per client
BATCH = 500  # metrics in one MlflowClient.log_batch per client

LAUNCHER = textwrap.dedent(
    """
    import multiprocessing, sys, time
    import mlflow
    from mlflow.entities import Metric

    CLIENTS, SINGLE, BATCH, experiment = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]

    def work(index, start):
        mlflow.set_experiment(experiment)
        start.wait()  # all clients log at the same time
        with mlflow.start_run(run_name=f"worker-{index}") as run:
            mlflow.log_param("worker", index)
            for step in range(SINGLE):
                mlflow.log_metric("loss", index + step / 1000, step=step)
            now = int(time.time() * 1000)
            batch = [Metric("batch", index * 10_000 + i, now, i) for i in range(BATCH)]
            mlflow.MlflowClient().log_batch(run.info.run_id, metrics=batch)
            mlflow.set_tag("done", "yes")

    if __name__ == "__main__":
        context = multiprocessing.get_context("fork")
        start = context.Event()
        procs = [context.Process(target=work, args=(i, start)) for i in range(CLIENTS)]
        for p in procs:
            p.start()
        time.sleep(0.5)
        start.set()
        for p in procs:
            p.join(timeout=300)
        sys.exit(max(abs(p.exitcode or 0) for p in procs))
    """
)


@pytest.mark.slow
def test_sixteen_clients_log_concurrently(sqlite_server: Any, tmp_path: Path) -> None:
    ws = mw.Workspace(sqlite_server.url, token=sqlite_server.writer)
    experiment = f"crowd-{os.urandom(4).hex()}"
    ws.experiments.create(experiment)
    (tmp_path / "launcher.py").write_text(LAUNCHER)
    env = {
        **os.environ,
        "MLFLOW_TRACKING_URI": sqlite_server.url,
        "MLFLOW_TRACKING_TOKEN": sqlite_server.writer,
        "MLFLOW_DISABLE_TELEMETRY": "true",
    }
    env.pop("MLFLOW_EXPERIMENT_ID", None)
    args = [str(CLIENTS), str(SINGLE), str(BATCH), experiment]
    out = subprocess.run(
        [sys.executable, "launcher.py", *args],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=400,
    )
    assert out.returncode == 0, out.stderr

    runs = ws.runs.search(experiment, max_results=100)
    assert len(runs) == CLIENTS
    assert sorted(int(r.params["worker"]) for r in runs) == list(range(CLIENTS))
    for run in runs:
        index = int(run.params["worker"])
        assert run.name == f"worker-{index}" and run.tags["done"] == "yes"
        loss = ws.runs.get_metric_history(run.id, "loss")
        assert [(m.step, m.value) for m in loss] == [(s, index + s / 1000) for s in range(SINGLE)]
        batch = ws.runs.get_metric_history(run.id, "batch")
        assert [m.value for m in batch] == [index * 10_000 + i for i in range(BATCH)]
