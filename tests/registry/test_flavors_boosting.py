"""The LightGBM and XGBoost flavors: save → load → predict equals the native model."""

from __future__ import annotations

from pathlib import Path

import lightgbm as lgb
import numpy as np
import pandas as pd
import pytest
import xgboost as xgb
from sklearn.datasets import load_breast_cancer, load_diabetes

from modelworks.errors import InvalidInputError
from modelworks.registry import load_model, save_model
from modelworks.registry.mlmodel import read_mlmodel, write_mlmodel


@pytest.fixture(scope="module")
def cancer() -> tuple[pd.DataFrame, pd.Series]:
    X, y = load_breast_cancer(return_X_y=True, as_frame=True)
    return X, y


@pytest.fixture(scope="module")
def diabetes() -> tuple[pd.DataFrame, pd.Series]:
    X, y = load_diabetes(return_X_y=True, as_frame=True)
    return X, y


def test_lightgbm_booster_is_saved_as_text(
    tmp_path: Path, cancer: tuple[pd.DataFrame, pd.Series]
) -> None:
    X, y = cancer
    booster = lgb.train(
        {"objective": "binary", "verbose": -1, "num_threads": 1, "num_leaves": 7},
        lgb.Dataset(X, y),
        10,
    )
    info = save_model(booster, tmp_path / "m", input_example=X.head(3))
    assert info.flavors == ["lightgbm", "python_function"]
    conf = read_mlmodel(tmp_path / "m")["flavors"]
    assert conf["lightgbm"]["data"] == "model.lgb"
    assert conf["lightgbm"]["model_class"] == "lightgbm.basic.Booster"
    assert conf["python_function"]["loader_module"] == "mlflow.lightgbm"
    assert (tmp_path / "m" / "model.lgb").read_text().startswith("tree")
    loaded = load_model(tmp_path / "m")
    np.testing.assert_allclose(loaded.predict(X), booster.predict(X))
    assert isinstance(loaded.unwrap(), lgb.Booster)
    assert info.signature is not None
    assert info.signature["outputs"] == [{"type": "double", "required": True}]


def test_lightgbm_sklearn_wrappers_are_pickled_with_their_class(
    tmp_path: Path,
    cancer: tuple[pd.DataFrame, pd.Series],
    diabetes: tuple[pd.DataFrame, pd.Series],
) -> None:
    X, y = cancer
    clf = lgb.LGBMClassifier(n_estimators=10, num_leaves=7, verbose=-1, n_jobs=1).fit(X, y)
    save_model(clf, tmp_path / "clf", input_example=X.head(3))
    conf = read_mlmodel(tmp_path / "clf")["flavors"]["lightgbm"]
    assert conf["model_class"] == "lightgbm.sklearn.LGBMClassifier"
    assert conf["data"] == "model.pkl" and conf["serialization_format"] == "cloudpickle"
    loaded = load_model(tmp_path / "clf")
    np.testing.assert_array_equal(loaded.predict(X), clf.predict(X))
    np.testing.assert_allclose(loaded.predict_proba(X), clf.predict_proba(X))

    Xr, yr = diabetes
    reg = lgb.LGBMRegressor(n_estimators=10, verbose=-1, n_jobs=1).fit(Xr, yr)
    save_model(reg, tmp_path / "reg", input_example=Xr.head(3))
    np.testing.assert_allclose(load_model(tmp_path / "reg").predict(Xr), reg.predict(Xr))
    reqs = (tmp_path / "reg" / "requirements.txt").read_text()
    assert f"lightgbm=={lgb.__version__}" in reqs


def test_xgboost_booster_and_classifier(
    tmp_path: Path, cancer: tuple[pd.DataFrame, pd.Series]
) -> None:
    X, y = cancer
    booster = xgb.train(
        {"objective": "binary:logistic", "max_depth": 3, "nthread": 1},
        xgb.DMatrix(X, y),
        num_boost_round=8,
    )
    save_model(booster, tmp_path / "b", input_example=X.head(3))
    conf = read_mlmodel(tmp_path / "b")["flavors"]
    assert conf["xgboost"] == {
        "xgb_version": xgb.__version__,
        "data": "model.ubj",
        "model_class": "xgboost.core.Booster",
        "model_format": "ubj",
        "code": None,
    }
    assert conf["python_function"]["loader_module"] == "mlflow.xgboost"
    np.testing.assert_allclose(
        load_model(tmp_path / "b").predict(X), booster.predict(xgb.DMatrix(X))
    )

    clf = xgb.XGBClassifier(n_estimators=8, max_depth=3, n_jobs=1).fit(X, y)
    save_model(clf, tmp_path / "c", input_example=X.head(3))
    loaded = load_model(tmp_path / "c")
    assert type(loaded.unwrap()) is xgb.XGBClassifier
    np.testing.assert_array_equal(loaded.predict(X), clf.predict(X))
    np.testing.assert_allclose(loaded.predict_proba(X), clf.predict_proba(X))


def test_xgboost_regressor_in_json_format(
    tmp_path: Path, diabetes: tuple[pd.DataFrame, pd.Series]
) -> None:
    from modelworks.registry.flavors import xgboost as xgb_flavor

    X, y = diabetes
    reg = xgb.XGBRegressor(n_estimators=8, max_depth=3, n_jobs=1).fit(X, y)
    (tmp_path / "m").mkdir()
    conf = xgb_flavor.save(reg, tmp_path / "m", model_format="json")
    assert conf["data"] == "model.json"
    np.testing.assert_allclose(xgb_flavor.load(tmp_path / "m", conf).predict(X), reg.predict(X))
    with pytest.raises(InvalidInputError, match="model_format must be one of"):
        xgb_flavor.save(reg, tmp_path / "m", model_format="bin")


def test_xgboost_model_class_outside_xgboost_is_refused(
    tmp_path: Path, cancer: tuple[pd.DataFrame, pd.Series]
) -> None:
    X, y = cancer
    clf = xgb.XGBClassifier(n_estimators=2, n_jobs=1).fit(X, y)
    save_model(clf, tmp_path / "m")
    content = read_mlmodel(tmp_path / "m")
    content["flavors"]["xgboost"]["model_class"] = "os.system"
    write_mlmodel(tmp_path / "m", content)
    with pytest.raises(InvalidInputError, match="must be a class of the xgboost package"):
        load_model(tmp_path / "m")


def test_bare_booster_files_load(tmp_path: Path, cancer: tuple[pd.DataFrame, pd.Series]) -> None:
    X, y = cancer
    booster = lgb.train(
        {"objective": "binary", "verbose": -1, "num_threads": 1}, lgb.Dataset(X, y), 5
    )
    booster.save_model(str(tmp_path / "model.lgb"))
    np.testing.assert_allclose(load_model(tmp_path).predict(X), booster.predict(X))

    xgb_booster = xgb.train({"objective": "binary:logistic", "nthread": 1}, xgb.DMatrix(X, y), 5)
    (tmp_path / "x").mkdir()
    xgb_booster.save_model(str(tmp_path / "x" / "model.ubj"))
    loaded = load_model(tmp_path / "x")
    assert loaded.flavor == "xgboost"
    np.testing.assert_allclose(loaded.predict(X), xgb_booster.predict(xgb.DMatrix(X)))
