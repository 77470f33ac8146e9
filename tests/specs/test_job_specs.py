"""Azure ML CLI v2 job YAML: command and sweep specs load as written; problems are reported
with the file, line and key path before anything runs."""

from __future__ import annotations

import textwrap
import warnings
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from modelworks.errors import SpecError
from modelworks.specs import SpecWarning
from modelworks.specs.environment import EnvironmentSpec, load_environment_spec
from modelworks.specs.jobs import (
    CommandJobSpec,
    SweepJobSpec,
    apply_overrides,
    job_spec_from_dict,
    load_job_spec,
)


def _write(tmp_path: Path, text: str, name: str = "job.yml") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text).lstrip())
    return path


AZURE_COMMAND = """
$schema: https://azuremlschemas.azureedge.net/latest/commandJob.schema.json
type: command
name: train-bank-1
display_name: bank marketing
experiment_name: bank
description: Train a classifier.
tags: {owner: ana, priority: 2}
code: ./src
command: >-
  python train.py --data ${{inputs.training_data}} --lr ${{inputs.learning_rate}}
  --out ${{outputs.model_output}} $[[--seed ${{inputs.seed}}]]
inputs:
  training_data:
    type: uri_file
    path: ./data/train.csv
    mode: ro_mount
  learning_rate: 0.01
  epochs: 10
  fast: true
  seed:
    type: integer
    optional: true
outputs:
  model_output:
    type: custom_model
    name: bank-model
environment:
  image: mcr.microsoft.com/azureml/openmpi4.1.0-ubuntu20.04
  conda_file: ./env/conda.yml
environment_variables:
  SEED: 42
compute: azureml:cpu-cluster
limits:
  timeout: 3600
resources:
  instance_count: 1
"""


def test_azure_command_job_loads_as_written(tmp_path: Path) -> None:
    path = _write(tmp_path, AZURE_COMMAND)
    spec = load_job_spec(path)
    assert isinstance(spec, CommandJobSpec)
    assert spec.name == "train-bank-1" and spec.experiment_name == "bank"
    assert spec.tags == {"owner": "ana", "priority": "2"}
    assert spec.code == str(tmp_path / "src")
    data = spec.inputs["training_data"]
    assert (data.type, data.path, data.mode) == (
        "uri_file",
        str(tmp_path / "data/train.csv"),
        "ro_mount",
    )
    assert spec.inputs["learning_rate"].type == "number"
    assert spec.inputs["learning_rate"].value == 0.01
    assert (spec.inputs["epochs"].type, spec.inputs["epochs"].value) == ("integer", 10)
    assert (spec.inputs["fast"].type, spec.inputs["fast"].value) == ("boolean", True)
    assert spec.inputs["seed"].optional and spec.inputs["seed"].value is None
    assert spec.outputs["model_output"].name == "bank-model"
    assert isinstance(spec.environment, EnvironmentSpec)
    assert spec.environment.conda_file == str(tmp_path / "env/conda.yml")
    assert spec.environment_variables == {"SEED": "42"}
    assert spec.limits.timeout == 3600


def test_required_key_typo_is_one_clear_error(tmp_path: Path) -> None:
    path = _write(tmp_path, "type: command\ncode: .\ncomand: python train.py\n")
    with pytest.raises(SpecError) as info:
        load_job_spec(path)
    assert str(info.value).startswith(f"{path}:3: unknown key 'comand' — did you mean 'command'?")


def test_nested_unknown_key_warns_with_a_hint(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        """
        command: echo ${{inputs.data}}
        inputs:
          data:
            typ: uri_file
            path: azureml:bank@latest
        """,
    )
    with pytest.warns(
        SpecWarning,
        match=r"job.yml:4: unknown key 'inputs.data.typ' is ignored. Did you mean 'type'\?",
    ):
        load_job_spec(path)


def test_invalid_values_name_file_line_and_key(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        """
        command: echo hi
        inputs:
          epochs:
            type: integer
            value: ten
        outputs:
          model:
            type: pickle
        limits:
          timeout: 0
        """,
    )
    with pytest.raises(SpecError) as info:
        load_job_spec(path)
    text = str(info.value)
    assert text.startswith(f"Invalid command job spec {path} (3 problems)")
    assert "line 3: inputs.epochs: type integer needs a whole number, got 'ten'" in text
    assert "line 8: outputs.model.type" in text
    assert "line 10: limits.timeout" in text


def test_unsupported_job_type_is_named(tmp_path: Path) -> None:
    path = _write(tmp_path, "type: parallel\ntask: {}\n")
    with pytest.raises(SpecError, match=r"job.yml:1: type: 'parallel' jobs are not supported"):
        load_job_spec(path)


