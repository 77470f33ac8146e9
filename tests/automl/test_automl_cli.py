"""``modelworks automl run`` in a real subprocess against a real workspace."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

MW = [sys.executable, "-m", "modelworks.cli"]


def _cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*MW, *args], cwd=cwd, capture_output=True, text=True, timeout=300)


@pytest.mark.slow
def test_run_from_flags_and_from_an_azure_yaml(tmp_path, bank_small) -> None:
    bank_small.to_csv(tmp_path / "bank.csv", index=False)
    created = _cli(
        "-w",
        "ws",
        "data",
        "create",
        "--name",
        "bank",
        "--path",
        "bank.csv",
        "--type",
        "mltable",
        cwd=tmp_path,
    )
    assert created.returncode == 0, created.stderr
    done = _cli(
        "-w",
        "ws",
        "automl",
        "run",
        "--data",
        "azureml:bank@latest",
        "--target",
        "response",
        "--task",
        "classification",
        "--timeout",
        "10",
        "--max-trials",
        "6",
        "--metric",
        "roc_auc",
        "--model-name",
        "bank-best",
        "-o",
        "json",
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["metric"] == "AUC_weighted" and result["best_score"] > 0.8
    assert result["registered_model"] == "bank-best:1"
    assert result["leaderboard"][0]["model"] == result["best_model"]
    (tmp_path / "automl.yml").write_text(
        "type: automl\n"
        "experiment_name: bank-yaml\n"
        "task: classification\n"
        "primary_metric: AUC_weighted\n"
        "target_column_name: response\n"
        "training_data: {type: mltable, path: azureml:bank@latest}\n"
        "test_data: {type: uri_file, path: ./bank.csv}\n"
        "limits: {timeout_seconds: 10, max_trials: 6, max_concurrent_trials: 2}\n"
        "training: {blocked_training_algorithms: [KNN, MLP]}\n"
    )
    done = _cli("-w", "ws", "automl", "run", "-f", "automl.yml", "-o", "json", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["registered_model"] == "bank-yaml-model:1"
    assert result["test_metrics"]["AUC_weighted"] > 0.8
    assert not {"KNN", "MLP"} & {row["model"].split("#")[0] for row in result["leaderboard"]}


def test_a_bad_yaml_fails_before_running(tmp_path) -> None:
    (tmp_path / "automl.yml").write_text(
        "type: automl\ntask: classification\ntarget_column_name: y\n"
        "training_data: {path: ./d}\nlimits: {timeout_minute: 1}\n"
    )
    done = _cli("-w", "ws", "automl", "run", "-f", "automl.yml", cwd=tmp_path)
    assert done.returncode != 0
    assert "limits.timeout_minute" in done.stderr


FORECAST_YAML = """type: automl
experiment_name: sales
task: forecasting
primary_metric: normalized_root_mean_squared_error
target_column_name: sales
training_data: {type: uri_file, path: ./train.csv}
test_data: {type: uri_file, path: ./%s}
forecasting: {time_column_name: month, time_series_id_column_names: [store], forecast_horizon: 6}
limits: {timeout_seconds: 10, max_trials: 6}
"""


@pytest.mark.slow
def test_a_forecasting_job_registers_its_model_and_scores_its_test_data(
    tmp_path, two_series
) -> None:
    from modelworks import Workspace

    two_series.groupby("store").head(66).to_csv(tmp_path / "train.csv", index=False)
    future = two_series.groupby("store").tail(6)
    future.to_csv(tmp_path / "test.csv", index=False)
    (tmp_path / "automl.yml").write_text(FORECAST_YAML % "test.csv")
    done = _cli("-w", "ws", "automl", "run", "-f", "automl.yml", "-o", "json", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["registered_model"] == "sales-model:1"
    assert result["test_metrics"]["normalized_root_mean_squared_error"] < 0.1
    model = Workspace(tmp_path / "ws").models.load("models:/sales-model/1")
    predicted = model.predict(future[["month", "store"]])
    assert np.abs(predicted - future["sales"].to_numpy()).mean() < 5.0


@pytest.mark.parametrize(
    ("rows", "message"),
    [
        (slice(60, 72), "test_data for {'store': 'a'} starts at 2020-01-01"),  # overlaps training
        (slice(66, 72), "a series the training data does not ({'store': 'c'})"),
    ],
)
def test_forecasting_test_data_that_cannot_be_scored_fails_before_any_trial(
    tmp_path, two_series, rows: slice, message: str
) -> None:
    two_series.groupby("store").head(66).to_csv(tmp_path / "train.csv", index=False)
    test = two_series[two_series["store"] == "a"].iloc[rows]
    if "'c'" in message:
        test = test.assign(store="c")
    test.to_csv(tmp_path / "test.csv", index=False)
    (tmp_path / "automl.yml").write_text(FORECAST_YAML % "test.csv")
    done = _cli("-w", "ws", "automl", "run", "-f", "automl.yml", "-o", "json", cwd=tmp_path)
    assert done.returncode == 1
    assert message in done.stderr
    from modelworks import Workspace

    assert Workspace(tmp_path / "ws").runs.search() == []  # refused before any run started
