"""Azure ML pipeline job YAML (``type: pipeline``) as a pydantic model.

::

    $schema: https://azuremlschemas.azureedge.net/latest/pipelineJob.schema.json
    type: pipeline
    inputs:
      raw: {type: uri_file, path: azureml:bank@latest}
    outputs:
      model: {type: uri_folder}
    settings:
      default_compute: azureml:local
      continue_on_step_failure: false
      force_rerun: false
    jobs:
      prep:
        type: command
        component: ./prep.yml                    # a file, azureml:prep@latest, or inline
        inputs: {raw: ${{parent.inputs.raw}}}
      train:
        type: command
        component: azureml:train:3
        inputs:
          data: ${{parent.jobs.prep.outputs.clean}}
          lr: 0.1
        outputs:
          model: ${{parent.outputs.model}}
      tune:
        type: sweep                              # trials of a command component
        trial: ./train.yml
        inputs: {data: ${{parent.jobs.prep.outputs.clean}}}
        search_space: {lr: {type: uniform, min_value: 0.01, max_value: 0.3}}
        objective: {goal: maximize, primary_metric: acc}
        limits: {max_total_trials: 4}
      automl:
        type: automl                             # an AutoML job; outputs.best_model
        task: classification
        target_column_name: y
        training_data: ${{parent.inputs.raw}}
      gate:
        type: if_else
        condition: ${{parent.jobs.evaluate.outputs.is_better}}
        true_block: ${{parent.jobs.register}}

This module checks the shape of the file. The graph — components, bindings, types, cycles —
is checked by :mod:`modelworks.pipelines.validate` when the job is submitted, with messages
naming the file, line and key path (``pipeline.yml:14 jobs.train.inputs.data``), which is why
the model keeps the line of every key (:meth:`PipelineJobSpec.where`).
"""

from __future__ import annotations

import re
from typing import Any, ClassVar, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationInfo,
    field_validator,
    model_validator,
)

from modelworks.specs._loading import SpecPath, format_key_path
from modelworks.specs.assets import _check_tags
from modelworks.specs.environment import EnvironmentSpec
from modelworks.specs.jobs import JobLimitsSpec, _JobCommon

__all__ = [
    "BINDING",
    "PIPELINE_SCHEMA",
    "RESERVED_STEP_NAMES",
    "STEP_TYPES",
    "Binding",
    "PipelineJobSpec",
    "PipelineSettingsSpec",
    "PipelineStepSpec",
    "parse_binding",
]

PIPELINE_SCHEMA = "https://azuremlschemas.azureedge.net/latest/pipelineJob.schema.json"
#: ``${{parent.inputs.x}}``, ``${{parent.outputs.y}}``, ``${{parent.jobs.s.outputs.o}}``,
#: ``${{parent.jobs.s}}`` (a whole step, in if_else blocks).
BINDING = re.compile(
    r"^\s*\$\{\{\s*parent\.(?:(inputs|outputs)\.([A-Za-z_][A-Za-z0-9_]*)"
    r"|jobs\.([A-Za-z_][A-Za-z0-9_\-]*)(?:\.(outputs|metrics)\.([A-Za-z_][A-Za-z0-9_.\-]*))?)"
    r"\s*\}\}\s*$"
)
#: Step names that would shadow the binding grammar or the job's own keys.
RESERVED_STEP_NAMES = frozenset({"parent", "inputs", "outputs", "jobs", "settings", "self"})
#: The ``type:`` of a pipeline step: a child job of that kind, or a control node (if_else).
STEP_TYPES = ("command", "sweep", "automl", "if_else")


class Binding(BaseModel):
    """A parsed ``${{parent...}}`` reference."""

    kind: Literal["input", "output", "step", "step_output", "step_metric"]
    name: str
    step: str | None = None


def parse_binding(value: Any) -> Binding | None:
    """The binding a value names, or None when it is not a ``${{parent...}}`` string."""
    if not isinstance(value, str) or "${{" not in value:
        return None
    match = BINDING.match(value)
    if match is None:
        return None
    kind, name, step, sub, sub_name = match.groups()
    if kind == "inputs":
        return Binding(kind="input", name=name)
    if kind == "outputs":
        return Binding(kind="output", name=name)
    if sub == "outputs":
        return Binding(kind="step_output", name=sub_name, step=step)
    if sub == "metrics":
        return Binding(kind="step_metric", name=sub_name, step=step)
    return Binding(kind="step", name=step, step=step)


class _Spec(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True)


class PipelineSettingsSpec(_Spec):
    """``settings:`` of a pipeline job."""

    default_compute: str | None = None
    continue_on_step_failure: bool = False
    force_rerun: bool = False
    default_datastore: Any = None


