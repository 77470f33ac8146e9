"""Declarative YAML specs (Azure ML CLI v2 vocabulary) as pydantic models, and their loader.

Each spec is validated before anything runs; every problem is reported at once as a
:class:`~modelworks.errors.SpecError` naming the file, the line and the key path.
"""

from __future__ import annotations

from modelworks.specs._loading import (
    SpecPath,
    SpecWarning,
    format_key_path,
    load_yaml_file,
    parse_yaml,
    resolve_spec_path,
    validate_spec,
)
from modelworks.specs.assets import DataAssetSpec, ModelSpec, load_data_spec, load_model_spec

__all__ = [
    "DataAssetSpec",
    "ModelSpec",
    "SpecPath",
    "SpecWarning",
    "format_key_path",
    "load_data_spec",
    "load_model_spec",
    "load_yaml_file",
    "parse_yaml",
    "resolve_spec_path",
    "validate_spec",
]
