"""Azure ML CLI v2 job YAML — ``type: command`` and ``type: sweep`` — as pydantic models.

The files users write for ``az ml job create -f`` load unchanged::

    $schema: https://azuremlschemas.azureedge.net/latest/commandJob.schema.json
    type: command
    code: ./src
    command: python train.py --data ${{inputs.data}} --lr ${{inputs.lr}} --out ${{outputs.model}}
    inputs:
      data: {type: uri_file, path: azureml:bank@latest}
      lr: 0.1
    outputs:
      model: {type: custom_model, name: bank-clf}
    environment: azureml:AzureML-sklearn-1.5@latest
    compute: azureml:cpu-cluster
    limits: {timeout: 3600}

:func:`load_job_spec` reads a file, applies ``--set key.path=value`` overrides and validates
it: unknown keys warn (at any depth, with a "did you mean" hint) and a typo of a required key
fails with one message naming the typo; every other problem is reported with the file, line
and key path before anything runs.
"""

from __future__ import annotations

import difflib
import importlib
import os
import types
import typing
import warnings
from collections.abc import Sequence
from typing import Any, ClassVar, Literal, Union

import yaml
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from modelworks.errors import SpecError
from modelworks.specs._loading import (
    SpecPath,
    SpecWarning,
    format_key_path,
    load_yaml_file,
    validate_spec,
)
from modelworks.specs.assets import _check_name, _check_tags, _check_version
from modelworks.specs.environment import EnvironmentSpec

__all__ = [
    "COMMAND_SCHEMA",
    "DATA_TYPES",
    "LITERAL_TYPES",
    "SEARCH_SPACE_TYPES",
    "SPEC_TYPES",
    "SWEEP_SCHEMA",
    "CommandJobSpec",
    "EarlyTerminationSpec",
    "JobInputSpec",
    "JobLimitsSpec",
    "JobOutputSpec",
    "JobSpec",
    "ObjectiveSpec",
    "SamplingAlgorithmSpec",
    "SearchSpaceSpec",
    "SweepJobSpec",
    "SweepLimitsSpec",
    "TrialSpec",
    "apply_overrides",
    "job_spec_from_dict",
    "load_job_spec",
]

COMMAND_SCHEMA = "https://azuremlschemas.azureedge.net/latest/commandJob.schema.json"
SWEEP_SCHEMA = "https://azuremlschemas.azureedge.net/latest/sweepJob.schema.json"

DATA_TYPES = ("uri_file", "uri_folder", "mltable", "mlflow_model", "custom_model")
LITERAL_TYPES = ("string", "integer", "number", "boolean")
#: What an input or a component output may be: a data/model type or a literal type.
InputType = Literal[
    "uri_file",
    "uri_folder",
    "mltable",
    "mlflow_model",
    "custom_model",
    "string",
    "integer",
    "number",
    "boolean",
]
OUTPUT_TYPES = ("uri_folder", "uri_file", "mltable", "custom_model", "mlflow_model")
INPUT_MODES = ("ro_mount", "rw_mount", "download", "direct", "eval_mount", "eval_download")
OUTPUT_MODES = ("rw_mount", "upload", "direct")
SEARCH_SPACE_TYPES = (
    "choice",
    "randint",
    "uniform",
    "quniform",
    "loguniform",
    "qloguniform",
    "normal",
    "qnormal",
    "lognormal",
    "qlognormal",
)
_SPACE_FIELDS: dict[str, tuple[str, ...]] = {
    "choice": ("values",),
    "randint": ("upper",),
    "uniform": ("min_value", "max_value"),
    "quniform": ("min_value", "max_value", "q"),
    "loguniform": ("min_value", "max_value"),
    "qloguniform": ("min_value", "max_value", "q"),
    "normal": ("mu", "sigma"),
    "qnormal": ("mu", "sigma", "q"),
    "lognormal": ("mu", "sigma"),
    "qlognormal": ("mu", "sigma", "q"),
}


class _Spec(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True)


def _literal_type_of(value: Any) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    return "string"


