"""Pipeline YAML: the shape loads as Azure writes it, and the graph checks made before
anything runs (cycles, unknown steps/outputs/inputs, type mismatches, missing required inputs,
reserved names) each name the file, line and key path."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from modelworks.errors import SpecError
from modelworks.pipelines.validate import validate_pipeline
from modelworks.specs.jobs import load_job_spec
from modelworks.specs.pipelines import PipelineJobSpec, parse_binding

COMPONENT = """
name: train
type: command
inputs:
  data: {type: uri_folder}
  epochs: {type: integer, min: 1, max: 100}
  lr: {type: number, default: 0.1}
outputs:
  model: {type: uri_folder}
command: echo ${{inputs.data}} ${{inputs.epochs}} ${{inputs.lr}} ${{outputs.model}}
"""


def _files(tmp_path: Path, pipeline: str) -> Path:
    (tmp_path / "train.yml").write_text(textwrap.dedent(COMPONENT).lstrip())
    path = tmp_path / "pipeline.yml"
    path.write_text(textwrap.dedent(pipeline).lstrip())
    return path


def _problems(tmp_path: Path, pipeline: str) -> str:
    spec = load_job_spec(_files(tmp_path, pipeline))
    assert isinstance(spec, PipelineJobSpec)
    with pytest.raises(SpecError) as caught:
        validate_pipeline(spec, None)
    return caught.value.message


def test_bindings_parse() -> None:
    assert parse_binding("${{parent.inputs.x}}").kind == "input"  # type: ignore[union-attr]
    found = parse_binding("${{ parent.jobs.train.outputs.model }}")
    assert found is not None and (found.step, found.name) == ("train", "model")
    assert parse_binding("${{parent.jobs.train}}").kind == "step"  # type: ignore[union-attr]
    assert parse_binding("plain") is None


def test_valid_pipeline_gives_an_ordered_plan(tmp_path: Path) -> None:
    spec = load_job_spec(
        _files(
            tmp_path,
            """
            type: pipeline
            inputs:
              data: {type: uri_folder, path: .}
            outputs:
              final: {type: uri_folder}
            settings: {default_compute: local, force_rerun: true}
            jobs:
              second:
                component: ./train.yml
                inputs:
                  data: ${{parent.jobs.first.outputs.model}}
                  epochs: 2
                outputs:
                  model: ${{parent.outputs.final}}
              first:
                component: ./train.yml
                inputs:
                  data: ${{parent.inputs.data}}
                  epochs: 1
            """,
        )
    )
    plan = validate_pipeline(spec, None)
    assert plan.order == ["first", "second"]
    assert plan.steps["second"].inputs["lr"] == {"kind": "literal", "type": "number", "value": 0.1}
    assert plan.steps["second"].outputs["model"]["bind"] == "final"
    assert spec.settings.force_rerun


def test_unknown_step_output_and_input_name_file_line_and_key(tmp_path: Path) -> None:
    message = _problems(
        tmp_path,
        """
        type: pipeline
        jobs:
          train:
            component: ./train.yml
            inputs:
              data: ${{parent.jobs.nope.outputs.model}}
              epochs: ${{parent.inputs.missing}}
              extra: 1
          again:
            component: ./train.yml
            inputs:
              data: ${{parent.jobs.train.outputs.weights}}
              epochs: 3
        """,
    )
    path = str(tmp_path / "pipeline.yml")
    assert (
        f"{path}:6 jobs.train.inputs.data: ${{{{parent.jobs.nope.outputs.model}}}} names no step 'nope'"
        in message
    )
    assert (
        f"{path}:7 jobs.train.inputs.epochs:" in message
        and "no pipeline input 'missing'" in message
    )
    assert f"{path}:8 jobs.train.inputs.extra: component 'train' has no input 'extra'" in message
    assert f"{path}:12 jobs.again.inputs.data:" in message and "has no output 'weights'" in message


def test_type_mismatch_and_bounds(tmp_path: Path) -> None:
    message = _problems(
        tmp_path,
        """
        type: pipeline
        jobs:
          first:
            component: ./train.yml
            inputs:
              data: {type: uri_folder, path: .}
              epochs: 500
          second:
            component: ./train.yml
            inputs:
              data: ${{parent.jobs.first.outputs.model}}
              epochs: ${{parent.jobs.first.outputs.model}}
        """,
    )
    assert "pipeline.yml:7 jobs.first.inputs.epochs: 500 is above max 100" in message
    assert (
        "pipeline.yml:12 jobs.second.inputs.epochs: type mismatch: "
        "first.outputs.model is uri_folder, this input is integer"
    ) in message


def test_missing_required_input_reserved_name_and_cycle(tmp_path: Path) -> None:
    message = _problems(
        tmp_path,
        """
        type: pipeline
        jobs:
          parent:
            command: echo hi
          a:
            component: ./train.yml
            inputs:
              data: ${{parent.jobs.b.outputs.model}}
              epochs: 1
          b:
            component: ./train.yml
            inputs:
              data: ${{parent.jobs.a.outputs.model}}
          c:
            component: ./train.yml
            inputs:
              epochs: 1
        """,
    )
    assert "pipeline.yml:3 jobs.parent: 'parent' is not a usable step name (reserved)" in message
    assert "cycle: a -> b -> a" in message or "cycle: b -> a -> b" in message
    assert "pipeline.yml:12 jobs.b.inputs: required input 'epochs' (integer)" in message
    assert "pipeline.yml:16 jobs.c.inputs: required input 'data' (uri_folder)" in message


def test_conditions_and_unsupported_step_types(tmp_path: Path) -> None:
    message = _problems(
        tmp_path,
        """
        type: pipeline
        outputs:
          unused: {type: uri_folder}
        jobs:
          tune:
            type: parallel
          gate:
            type: if_else
            condition: ${{parent.jobs.nothing.outputs.ok}}
            true_block: ${{parent.jobs.tune}}
          gate2:
            type: if_else
            condition: true
            true_block: ${{parent.jobs.tune}}
        """,
    )
    assert (
        "pipeline.yml:6 jobs.tune.type: type: parallel steps are not supported in pipelines yet; "
        "a step is one of type: command, sweep, automl, if_else"
    ) in message
    assert "pipeline.yml:9 jobs.gate.condition:" in message
    assert "pipeline.yml:13 jobs.gate2.condition: a constant condition" in message
    assert "pipeline.yml:3 outputs.unused: no step binds this output" in message


def test_missing_component_file(tmp_path: Path) -> None:
    message = _problems(
        tmp_path,
        """
        type: pipeline
        jobs:
          a:
            component: ./nope.yml
        """,
    )
    assert "pipeline.yml:4 jobs.a.component: component file" in message


def test_sweep_and_automl_steps_give_a_plan(tmp_path: Path) -> None:
    spec = load_job_spec(
        _files(
            tmp_path,
            """
            type: pipeline
            inputs:
              data: {type: uri_folder, path: .}
              table: {type: uri_file, path: ./train.yml}
            outputs:
              best: {type: uri_folder}
              model: {type: mlflow_model}
            jobs:
              tune:
                type: sweep
                trial: ./train.yml
                inputs:
                  data: ${{parent.inputs.data}}
                search_space:
                  epochs: {type: choice, values: [1, 2]}
                  lr: {type: uniform, min_value: 0.01, max_value: 0.3}
                objective: {goal: maximize, primary_metric: acc}
                limits: {max_total_trials: 2, max_concurrent_trials: 2}
                outputs:
                  model: ${{parent.outputs.best}}
              inline:
                type: sweep
                trial:
                  command: echo ${{inputs.data}} ${{search_space.depth}} ${{outputs.out}}
                inputs:
                  data: ${{parent.jobs.tune.outputs.model}}
                search_space: {depth: {type: choice, values: [2, 3]}}
                objective: {goal: minimize, primary_metric: loss}
                outputs: {out: {type: uri_folder}}
              auto:
                type: automl
                task: classification
                target_column_name: y
                training_data: ${{parent.inputs.table}}
                validation_data: ${{parent.jobs.tune.outputs.model}}
                limits: {timeout_seconds: 15}
                featurization: {mode: "off"}
                outputs:
                  best_model: ${{parent.outputs.model}}
              use:
                command: echo ${{inputs.m}}
                inputs:
                  m: ${{parent.jobs.auto.outputs.best_model}}
            """,
        )
    )
    plan = validate_pipeline(spec, None)
    assert plan.order.index("tune") < plan.order.index("auto") < plan.order.index("use")
    tune = plan.steps["tune"]
    assert (tune.kind, tune.is_deterministic) == ("sweep", False)
    assert set(tune.inputs) == {"data"}  # epochs and lr are tuned, not inputs
    assert tune.outputs["model"]["bind"] == "best"
    assert tune.job.limits.max_total_trials == 2 and set(tune.job.search_space) == {"epochs", "lr"}
    assert plan.steps["inline"].after == ["tune"]
    assert set(plan.steps["inline"].component.outputs) == {"out"}
    auto = plan.steps["auto"]
    assert (auto.kind, auto.is_deterministic) == ("automl", False)
    assert auto.inputs["training_data"] == {
        "kind": "parent_input",
        "name": "table",
        "type": "uri_file",
    }
    assert auto.inputs["validation_data"]["type"] == "uri_folder"
    assert "test_data" not in auto.inputs
    assert auto.after == ["tune"]
    assert auto.job.limits.timeout_seconds == 15 and auto.job.featurization.mode == "off"
    assert auto.outputs["best_model"] == {"type": "mlflow_model", "bind": "model"}
    assert plan.steps["use"].after == ["auto"]


def test_sweep_and_automl_step_problems_name_file_line_and_key(tmp_path: Path) -> None:
    message = _problems(
        tmp_path,
        """
        type: pipeline
        inputs:
          n: 3
        jobs:
          tune:
            type: sweep
            trial: ./train.yml
            inputs:
              epochs: 2
              data: ${{parent.jobs.auto.outputs.best_model}}
            search_space:
              epochs: {type: choice, values: [1, 2]}
              data: {type: choice, values: [a, b]}
              depth: {type: choice, values: [1]}
            objective: {goal: maximize}
          nospace:
            type: sweep
            trial: ./train.yml
            inputs:
              data: ${{parent.jobs.tune.outputs.model}}
          auto:
            type: automl
            task: classification
            target_column_name: y
            training_data: ${{parent.inputs.n}}
            validation_data: ${{parent.jobs.tune.outputs.model}}
            limits: {timeout_seconds: -1}
            outputs: {model: {type: mlflow_model}}
          noauto:
            type: automl
            task: classification
            target_column_name: y
        """,
    )
    assert "pipeline.yml:9 jobs.tune.inputs.epochs: 'epochs' is tuned by search_space" in message
    assert (
        "pipeline.yml:13 jobs.tune.search_space.data: input 'data' of the trial component is "
        "uri_folder; search_space tunes literal inputs"
    ) in message
    assert (
        "pipeline.yml:14 jobs.tune.search_space.depth: the trial component 'train' has no input "
        "'depth' to tune"
    ) in message
    assert "pipeline.yml:15 jobs.tune.objective.primary_metric: required key is missing" in message
    assert "pipeline.yml:16 jobs.nospace: a sweep step needs search_space" in message
    assert (
        "pipeline.yml:25 jobs.auto.training_data: type mismatch: pipeline input 'n' is integer, "
        "this input is mltable"
    ) in message
    assert "pipeline.yml:27 jobs.auto.limits.timeout_seconds: input should be greater than 0" in (
        message
    )
    assert (
        "pipeline.yml:28 jobs.auto.outputs.model: an automl step has no output 'model' (its "
        "outputs: best_model)"
    ) in message
    assert (
        "pipeline.yml:29 jobs.noauto: required input 'training_data' (mltable) of an automl step "
        "is not given"
    ) in message
    assert "has no input 'epochs'" not in message  # a tuned input is reported once


def test_cycle_through_sweep_and_automl_steps(tmp_path: Path) -> None:
    message = _problems(
        tmp_path,
        """
        type: pipeline
        jobs:
          tune:
            type: sweep
            trial: ./train.yml
            inputs:
              data: ${{parent.jobs.auto.outputs.best_model}}
            search_space:
              epochs: {type: choice, values: [1, 2]}
            objective: {goal: maximize, primary_metric: acc}
          auto:
            type: automl
            task: regression
            target_column_name: y
            training_data: ${{parent.jobs.tune.outputs.model}}
        """,
    )
    assert "jobs.tune: cycle: tune -> auto -> tune" in message
