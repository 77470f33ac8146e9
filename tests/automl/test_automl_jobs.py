"""AutoML as a job: ``ws.jobs.create("automl.yml")`` with Azure's ``type: automl`` YAML, run by
a real job worker — child runs per trial, the live view in the job's log, the best model
registered, bad data failing before any trial, cancellation."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

import modelworks as mw
from _jobs_support import wait_for

YAML = """\
$schema: https://azuremlsdk2.blob.core.windows.net/preview/0.0.1/autoMLJob.schema.json
type: automl
experiment_name: bank-job
compute: azureml:cpu-cluster
task: classification
primary_metric: AUC_weighted
target_column_name: {target}
training_data:
  type: mltable
  path: {train}
test_data:
  type: mltable
  path: ./data/test.csv
limits:
  timeout_minutes: {minutes}
  max_trials: {max_trials}
  max_concurrent_trials: 2
training:
  blocked_training_algorithms: [KNN, MLP]
"""


def _write(tmp_path: Path, frame: pd.DataFrame, **fields: object) -> Path:
    (tmp_path / "data").mkdir(exist_ok=True)
    frame.iloc[1000:].to_csv(tmp_path / "data" / "test.csv", index=False)
    values = {
        "target": "response",
        "train": "azureml:bank@latest",
        "minutes": 0.5,
        "max_trials": 8,
        **fields,
    }
    path = tmp_path / "automl.yml"
    path.write_text(YAML.format(**values))
    return path


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore::modelworks.specs.SpecWarning")
def test_automl_job_end_to_end(jobs_ws: mw.Workspace, tmp_path: Path, bank_small) -> None:
    jobs_ws.data.create("bank", bank_small.iloc[:1000], type="mltable")
    spec = _write(tmp_path, bank_small)
    created = jobs_ws.jobs.create(spec, start_worker=False)
    assert created.type == "automl"
    final = jobs_ws.jobs.wait(created.name, timeout=120)
    assert final.status == mw.RunStatus.COMPLETED, final.error
    assert final.metrics["AUC_weighted"] > 0.8
    assert final.metrics["test_AUC_weighted"] > 0.8
    children = jobs_ws.runs.children(final.id)
    assert len(children) >= 2
    assert {c.tags["mw.automl.learner"] for c in children}.isdisjoint({"KNN", "MLP"})
    assert {c.tags["mw.automl.ran_on"] for c in children} == {"local"}
    model = jobs_ws.models.get("bank-job-model@latest")
    assert model.version == "1"
    log = jobs_ws.jobs.logs(created.name)
    assert "trials" in log and "best AUC_weighted" in log and "Leaderboard" in log
    assert "registered model bank-job-model:1" in log
    lineage = jobs_ws.data.lineage("azureml:bank@latest")
    assert final.id in str(lineage)


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore::modelworks.specs.SpecWarning")
def test_bad_data_fails_the_job_before_any_trial(
    jobs_ws: mw.Workspace, tmp_path: Path, bank_small
) -> None:
    (tmp_path / "train").mkdir()
    bank_small.iloc[:300].to_csv(tmp_path / "train" / "part.csv", index=False)
    spec = _write(tmp_path, bank_small, target="y", train="./train")
    created = jobs_ws.jobs.create(spec, start_worker=False)
    final = jobs_ws.jobs.wait(created.name, timeout=60)
    assert final.status == mw.RunStatus.FAILED
    assert "'y'" in (final.error or "") and "response" in (final.error or "")
    assert len(jobs_ws.runs.children(final.id)) == 0


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore::modelworks.specs.SpecWarning")
@pytest.mark.parametrize(
    ("dropped", "message"),
    [
        ("response", "test_data has no target column 'response'"),
        ("age", "test_data lacks the column(s) ['age'] of the training data"),
    ],
)
def test_test_data_that_cannot_be_scored_fails_the_job_before_any_trial(
    jobs_ws: mw.Workspace, tmp_path: Path, bank_small, dropped: str, message: str
) -> None:
    (tmp_path / "train").mkdir()
    bank_small.iloc[:300].to_csv(tmp_path / "train" / "part.csv", index=False)
    spec = _write(tmp_path, bank_small.drop(columns=[dropped]), train="./train")
    created = jobs_ws.jobs.create(spec, start_worker=False)
    final = jobs_ws.jobs.wait(created.name, timeout=60)
    assert final.status == mw.RunStatus.FAILED
    assert message in (final.error or "")
    assert len(jobs_ws.runs.children(final.id)) == 0


def test_a_bad_spec_fails_at_submission(jobs_ws: mw.Workspace, tmp_path: Path) -> None:
    (tmp_path / "automl.yml").write_text(
        "type: automl\ntask: classification\ntarget_column_name: y\n"
        "training_data: {path: ./missing.csv}\nlimits: {timeout_minutes: 1}\n"
    )
    with pytest.raises(mw.NotFoundError, match=r"missing\.csv"):
        jobs_ws.jobs.create(tmp_path / "automl.yml", start_worker=False)
    (tmp_path / "automl.yml").write_text(
        "type: automl\ntask: classification\ntarget_column_name: y\n"
        "training_data: {path: ./missing.csv}\nlimits: {timeout_minute: 1}\n"
    )
    with pytest.raises(mw.SpecError, match=r"limits\.timeout_minute"):
        jobs_ws.jobs.create(tmp_path / "automl.yml", start_worker=False)


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore::modelworks.specs.SpecWarning")
def test_cancel_stops_the_search(jobs_ws: mw.Workspace, tmp_path: Path, bank_small) -> None:
    jobs_ws.data.create("bank", bank_small.iloc[:1000], type="mltable")
    spec = _write(tmp_path, bank_small, minutes=5, max_trials=1000)
    created = jobs_ws.jobs.create(spec, start_worker=False)
    wait_for(lambda: len(jobs_ws.runs.children(created.id)) >= 1, timeout=120)
    jobs_ws.jobs.cancel(created.name)
    final = jobs_ws.jobs.wait(created.name, timeout=30)
    assert final.status == mw.RunStatus.CANCELED
    for child in jobs_ws.runs.children(created.id):
        assert child.status in (mw.RunStatus.COMPLETED, mw.RunStatus.FAILED, mw.RunStatus.CANCELED)


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore::modelworks.specs.SpecWarning")
def test_automl_job_through_the_server(tmp_path: Path, bank_small) -> None:
    from _live_server import LiveServer

    folder = tmp_path / "server-ws"
    with LiveServer(folder) as (url, token):
        remote = mw.Workspace(url, token=token)
        try:
            (tmp_path / "train").mkdir()
            bank_small.iloc[:1000].to_csv(tmp_path / "train" / "part.csv", index=False)
            spec = _write(tmp_path, bank_small, train="./train")
            created = remote.jobs.create(spec)
            final = remote.jobs.wait(created.name, timeout=120)
            assert final.status == mw.RunStatus.COMPLETED, remote.jobs.logs(created.name)
            assert final.metrics["test_AUC_weighted"] > 0.8
            assert len(remote.runs.children(final.id)) >= 2
            assert remote.models.get("bank-job-model@latest").version == "1"
        finally:
            remote.close()
            local = mw.Workspace(folder)
            local.jobs.stop_workers(wait_s=10)
            local.close()
