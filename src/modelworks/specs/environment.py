"""Azure ML CLI v2 environment YAML (``environment.schema.json``) as a pydantic model.

The files users write for ``az ml environment create -f`` load unchanged::

    $schema: https://azuremlschemas.azureedge.net/latest/environment.schema.json
    name: sklearn-env
    version: 1
    image: mcr.microsoft.com/azureml/openmpi4.1.0-ubuntu20.04
    conda_file: conda.yml          # a path, or the conda mapping inline
    description: scikit-learn with pandas

modelworks adds ``pip_requirements`` (a requirements.txt path or a list of lines) and
``python`` (e.g. ``"3.11"``) for environments that need no conda file. ``image`` and ``build``
are recorded (a Dockerfile is generated for them) but jobs run in a virtualenv on this machine.
"""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from modelworks.specs._loading import SpecPath, load_yaml_file, validate_spec
from modelworks.specs.assets import _check_name, _check_tags, _check_version

__all__ = ["ENVIRONMENT_SCHEMA", "BuildContextSpec", "EnvironmentSpec", "load_environment_spec"]

ENVIRONMENT_SCHEMA = "https://azuremlschemas.azureedge.net/latest/environment.schema.json"


class BuildContextSpec(BaseModel):
    """``build:`` — a Docker build context (recorded; its requirements.txt is used if present)."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    path: SpecPath
    dockerfile_path: str = "Dockerfile"


class EnvironmentSpec(BaseModel):
    """An environment: a pip/conda package list on top of a Python interpreter."""

    model_config = ConfigDict(extra="ignore", populate_by_name=True, frozen=True)
    spec_kind: ClassVar[str] = "environment"

    schema_: str | None = Field(default=None, alias="$schema")
    name: str | None = None
    version: str | None = None
    description: str = ""
    tags: dict[str, str] = Field(default_factory=dict)
    image: str | None = None
    conda_file: SpecPath | dict[str, Any] | None = None
    pip_requirements: SpecPath | list[str] | None = None
    python: str | None = None
    build: BuildContextSpec | None = None
    os_type: str | None = None
    inference_config: dict[str, Any] | None = None

    @field_validator("name", mode="before")
    @classmethod
    def _name(cls, value: Any) -> Any:
        return None if value is None else _check_name("environment", value)

    @field_validator("version", mode="before")
    @classmethod
    def _version(cls, value: Any) -> Any:
        return None if value is None else _check_version(value)

    @field_validator("tags", mode="before")
    @classmethod
    def _tags(cls, value: Any) -> Any:
        return {} if value is None else _check_tags(value)

    @field_validator("description", mode="before")
    @classmethod
    def _description(cls, value: Any) -> Any:
        return "" if value is None else value

    @field_validator("python", mode="before")
    @classmethod
    def _python(cls, value: Any) -> Any:
        if isinstance(value, int | float) and not isinstance(value, bool):
            return str(value)
        return value

    @model_validator(mode="after")
    def _something(self) -> EnvironmentSpec:
        if not any((self.image, self.conda_file, self.pip_requirements, self.build, self.python)):
            raise ValueError(
                "an environment needs at least one of image, conda_file, pip_requirements, "
                "build or python"
            )
        return self


def load_environment_spec(path: str) -> EnvironmentSpec:
    """Load and validate an environment YAML file (``az ml environment create -f`` format)."""
    return validate_spec(EnvironmentSpec, load_yaml_file(path), source=str(path))