class JobInputSpec(_Spec):
    """One input: a data/model reference (``type`` + ``path``) or a literal value."""

    type: InputType = "uri_folder"
    path: SpecPath | None = None
    value: Any = None
    default: Any = None
    optional: bool = False
    mode: (
        Literal["ro_mount", "rw_mount", "download", "direct", "eval_mount", "eval_download"] | None
    ) = None
    description: str = ""
    min: float | None = None
    max: float | None = None

    @model_validator(mode="before")
    @classmethod
    def _from_literal(cls, data: Any) -> Any:
        """``lr: 0.1`` means a literal input of type number with that value."""
        if isinstance(data, dict) or data is None:
            if (
                isinstance(data, dict)
                and "type" not in data
                and "path" not in data
                and ("value" in data or "default" in data)
            ):
                sample = data.get("value", data.get("default"))
                return {**data, "type": _literal_type_of(sample)}
            return data
        if isinstance(data, list):
            raise ValueError("an input is a value or a mapping with type/path, not a list")
        return {"type": _literal_type_of(data), "value": data}

    @model_validator(mode="after")
    def _check(self) -> JobInputSpec:
        if self.type in DATA_TYPES:
            if self.value is not None and self.path is None:
                self.path = str(self.value)
                self.value = None
            return self
        value = self.value if self.value is not None else self.default
        if value is None:
            return self
        self.value = _coerce_literal(self.type, value)
        self.default = None
        return self

    @property
    def is_data(self) -> bool:
        return self.type in DATA_TYPES


def _coerce_literal(kind: str, value: Any) -> Any:
    if kind == "boolean":
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("true", "false"):
            return value.lower() == "true"
        raise ValueError(f"type boolean needs true or false, got {value!r}")
    if kind == "integer":
        if isinstance(value, bool):
            raise ValueError(f"type integer needs a whole number, got {value!r}")
        try:
            number = float(value)
        except (TypeError, ValueError):
            raise ValueError(f"type integer needs a whole number, got {value!r}") from None
        if not number.is_integer():
            raise ValueError(f"type integer needs a whole number, got {value!r}")
        return int(number)
    if kind == "number":
        if isinstance(value, bool):
            raise ValueError(f"type number needs a number, got {value!r}")
        try:
            return float(value) if not isinstance(value, int) else value
        except (TypeError, ValueError):
            raise ValueError(f"type number needs a number, got {value!r}") from None
    return str(value)


class JobOutputSpec(_Spec):
    """One output folder (or file): uploaded as run artifacts ``outputs/<name>``; registered as
    a data asset or model when ``name`` is given."""

    type: Literal["uri_folder", "uri_file", "mltable", "custom_model", "mlflow_model"] = (
        "uri_folder"
    )
    path: str | None = None
    mode: Literal["rw_mount", "upload", "direct"] | None = None
    name: str | None = None
    version: str | None = None
    description: str = ""

    @model_validator(mode="before")
    @classmethod
    def _empty(cls, data: Any) -> Any:
        return {} if data is None else data

    @field_validator("name", mode="before")
    @classmethod
    def _name(cls, value: Any) -> Any:
        return None if value is None else _check_name("output asset", value)

    @field_validator("version", mode="before")
    @classmethod
    def _version(cls, value: Any) -> Any:
        return None if value is None else _check_version(value)


class JobLimitsSpec(_Spec):
    timeout: int | None = Field(default=None, gt=0, description="seconds")


def _environment_value(value: Any) -> Any:
    if isinstance(value, str) and not value.strip():
        raise ValueError("must be an environment reference or a mapping, got an empty string")
    return value


