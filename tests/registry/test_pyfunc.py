"""LoadedModel and load_model (modelworks.registry.pyfunc), plus the package's public surface."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import load_breast_cancer
from sklearn.linear_model import LogisticRegression

import modelworks.registry
from modelworks.errors import InvalidInputError
from modelworks.registry import LoadedModel, load_model, save_model
from modelworks.registry.mlmodel import read_mlmodel, write_mlmodel


@pytest.fixture(scope="module")
def saved(
    tmp_path_factory: pytest.TempPathFactory,
) -> tuple[Path, LogisticRegression, pd.DataFrame]:
    X, y = load_breast_cancer(return_X_y=True, as_frame=True)
    X = X.iloc[:, :6]
    model = LogisticRegression(max_iter=2000).fit(X, y)
    path = tmp_path_factory.mktemp("pyfunc") / "model"
    save_model(model, path, input_example=X.head(4), metadata={"team": "risk"})
    return path, model, X


def test_loaded_model_exposes_the_folder(
    saved: tuple[Path, LogisticRegression, pd.DataFrame],
) -> None:
    path, model, X = saved
    loaded = load_model(str(path))
    assert isinstance(loaded, LoadedModel)
    assert loaded.flavors == ["python_function", "sklearn"]
    assert loaded.flavor == "sklearn"
    assert loaded.metadata == read_mlmodel(path)
    assert loaded.metadata["metadata"] == {"team": "risk"}
    assert loaded.signature is not None
    assert [s["name"] for s in loaded.signature["inputs"]] == list(X.columns)
    pd.testing.assert_frame_equal(loaded.input_example, X.head(4))
    assert loaded.unwrap().coef_.shape == model.coef_.shape
    assert "sklearn" in repr(loaded)


@pytest.mark.parametrize(
    "form",
    ["frame", "records", "split", "dataframe_split", "dataframe_records", "inputs", "json", "rows"],
)
def test_predict_accepts_every_payload_form(
    saved: tuple[Path, LogisticRegression, pd.DataFrame], form: str
) -> None:
    path, model, X = saved
    rows = X.head(7)
    split = {"columns": list(rows.columns), "data": rows.to_numpy().tolist()}
    payloads = {
        "frame": rows,
        "records": rows.to_dict(orient="records"),
        "split": split,
        "dataframe_split": {"dataframe_split": split},
        "dataframe_records": {"dataframe_records": rows.to_dict(orient="records")},
        "inputs": {"inputs": rows.to_dict(orient="records")},
        "json": json.dumps({"dataframe_split": split}),
        "rows": split["data"],
    }
    loaded = load_model(path)
    np.testing.assert_array_equal(loaded.predict(payloads[form]), model.predict(rows))
    np.testing.assert_allclose(loaded.predict_proba(payloads[form]), model.predict_proba(rows))


def test_predict_reports_missing_columns_and_bad_values(
    saved: tuple[Path, LogisticRegression, pd.DataFrame],
) -> None:
    path, _, X = saved
    loaded = load_model(path)
    with pytest.raises(InvalidInputError, match="missing required column\\(s\\) 'mean radius'"):
        loaded.predict(X.head(2).drop(columns="mean radius"))
    bad = X.head(2).astype(object)
    bad.iloc[1, 2] = "n/a"
    with pytest.raises(InvalidInputError, match=r"'mean perimeter' expects double.*'n/a'"):
        loaded.predict(bad)


def test_mlmodel_file_path_and_nested_folders_load(
    tmp_path: Path, saved: tuple[Path, LogisticRegression, pd.DataFrame]
) -> None:
    path, model, X = saved
    assert load_model(path / "MLmodel").flavor == "sklearn"
    shutil.copytree(path, tmp_path / "job-output" / "outputs" / "model")
    np.testing.assert_array_equal(load_model(tmp_path / "job-output").predict(X), model.predict(X))
    shutil.copytree(path, tmp_path / "job-output" / "outputs" / "model2")
    with pytest.raises(InvalidInputError, match="several MLflow models"):
        load_model(tmp_path / "job-output")


def test_unknown_flavors_are_named(tmp_path: Path) -> None:
    write_mlmodel(tmp_path, {"flavors": {"keras": {"data": "model.keras"}}})
    with pytest.raises(InvalidInputError) as err:
        load_model(tmp_path)
    assert "flavors keras" in err.value.message
    assert "sklearn, lightgbm, xgboost, onnx" in err.value.message


def test_missing_model_file_in_a_folder_is_reported(
    tmp_path: Path, saved: tuple[Path, LogisticRegression, pd.DataFrame]
) -> None:
    path, _, _ = saved
    shutil.copytree(path, tmp_path / "m")
    (tmp_path / "m" / "model.pkl").unlink()
    with pytest.raises(
        InvalidInputError, match=r"names 'model\.pkl', which is not in the model folder"
    ):
        load_model(tmp_path / "m")


def test_model_file_outside_the_folder_is_refused(
    tmp_path: Path, saved: tuple[Path, LogisticRegression, pd.DataFrame]
) -> None:
    path, _, _ = saved
    shutil.copytree(path, tmp_path / "m")
    content = read_mlmodel(tmp_path / "m")
    content["flavors"]["sklearn"]["pickled_model"] = "../../etc/passwd"
    write_mlmodel(tmp_path / "m", content)
    with pytest.raises(InvalidInputError, match="points outside the model folder"):
        load_model(tmp_path / "m")


def test_public_surface_is_exactly_the_documented_names() -> None:
    public = {name for name in dir(modelworks.registry) if not name.startswith("_")}
    exported = set(modelworks.registry.__all__)
    assert exported == {
        "LoadedModel",
        "ModelInfo",
        "PythonModel",
        "infer_signature",
        "load_model",
        "save_model",
    }
    assert exported <= public


def test_importing_the_registry_loads_no_ml_library() -> None:
    code = (
        "import sys, modelworks.registry; "
        "print([m for m in ('pandas', 'numpy', 'sklearn', 'lightgbm', 'xgboost', 'onnx', "
        "'onnxruntime', 'mlflow', 'cloudpickle') if m in sys.modules])"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_array_trained_model_gets_a_tensor_signature(tmp_path: Path) -> None:
    import mlflow.pyfunc

    X, y = load_breast_cancer(return_X_y=True)
    model = LogisticRegression(max_iter=5000).fit(X[:, :5], y)
    info = save_model(model, tmp_path / "m", input_example=X[:3, :5])
    assert info.signature is not None
    assert info.signature["inputs"] == [
        {"type": "tensor", "tensor-spec": {"dtype": "float64", "shape": [-1, 5]}}
    ]
    loaded = load_model(tmp_path / "m")
    np.testing.assert_array_equal(loaded.predict(X[:, :5]), model.predict(X[:, :5]))
    np.testing.assert_array_equal(
        loaded.predict({"inputs": X[:4, :5].tolist()}), model.predict(X[:4, :5])
    )
    np.testing.assert_allclose(loaded.input_example, X[:3, :5])
    with pytest.raises(InvalidInputError, match=r"shape \[-1, 5\]"):
        loaded.predict(X[:2, :3])
    mlflow_model = mlflow.pyfunc.load_model(str(tmp_path / "m"))
    np.testing.assert_array_equal(mlflow_model.predict(X[:, :5]), model.predict(X[:, :5]))