def test_overrides_set_values_and_create_paths(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        """
        command: echo ${{inputs.epochs}} ${{inputs.data}}
        inputs:
          epochs: {type: integer, default: 5}
          data: {type: uri_file, path: a.csv}
        """,
    )
    spec = load_job_spec(
        path,
        overrides=[
            "inputs.epochs=20",
            "inputs.data=azureml:bank:2",
            "compute=ray",
            "limits.timeout=30",
        ],
    )
    assert isinstance(spec, CommandJobSpec)
    assert spec.inputs["epochs"].value == 20
    assert spec.inputs["data"].path == "azureml:bank:2"
    assert spec.compute == "ray" and spec.limits.timeout == 30
    with pytest.raises(SpecError, match=r"expected key.path=value"):
        load_job_spec(path, overrides=["inputs.epochs"])
    with pytest.raises(SpecError, match=r"command is a str, not a mapping"):
        load_job_spec(path, overrides=["command.x=1"])


@given(st.integers(min_value=-(10**9), max_value=10**9))
def test_integer_overrides_round_trip(value: int) -> None:
    data = {"command": "echo ${{inputs.n}}", "inputs": {"n": {"type": "integer", "default": 1}}}
    spec = job_spec_from_dict(apply_overrides(data, [f"inputs.n={value}"]))
    assert spec.inputs["n"].value == value


AZURE_SWEEP = """
$schema: https://azuremlschemas.azureedge.net/latest/sweepJob.schema.json
type: sweep
trial:
  code: src
  command: >-
    python main.py --iris-csv ${{inputs.iris_csv}}
    --learning-rate ${{search_space.learning_rate}} --boosting ${{search_space.boosting}}
  environment: azureml:AzureML-lightgbm-3.3@latest
inputs:
  iris_csv:
    type: uri_file
    path: ./iris.csv
compute: azureml:cpu-cluster
sampling_algorithm:
  type: random
  rule: sobol
  seed: 7
search_space:
  learning_rate:
    type: loguniform
    min_value: -6
    max_value: -1
  boosting:
    type: choice
    values: ["gbdt", "dart"]
objective:
  goal: Minimize
  primary_metric: test-multi_logloss
limits:
  max_total_trials: 20
  max_concurrent_trials: 10
  timeout: 7200
early_termination:
  type: bandit
  evaluation_interval: 1
  delay_evaluation: 5
  slack_factor: 0.1
"""


def test_azure_sweep_job_loads_as_written(tmp_path: Path) -> None:
    spec = load_job_spec(_write(tmp_path, AZURE_SWEEP))
    assert isinstance(spec, SweepJobSpec)
    assert spec.objective.goal == "minimize"
    assert spec.sampling_algorithm.type == "random" and spec.sampling_algorithm.rule == "sobol"
    assert spec.search_space["learning_rate"].min_value == -6
    assert spec.early_termination is not None and spec.early_termination.slack_factor == 0.1
    assert spec.limits.max_concurrent_trials == 10
    assert spec.trial.code == str(tmp_path / "src")


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ("sampling_algorithm: grid", "grid sampling needs every search_space entry to be a choice"),
        ("early_termination: {type: bandit}", "bandit needs slack_factor or slack_amount"),
        (
            "early_termination: {type: truncation_selection}",
            "truncation_selection needs truncation_percentage",
        ),
        (
            "search_space: {lr: {type: uniform, min_value: 1}}",
            "needs min_value, max_value; missing max_value",
        ),
        (
            "search_space: {lr: {type: uniform, min_value: 2, max_value: 1}}",
            "min_value must be below max_value",
        ),
        ("search_space: {lr: {type: gaussian, mu: 0}}", "search_space.lr.type"),
        ("search_space: {}", "needs at least one parameter"),
    ],
)
def test_invalid_sweeps_fail_with_the_cause(tmp_path: Path, change: str, message: str) -> None:
    base = {
        "type": "sweep",
        "trial": {"command": "echo ${{search_space.lr}}"},
        "search_space": {"lr": {"type": "uniform", "min_value": 0.1, "max_value": 1.0}},
        "objective": {"goal": "maximize", "primary_metric": "auc"},
    }
    import yaml

    base.update(yaml.safe_load(change))
    with pytest.raises(SpecError, match=message.replace("(", r"\(")):
        job_spec_from_dict(base, source="sweep.yml")


def test_environment_spec(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        """
        name: env-a
        version: 3
        python: 3.11
        pip_requirements: requirements.txt
        """,
        name="env.yml",
    )
    spec = load_environment_spec(str(path))
    assert (spec.name, spec.version, spec.python) == ("env-a", "3", "3.11")
    assert spec.pip_requirements == str(tmp_path / "requirements.txt")
    empty = _write(tmp_path, "name: nothing\n", name="empty.yml")
    with pytest.raises(SpecError, match=r"needs at least one of image, conda_file"):
        load_environment_spec(str(empty))


def test_clean_spec_emits_no_warnings(tmp_path: Path) -> None:
    (tmp_path / "src").mkdir()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        load_job_spec(_write(tmp_path, AZURE_COMMAND))
        load_job_spec(_write(tmp_path, AZURE_SWEEP, name="sweep.yml"))
