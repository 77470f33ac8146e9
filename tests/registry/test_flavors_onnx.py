"""The ONNX flavor: skl2onnx conversion, save → load → predict with ONNX Runtime."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import onnx
import pandas as pd
import pytest
from sklearn.compose import ColumnTransformer
from sklearn.datasets import load_breast_cancer, load_diabetes, load_iris
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from modelworks.errors import InvalidInputError, MissingDependencyError
from modelworks.registry import load_model, save_model
from modelworks.registry.flavors.onnx import to_onnx
from modelworks.registry.mlmodel import read_mlmodel


@pytest.fixture(scope="module")
def iris_model() -> tuple[pd.DataFrame, LogisticRegression]:
    X, y = load_iris(return_X_y=True, as_frame=True)
    return X, LogisticRegression(max_iter=500).fit(X, y)


def test_classifier_round_trip_matches_sklearn(
    tmp_path: Path, iris_model: tuple[pd.DataFrame, LogisticRegression]
) -> None:
    X, model = iris_model
    proto = to_onnx(model, X.head())
    assert [i.name for i in proto.graph.input] == ["input"]
    info = save_model(proto, tmp_path / "m", input_example=X.head(3))
    assert info.flavors == ["onnx", "python_function"]
    conf = read_mlmodel(tmp_path / "m")["flavors"]
    assert conf["onnx"]["data"] == "model.onnx"
    assert conf["onnx"]["providers"] == ["CPUExecutionProvider"]
    assert conf["python_function"]["loader_module"] == "mlflow.onnx"
    loaded = load_model(tmp_path / "m")
    np.testing.assert_array_equal(loaded.predict(X), model.predict(X))
    np.testing.assert_allclose(loaded.predict_proba(X), model.predict_proba(X), atol=1e-5)
    assert type(loaded.unwrap()).__name__ == "InferenceSession"
    np.testing.assert_array_equal(
        loaded.predict(X.to_numpy().tolist()), model.predict(X)
    )  # rows as lists, named by the signature


def test_regressor_output_is_one_dimensional(tmp_path: Path) -> None:
    X, y = load_diabetes(return_X_y=True, as_frame=True)
    model = Ridge().fit(X, y)
    save_model(to_onnx(model, X.head()), tmp_path / "m", input_example=X.head(2))
    loaded = load_model(tmp_path / "m")
    predictions = loaded.predict(X)
    assert predictions.shape == (len(X),)
    np.testing.assert_allclose(predictions, model.predict(X), rtol=1e-4, atol=1e-3)
    assert not loaded.has_predict_proba


def test_text_columns_become_one_input_per_column(tmp_path: Path) -> None:
    X, y = load_breast_cancer(return_X_y=True, as_frame=True)
    X = X.iloc[:, :4].copy()
    X["band"] = np.where(X["mean radius"] > 14, "big", "small")
    numeric = [c for c in X.columns if c != "band"]
    pipe = Pipeline(
        [
            (
                "prep",
                ColumnTransformer(
                    [("n", StandardScaler(), numeric), ("c", OneHotEncoder(), ["band"])]
                ),
            ),
            ("clf", LogisticRegression(max_iter=1000)),
        ]
    ).fit(X, y)
    proto = to_onnx(pipe, X.head())
    # one input per column; skl2onnx writes "mean radius" as "mean_radius"
    assert [i.name for i in proto.graph.input] == [c.replace(" ", "_") for c in X.columns]
    save_model(proto, tmp_path / "m", input_example=X.head(3))
    loaded = load_model(tmp_path / "m")
    np.testing.assert_array_equal(loaded.predict(X), pipe.predict(X))


def test_saving_from_an_onnx_file_and_loading_a_bare_file(
    tmp_path: Path, iris_model: tuple[pd.DataFrame, LogisticRegression]
) -> None:
    X, model = iris_model
    file = tmp_path / "exported.onnx"
    onnx.save_model(to_onnx(model, X.head()), str(file))
    save_model(str(file), tmp_path / "m")
    np.testing.assert_array_equal(load_model(tmp_path / "m").predict(X), model.predict(X))
    bare = load_model(file)  # a lone .onnx file, as Azure custom_model folders hold
    assert bare.flavor == "onnx"
    np.testing.assert_array_equal(bare.predict(X.to_numpy()), model.predict(X))


def test_invalid_onnx_file_is_refused(tmp_path: Path) -> None:
    file = tmp_path / "broken.onnx"
    file.write_bytes(b"this is not a protobuf")
    with pytest.raises(InvalidInputError, match="not valid"):
        save_model(str(file), tmp_path / "m")
    assert not (tmp_path / "m").exists()


def test_wrong_feature_count_is_a_clear_error(
    tmp_path: Path, iris_model: tuple[pd.DataFrame, LogisticRegression]
) -> None:
    X, model = iris_model
    (tmp_path / "m").mkdir()
    onnx.save_model(to_onnx(model, X.head()), str(tmp_path / "m" / "model.onnx"))
    loaded = load_model(tmp_path / "m")  # bare file: no signature to name the columns
    with pytest.raises(InvalidInputError, match="takes 4 features per row; got 2"):
        loaded.predict(np.ones((3, 2)))


def test_to_onnx_without_skl2onnx_names_the_extra(
    monkeypatch: pytest.MonkeyPatch, iris_model: tuple[pd.DataFrame, LogisticRegression]
) -> None:
    X, model = iris_model
    monkeypatch.setitem(sys.modules, "skl2onnx", None)  # what an uninstalled package looks like
    with pytest.raises(MissingDependencyError, match=r"modelworks\[onnx\]"):
        to_onnx(model, X.head())
