"""The examples in examples/jobs run as written (on a sample of the rows, to stay quick)."""

from __future__ import annotations

from pathlib import Path

import pytest

import modelworks as mw

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "jobs"


@pytest.mark.slow
def test_example_job_and_sweep(jobs_ws: mw.Workspace) -> None:
    with pytest.warns(mw.specs.SpecWarning):  # curated environment, cpu-cluster
        job = jobs_ws.jobs.create(
            EXAMPLES / "job.yml", overrides=["inputs.rows=3000"], start_worker=False
        )
    final = jobs_ws.jobs.wait(job.name, timeout=300)
    assert final.status == mw.RunStatus.COMPLETED, final.error
    assert final.metrics["val_auc"] > 0.8
    model = jobs_ws.models.get("bank-gbm@latest")
    assert model.type == "mlflow_model" and "sklearn" in model.flavors
    predictor = jobs_ws.models.load("bank-gbm@latest")
    assert predictor is not None
    with pytest.warns(mw.specs.SpecWarning):
        tuning = jobs_ws.jobs.create(
            EXAMPLES / "sweep.yml",
            overrides=["inputs.rows=3000", "limits.max_total_trials=2"],
            start_worker=False,
        )
    done = jobs_ws.jobs.wait(tuning.name, timeout=600)
    assert done.status == mw.RunStatus.COMPLETED, done.error
    assert len(jobs_ws.jobs.list(parent_job_name=tuning.name)) == 2
    assert jobs_ws.models.get("bank-gbm-tuned@latest").run_id == done.tags["best_child_run_id"]
