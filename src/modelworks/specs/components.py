"""Azure ML command component YAML (``type: command``) as a pydantic model.

The files users write for ``az ml component create -f`` load unchanged::

    $schema: https://azuremlschemas.azureedge.net/latest/commandComponent.schema.json
    name: train
    version: 3
    type: command
    inputs:
      data: {type: uri_folder}
      lr: {type: number, default: 0.1, min: 0.0001, max: 1}
      seed: {type: integer, optional: true}
    outputs:
      model: {type: uri_folder}
    code: ./src
    environment: azureml:sklearn@latest
    command: >-
      python train.py --data ${{inputs.data}} --lr ${{inputs.lr}}
      $[[--seed ${{inputs.seed}}]] --out ${{outputs.model}}

``$[[ ... ]]`` fragments are dropped when an optional input inside them has no value. Outputs
may also be ``boolean``/``integer``/``number``/``string``: the step writes the value as text
to the file ``${{outputs.<name>}}`` names, and a pipeline reads it (a condition, a literal
input downstream).
"""

from __future__ import annotations

import os
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from modelworks.errors import SpecError
from modelworks.jobs._render import check_references
from modelworks.specs._loading import SpecPath, load_yaml_file, validate_spec
from modelworks.specs.assets import _check_name, _check_tags, _check_version
from modelworks.specs.environment import EnvironmentSpec
from modelworks.specs.jobs import DATA_TYPES, LITERAL_TYPES, InputType, _coerce_literal

__all__ = [
    "COMPONENT_SCHEMA",
    "PRIMITIVE_OUTPUT_TYPES",
    "CommandComponentSpec",
    "ComponentInputSpec",
    "ComponentOutputSpec",
    "component_spec_from_dict",
    "load_component_spec",
]

COMPONENT_SCHEMA = "https://azuremlschemas.azureedge.net/latest/commandComponent.schema.json"
#: Output types whose value is a small text file read by the pipeline (conditions, literals).
PRIMITIVE_OUTPUT_TYPES = ("boolean", "integer", "number", "string")
_INPUT_TYPES = (*DATA_TYPES, *LITERAL_TYPES)


class _Spec(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True)


def _type_only(data: Any) -> Any:
    """``data: uri_folder`` is short for ``data: {type: uri_folder}``."""
    if isinstance(data, str):
        return {"type": data}
    return {} if data is None else data


class ComponentInputSpec(_Spec):
    """One declared input: a data type or a literal type with default, enum and bounds."""

    type: InputType = "uri_folder"
    optional: bool = False
    default: Any = None
    enum: list[Any] | None = None
    min: float | None = None
    max: float | None = None
    description: str = ""
    mode: str | None = None

    @model_validator(mode="before")
    @classmethod
    def _short(cls, data: Any) -> Any:
        return _type_only(data)

    @model_validator(mode="after")
    def _check(self) -> ComponentInputSpec:
        if self.default is not None:
            if self.type in DATA_TYPES:
                self.default = str(self.default)
            else:
                self.default = _coerce_literal(self.type, self.default)
                self.check_value(self.default)
        return self

    @property
    def is_data(self) -> bool:
        return self.type in DATA_TYPES

    @property
    def required(self) -> bool:
        return not self.optional and self.default is None

    def check_value(self, value: Any) -> Any:
        """Coerce a literal to this input's type and check enum/min/max (ValueError if not)."""
        value = _coerce_literal(self.type, value)
        if (
            self.enum is not None
            and value not in self.enum
            and str(value) not in map(str, self.enum)
        ):
            raise ValueError(f"{value!r} is not one of {self.enum}")
        if self.type in ("integer", "number"):
            if self.min is not None and value < self.min:
                raise ValueError(f"{value} is below min {self.min:g}")
            if self.max is not None and value > self.max:
                raise ValueError(f"{value} is above max {self.max:g}")
        return value


