"""The scikit-learn flavor: save → load → predict, folder layout, bare pickles, save errors."""

from __future__ import annotations

import json
from pathlib import Path

import joblib
import numpy as np
import pandas as pd
import pytest
from sklearn.compose import ColumnTransformer
from sklearn.datasets import load_breast_cancer, load_diabetes, load_iris
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from modelworks.errors import AlreadyExistsError, InvalidInputError, NotFoundError
from modelworks.registry import load_model, save_model
from modelworks.registry.mlmodel import read_mlmodel


@pytest.fixture(scope="module")
def iris() -> tuple[pd.DataFrame, pd.Series]:
    X, y = load_iris(return_X_y=True, as_frame=True)
    return X, y


@pytest.fixture(scope="module")
def classifier(iris: tuple[pd.DataFrame, pd.Series]) -> LogisticRegression:
    X, y = iris
    return LogisticRegression(max_iter=500).fit(X, y)


def test_classifier_round_trip_predicts_the_same(
    tmp_path: Path, iris: tuple[pd.DataFrame, pd.Series], classifier: LogisticRegression
) -> None:
    X, _ = iris
    info = save_model(classifier, tmp_path / "m", input_example=X.head(5))
    assert info.flavors == ["sklearn", "python_function"]
    assert info.path == str(tmp_path / "m")
    loaded = load_model(tmp_path / "m")
    np.testing.assert_array_equal(loaded.predict(X), classifier.predict(X))
    np.testing.assert_allclose(loaded.predict_proba(X), classifier.predict_proba(X))
    assert loaded.has_predict_proba
    assert type(loaded.unwrap()) is LogisticRegression
    assert loaded.flavor == "sklearn"
    assert loaded.signature == info.signature
    assert info.signature is not None
    assert info.signature["outputs"] == [{"type": "long", "required": True}]
    pd.testing.assert_frame_equal(loaded.input_example, X.head(5))


def test_folder_layout_matches_mlflow_sklearn(
    tmp_path: Path, iris: tuple[pd.DataFrame, pd.Series], classifier: LogisticRegression
) -> None:
    X, _ = iris
    save_model(classifier, tmp_path / "m", input_example=X.head(2))
    names = {p.name for p in (tmp_path / "m").iterdir()}
    assert names == {
        "MLmodel",
        "model.pkl",
        "requirements.txt",
        "python_env.yaml",
        "conda.yaml",
        "input_example.json",
        "serving_input_example.json",
    }
    flavors = read_mlmodel(tmp_path / "m")["flavors"]
    assert flavors["sklearn"]["pickled_model"] == "model.pkl"
    assert flavors["sklearn"]["serialization_format"] == "cloudpickle"
    assert flavors["sklearn"]["code"] is None
    assert flavors["python_function"]["loader_module"] == "mlflow.sklearn"
    assert flavors["python_function"]["model_path"] == "model.pkl"
    example = json.loads((tmp_path / "m" / "input_example.json").read_text())
    assert example == {"columns": list(X.columns), "data": X.head(2).to_numpy().tolist()}
    serving = json.loads((tmp_path / "m" / "serving_input_example.json").read_text())
    assert serving == {"dataframe_split": example}


def test_regressor_round_trip(tmp_path: Path) -> None:
    X, y = load_diabetes(return_X_y=True, as_frame=True)
    model = Ridge(alpha=0.5).fit(X, y)
    info = save_model(model, tmp_path / "m", input_example=X.head(3))
    assert info.signature is not None
    assert info.signature["outputs"] == [{"type": "double", "required": True}]
    loaded = load_model(tmp_path / "m")
    np.testing.assert_allclose(loaded.predict(X), model.predict(X))
    assert not loaded.has_predict_proba
    with pytest.raises(InvalidInputError, match="no predict_proba"):
        loaded.predict_proba(X.head(1))


def _cancer_with_category() -> tuple[pd.DataFrame, pd.Series]:
    X, y = load_breast_cancer(return_X_y=True, as_frame=True)
    X = X.iloc[:, :5].copy()
    X["size_band"] = pd.cut(X["mean radius"], [0, 12, 16, 100], labels=["s", "m", "l"]).astype(str)
    return X, y


