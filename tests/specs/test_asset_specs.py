"""Azure ML data asset and model YAML specs: valid files load, invalid ones say where and why."""

from __future__ import annotations

import os
import textwrap
import warnings
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import modelworks.specs as specs
from modelworks.errors import InvalidInputError, NotFoundError, SpecError
from modelworks.specs import (
    DataAssetSpec,
    ModelSpec,
    SpecWarning,
    format_key_path,
    load_data_spec,
    load_model_spec,
    load_yaml_file,
    resolve_spec_path,
    validate_spec,
)

DATA_SCHEMA = "https://azuremlschemas.azureedge.net/latest/data.schema.json"
MODEL_SCHEMA = "https://azuremlschemas.azureedge.net/latest/model.schema.json"


def spec_file(tmp_path: Path, text: str, name: str = "spec.yml") -> str:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
    return str(path)


def spec_error(loader: Any, path: str) -> str:
    with pytest.raises(SpecError) as info:
        loader(path)
    message = str(info.value)
    assert path in message  # every spec error names its file
    return message


# ------------------------------------------------------------------------------ valid specs


def test_azure_data_asset_example_loads(tmp_path: Path) -> None:
    path = spec_file(
        tmp_path,
        f"""
        $schema: {DATA_SCHEMA}

        # Supported paths include:
        # local: './<path>/<file>' (this will be automatically uploaded to cloud storage)
        # Datastore: 'azureml://datastores/<data_store_name>/paths/<path>/<file>'

        type: uri_file
        name: bank-marketing
        version: 1
        description: Bank marketing training data.
        path: ./data/bankmarketing_train.csv
        tags:
          source: uci
          rows: 32950
          cleaned: true
        """,
    )
    spec = load_data_spec(path)
    assert spec.schema_ == DATA_SCHEMA
    assert spec.name == "bank-marketing"
    assert spec.version == "1"
    assert spec.type == "uri_file"
    assert spec.path == os.path.join(str(tmp_path), "data", "bankmarketing_train.csv")
    assert spec.description == "Bank marketing training data."
    assert spec.tags == {"source": "uci", "rows": "32950", "cleaned": "true"}


@pytest.mark.parametrize(
    "location",
    [
        "azureml://datastores/workspaceblobstore/paths/example-data/",
        "https://azuremlexamples.blob.core.windows.net/datasets/iris.csv",
        "wasbs://data@account.blob.core.windows.net/titanic/",
        "s3://bucket/prefix/",
        "azureml:titanic:1",
    ],
)
def test_urls_and_references_are_kept(tmp_path: Path, location: str) -> None:
    path = spec_file(tmp_path, f"$schema: {DATA_SCHEMA}\nname: remote\npath: {location}\n")
    spec = load_data_spec(path)
    assert spec.path == location
    assert spec.type == "uri_folder"  # Azure's default
    assert spec.version is None and spec.description == "" and spec.tags == {}


def test_mltable_and_absolute_paths(tmp_path: Path) -> None:
    path = spec_file(
        tmp_path,
        f"""
        $schema: {DATA_SCHEMA}
        name: titanic
        version: "2024.01"
        type: mltable
        path: /srv/data/titanic
        description:
        """,
    )
    spec = load_data_spec(path)
    assert (spec.type, spec.version, spec.path, spec.description) == (
        "mltable",
        "2024.01",
        "/srv/data/titanic",
        "",
    )


def test_azure_model_examples_load(tmp_path: Path) -> None:
    custom = spec_file(
        tmp_path,
        f"""
        $schema: {MODEL_SCHEMA}
        name: local-file-example
        path: mlflow-model/model.pkl
        description: Model created from local file.
        """,
    )
    spec = load_model_spec(custom)
    assert spec.type == "custom_model"
    assert spec.path == os.path.join(str(tmp_path), "mlflow-model", "model.pkl")
    assert spec.version is None and spec.stage is None and spec.properties == {}

    mlflow = spec_file(
        tmp_path,
        f"""
        $schema: {MODEL_SCHEMA}
        name: local-mlflow-example
        version: 3
        path: ../models/mlflow-model
        type: mlflow_model
        description: Model created from local MLflow model directory.
        tags: {{framework: sklearn}}
        properties: {{auc: 0.93, threshold: 0.5}}
        stage: Production
        """,
        name="mlflow.yml",
    )
    spec = load_model_spec(mlflow)
    assert spec.type == "mlflow_model"
    assert spec.version == "3"
    assert spec.path == os.path.normpath(
        os.path.join(str(tmp_path), "..", "models", "mlflow-model")
    )
    assert spec.tags == {"framework": "sklearn"}
    assert spec.properties == {"auc": "0.93", "threshold": "0.5"}
    assert spec.stage == "Production"


