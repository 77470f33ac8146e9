"""Helpers of the pipeline tests: a folder of small components (prep → train → evaluate)
written as Azure YAML, and pipeline files using them."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

PREP = """
import pathlib, sys
raw, out = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2])
(out / "clean.txt").write_text(raw.read_text().upper())
"""
TRAIN = """
import pathlib, sys
data, lr, out = pathlib.Path(sys.argv[1]), sys.argv[2], pathlib.Path(sys.argv[3])
(out / "model.txt").write_text(lr + ":" + (data / "clean.txt").read_text())
"""
EVALUATE = """
import pathlib, sys
model, flag, threshold = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2]), float(sys.argv[3])
lr = float((model / "model.txt").read_text().split(":")[0])
flag.write_text("true" if lr >= threshold else "false")
"""


def _write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text).lstrip())
    return path


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """``prep.yml``, ``train.yml``, ``evaluate.yml`` with their code in ``src/``; ``raw.txt``."""
    root = tmp_path / "project"
    _write(root / "src" / "prep.py", PREP)
    _write(root / "src" / "train.py", TRAIN)
    _write(root / "src" / "evaluate.py", EVALUATE)
    _write(root / "raw.txt", "hello\n")
    _write(
        root / "prep.yml",
        """
        $schema: https://azuremlschemas.azureedge.net/latest/commandComponent.schema.json
        name: prep
        version: 1
        type: command
        inputs:
          raw: {type: uri_file}
        outputs:
          clean: {type: uri_folder}
        code: ./src
        command: python prep.py ${{inputs.raw}} ${{outputs.clean}}
        """,
    )
    _write(
        root / "train.yml",
        """
        name: train
        type: command
        inputs:
          data: {type: uri_folder}
          lr: {type: number, default: 0.1, min: 0.0001, max: 1}
          seed: {type: integer, optional: true}
        outputs:
          model: {type: uri_folder}
        code: ./src
        command: >-
          python train.py ${{inputs.data}} ${{inputs.lr}} ${{outputs.model}}
          $[[--seed ${{inputs.seed}}]]
        """,
    )
    _write(
        root / "evaluate.yml",
        """
        name: evaluate
        type: command
        inputs:
          model: {type: uri_folder}
          threshold: {type: number, default: 0.05}
        outputs:
          is_better: {type: boolean}
        code: ./src
        command: python evaluate.py ${{inputs.model}} ${{outputs.is_better}} ${{inputs.threshold}}
        """,
    )
    return root


PIPELINE = """
$schema: https://azuremlschemas.azureedge.net/latest/pipelineJob.schema.json
type: pipeline
inputs:
  raw: {type: uri_file, path: ./raw.txt}
  lr: 0.1
outputs:
  model: {type: uri_folder}
settings:
  default_compute: local
jobs:
  prep:
    type: command
    component: ./prep.yml
    inputs:
      raw: ${{parent.inputs.raw}}
  train:
    type: command
    component: ./train.yml
    inputs:
      data: ${{parent.jobs.prep.outputs.clean}}
      lr: ${{parent.inputs.lr}}
    outputs:
      model: ${{parent.outputs.model}}
  evaluate:
    type: command
    component: ./evaluate.yml
    inputs:
      model: ${{parent.jobs.train.outputs.model}}
  gate:
    type: if_else
    condition: ${{parent.jobs.evaluate.outputs.is_better}}
    true_block: ${{parent.jobs.register}}
    false_block: ${{parent.jobs.report}}
  register:
    type: command
    command: echo register ${{inputs.model}}
    is_deterministic: false
    inputs:
      model: ${{parent.jobs.train.outputs.model}}
  report:
    type: command
    command: echo not better
"""


def write_pipeline(root: Path, text: str = PIPELINE, name: str = "pipeline.yml") -> Path:
    return _write(root / name, text)


__all__ = ["PIPELINE", "project", "write_pipeline"]
