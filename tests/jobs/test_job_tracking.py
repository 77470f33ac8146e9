"""Inside a job, ``mw.log_metric`` and ``mlflow.log_metric`` land on the job's run with no
set-up: the worker gives the process MODELWORKS_* and MLFLOW_* variables."""

from __future__ import annotations

from pathlib import Path

import pytest

import modelworks as mw
from _jobs_support import write
from modelworks.jobs import command
from modelworks.jobs.tracking import mlflow_env_function

SCRIPT = """
import mlflow
import modelworks as mw

mw.log_metric("mw_metric", 1.5, step=0)
mw.flush()
with mlflow.start_run() as run:
    print("mlflow run", run.info.run_id)
    mlflow.log_param("optimizer", "adam")
    for step in range(3):
        mlflow.log_metric("val_loss", 1.0 / (step + 1), step=step)
"""


@pytest.mark.slow
@pytest.mark.skipif(mlflow_env_function() is None, reason="the MLflow REST API is not built yet")
def test_mlflow_and_mw_logging_land_on_the_job_run(tmp_path: Path) -> None:
    ws = mw.Workspace(tmp_path / "ws")
    write(tmp_path / "src", "train.py", SCRIPT)
    job = command(code=str(tmp_path / "src"), command="python train.py", experiment_name="mlf")
    with ws.jobs.worker(tracking=True, poll_s=0.1):
        created = ws.jobs.create(job, start_worker=False)
        final = ws.jobs.wait(created.name, timeout=180)
    assert final.status == mw.RunStatus.COMPLETED, final.error
    run = ws.runs.get(final.id)
    assert f"mlflow run {final.id}" in ws.jobs.logs(final.name)
    assert run.metrics["mw_metric"] == 1.5
    assert run.metrics["val_loss"] == pytest.approx(1 / 3)
    assert [m.step for m in ws.runs.get_metric_history(final.id, "val_loss")] == [0, 1, 2]
    assert run.params["optimizer"] == "adam"
    assert run.status == mw.RunStatus.COMPLETED
    ws.close()
