"""The learners on their own: what a built model is given and what it can learn."""

from __future__ import annotations

import numpy as np
from sklearn.metrics import r2_score

from modelworks.automl.learners import LEARNERS, FitContext, fit_learner


def _category_table(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Eight categories (ordinal codes in column 0) that set the target, plus a noise column."""
    rng = np.random.default_rng(seed)
    codes = rng.integers(0, 8, n)
    effect = np.array([6.0, 0.0, 21.0, 9.0, 3.0, 18.0, 12.0, 15.0])  # no order in the codes
    X = np.column_stack([codes, rng.normal(size=n)]).astype(float)
    return X, effect[codes] + rng.normal(0, 0.5, n)


def test_lightgbm_splits_on_a_category_of_twenty_rows_on_a_small_table() -> None:
    # LightGBM's default of 100 rows per category group forbids every categorical split on a
    # table of 150 rows; tied to min_child_samples, the categories are usable.
    X, y = _category_table(150, seed=0)
    Xt, yt = _category_table(500, seed=1)
    ctx = FitContext(
        task="regression", n_classes=0, n_rows=len(y), n_features=2, categorical_indices=[0]
    )
    params = {
        "learning_rate": 0.1,
        "num_leaves": 15,
        "min_child_samples": 10,
        "colsample_bytree": 1.0,
        "subsample": 1.0,
        "reg_lambda": 0.001,
        "reg_alpha": 0.001,
        "features": "tree",
        "rounds": 200,
        "defaults": True,
    }
    tuned = dict(params)
    del tuned["rounds"], tuned["defaults"]
    tuned_model = LEARNERS["LightGBM"].build(tuned, ctx)
    assert tuned_model.get_params()["min_data_per_group"] == 7  # min_child_samples, capped

    # ``defaults`` = LightGBM exactly as configured (its defaults in the portfolio)
    as_given = fit_learner(LEARNERS["LightGBM"], params, ctx, X, y)
    assert "min_data_per_group" not in as_given.get_params() or (
        as_given.get_params()["min_data_per_group"] is None
    )
    fitted = fit_learner(LEARNERS["LightGBM"], {**tuned, "n_estimators": 200}, ctx, X, y)
    assert r2_score(yt, fitted.predict(Xt)) > 0.9
    assert r2_score(yt, as_given.predict(Xt)) < 0.5  # the default rule at work


def test_boosting_runs_fixed_rounds_on_small_tables_and_early_stops_on_large() -> None:
    from modelworks.automl.learners import FIXED_ROUNDS_BELOW
    from modelworks.automl.portfolio import portfolio

    # a small table: the search and the portfolio name the rounds, and a fit with validation
    # rows runs exactly that many (stopping early on those rows would flatter their score)
    X, y = _category_table(150, seed=0)
    Xv, yv = _category_table(60, seed=1)
    small = FitContext(task="regression", n_classes=0, n_rows=150, n_features=2)
    import optuna

    for name in ("LightGBM", "XGBoost", "CatBoost"):
        trial = optuna.create_study().ask()
        assert "rounds" in LEARNERS[name].space(trial, small)
    configs = portfolio("regression", ["LightGBM", "XGBoost", "CatBoost"], fixed_rounds=True)
    assert configs and all("rounds" in params for _, params in configs)
    params = {"learning_rate": 0.3, "max_depth": 3, "features": "tree", "rounds": 37}
    fixed = fit_learner(LEARNERS["XGBoost"], params, small, X, y, Xv, yv)
    assert fixed.get_booster().num_boosted_rounds() == 37
    # a large table keeps early stopping on the validation rows
    large = FitContext(task="regression", n_classes=0, n_rows=FIXED_ROUNDS_BELOW, n_features=2)
    assert "rounds" not in LEARNERS["XGBoost"].space(optuna.create_study().ask(), large)
    del params["rounds"]
    stopped = fit_learner(LEARNERS["XGBoost"], params, large, X, y, Xv, yv)
    assert stopped.best_iteration < stopped.get_booster().num_boosted_rounds() < 10000


def test_a_classifying_mlp_on_a_small_table_is_fitted_for_its_probabilities() -> None:
    # scikit-learn stops a classifying MLP early on held-out accuracy, long before the
    # probabilities settle: the portfolio's MLP on digits then has a log loss of ~0.25.
    from sklearn.datasets import load_digits
    from sklearn.metrics import log_loss
    from sklearn.model_selection import train_test_split
    from sklearn.preprocessing import StandardScaler

    from modelworks.automl.learners import MLP_EARLY_STOPPING_CLASSIFICATION_ROWS
    from modelworks.automl.portfolio import portfolio

    X, y = load_digits(return_X_y=True)
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.25, random_state=0)
    scaler = StandardScaler().fit(X_train)
    ctx = FitContext(task="classification", n_classes=10, n_rows=len(y_train), n_features=64)
    params = next(p for name, p in portfolio("classification", ["MLP"]) if name == "MLP")
    model = fit_learner(LEARNERS["MLP"], params, ctx, scaler.transform(X_train), y_train)
    assert model.get_params()["early_stopping"] is False
    assert log_loss(y_test, model.predict_proba(scaler.transform(X_test))) < 0.15

    # a large table keeps early stopping for its time; a regressor keeps it (its held-out
    # score, R², is what it fits)
    large = FitContext(
        task="classification",
        n_classes=10,
        n_rows=MLP_EARLY_STOPPING_CLASSIFICATION_ROWS,
        n_features=64,
    )
    assert LEARNERS["MLP"].build(params, large).get_params()["early_stopping"] is True
    small_regression = FitContext(task="regression", n_classes=0, n_rows=1000, n_features=64)
    assert LEARNERS["MLP"].build(params, small_regression).get_params()["early_stopping"] is True