class PipelineStepSpec(_Spec):
    """One entry of ``jobs:`` — a command step (component or inline command), a sweep step
    (``trial:`` a command component, tuned over ``search_space``), an AutoML step
    (``task``, ``training_data``, ... as in an AutoML job) or a control node
    (``type: if_else``). Checked against its component (or job spec) at submission; the
    mapping as written is kept (:attr:`raw`) to check a sweep or AutoML step as its job."""

    type: str = "command"
    name: str | None = None
    display_name: str | None = None
    description: str = ""
    tags: dict[str, str] = Field(default_factory=dict)
    component: SpecPath | dict[str, Any] | None = None
    command: str | None = None
    code: SpecPath | None = None
    environment: str | EnvironmentSpec | None = None
    environment_variables: dict[str, str] = Field(default_factory=dict)
    inputs: dict[str, Any] = Field(default_factory=dict)
    outputs: dict[str, Any] = Field(default_factory=dict)
    compute: str | None = None
    force_rerun: bool | None = None
    is_deterministic: bool | None = None
    limits: JobLimitsSpec = Field(default_factory=JobLimitsSpec)
    condition: Any = None
    true_block: str | list[str] | None = None
    false_block: str | list[str] | None = None
    # type: sweep
    trial: SpecPath | dict[str, Any] | None = None
    search_space: dict[str, Any] | None = None
    sampling_algorithm: Any = None
    objective: Any = None
    early_termination: Any = None
    # type: automl (other keys of an AutoML job are read from the mapping as written)
    task: str | None = None
    training_data: Any = None
    validation_data: Any = None
    test_data: Any = None

    _raw: dict[str, Any] = PrivateAttr(default_factory=dict)

    @model_validator(mode="wrap")
    @classmethod
    def _keep_raw(cls, data: Any, handler: Any) -> Any:
        step = handler(data)
        if isinstance(step, PipelineStepSpec) and isinstance(data, dict):
            step._raw = data
        return step

    @property
    def raw(self) -> dict[str, Any]:
        """The step's mapping as written (a YAML mapping keeps its lines)."""
        return self._raw

    @field_validator("inputs", "outputs", "tags", "environment_variables", mode="before")
    @classmethod
    def _maps(cls, value: Any) -> Any:
        return {} if value is None else value

    @field_validator("tags", "environment_variables")
    @classmethod
    def _text(cls, value: Any) -> Any:
        return _check_tags(value)

    @field_validator("limits", mode="before")
    @classmethod
    def _limits(cls, value: Any) -> Any:
        return {} if value is None else value

    @field_validator("description", mode="before")
    @classmethod
    def _description(cls, value: Any) -> Any:
        return "" if value is None else value

    def blocks(self) -> tuple[list[str], list[str]]:
        """Raw entries of ``true_block`` and ``false_block``, as lists."""

        def listed(value: str | list[str] | None) -> list[str]:
            if value is None:
                return []
            return [value] if isinstance(value, str) else list(value)

        return listed(self.true_block), listed(self.false_block)


class PipelineJobSpec(_JobCommon):
    """``type: pipeline``: steps (``jobs``) wired by ``${{parent...}}`` bindings."""

    spec_kind: ClassVar[str] = "pipeline job"

    type: Literal["pipeline"] = "pipeline"
    settings: PipelineSettingsSpec = Field(default_factory=PipelineSettingsSpec)
    jobs: dict[str, PipelineStepSpec]

    _source: str = PrivateAttr(default="<pipeline>")
    _base_dir: str | None = PrivateAttr(default=None)
    _lines: dict[tuple[str, ...], int] = PrivateAttr(default_factory=dict)

    @field_validator("settings", mode="before")
    @classmethod
    def _settings(cls, value: Any) -> Any:
        return {} if value is None else value

    @field_validator("jobs")
    @classmethod
    def _steps(cls, value: dict[str, PipelineStepSpec]) -> dict[str, PipelineStepSpec]:
        if not value:
            raise ValueError("a pipeline needs at least one step under jobs")
        return value

    @model_validator(mode="wrap")
    @classmethod
    def _remember(cls, data: Any, handler: Any, info: ValidationInfo) -> Any:
        spec = handler(data)
        context = info.context if isinstance(info.context, dict) else {}
        if isinstance(spec, PipelineJobSpec):
            spec._source = str(context.get("source") or spec._source)
            spec._base_dir = context.get("base_dir") or spec._base_dir
            if isinstance(data, dict):
                spec._lines = _key_lines(data, ())
        return spec

    @property
    def source(self) -> str:
        return self._source

    @property
    def base_dir(self) -> str | None:
        return self._base_dir

    def where(self, *path: str) -> str:
        """``pipeline.yml:14 jobs.train.inputs.data``: the file, the line of the deepest key
        known along ``path``, and the key path — the prefix of every validation message."""
        line = None
        for end in range(len(path), 0, -1):
            line = self._lines.get(tuple(path[:end]))
            if line is not None:
                break
        at = f"{self._source}:{line}" if line else self._source
        return f"{at} {format_key_path(tuple(path))}" if path else at


def _key_lines(data: Any, prefix: tuple[str, ...]) -> dict[tuple[str, ...], int]:
    lines: dict[tuple[str, ...], int] = {}
    recorded = getattr(data, "key_lines", None)
    if not isinstance(data, dict):
        return lines
    for key, value in data.items():
        path = (*prefix, str(key))
        if isinstance(recorded, dict) and key in recorded:
            lines[path] = recorded[key]
        if isinstance(value, dict) and len(path) < 6:
            lines.update(_key_lines(value, path))
    return lines
