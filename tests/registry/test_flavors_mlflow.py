"""MLflow interoperability, both ways, with the real mlflow package.

Folders we write load with ``mlflow.pyfunc`` / ``mlflow.sklearn`` / ``mlflow.lightgbm`` /
``mlflow.xgboost``; folders MLflow 3 writes (skops by default for scikit-learn estimators) load
with our ``load_model``; both give the native model's predictions.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import lightgbm as lgb
import numpy as np
import pandas as pd
import pytest
import xgboost as xgb
from sklearn.datasets import load_breast_cancer, load_iris
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression

from modelworks.errors import MissingDependencyError
from modelworks.registry import load_model, save_model
from modelworks.registry.mlmodel import read_mlmodel, write_mlmodel

mlflow = pytest.importorskip("mlflow")
pytestmark = pytest.mark.filterwarnings(
    "ignore::UserWarning", "ignore::FutureWarning", "ignore::DeprecationWarning"
)
# Naming the requirements stops MLflow from inferring them in a subprocess (seconds per save).
REQS = ["scikit-learn"]


@pytest.fixture(scope="module")
def iris() -> tuple[pd.DataFrame, pd.Series]:
    X, y = load_iris(return_X_y=True, as_frame=True)
    return X, y


@pytest.fixture(scope="module")
def cancer() -> tuple[pd.DataFrame, pd.Series]:
    X, y = load_breast_cancer(return_X_y=True, as_frame=True)
    return X, y


# --- ours → MLflow ---------------------------------------------------------------------------


def test_mlflow_loads_our_sklearn_model(
    tmp_path: Path, iris: tuple[pd.DataFrame, pd.Series]
) -> None:
    import mlflow.pyfunc
    import mlflow.sklearn

    X, y = iris
    model = RandomForestClassifier(n_estimators=10, random_state=0).fit(X, y)
    save_model(model, tmp_path / "m", input_example=X.head(3))
    np.testing.assert_array_equal(
        mlflow.pyfunc.load_model(str(tmp_path / "m")).predict(X), model.predict(X)
    )
    native = mlflow.sklearn.load_model(str(tmp_path / "m"))
    np.testing.assert_allclose(native.predict_proba(X), model.predict_proba(X))
    meta = mlflow.models.Model.load(str(tmp_path / "m"))
    assert [c["name"] for c in meta.signature.inputs.to_dict()] == list(X.columns)
    pd.testing.assert_frame_equal(meta.load_input_example(str(tmp_path / "m")), X.head(3))


def test_mlflow_loads_our_lightgbm_models(
    tmp_path: Path, cancer: tuple[pd.DataFrame, pd.Series]
) -> None:
    import mlflow.lightgbm
    import mlflow.pyfunc

    X, y = cancer
    booster = lgb.train(
        {"objective": "binary", "verbose": -1, "num_threads": 1}, lgb.Dataset(X, y), 8
    )
    save_model(booster, tmp_path / "b", input_example=X.head(3))
    np.testing.assert_allclose(
        mlflow.lightgbm.load_model(str(tmp_path / "b")).predict(X), booster.predict(X)
    )
    np.testing.assert_allclose(
        mlflow.pyfunc.load_model(str(tmp_path / "b")).predict(X), booster.predict(X)
    )

    clf = lgb.LGBMClassifier(n_estimators=8, verbose=-1, n_jobs=1).fit(X, y)
    save_model(clf, tmp_path / "c", input_example=X.head(3))
    native = mlflow.lightgbm.load_model(str(tmp_path / "c"))
    assert isinstance(native, lgb.LGBMClassifier)
    np.testing.assert_allclose(native.predict_proba(X), clf.predict_proba(X))
    np.testing.assert_array_equal(
        mlflow.pyfunc.load_model(str(tmp_path / "c")).predict(X), clf.predict(X)
    )


def test_mlflow_loads_our_xgboost_model(
    tmp_path: Path, cancer: tuple[pd.DataFrame, pd.Series]
) -> None:
    import mlflow.xgboost

    X, y = cancer
    clf = xgb.XGBClassifier(n_estimators=8, max_depth=3, n_jobs=1).fit(X, y)
    save_model(clf, tmp_path / "m", input_example=X.head(3))
    native = mlflow.xgboost.load_model(str(tmp_path / "m"))
    np.testing.assert_allclose(native.predict_proba(X), clf.predict_proba(X))


# --- MLflow → ours ---------------------------------------------------------------------------


@pytest.mark.parametrize("serialization_format", ["skops", "cloudpickle"])
def test_we_load_mlflow_sklearn_folders(
    tmp_path: Path, iris: tuple[pd.DataFrame, pd.Series], serialization_format: str
) -> None:
    import mlflow.sklearn

    X, y = iris
    model = LogisticRegression(max_iter=500).fit(X, y)
    mlflow.sklearn.save_model(
        model,
        str(tmp_path / "m"),
        input_example=X.head(3),
        serialization_format=serialization_format,
        pip_requirements=REQS,
    )
    assert read_mlmodel(tmp_path / "m")["flavors"]["sklearn"]["serialization_format"] == (
        serialization_format
    )
    loaded = load_model(tmp_path / "m")
    assert loaded.flavor == "sklearn"
    np.testing.assert_array_equal(loaded.predict(X), model.predict(X))
    np.testing.assert_allclose(loaded.predict_proba(X), model.predict_proba(X))
    assert loaded.signature is not None
    assert [s["name"] for s in loaded.signature["inputs"]] == list(X.columns)
    pd.testing.assert_frame_equal(loaded.input_example, X.head(3))


def test_we_honour_mlflow_predict_fn(tmp_path: Path, iris: tuple[pd.DataFrame, pd.Series]) -> None:
    import mlflow.sklearn

    X, y = iris
    model = LogisticRegression(max_iter=500).fit(X, y)
    mlflow.sklearn.save_model(
        model, str(tmp_path / "m"), pyfunc_predict_fn="predict_proba", pip_requirements=REQS
    )
    np.testing.assert_allclose(load_model(tmp_path / "m").predict(X), model.predict_proba(X))


def test_we_load_mlflow_lightgbm_folders(
    tmp_path: Path, cancer: tuple[pd.DataFrame, pd.Series]
) -> None:
    import mlflow.lightgbm

    X, y = cancer
    booster = lgb.train(
        {"objective": "binary", "verbose": -1, "num_threads": 1}, lgb.Dataset(X, y), 8
    )
    mlflow.lightgbm.save_model(
        booster, str(tmp_path / "b"), input_example=X.head(3), pip_requirements=REQS
    )
    np.testing.assert_allclose(load_model(tmp_path / "b").predict(X), booster.predict(X))

    clf = lgb.LGBMClassifier(n_estimators=8, verbose=-1, n_jobs=1).fit(X, y)
    mlflow.lightgbm.save_model(  # in skops format, MLflow 3's default
        clf, str(tmp_path / "c"), input_example=X.head(3), pip_requirements=REQS
    )
    loaded = load_model(tmp_path / "c")
    assert isinstance(loaded.unwrap(), lgb.LGBMClassifier)
    np.testing.assert_array_equal(loaded.predict(X), clf.predict(X))


def test_we_load_mlflow_xgboost_folders(
    tmp_path: Path, cancer: tuple[pd.DataFrame, pd.Series]
) -> None:
    import mlflow.xgboost

    X, y = cancer
    booster = xgb.train({"objective": "binary:logistic", "nthread": 1}, xgb.DMatrix(X, y), 8)
    mlflow.xgboost.save_model(
        booster, str(tmp_path / "b"), input_example=X.head(3), pip_requirements=REQS
    )
    np.testing.assert_allclose(
        load_model(tmp_path / "b").predict(X), booster.predict(xgb.DMatrix(X))
    )
    clf = xgb.XGBClassifier(n_estimators=8, max_depth=3, n_jobs=1).fit(X, y)
    mlflow.xgboost.save_model(
        clf, str(tmp_path / "c"), input_example=X.head(3), pip_requirements=REQS
    )
    loaded = load_model(tmp_path / "c")
    assert type(loaded.unwrap()) is xgb.XGBClassifier
    np.testing.assert_array_equal(loaded.predict(X), clf.predict(X))


def test_we_load_mlflow_onnx_folders(tmp_path: Path, iris: tuple[pd.DataFrame, pd.Series]) -> None:
    import mlflow.onnx

    from modelworks.registry.flavors.onnx import to_onnx

    X, y = iris
    model = LogisticRegression(max_iter=500).fit(X, y)
    features = X.to_numpy(dtype="float32")
    mlflow.onnx.save_model(
        to_onnx(model, X.head()),
        str(tmp_path / "m"),
        input_example=features[:3],
        pip_requirements=REQS,
    )
    loaded = load_model(tmp_path / "m")
    assert loaded.flavor == "onnx"
    np.testing.assert_array_equal(loaded.predict(features), model.predict(X))
    np.testing.assert_allclose(loaded.input_example, features[:3])


class _MlflowScaled(mlflow.pyfunc.PythonModel):  # type: ignore[misc,name-defined]
    def load_context(self, context: Any) -> None:
        self.factor = json.loads(Path(context.artifacts["factor"]).read_text())["factor"]

    def predict(self, context: Any, model_input: pd.DataFrame, params: Any = None) -> Any:
        return model_input.sum(axis=1) * self.factor


def test_we_load_mlflow_python_models_through_mlflow(
    tmp_path: Path, iris: tuple[pd.DataFrame, pd.Series]
) -> None:
    import mlflow.pyfunc

    X, _ = iris
    (tmp_path / "factor.json").write_text(json.dumps({"factor": 3}))
    mlflow.pyfunc.save_model(
        str(tmp_path / "m"),
        python_model=_MlflowScaled(),
        artifacts={"factor": str(tmp_path / "factor.json")},
        input_example=X.head(3),
        pip_requirements=REQS,
    )
    loaded = load_model(tmp_path / "m")
    assert loaded.flavor == "python_function"
    np.testing.assert_allclose(np.asarray(loaded.predict(X)), X.sum(axis=1).to_numpy() * 3)
    records = X.head(2).to_dict(orient="records")
    np.testing.assert_allclose(np.asarray(loaded.predict(records)), X.head(2).sum(axis=1) * 3)


def test_unknown_loader_module_reports_the_missing_module(tmp_path: Path) -> None:
    (tmp_path / "m").mkdir()
    write_mlmodel(
        tmp_path / "m",
        {"flavors": {"python_function": {"loader_module": "no_such_pkg.loader", "data": "x"}}},
    )
    with pytest.raises(MissingDependencyError, match="'no_such_pkg'"):
        load_model(tmp_path / "m")