class _JobCommon(_Spec):
    schema_: str | None = Field(default=None, alias="$schema")
    name: str | None = None
    display_name: str | None = None
    experiment_name: str | None = None
    description: str = ""
    tags: dict[str, str] = Field(default_factory=dict)
    compute: str | None = None
    inputs: dict[str, JobInputSpec] = Field(default_factory=dict)
    outputs: dict[str, JobOutputSpec] = Field(default_factory=dict)
    properties: dict[str, Any] = Field(default_factory=dict)
    identity: Any = None
    services: Any = None
    queue_settings: Any = None

    @field_validator("name", mode="before")
    @classmethod
    def _name(cls, value: Any) -> Any:
        return None if value is None else _check_name("job", str(value))

    @field_validator("experiment_name", mode="before")
    @classmethod
    def _experiment(cls, value: Any) -> Any:
        return None if value is None else _check_name("experiment", str(value))

    @field_validator("tags", mode="before")
    @classmethod
    def _tags(cls, value: Any) -> Any:
        return {} if value is None else _check_tags(value)

    @field_validator("description", mode="before")
    @classmethod
    def _description(cls, value: Any) -> Any:
        return "" if value is None else value

    @field_validator("inputs", "outputs", mode="before")
    @classmethod
    def _mapping(cls, value: Any) -> Any:
        return {} if value is None else value

    @field_validator("inputs", "outputs")
    @classmethod
    def _keys(cls, value: dict[str, Any]) -> dict[str, Any]:
        for key in value:
            if not key.isidentifier():
                raise ValueError(
                    f"{key!r} is not a valid input/output name: use letters, digits and '_'"
                )
        return value


