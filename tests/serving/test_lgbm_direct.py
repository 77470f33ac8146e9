"""LightGBM through its C API directly answers exactly what Booster.predict answers."""

from __future__ import annotations

import threading

import lightgbm as lgb
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.datasets import make_classification, make_regression

from modelworks.serving._lgbm import direct_predictor


def _binary() -> lgb.Booster:
    X, y = make_classification(n_samples=300, n_features=5, random_state=0)
    return (
        lgb.LGBMClassifier(n_estimators=15, num_leaves=7, n_jobs=1, verbose=-1).fit(X, y).booster_
    )


def _multiclass() -> lgb.Booster:
    X, y = make_classification(
        n_samples=300, n_features=5, n_informative=4, n_redundant=0, n_classes=3, random_state=0
    )
    return (
        lgb.LGBMClassifier(n_estimators=15, num_leaves=7, n_jobs=1, verbose=-1).fit(X, y).booster_
    )


def _early_stopped_regressor() -> lgb.Booster:
    X, y = make_regression(n_samples=400, n_features=5, noise=5.0, random_state=0)
    booster = lgb.train(
        {"objective": "regression", "learning_rate": 0.5, "num_threads": 1, "verbose": -1},
        lgb.Dataset(X[:300], y[:300]),
        num_boost_round=300,
        valid_sets=[lgb.Dataset(X[300:], y[300:])],
        callbacks=[lgb.early_stopping(5, verbose=False)],
        keep_training_booster=True,
    )
    # predictions use best_iteration, not every tree: the direct path must do the same
    assert 0 < booster.best_iteration < booster.current_iteration()
    return booster


BOOSTERS = {"binary": _binary(), "multiclass": _multiclass(), "early": _early_stopped_regressor()}


@pytest.mark.parametrize("kind", sorted(BOOSTERS))
@settings(max_examples=25, deadline=None)
@given(
    st.lists(
        st.lists(st.floats(-1e3, 1e3, allow_nan=False, width=64), min_size=5, max_size=5),
        min_size=1,
        max_size=30,
    )
)
def test_same_answers_as_booster_predict(kind: str, rows: list[list[float]]) -> None:
    booster = BOOSTERS[kind]
    predictor = direct_predictor(booster, 5)
    assert predictor is not None
    x = np.asarray(rows, dtype=np.float64)
    np.testing.assert_array_equal(predictor(x), booster.predict(x, num_threads=1))


def test_other_layouts_and_threads_give_the_same_answers() -> None:
    booster = BOOSTERS["multiclass"]
    predictor = direct_predictor(booster, 5)
    assert predictor is not None
    x = np.random.default_rng(1).normal(size=(40, 5))
    expected = booster.predict(x, num_threads=1)
    np.testing.assert_array_equal(predictor(np.asfortranarray(x)), expected)
    np.testing.assert_array_equal(
        predictor(x.astype(np.float32)), booster.predict(x.astype(np.float32))
    )
    results: dict[int, bool] = {}

    def run(index: int) -> None:
        ok = True
        for i in range(40):
            ok &= bool(np.array_equal(predictor(x[i : i + 1]), expected[i : i + 1]))
        results[index] = ok

    threads = [threading.Thread(target=run, args=(i,)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results == {0: True, 1: True, 2: True, 3: True}


def test_a_model_of_another_width_gets_no_direct_predictor() -> None:
    assert direct_predictor(BOOSTERS["binary"], 6) is None
