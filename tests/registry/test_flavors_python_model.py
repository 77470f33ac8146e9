"""Custom PythonModel models: artifacts, load_context, and loading back (ours and MLflow's)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import joblib
import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression

from modelworks.errors import InvalidInputError
from modelworks.registry import PythonModel, load_model, save_model
from modelworks.registry.mlmodel import read_mlmodel


class ThresholdedClassifier(PythonModel):
    """Wraps a pickled estimator artifact and a JSON config artifact folder."""

    def load_context(self, context: Any) -> None:
        self.estimator = joblib.load(context.artifacts["estimator"])
        config = Path(context.artifacts["config"]) / "config.json"
        self.threshold = json.loads(config.read_text())["threshold"]
        self.artifact_paths = dict(context.artifacts)

    def predict(self, context: Any, model_input: pd.DataFrame) -> np.ndarray:
        proba = self.estimator.predict_proba(model_input)
        return (proba.max(axis=1) >= self.threshold).astype("int64")

    def predict_proba(self, context: Any, model_input: pd.DataFrame) -> np.ndarray:
        return self.estimator.predict_proba(model_input)


@pytest.fixture(scope="module")
def iris() -> tuple[pd.DataFrame, pd.Series]:
    X, y = load_iris(return_X_y=True, as_frame=True)
    return X, y


@pytest.fixture()
def saved(tmp_path: Path, iris: tuple[pd.DataFrame, pd.Series]) -> tuple[Path, LogisticRegression]:
    X, y = iris
    estimator = LogisticRegression(max_iter=500).fit(X, y)
    joblib.dump(estimator, tmp_path / "estimator.joblib")
    (tmp_path / "cfg").mkdir()
    (tmp_path / "cfg" / "config.json").write_text(json.dumps({"threshold": 0.9}))
    target = tmp_path / "model"
    save_model(
        ThresholdedClassifier(),
        target,
        input_example=X.head(4),
        artifacts={"estimator": tmp_path / "estimator.joblib", "config": str(tmp_path / "cfg")},
    )
    return target, estimator


def _expected(estimator: LogisticRegression, X: pd.DataFrame) -> np.ndarray:
    return (estimator.predict_proba(X).max(axis=1) >= 0.9).astype("int64")


def test_round_trip_with_file_and_folder_artifacts(
    saved: tuple[Path, LogisticRegression], iris: tuple[pd.DataFrame, pd.Series]
) -> None:
    path, estimator = saved
    X, _ = iris
    content = read_mlmodel(path)
    assert list(content["flavors"]) == ["python_function"]
    conf = content["flavors"]["python_function"]
    assert conf["loader_module"] == "modelworks.registry.flavors.python_model"
    assert conf["python_model"] == "python_model.pkl"
    assert conf["artifacts"]["estimator"]["path"] == "artifacts/estimator/estimator.joblib"
    assert conf["artifacts"]["config"]["path"] == "artifacts/config/cfg"
    loaded = load_model(path)
    model = loaded.unwrap()
    assert isinstance(model, ThresholdedClassifier)
    for artifact in model.artifact_paths.values():
        assert Path(artifact).is_relative_to(path.resolve())
    np.testing.assert_array_equal(loaded.predict(X), _expected(estimator, X))
    np.testing.assert_allclose(loaded.predict_proba(X), estimator.predict_proba(X))
    assert loaded.signature is not None
    assert loaded.signature["outputs"] == [{"type": "long", "required": True}]
    requirements = (path / "requirements.txt").read_text()
    assert "modelworks==" in requirements and "cloudpickle==" in requirements


def test_mlflow_loads_our_python_model(
    saved: tuple[Path, LogisticRegression], iris: tuple[pd.DataFrame, pd.Series]
) -> None:
    import mlflow.pyfunc

    path, estimator = saved
    X, _ = iris
    mlflow_model = mlflow.pyfunc.load_model(str(path))
    np.testing.assert_array_equal(mlflow_model.predict(X), _expected(estimator, X))
    assert isinstance(mlflow_model.unwrap_python_model(), ThresholdedClassifier)


def test_model_without_load_context_and_without_artifacts(
    tmp_path: Path, iris: tuple[pd.DataFrame, pd.Series]
) -> None:
    class RowSums(PythonModel):
        def predict(self, context: Any, model_input: pd.DataFrame) -> pd.Series:
            return model_input.sum(axis=1)

    X, _ = iris
    info = save_model(RowSums(), tmp_path / "m", input_example=X.head(2))
    assert info.flavors == ["python_function"]
    loaded = load_model(tmp_path / "m")
    pd.testing.assert_series_equal(loaded.predict(X.head(5)), X.head(5).sum(axis=1))
    assert not loaded.has_predict_proba
    with pytest.raises(InvalidInputError, match="no predict_proba"):
        loaded.predict_proba(X.head(1))


def test_bad_artifacts_are_refused(tmp_path: Path) -> None:
    class Nothing(PythonModel):
        def predict(self, context: Any, model_input: Any) -> Any:
            return model_input

    with pytest.raises(InvalidInputError, match="does not exist"):
        save_model(Nothing(), tmp_path / "a", artifacts={"w": tmp_path / "missing.bin"})
    with pytest.raises(InvalidInputError, match=r"Artifact name '\.\./up' is not valid"):
        save_model(Nothing(), tmp_path / "b", artifacts={"../up": str(tmp_path)})
    with pytest.raises(InvalidInputError, match="local file or folder path"):
        save_model(Nothing(), tmp_path / "c", artifacts={"w": "s3://bucket/w.bin"})
    assert list(tmp_path.iterdir()) == []


def test_predict_must_be_implemented(tmp_path: Path) -> None:
    save_model(PythonModel(), tmp_path / "m")
    with pytest.raises(NotImplementedError, match="must implement predict"):
        load_model(tmp_path / "m").predict([{"a": 1}])