class ComponentOutputSpec(_Spec):
    """One declared output: a folder/file/model, or a primitive value written as text."""

    type: InputType = "uri_folder"
    description: str = ""
    is_control: bool = False

    @model_validator(mode="before")
    @classmethod
    def _short(cls, data: Any) -> Any:
        return _type_only(data)

    @property
    def is_primitive(self) -> bool:
        return self.type in PRIMITIVE_OUTPUT_TYPES


class CommandComponentSpec(_Spec):
    """``type: command`` component: a versioned, reusable command with typed inputs/outputs."""

    spec_kind: ClassVar[str] = "command component"

    schema_: str | None = Field(default=None, alias="$schema")
    name: str | None = None
    version: str | None = None
    display_name: str | None = None
    description: str = ""
    tags: dict[str, str] = Field(default_factory=dict)
    type: Literal["command"] = "command"
    inputs: dict[str, ComponentInputSpec] = Field(default_factory=dict)
    outputs: dict[str, ComponentOutputSpec] = Field(default_factory=dict)
    code: SpecPath | None = None
    environment: str | EnvironmentSpec | None = None
    environment_variables: dict[str, str] = Field(default_factory=dict)
    command: str
    is_deterministic: bool = True
    additional_includes: list[SpecPath] = Field(default_factory=list)
    resources: Any = None
    distribution: Any = None

    @field_validator("name", mode="before")
    @classmethod
    def _name(cls, value: Any) -> Any:
        return None if value is None else _check_name("component", str(value))

    @field_validator("version", mode="before")
    @classmethod
    def _version(cls, value: Any) -> Any:
        return None if value is None else _check_version(value)

    @field_validator("tags", "environment_variables", mode="before")
    @classmethod
    def _tags(cls, value: Any) -> Any:
        return {} if value is None else _check_tags(value)

    @field_validator("description", mode="before")
    @classmethod
    def _description(cls, value: Any) -> Any:
        return "" if value is None else value

    @field_validator("inputs", "outputs", "additional_includes", mode="before")
    @classmethod
    def _empty(cls, value: Any) -> Any:
        return value if value is not None else None

    @field_validator("inputs", "outputs")
    @classmethod
    def _keys(cls, value: dict[str, Any]) -> dict[str, Any]:
        for key in value:
            if not key.isidentifier():
                raise ValueError(
                    f"{key!r} is not a valid input/output name: use letters, digits and '_'"
                )
        return value

    @field_validator("command")
    @classmethod
    def _command(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must be the command to run, got an empty string")
        return value

    @model_validator(mode="before")
    @classmethod
    def _none_maps(cls, data: Any) -> Any:
        if isinstance(data, dict):
            for key in ("inputs", "outputs", "additional_includes"):
                if key in data and data[key] is None:
                    data = {**data, key: [] if key == "additional_includes" else {}}
        return data

    @model_validator(mode="after")
    def _references(self) -> CommandComponentSpec:
        clash = sorted(set(self.inputs) & set(self.outputs))
        if clash:
            raise ValueError(f"{', '.join(clash)} is both an input and an output")
        try:
            check_references(
                self.command,
                inputs=list(self.inputs),
                outputs=list(self.outputs),
                optional=[k for k, v in self.inputs.items() if v.optional and v.default is None],
            )
        except SpecError as e:
            raise ValueError(e.message) from None
        return self


def component_spec_from_dict(
    data: dict[str, Any], *, source: str = "<component>", base_dir: str | None = None
) -> CommandComponentSpec:
    """Validate a component mapping with file-and-key messages."""
    if isinstance(data, dict) and data.get("type", "command") != "command":
        raise SpecError(
            f"{source}: type: {data.get('type')!r} components are not supported; only "
            "'command' components are (pipeline components: write a pipeline job instead)."
        )
    return validate_spec(CommandComponentSpec, data, source=source, base_dir=base_dir)


def load_component_spec(path: str | os.PathLike[str]) -> CommandComponentSpec:
    """Load and validate a component YAML file (relative paths resolve against its folder)."""
    source = os.fspath(path)
    return component_spec_from_dict(load_yaml_file(source), source=source)
