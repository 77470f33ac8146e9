"""AutoML trials on a Ray cluster (a head this module starts on 127.0.0.1): whole AutoML runs
from the SDK and as a job on a registered Ray compute, with every trial run by a Ray actor.
The executor's own contract (failures, a killed actor, deadlines) is run against both
executors in tests/automl/test_automl_search.py."""

from __future__ import annotations

import importlib.util
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import modelworks as mw
from modelworks.automl._executor import trial_compute
from modelworks.errors import InvalidInputError

HAVE_RAY = importlib.util.find_spec("ray") is not None  # not imported here: see compute/ray*.py
needs_ray = pytest.mark.skipif(
    not HAVE_RAY, reason='Ray is not installed (pip install "modelworks[ray]")'
)


@pytest.fixture(scope="module")
def ray_head() -> Iterator[object]:
    from _ray_head import RayHead

    head = RayHead(num_cpus=2).start()
    yield head
    head.stop()


@pytest.fixture(scope="module")
def cancer() -> tuple[pd.DataFrame, pd.Series]:
    from sklearn.datasets import load_breast_cancer

    X, y = load_breast_cancer(return_X_y=True, as_frame=True)
    return X, y


@pytest.mark.slow
@needs_ray
def test_automl_classifier_runs_its_trials_on_ray(
    tmp_path: Path, ray_head: object, cancer: tuple[pd.DataFrame, pd.Series]
) -> None:
    from sklearn.metrics import roc_auc_score

    from modelworks.automl import AutoMLClassifier

    X, y = cancer
    train, test = np.arange(len(X)) % 4 != 0, np.arange(len(X)) % 4 == 0
    clf = AutoMLClassifier(
        time_budget=15,
        metric="AUC_weighted",
        compute=ray_head.gcs_address,  # type: ignore[attr-defined]
        n_jobs=2,
        verbose=0,
    ).fit(X[train], y[train])
    done = [t for t in clf.trials_ if t.status == "completed"]
    assert len(done) >= 3
    assert all(t.extra.get("executor", "").startswith("ray:") for t in done)
    assert len({t.extra["executor"] for t in done}) >= 2  # two actors at once
    assert roc_auc_score(y[test], clf.predict_proba(X[test])[:, 1]) > 0.97


@pytest.mark.slow
@needs_ray
def test_automl_forecaster_runs_its_trials_on_ray(ray_head: object) -> None:
    from modelworks.automl import AutoMLForecaster

    t = np.arange(96)
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(
        {
            "month": pd.date_range("2015-01-01", periods=len(t), freq="MS"),
            "sales": 100 + 0.5 * t + 10 * np.sin(2 * np.pi * t / 12) + rng.normal(0, 1, len(t)),
        }
    )
    fc = AutoMLForecaster(
        time_column="month",
        horizon=6,
        time_budget=15,
        compute=ray_head.gcs_address,  # type: ignore[attr-defined]
        n_jobs=2,
        verbose=0,
    ).fit(frame.iloc[:-6], "sales")
    done = [t for t in fc.trials_ if t.status == "completed"]
    assert done and all(t.extra.get("executor", "").startswith("ray:") for t in done)
    forecast = np.asarray(fc.predict(frame.iloc[-6:][["month"]]), dtype=float)
    error = np.abs(forecast - frame["sales"].iloc[-6:].to_numpy()).mean()
    assert error < 5.0  # the seasonal trend is learnt (the noise is 1)


@pytest.mark.slow
@needs_ray
def test_an_automl_job_on_a_ray_compute_runs_its_trials_there(
    jobs_ws: mw.Workspace,
    tmp_path: Path,
    ray_head: object,
    cancer: tuple[pd.DataFrame, pd.Series],
) -> None:
    X, y = cancer
    X.assign(label=y.map({0: "malignant", 1: "benign"})).to_csv(tmp_path / "c.csv", index=False)
    (tmp_path / "automl.yml").write_text(
        "type: automl\n"
        "experiment_name: cancer-ray\n"
        "compute: ray\n"  # the one Ray compute of the workspace, as for command jobs
        "task: classification\n"
        "primary_metric: AUC_weighted\n"
        "target_column_name: label\n"
        "training_data: {type: uri_file, path: ./c.csv}\n"
        "limits: {timeout_minutes: 0.25, max_concurrent_trials: 2}\n"
    )
    address = ray_head.gcs_address  # type: ignore[attr-defined]
    jobs_ws.compute.create("cluster", type="ray", address=address)
    created = jobs_ws.jobs.create(tmp_path / "automl.yml", start_worker=False)
    final = jobs_ws.jobs.wait(created.name, timeout=180)
    log = jobs_ws.jobs.logs(created.name)
    assert final.status == mw.RunStatus.COMPLETED, log[-2000:]
    assert final.params["compute"] == f"ray {address}"
    assert f"2 trial(s) at a time on the Ray cluster at {address}" in log
    children = jobs_ws.runs.children(final.id)
    completed = [c for c in children if c.tags["mw.automl.status"] == "completed"]
    assert len(completed) >= 3
    assert all(c.tags["mw.automl.ran_on"].startswith("ray:") for c in completed)
    assert jobs_ws.models.get("cancer-ray-model@latest").run_id == final.id


def test_a_dashboard_address_is_refused_for_trials_with_what_to_use(tmp_path: Path) -> None:
    ws = mw.Workspace(tmp_path / "ws")
    ws.compute.create("dash", type="ray", address="http://127.0.0.1:8265")
    with pytest.raises(InvalidInputError, match=r"GCS address \(host:6379\)"):
        trial_compute("azureml:dash", ws)
    with pytest.raises(InvalidInputError, match="'compute' parameter must be"):
        trial_compute("no-such-cluster", ws)
    assert trial_compute("no-such-cluster", ws, strict=False) == (None, {})
    assert trial_compute("local", ws) == (None, {})
    assert trial_compute("ray://head:10001") == ("ray://head:10001", {})
    ws.compute.create(
        "cluster", type="ray", address="10.0.0.5:6379", config={"runtime_env": {"pip": ["x"]}}
    )
    assert trial_compute("cluster", ws) == ("10.0.0.5:6379", {"runtime_env": {"pip": ["x"]}})
    # "ray" names the one Ray compute whose address actors can use; with two it must be named
    ws.compute.delete("dash")
    assert trial_compute("ray", ws)[0] == "10.0.0.5:6379"
    ws.compute.create("other", type="ray", address="10.0.0.6:6379")
    with pytest.raises(InvalidInputError, match="'compute' parameter must be"):
        trial_compute("ray", ws)