class CommandJobSpec(_JobCommon):
    """``type: command``: one command run in an environment on a compute."""

    spec_kind: ClassVar[str] = "command job"

    type: Literal["command"] = "command"
    command: str
    code: SpecPath | None = None
    environment: str | EnvironmentSpec | None = None
    environment_variables: dict[str, str] = Field(default_factory=dict)
    limits: JobLimitsSpec = Field(default_factory=JobLimitsSpec)
    resources: Any = None
    distribution: Any = None

    @field_validator("command")
    @classmethod
    def _command(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must be the command to run, got an empty string")
        return value

    @field_validator("environment", mode="before")
    @classmethod
    def _environment(cls, value: Any) -> Any:
        return _environment_value(value)

    @field_validator("environment_variables", mode="before")
    @classmethod
    def _env_vars(cls, value: Any) -> Any:
        return {} if value is None else _check_tags(value)

    @field_validator("limits", mode="before")
    @classmethod
    def _limits(cls, value: Any) -> Any:
        return {} if value is None else value


class TrialSpec(_Spec):
    """The command each sweep trial runs (``${{search_space.x}}`` names sampled values)."""

    command: str
    code: SpecPath | None = None
    environment: str | EnvironmentSpec | None = None
    environment_variables: dict[str, str] = Field(default_factory=dict)
    resources: Any = None
    distribution: Any = None

    @field_validator("environment", mode="before")
    @classmethod
    def _environment(cls, value: Any) -> Any:
        return _environment_value(value)

    @field_validator("environment_variables", mode="before")
    @classmethod
    def _env_vars(cls, value: Any) -> Any:
        return {} if value is None else _check_tags(value)


class SamplingAlgorithmSpec(_Spec):
    type: Literal["random", "sobol", "grid", "bayesian"] = "random"
    seed: int | None = None
    rule: Literal["random", "sobol"] | None = None
    logbase: Any = None

    @model_validator(mode="before")
    @classmethod
    def _from_name(cls, data: Any) -> Any:
        if isinstance(data, str):
            return {"type": data.lower()}
        if isinstance(data, dict) and isinstance(data.get("type"), str):
            return {**data, "type": data["type"].lower()}
        return data


class SearchSpaceSpec(_Spec):
    """One search-space entry, e.g. ``{type: loguniform, min_value: -6, max_value: -1}``.

    As in Azure ML, ``loguniform``/``lognormal`` bounds are exponents: the value is
    ``exp(uniform(min_value, max_value))``; ``randint`` draws from ``[0, upper)``; the ``q``
    variants round to multiples of ``q``.
    """

    type: Literal[
        "choice",
        "randint",
        "uniform",
        "quniform",
        "loguniform",
        "qloguniform",
        "normal",
        "qnormal",
        "lognormal",
        "qlognormal",
    ]
    values: list[Any] | None = None
    upper: int | None = None
    min_value: float | None = None
    max_value: float | None = None
    q: float | None = None
    mu: float | None = None
    sigma: float | None = None

    @model_validator(mode="before")
    @classmethod
    def _lower(cls, data: Any) -> Any:
        if isinstance(data, dict) and isinstance(data.get("type"), str):
            return {**data, "type": data["type"].lower()}
        return data

    @model_validator(mode="after")
    def _check(self) -> SearchSpaceSpec:
        needed = _SPACE_FIELDS[self.type]
        missing = [f for f in needed if getattr(self, f) is None]
        if missing:
            raise ValueError(
                f"type {self.type} needs {', '.join(needed)}; missing {', '.join(missing)}"
            )
        if self.type == "choice":
            assert self.values is not None
            if not self.values:
                raise ValueError("choice needs at least one value in 'values'")
            if any(isinstance(v, dict) for v in self.values):
                raise ValueError(
                    "nested search spaces inside choice values are not supported; "
                    "flatten them into separate search_space entries"
                )
        if self.type == "randint" and (self.upper is None or self.upper < 1):
            raise ValueError(f"randint needs upper >= 1, got {self.upper}")
        if (
            self.min_value is not None
            and self.max_value is not None
            and self.min_value >= self.max_value
        ):
            raise ValueError(
                f"min_value must be below max_value, got {self.min_value} >= {self.max_value}"
            )
        if self.q is not None and self.q <= 0:
            raise ValueError(f"q must be positive, got {self.q}")
        if self.sigma is not None and self.sigma <= 0:
            raise ValueError(f"sigma must be positive, got {self.sigma}")
        return self


class ObjectiveSpec(_Spec):
    goal: Literal["minimize", "maximize"]
    primary_metric: str

    @field_validator("goal", mode="before")
    @classmethod
    def _goal(cls, value: Any) -> Any:
        return value.lower() if isinstance(value, str) else value


class EarlyTerminationSpec(_Spec):
    type: Literal["bandit", "median_stopping", "truncation_selection"]
    evaluation_interval: int = Field(default=1, ge=0)
    delay_evaluation: int = Field(default=0, ge=0)
    slack_factor: float | None = Field(default=None, ge=0)
    slack_amount: float | None = Field(default=None, ge=0)
    truncation_percentage: int | None = Field(default=None, ge=1, le=99)
    exclude_finished_jobs: bool = False

    @model_validator(mode="before")
    @classmethod
    def _lower(cls, data: Any) -> Any:
        if isinstance(data, dict) and isinstance(data.get("type"), str):
            return {**data, "type": data["type"].lower()}
        return data

    @model_validator(mode="after")
    def _check(self) -> EarlyTerminationSpec:
        if self.type == "bandit" and self.slack_factor is None and self.slack_amount is None:
            raise ValueError("bandit needs slack_factor or slack_amount")
        if self.type == "bandit" and self.slack_factor is not None and self.slack_amount:
            raise ValueError("bandit takes slack_factor or slack_amount, not both")
        if self.type == "truncation_selection" and self.truncation_percentage is None:
            raise ValueError("truncation_selection needs truncation_percentage (1-99)")
        return self


class SweepLimitsSpec(_Spec):
    max_total_trials: int = Field(default=1000, ge=1)
    max_concurrent_trials: int | None = Field(default=None, ge=1)
    timeout: int | None = Field(default=None, gt=0, description="seconds, whole sweep")
    trial_timeout: int | None = Field(default=None, gt=0, description="seconds, each trial")


class SweepJobSpec(_JobCommon):
    """``type: sweep``: trials of ``trial`` over ``search_space``, tuned for ``objective``."""

    spec_kind: ClassVar[str] = "sweep job"

    type: Literal["sweep"] = "sweep"
    trial: TrialSpec
    sampling_algorithm: SamplingAlgorithmSpec = Field(default_factory=SamplingAlgorithmSpec)
    search_space: dict[str, SearchSpaceSpec]
    objective: ObjectiveSpec
    early_termination: EarlyTerminationSpec | None = None
    limits: SweepLimitsSpec = Field(default_factory=SweepLimitsSpec)

    @field_validator("limits", "sampling_algorithm", mode="before")
    @classmethod
    def _defaults(cls, value: Any) -> Any:
        return {} if value is None else value

    @field_validator("search_space")
    @classmethod
    def _space(cls, value: dict[str, SearchSpaceSpec]) -> dict[str, SearchSpaceSpec]:
        if not value:
            raise ValueError("needs at least one parameter to search over")
        for key in value:
            if not key.isidentifier():
                raise ValueError(f"{key!r} is not a valid parameter name: use letters, digits, _")
        return value

    @model_validator(mode="after")
    def _grid(self) -> SweepJobSpec:
        if self.sampling_algorithm.type == "grid":
            other = [k for k, v in self.search_space.items() if v.type != "choice"]
            if other:
                raise ValueError(
                    "grid sampling needs every search_space entry to be a choice; "
                    + ", ".join(f"{k} is {self.search_space[k].type}" for k in other)
                )
        return self


JobSpec = CommandJobSpec | SweepJobSpec


# ----------------------------------------------------------------------------- unknown keys


def _models_in(annotation: Any) -> tuple[list[type[BaseModel]], bool]:
    """Model classes a field holds directly, and whether it is a ``dict[str, Model]``."""
    origin = typing.get_origin(annotation)
    if origin is dict:
        args = typing.get_args(annotation)
        inner, _ = _models_in(args[1]) if len(args) == 2 else ([], False)
        return inner, True
    if origin in (Union, types.UnionType):
        found: list[type[BaseModel]] = []
        for arg in typing.get_args(annotation):
            models, is_map = _models_in(arg)
            if not is_map:
                found.extend(models)
        return found, False
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation], False
    return [], False


