"""The MLmodel file and environment files (modelworks.registry.mlmodel)."""

from __future__ import annotations

import platform
from importlib import metadata
from pathlib import Path

import pytest
import yaml
from sklearn.datasets import load_iris
from sklearn.tree import DecisionTreeClassifier

from modelworks.errors import InvalidInputError, NotFoundError
from modelworks.registry import save_model
from modelworks.registry.mlmodel import (
    new_mlmodel,
    pin_requirements,
    read_mlmodel,
    read_requirements,
    write_environment,
    write_mlmodel,
)


def test_write_then_read_round_trips(tmp_path: Path) -> None:
    content = new_mlmodel(
        {"sklearn": {"pickled_model": "model.pkl"}},
        signature={"inputs": '[{"type": "long", "name": "a", "required": true}]', "outputs": None},
        metadata={"owner": "team-a"},
        run_id="abc",
        artifact_path="model",
    )
    write_mlmodel(tmp_path, content)
    assert read_mlmodel(tmp_path) == content
    assert read_mlmodel(tmp_path / "MLmodel") == content
    assert len(content["model_uuid"]) == 32
    assert content["modelworks_version"] == metadata.version("modelworks")
    assert content["mlflow_version"] == metadata.version("mlflow")


def test_read_errors_say_what_is_wrong(tmp_path: Path) -> None:
    with pytest.raises(NotFoundError, match="No MLmodel file"):
        read_mlmodel(tmp_path)
    (tmp_path / "MLmodel").write_text("flavors: [unclosed\n")
    with pytest.raises(InvalidInputError, match="not valid YAML"):
        read_mlmodel(tmp_path)
    (tmp_path / "MLmodel").write_text("model_uuid: x\n")
    with pytest.raises(InvalidInputError, match="no 'flavors'"):
        read_mlmodel(tmp_path)


def test_requirements_are_pinned_to_installed_versions() -> None:
    import sklearn

    pins = pin_requirements(["scikit-learn", "cloudpickle", "no-such-dist-xyz"])
    assert f"scikit-learn=={sklearn.__version__}" in pins
    assert "no-such-dist-xyz" in pins
    assert pins == sorted(pins, key=str.lower)


def test_environment_files_follow_mlflow_layout(tmp_path: Path) -> None:
    write_environment(tmp_path, ["scikit-learn==1.0", "cloudpickle==3.0"])
    assert (tmp_path / "requirements.txt").read_text().splitlines() == [
        "scikit-learn==1.0",
        "cloudpickle==3.0",
    ]
    env = yaml.safe_load((tmp_path / "python_env.yaml").read_text())
    assert env["python"] == platform.python_version()
    assert env["dependencies"] == ["-r requirements.txt"]
    assert any(d.startswith("pip") for d in env["build_dependencies"])
    conda = yaml.safe_load((tmp_path / "conda.yaml").read_text())
    assert f"python={platform.python_version()}" in conda["dependencies"]
    assert {"pip": ["scikit-learn==1.0", "cloudpickle==3.0"]} in conda["dependencies"]


def test_read_requirements_from_a_file_or_lines(tmp_path: Path) -> None:
    file = tmp_path / "reqs.txt"
    file.write_text("# comment\nscikit-learn>=1.4  # pinned\n\npandas\n")
    assert read_requirements(file) == ["scikit-learn>=1.4", "pandas"]
    assert read_requirements(["a", " b "]) == ["a", "b"]
    with pytest.raises(InvalidInputError, match="is not a file"):
        read_requirements(str(tmp_path / "missing.txt"))


def test_saved_model_mlmodel_has_mlflow_fields(tmp_path: Path) -> None:
    X, y = load_iris(return_X_y=True, as_frame=True)
    model = DecisionTreeClassifier(max_depth=3, random_state=0).fit(X, y)
    info = save_model(model, tmp_path / "m", input_example=X.head(2), metadata={"k": "v"})
    content = read_mlmodel(tmp_path / "m")
    assert content["model_uuid"] == info.model_uuid
    assert set(content["flavors"]) == {"sklearn", "python_function"}
    assert content["flavors"]["python_function"]["env"] == {
        "conda": "conda.yaml",
        "virtualenv": "python_env.yaml",
    }
    assert isinstance(content["signature"]["inputs"], str)  # JSON text, as MLflow stores it
    assert content["signature"]["params"] is None
    assert content["saved_input_example_info"] == {
        "artifact_path": "input_example.json",
        "type": "dataframe",
        "pandas_orient": "split",
        "serving_input_path": "serving_input_example.json",
    }
    assert content["metadata"] == {"k": "v"}
    assert content["model_size_bytes"] > 0
    requirements = (tmp_path / "m" / "requirements.txt").read_text()
    assert f"scikit-learn=={metadata.version('scikit-learn')}" in requirements
    assert f"cloudpickle=={metadata.version('cloudpickle')}" in requirements


def test_pip_requirements_replace_the_defaults(tmp_path: Path) -> None:
    X, y = load_iris(return_X_y=True, as_frame=True)
    model = DecisionTreeClassifier(max_depth=2).fit(X, y)
    save_model(model, tmp_path / "m", pip_requirements=["scikit-learn>=1.4", "my-extra==2"])
    assert (tmp_path / "m" / "requirements.txt").read_text().split() == [
        "scikit-learn>=1.4",
        "my-extra==2",
    ]
