"""Azure ML command component YAML: loads as written; optional fragments, input bounds and
unknown placeholders are checked with the file and key path."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from modelworks.errors import SpecError
from modelworks.jobs._render import render
from modelworks.specs.components import component_spec_from_dict, load_component_spec


def _write(tmp_path: Path, text: str, name: str = "train.yml") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text).lstrip())
    return path


def test_azure_component_loads_with_defaults_and_relative_code(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        """
        $schema: https://azuremlschemas.azureedge.net/latest/commandComponent.schema.json
        name: train
        version: 3
        display_name: Train
        type: command
        inputs:
          data: {type: uri_folder}
          lr: {type: number, default: 0.1, min: 0.0001, max: 1}
          kind: {type: string, enum: [a, b], default: a}
          seed: {type: integer, optional: true}
        outputs:
          model: {type: uri_folder}
          is_better: {type: boolean}
        code: ./src
        environment: azureml:sklearn@latest
        additional_includes: [../shared]
        command: >-
          python train.py --data ${{inputs.data}} --lr ${{inputs.lr}}
          $[[--seed ${{inputs.seed}}]] --out ${{outputs.model}}
        """,
    )
    spec = load_component_spec(path)
    assert spec.version == "3" and spec.is_deterministic
    assert spec.code == str(tmp_path / "src")
    assert spec.additional_includes == [str(tmp_path.parent / "shared")]
    assert spec.inputs["lr"].default == 0.1 and spec.inputs["seed"].optional
    assert spec.outputs["is_better"].is_primitive
    values = {"inputs": {"data": "/d", "lr": "0.1"}, "outputs": {"model": "/m"}}
    assert "--seed" not in render(spec.command, values)
    values["inputs"]["seed"] = "7"
    assert "--seed 7" in render(spec.command, values)


def test_bounds_and_enum_are_checked() -> None:
    spec = component_spec_from_dict(
        {
            "name": "c",
            "command": "echo ${{inputs.lr}} ${{inputs.kind}}",
            "inputs": {
                "lr": {"type": "number", "min": 0, "max": 1},
                "kind": {"type": "string", "enum": ["a", "b"]},
            },
        }
    )
    assert spec.inputs["lr"].check_value("0.5") == 0.5
    with pytest.raises(ValueError, match="above max"):
        spec.inputs["lr"].check_value(2)
    with pytest.raises(ValueError, match="not one of"):
        spec.inputs["kind"].check_value("c")


def test_problems_name_the_file_line_and_key(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        """
        name: train
        inputs:
          lr: {type: float}
          seed: {type: integer, optional: true}
        command: python train.py $[[${{inputs.seed}}]]
        """,
    )
    with pytest.raises(SpecError) as caught:
        load_component_spec(path)
    message = caught.value.message
    assert str(path) in message
    assert "line 3: inputs.lr.type" in message
    path.write_text("name: train\ncommand: python train.py ${{outputs.nothing}}\n")
    with pytest.raises(SpecError, match=r"\$\{\{outputs.nothing\}\} names no output 'nothing'"):
        load_component_spec(path)


def test_optional_input_outside_a_fragment_is_refused() -> None:
    with pytest.raises(SpecError, match=r"put it inside \$\[\[\.\.\.\]\]"):
        component_spec_from_dict(
            {
                "name": "c",
                "command": "echo ${{inputs.seed}}",
                "inputs": {"seed": {"type": "integer", "optional": True}},
            },
            source="c.yml",
        )


def test_only_command_components() -> None:
    with pytest.raises(SpecError, match="only 'command' components"):
        component_spec_from_dict({"name": "p", "type": "pipeline", "jobs": {}}, source="p.yml")