def _field_names(model_cls: type[BaseModel]) -> dict[str, str]:
    """Written key → attribute name."""
    out: dict[str, str] = {}
    for name, info in model_cls.model_fields.items():
        out[info.alias or name] = name
        out[name] = name
    return out


def _line(data: Any, key: str) -> int | None:
    lines = getattr(data, "key_lines", None)
    return lines.get(key) if isinstance(lines, dict) else None


def _check_keys(
    model_cls: type[BaseModel], data: Any, loc: tuple[int | str, ...], source: str
) -> None:
    """Warn about unknown keys at every depth; fail on a typo of a missing required key."""
    if not isinstance(data, dict):
        return
    names = _field_names(model_cls)
    required = [
        info.alias or name
        for name, info in model_cls.model_fields.items()
        if info.is_required() and (info.alias or name) not in data and name not in data
    ]
    for key in data:
        if not isinstance(key, str) or key in names:
            continue
        line = _line(data, key)
        where = f"{source}:{line}" if line else source
        path = format_key_path((*loc, key))
        close = difflib.get_close_matches(key, required, n=1, cutoff=0.6)
        if close:
            raise SpecError(
                f"{where}: unknown key {path!r} — did you mean {close[0]!r}? "
                f"{format_key_path((*loc, close[0]))} is required and missing. Fix the key name."
            )
        if not loc:
            continue  # validate_spec warns about unknown top-level keys itself
        known = sorted(k for k in names if not k.endswith("_") and k != "spec_kind")
        guess = difflib.get_close_matches(key, known, n=1, cutoff=0.6)
        hint = f" Did you mean {guess[0]!r}?" if guess else f" Known keys: {', '.join(known)}."
        warnings.warn(f"{where}: unknown key {path!r} is ignored.{hint}", SpecWarning, stacklevel=3)
    for key, value in data.items():
        attr = names.get(key) if isinstance(key, str) else None
        if attr is None:
            continue
        models, is_map = _models_in(model_cls.model_fields[attr].annotation)
        if not models:
            continue
        if is_map and isinstance(value, dict):
            for sub_key, sub_value in value.items():
                if isinstance(sub_value, dict):
                    _check_keys(models[0], sub_value, (*loc, key, sub_key), source)
        elif isinstance(value, dict):
            _check_keys(models[0], value, (*loc, key), source)