def test_specs_are_frozen_and_accept_field_names(tmp_path: Path) -> None:
    spec = DataAssetSpec(name="d", path="x", schema_=DATA_SCHEMA)
    assert spec.schema_ == DATA_SCHEMA
    with pytest.raises(ValueError):
        spec.name = "other"  # type: ignore[misc]


# ---------------------------------------------------------------------------- invalid specs


def test_invalid_type_names_file_line_key_and_choices(tmp_path: Path) -> None:
    path = spec_file(
        tmp_path,
        f"""
        $schema: {DATA_SCHEMA}
        name: bank
        path: ./bank.csv
        type: table
        """,
    )
    message = spec_error(load_data_spec, path)
    assert "Invalid data asset spec" in message and "(1 problem)" in message
    assert "line 4: type:" in message
    assert "'uri_file', 'uri_folder' or 'mltable'" in message
    assert "(got 'table')" in message


def test_every_problem_is_reported_at_once(tmp_path: Path) -> None:
    path = spec_file(
        tmp_path,
        """
        name: "bad name!"
        version: 1.10
        type: triton
        tags:
          owner: {team: ml}
        """,
    )
    message = spec_error(load_model_spec, path)
    assert "(5 problems)" in message
    assert "line 1: name: Invalid model name 'bad name!'" in message
    assert "line 2: version:" in message and "version: '1.1'" in message
    assert (
        "line 3: type:" in message and "'custom_model', 'mlflow_model' or 'triton_model'" in message
    )
    assert "line 5: tags.owner:" in message and "valid string" in message
    assert "path: required key is missing" in message
    with pytest.raises(SpecError) as info:
        load_model_spec(path)
    problems = info.value.details["problems"]
    assert [p.split(":")[0] for p in problems] == ["line 1", "line 2", "line 3", "line 5", "path"]
    assert info.value.status_code == 400


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("path: ./x\n", ["name: required key is missing"]),
        ("name: x\n", ["path: required key is missing"]),
        ("name: x\npath: ''\n", ["path: must be a file, folder or URL"]),
        ("name: x\npath: ./a\nversion: true\n", ["version: must be a version string"]),
        ("name: x\npath: ./a\nversion: 'v 1'\n", ["version: invalid version 'v 1'"]),
        ("name: [a, b]\npath: ./a\n", ["name: input should be a valid string"]),
        ("name: x\npath: ./a\ntags: [a, b]\n", ["tags: input should be a valid dictionary"]),
        ("name: x\npath: ./a\ndescription: {a: 1}\n", ["description:"]),
        ("name: -x\npath: ./a\n", ["name: Invalid data asset name '-x'"]),
    ],
)
def test_invalid_data_specs(tmp_path: Path, body: str, expected: list[str]) -> None:
    message = spec_error(load_data_spec, spec_file(tmp_path, body))
    for text in expected:
        assert text in message


def test_malformed_yaml_names_file_and_line(tmp_path: Path) -> None:
    path = spec_file(tmp_path, "name: x\npath: ./a\ntags: {a: 1\n")
    message = spec_error(load_data_spec, path)
    assert f"{path}:4" in message or f"{path}:3" in message
    assert "invalid YAML" in message
    bad_indent = spec_file(tmp_path, "name: x\n  path: ./a\n", name="indent.yml")
    assert f"{bad_indent}:2: invalid YAML" in spec_error(load_data_spec, bad_indent)


def test_duplicate_keys_are_refused(tmp_path: Path) -> None:
    path = spec_file(tmp_path, "name: x\npath: ./a\nname: y\n")
    message = spec_error(load_data_spec, path)
    assert f"{path}:3" in message and "duplicate key 'name' (first on line 1)" in message


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("- name: x\n", "got a list"),
        ("just text\n", "got a string"),
        ("", "the file is empty"),
        ("# only a comment\n", "the file is empty"),
    ],
)
def test_documents_that_are_not_mappings(tmp_path: Path, body: str, expected: str) -> None:
    path = spec_file(tmp_path, body)
    assert expected in spec_error(load_data_spec, path)


