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
            type: sweep
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
    assert "jobs.tune.type: type: sweep steps are not supported in pipelines yet" in message
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