# -------------------------------------------------------------------------------- overrides


def apply_overrides(data: dict[str, Any], overrides: Sequence[str]) -> dict[str, Any]:
    """Apply ``key.path=value`` overrides (values parsed as YAML scalars) to a spec mapping.

    Setting a scalar on an input that is written as a mapping sets its ``path`` (data
    inputs) or its ``value`` (literal inputs), as ``az ml job create --set`` does.
    """
    for item in overrides:
        key_path, sep, raw = item.partition("=")
        parts = [p for p in key_path.strip().split(".") if p]
        if not sep or not parts:
            raise SpecError(f"--set {item!r}: expected key.path=value, e.g. inputs.epochs=20.")
        try:
            value = yaml.safe_load(raw) if raw.strip() else ""
        except yaml.YAMLError:
            value = raw
        node: Any = data
        for i, part in enumerate(parts[:-1]):
            child = node.get(part) if isinstance(node, dict) else None
            if child is None:
                child = {}
                node[part] = child
            elif not isinstance(child, dict):
                raise SpecError(
                    f"--set {item!r}: {'.'.join(parts[: i + 1])} is a "
                    f"{type(child).__name__}, not a mapping with key {parts[i + 1]!r}."
                )
            node = child
        last = parts[-1]
        current = node.get(last)
        if (
            isinstance(current, dict)
            and not isinstance(value, dict)
            and len(parts) >= 2
            and parts[-2] == "inputs"
        ):
            kind = str(current.get("type", ""))
            if kind in DATA_TYPES or "path" in current:
                current["path"] = value
            else:
                current["value"] = value
                current.pop("default", None)
            continue
        node[last] = value
    return data


# ---------------------------------------------------------------------------------- loading


#: ``type:`` of a job YAML -> its spec class (``"module:Class"`` strings load on first use, so a
#: command job never imports the AutoML or pipeline specs). Runtime entries: ``jobs/kinds.py``.
SPEC_TYPES: dict[str, type[BaseModel] | str] = {
    "command": CommandJobSpec,
    "sweep": SweepJobSpec,
    "automl": "modelworks.specs.automl:AutoMLJobSpec",
    "pipeline": "modelworks.specs.pipelines:PipelineJobSpec",
}


def _spec_class(kind: str) -> type[BaseModel]:
    found = SPEC_TYPES[kind]
    if isinstance(found, str):
        module, _, attr = found.partition(":")
        found = SPEC_TYPES[kind] = getattr(importlib.import_module(module), attr)
    assert isinstance(found, type)
    return found


def job_spec_from_dict(
    data: dict[str, Any], *, source: str = "<job>", base_dir: str | None = None
) -> Any:
    """Validate a job mapping (any ``type`` of :data:`SPEC_TYPES`) with file-and-key messages."""
    if not isinstance(data, dict):
        raise SpecError(f"{source}: a job spec is a mapping of keys, got {type(data).__name__}.")
    kind = data.get("type", "command")
    if kind not in SPEC_TYPES:
        line = _line(data, "type")
        where = f"{source}:{line}" if line else source
        expected = ", ".join(repr(k) for k in SPEC_TYPES)
        raise SpecError(
            f"{where}: type: {kind!r} jobs are not supported; expected one of {expected}."
        )
    model_cls = _spec_class(kind)
    if kind in ("command", "sweep"):
        _check_keys(model_cls, data, (), source)
    if base_dir is None and os.path.isfile(source):
        base_dir = os.path.dirname(os.path.abspath(source))
    return validate_spec(model_cls, data, source=source, base_dir=base_dir)


def load_job_spec(path: str | os.PathLike[str], *, overrides: Sequence[str] = ()) -> Any:
    """Load a job YAML file, apply ``--set`` overrides, validate it (nothing runs yet)."""
    source = os.fspath(path)
    data = load_yaml_file(source)
    if overrides:
        data = apply_overrides(data, overrides)
    return job_spec_from_dict(data, source=source)
