"""Azure ML CLI v2 YAML specs of data assets and models, as pydantic models.

The YAML users already write for ``az ml data create -f`` / ``az ml model create -f`` loads
unchanged::

    $schema: https://azuremlschemas.azureedge.net/latest/data.schema.json
    name: bank-marketing
    version: 1
    type: uri_file
    path: ./data/bankmarketing_train.csv
    description: Bank marketing training data.
    tags: {source: uci}

A relative ``path`` resolves against the YAML file's folder; URLs and ``azureml:`` references
are kept as written.
"""

from __future__ import annotations

import re
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from modelworks._validation import validate_name
from modelworks.errors import InvalidNameError
from modelworks.specs._loading import SpecPath, load_yaml_file, validate_spec

__all__ = ["DataAssetSpec", "ModelSpec", "load_data_spec", "load_model_spec"]

DATA_SCHEMA = "https://azuremlschemas.azureedge.net/latest/data.schema.json"
MODEL_SCHEMA = "https://azuremlschemas.azureedge.net/latest/model.schema.json"

_VERSION_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,127}$")


def _check_name(kind: str, value: Any) -> Any:
    if not isinstance(value, str):
        return value  # pydantic reports the type error
    try:
        return validate_name(kind, value)
    except InvalidNameError as e:
        raise ValueError(e.message) from e


def _check_version(value: Any) -> Any:
    if isinstance(value, bool):
        raise ValueError(f"must be a version string such as '1', got {value!r}")
    if isinstance(value, int):
        value = str(value)
    elif isinstance(value, float):
        raise ValueError(
            f"got the number {value!r}; quote versions that contain a dot, e.g. version: '{value}'"
        )
    if isinstance(value, str) and not _VERSION_RE.match(value):
        raise ValueError(
            f"invalid version {value!r}: use letters, digits, '-', '_' or '.', starting with a "
            "letter or digit"
        )
    return value


def _check_tags(value: Any) -> Any:
    """Tag values written as YAML numbers or booleans become strings, as Azure stores them."""
    if not isinstance(value, dict):
        return value
    out: dict[Any, Any] = {}
    for key, item in value.items():
        if isinstance(item, bool):
            item = "true" if item else "false"
        elif isinstance(item, int | float):
            item = str(item)
        elif item is None:
            item = ""
        out[key] = item
    return out


class _AssetSpec(BaseModel):
    """Fields shared by data asset and model specs."""

    model_config = ConfigDict(extra="ignore", populate_by_name=True, frozen=True)
    spec_kind: ClassVar[str] = "asset"

    schema_: str | None = Field(default=None, alias="$schema")
    name: str
    version: str | None = None
    path: SpecPath
    description: str = ""
    tags: dict[str, str] = Field(default_factory=dict)

    @field_validator("version", mode="before")
    @classmethod
    def _version(cls, value: Any) -> Any:
        return None if value is None else _check_version(value)

    @field_validator("description", mode="before")
    @classmethod
    def _description(cls, value: Any) -> Any:
        return "" if value is None else value

    @field_validator("tags", mode="before")
    @classmethod
    def _tags(cls, value: Any) -> Any:
        return {} if value is None else _check_tags(value)

    @field_validator("path")
    @classmethod
    def _path(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must be a file, folder or URL, got an empty string")
        return value


class DataAssetSpec(_AssetSpec):
    """An Azure ML data asset spec (``data.schema.json``): ``uri_file``, ``uri_folder``, ``mltable``."""

    spec_kind: ClassVar[str] = "data asset"

    type: Literal["uri_file", "uri_folder", "mltable"] = "uri_folder"

    @field_validator("name", mode="before")
    @classmethod
    def _name(cls, value: Any) -> Any:
        return _check_name("data asset", value)


class ModelSpec(_AssetSpec):
    """An Azure ML model spec (``model.schema.json``)."""

    spec_kind: ClassVar[str] = "model"

    type: Literal["custom_model", "mlflow_model", "triton_model"] = "custom_model"
    properties: dict[str, str] = Field(default_factory=dict)
    stage: str | None = None

    @field_validator("name", mode="before")
    @classmethod
    def _name(cls, value: Any) -> Any:
        return _check_name("model", value)

    @field_validator("properties", mode="before")
    @classmethod
    def _properties(cls, value: Any) -> Any:
        return {} if value is None else _check_tags(value)


def load_data_spec(path: str) -> DataAssetSpec:
    """Load and validate a data asset YAML file (``az ml data create -f`` format)."""
    return validate_spec(DataAssetSpec, load_yaml_file(path), source=str(path))


def load_model_spec(path: str) -> ModelSpec:
    """Load and validate a model YAML file (``az ml model create -f`` format)."""
    return validate_spec(ModelSpec, load_yaml_file(path), source=str(path))
