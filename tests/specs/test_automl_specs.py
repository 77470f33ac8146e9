from __future__ import annotations

import textwrap

import pytest

from modelworks.errors import SpecError
from modelworks.specs.automl import load_automl_spec

AZURE_SAMPLE = """
$schema: https://azuremlsdk2.blob.core.windows.net/preview/0.0.1/autoMLJob.schema.json
type: automl
experiment_name: dpv2-cli-automl-classifier-experiment
description: A Classification job using bank marketing
compute: azureml:cpu-cluster
task: classification
primary_metric: accuracy
target_column_name: "y"
training_data:
  path: "./training-mltable-folder"
  type: mltable
validation_data:
  path: "./validation-mltable-folder"
  type: mltable
test_data:
  path: azureml:bank-test@latest
  type: mltable
limits:
  timeout_minutes: 180
  max_trials: 40
  max_concurrent_trials: 5
  trial_timeout_minutes: 20
  enable_early_termination: true
  exit_score: 0.92
featurization:
  mode: custom
  column_name_and_types:
    month: categorical
  blocked_transformers:
    - WordEmbedding
training:
  enable_model_explainability: true
  allowed_training_algorithms: [LightGBM, XGBoostClassifier, LogisticRegression]
  enable_stack_ensemble: false
"""


def _write(tmp_path, text: str):
    path = tmp_path / "automl.yml"
    path.write_text(textwrap.dedent(text))
    return path


def test_azure_sample_loads_unchanged(tmp_path) -> None:
    spec = load_automl_spec(_write(tmp_path, AZURE_SAMPLE))
    assert spec.task == "classification" and spec.target_column_name == "y"
    assert spec.training_data.path == str(tmp_path / "training-mltable-folder")
    assert spec.test_data is not None and spec.test_data.path == "azureml:bank-test@latest"
    assert spec.limits.time_budget_s == 180 * 60
    assert spec.limits.max_concurrent_trials == 5
    assert spec.featurization.column_name_and_types == {"month": "Categorical"}
    from modelworks.automl.job import settings_from_spec

    settings = settings_from_spec(spec)
    assert settings.trial_timeout == 20 * 60 and settings.exit_score == 0.92
    assert settings.allowed_learners == ["LightGBM", "XGBoostClassifier", "LogisticRegression"]


def test_forecasting_section(tmp_path) -> None:
    spec = load_automl_spec(
        _write(
            tmp_path,
            """
            type: automl
            task: forecasting
            target_column_name: sales
            training_data: {type: mltable, path: ./data}
            forecasting:
              time_column_name: date
              forecast_horizon: 14
              time_series_id_column_names: store
              frequency: D
              cv_step_size: 7
            """,
        )
    )
    assert spec.forecasting is not None
    assert spec.forecasting.time_series_id_column_names == ["store"]
    assert spec.forecasting.forecast_horizon == 14
    from modelworks.automl.job import settings_from_spec

    forecasting = settings_from_spec(spec).forecasting
    assert forecasting is not None and forecasting.cv_step_size == 7


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("limits: {timeout_minute: 5}", r"limits\.timeout_minute"),
        ("task: clustering", r"task"),
        ("primary_metric: r2_score", r"primary_metric.*not a classification metric"),
        ("training: {blocked_training_algorithms: [DeepForest]}", r"DeepForest"),
        ("featurization: {column_name_and_types: {a: Colour}}", r"Colour"),
        ("n_cross_validations: 1", r"n_cross_validations"),
    ],
)
def test_problems_name_the_key(tmp_path, body: str, message: str) -> None:
    base = {
        "type": "automl",
        "task": "classification",
        "target_column_name": "y",
        "training_data": "{type: mltable, path: ./data}",
    }
    key = body.split(":")[0]
    lines = [f"{k}: {v}" for k, v in base.items() if k != key] + [body]
    with pytest.raises(SpecError, match=message):
        load_automl_spec(_write(tmp_path, "\n".join(lines)))


def test_a_cv_step_size_below_one_names_the_key(tmp_path) -> None:
    text = (
        "type: automl\ntask: forecasting\ntarget_column_name: y\ntraining_data: {path: ./d}\n"
        "forecasting: {time_column_name: date, forecast_horizon: 7, cv_step_size: 0}\n"
    )
    with pytest.raises(SpecError, match=r"forecasting\.cv_step_size"):
        load_automl_spec(_write(tmp_path, text))


def test_forecasting_task_needs_the_section(tmp_path) -> None:
    text = "type: automl\ntask: forecasting\ntarget_column_name: y\ntraining_data: {path: ./d}\n"
    with pytest.raises(SpecError, match=r"forecasting.*time_column_name"):
        load_automl_spec(_write(tmp_path, text))