def test_pipeline_with_text_column_round_trip(tmp_path: Path) -> None:
    X, y = _cancer_with_category()
    numeric = [c for c in X.columns if c != "size_band"]
    pipe = Pipeline(
        [
            (
                "prep",
                ColumnTransformer(
                    [("num", StandardScaler(), numeric), ("cat", OneHotEncoder(), ["size_band"])]
                ),
            ),
            ("clf", LogisticRegression(max_iter=1000)),
        ]
    ).fit(X, y)
    info = save_model(pipe, tmp_path / "m", input_example=X.head(4))
    assert info.signature is not None
    assert {"name": "size_band", "type": "string", "required": True} in info.signature["inputs"]
    loaded = load_model(tmp_path / "m")
    np.testing.assert_array_equal(loaded.predict(X), pipe.predict(X))
    records = X.head(3).to_dict(orient="records")
    np.testing.assert_array_equal(loaded.predict(records), pipe.predict(X.head(3)))
    # columns in another order plus an extra one: reordered and dropped before predict
    shuffled = X.head(3)[list(reversed(X.columns))].assign(extra=1)
    np.testing.assert_array_equal(loaded.predict(shuffled), pipe.predict(X.head(3)))
    with pytest.raises(InvalidInputError, match=r"missing required column.*'size_band'"):
        loaded.predict(X.head(2).drop(columns="size_band"))


def test_bare_pickle_folder_loads_like_azure_custom_model(
    tmp_path: Path, iris: tuple[pd.DataFrame, pd.Series], classifier: LogisticRegression
) -> None:
    X, _ = iris
    folder = tmp_path / "custom_model"
    (folder / "outputs").mkdir(parents=True)
    joblib.dump(classifier, folder / "outputs" / "model.joblib")
    (folder / "score.py").write_text("def init(): ...\n")
    loaded = load_model(folder)
    assert loaded.flavor == "sklearn"
    assert loaded.signature is None and loaded.input_example is None
    np.testing.assert_array_equal(loaded.predict(X), classifier.predict(X))
    np.testing.assert_array_equal(
        load_model(folder / "outputs" / "model.joblib").predict(X), classifier.predict(X)
    )


def test_bare_folder_with_two_models_is_ambiguous(
    tmp_path: Path, classifier: LogisticRegression
) -> None:
    joblib.dump(classifier, tmp_path / "a.pkl")
    joblib.dump(classifier, tmp_path / "b.joblib")
    with pytest.raises(
        InvalidInputError, match=r"several model files \(a\.pkl, b\.joblib\); it is ambiguous"
    ):
        load_model(tmp_path)


def test_folder_without_any_model(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("hello")
    with pytest.raises(NotFoundError, match=r"no MLmodel file and no model file.*notes\.txt"):
        load_model(tmp_path)
    with pytest.raises(NotFoundError, match="does not exist"):
        load_model(tmp_path / "nope")


def test_unknown_model_type_lists_supported_types(tmp_path: Path) -> None:
    with pytest.raises(InvalidInputError) as err:
        save_model({"weights": [1, 2]}, tmp_path / "m")
    message = err.value.message
    for kind in ("builtins.dict", "scikit-learn", "lightgbm.Booster", "xgboost", "onnx", "Python"):
        assert kind in message
    assert not (tmp_path / "m").exists()


def test_explicit_flavor_must_fit_the_model(tmp_path: Path, classifier: LogisticRegression) -> None:
    with pytest.raises(InvalidInputError, match="xgboost flavor cannot save"):
        save_model(classifier, tmp_path / "m", flavor="xgboost")
    with pytest.raises(InvalidInputError, match="Unknown flavor 'keras'"):
        save_model(classifier, tmp_path / "m", flavor="keras")


def test_target_must_be_new_or_empty(tmp_path: Path, classifier: LogisticRegression) -> None:
    (tmp_path / "empty").mkdir()
    save_model(classifier, tmp_path / "empty")
    assert (tmp_path / "empty" / "MLmodel").is_file()
    with pytest.raises(AlreadyExistsError, match="not an empty folder"):
        save_model(classifier, tmp_path / "empty")


def test_failed_save_leaves_nothing_behind(tmp_path: Path, classifier: LogisticRegression) -> None:
    with pytest.raises(InvalidInputError, match="column 'mixed'"):
        save_model(classifier, tmp_path / "m", input_example=pd.DataFrame({"mixed": [1, "a"]}))
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(InvalidInputError, match="artifacts= is only for PythonModel"):
        save_model(classifier, tmp_path / "m", artifacts={"a": str(tmp_path)})
    assert list(tmp_path.iterdir()) == []


def test_signature_given_explicitly_is_kept(
    tmp_path: Path, iris: tuple[pd.DataFrame, pd.Series], classifier: LogisticRegression
) -> None:
    X, _ = iris
    sig = {
        "inputs": [{"name": str(c), "type": "double"} for c in X.columns],
        "outputs": [{"type": "long"}],
    }
    info = save_model(classifier, tmp_path / "m", signature=sig, input_example=X.head(2))
    assert info.signature == {
        "inputs": [{"name": str(c), "type": "double", "required": True} for c in X.columns],
        "outputs": [{"type": "long", "required": True}],
    }
    info = save_model(classifier, tmp_path / "n", signature=False, input_example=X.head(2))
    assert info.signature is None
    assert "signature" not in read_mlmodel(tmp_path / "n")
