"""``modelworks automl run`` in a real subprocess against a real workspace."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

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