def test_missing_file_and_folder(tmp_path: Path) -> None:
    with pytest.raises(NotFoundError, match=r"nope\.yml"):
        load_data_spec(str(tmp_path / "nope.yml"))
    with pytest.raises(InvalidInputError, match="is a folder"):
        load_yaml_file(str(tmp_path))


# ---------------------------------------------------------------------------------- warnings


def test_unknown_top_level_keys_warn_and_are_ignored(tmp_path: Path) -> None:
    path = spec_file(
        tmp_path,
        """
        name: bank
        path: ./bank.csv
        datastore: workspaceblobstore
        auto_delete_setting: {condition: created_greater_than, value: 30d}
        """,
    )
    with pytest.warns(SpecWarning) as record:
        spec = load_data_spec(path)
    messages = [str(w.message) for w in record]
    assert len(messages) == 2
    assert f"{path}:3: unknown key 'datastore' is ignored" in messages[0]
    assert "auto_delete_setting" in messages[1]
    assert "$schema" in messages[0] and "path" in messages[0]  # lists the known keys
    assert spec.name == "bank"
    assert issubclass(SpecWarning, UserWarning)


def test_known_keys_do_not_warn(tmp_path: Path) -> None:
    path = spec_file(tmp_path, f"$schema: {MODEL_SCHEMA}\nname: m\npath: ./m\nstage: dev\n")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        load_model_spec(path)


# ------------------------------------------------------------------------------ the loader


def test_validate_spec_on_a_plain_dict() -> None:
    spec = validate_spec(DataAssetSpec, {"name": "d", "path": "rel/x.csv"}, source="<sdk>")
    assert spec.path == "rel/x.csv"  # no file, nothing to resolve against
    based = validate_spec(
        DataAssetSpec, {"name": "d", "path": "rel/x.csv"}, source="<sdk>", base_dir="/base"
    )
    assert based.path == "/base/rel/x.csv"
    with pytest.raises(SpecError, match=r"<sdk> \(1 problem\):\n  - path: required key"):
        validate_spec(DataAssetSpec, {"name": "d"}, source="<sdk>")
    with pytest.raises(SpecError, match="got list"):
        validate_spec(DataAssetSpec, ["x"], source="<sdk>")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("./a/b.csv", "/base/a/b.csv"),
        ("a/../b", "/base/b"),
        ("../up", "/up"),
        ("/abs/x", "/abs/x"),
        ("azureml:bank:1", "azureml:bank:1"),
        ("azureml://datastores/x/paths/y", "azureml://datastores/x/paths/y"),
        ("https://host/x.csv", "https://host/x.csv"),
        ("file:///tmp/x", "file:///tmp/x"),
        ("", ""),
    ],
)
def test_resolve_spec_path(value: str, expected: str) -> None:
    assert resolve_spec_path(value, "/base") == expected


def test_format_key_path() -> None:
    assert format_key_path(("inputs", "data", "type")) == "inputs.data.type"
    assert format_key_path(("paths", 0, "file")) == "paths[0].file"
    assert format_key_path(()) == "(top level)"


def test_public_surface_is_complete() -> None:
    for name in specs.__all__:
        assert hasattr(specs, name), name
    assert {"DataAssetSpec", "ModelSpec", "load_data_spec", "load_model_spec"} <= set(specs.__all__)
    assert {"SpecWarning", "validate_spec", "load_yaml_file"} <= set(specs.__all__)


_NAMES = st.from_regex(r"\A[A-Za-z0-9][A-Za-z0-9_.\-]{0,40}\Z")


@settings(max_examples=200, deadline=None)
@given(name=st.one_of(_NAMES, st.text(max_size=30)), version=st.none() | st.integers(0, 10**6))
def test_any_name_either_loads_or_raises_spec_error(name: str, version: int | None) -> None:
    data: dict[str, Any] = {"name": name, "path": "./x"}
    if version is not None:
        data["version"] = version
    try:
        spec = validate_spec(ModelSpec, data, source="<h>")
    except SpecError as e:
        assert "name: Invalid model name" in str(e)
    else:
        assert spec.name == name
        assert spec.version == (None if version is None else str(version))
