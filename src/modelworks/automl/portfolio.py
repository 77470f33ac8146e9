"""The portfolio: configurations that are strong on many tables, tried before any search.

Tried in this order (cheap and robust first), each only if its learner is allowed and its
estimated cost fits the time left; their results also seed each learner's Optuna study, so
the search starts from what worked. The values come from defaults that are known to be
good across tabular benchmarks and from what won on the suite in ``benchmarks/automl.py``.
"""

from __future__ import annotations

from typing import Any

from modelworks.automl.learners import default_rounds

__all__ = ["portfolio"]

_LGBM_BASE = {
    "learning_rate": 0.1,
    "num_leaves": 31,
    "min_child_samples": 20,
    "colsample_bytree": 1.0,
    "subsample": 1.0,
    "reg_lambda": 0.001,
    "reg_alpha": 0.001,
    "features": "tree",
}

_PORTFOLIO: list[tuple[str, dict[str, Any]]] = [
    # LightGBM exactly as its defaults (100 rounds, no early stopping): the baseline users
    # compare against is always a candidate, so the ensemble starts at least as good.
    ("LightGBM", {**_LGBM_BASE, "min_child_samples": 20, "rounds": 100, "defaults": True}),
    ("LightGBM", _LGBM_BASE),
    ("LogisticRegression", {"C": 1.0}),
    ("ElasticNet", {"alpha": 0.001, "l1_ratio": 0.5}),
    (
        "LightGBM",
        {
            "learning_rate": 0.05,
            "num_leaves": 31,
            "min_child_samples": 50,
            "colsample_bytree": 0.5,
            "subsample": 0.8,
            "reg_lambda": 1.0,
            "reg_alpha": 0.001,
            "features": "tree_te",
        },
    ),
    ("ExtremeRandomTrees", {"max_features": 0.6, "min_samples_leaf": 1, "criterion": "gini"}),
    (
        "XGBoost",
        {
            "learning_rate": 0.05,
            "max_depth": 6,
            "min_child_weight": 1.0,
            "subsample": 0.8,
            "colsample_bytree": 0.8,
            "reg_lambda": 1.0,
            "reg_alpha": 0.001,
            "features": "tree",
        },
    ),
    (
        "LightGBM",
        {
            "learning_rate": 0.03,
            "num_leaves": 12,
            "min_child_samples": 5,
            "colsample_bytree": 0.9,
            "subsample": 0.75,
            "reg_lambda": 0.01,
            "reg_alpha": 0.001,
            "features": "tree_te",
        },
    ),
    ("RandomForest", {"max_features": 0.5, "min_samples_leaf": 1, "criterion": "gini"}),
    ("CatBoost", {"learning_rate": 0.08, "depth": 6, "l2_leaf_reg": 3.0}),
    ("MLP", {"hidden": 128, "layers": 1, "alpha": 0.0001, "learning_rate_init": 0.001}),
    ("KNN", {"n_neighbors": 15, "weights": "distance"}),
    (
        "LightGBM",
        {
            "learning_rate": 0.03,
            "num_leaves": 128,
            "min_child_samples": 20,
            "colsample_bytree": 0.65,
            "subsample": 0.9,
            "reg_lambda": 0.01,
            "reg_alpha": 0.001,
            "features": "tree",
        },
    ),
    (
        "XGBoost",
        {
            "learning_rate": 0.1,
            "max_depth": 3,
            "min_child_weight": 3.0,
            "subsample": 0.9,
            "colsample_bytree": 0.7,
            "reg_lambda": 3.0,
            "reg_alpha": 0.01,
            "features": "tree",
        },
    ),
]


_LOG_TARGET_AFTER = 2
"""With a skewed target, the first this many gradient-boosting configurations (after the
defaults) are also tried on log1p(y), right after themselves."""


_BOOSTING = ("LightGBM", "XGBoost", "CatBoost")


def portfolio(
    task: str, learners: list[str], *, log_target: bool = False, fixed_rounds: bool = False
) -> list[tuple[str, dict[str, Any]]]:
    """The portfolio's configurations for the given learner names, in trying order.

    ``log_target`` (a skewed non-negative regression target): every configuration names its
    target scale, and the strongest boosting ones are also tried on the log scale.
    ``fixed_rounds`` (a small table, see ``learners.FIXED_ROUNDS_BELOW``): every boosting
    configuration names its rounds, as the search's own trials there do.
    """
    out = []
    doubled = 0
    for name, params in _PORTFOLIO:
        if name not in learners:
            continue
        params = dict(params)
        if fixed_rounds and name in _BOOSTING:
            params.setdefault("rounds", default_rounds(float(params.get("learning_rate", 0.1))))
        if task == "regression" and params.get("criterion") in ("gini", "entropy"):
            params["criterion"] = "squared_error"
        if not log_target:
            out.append((name, params))
            continue
        out.append((name, {**params, "target": "identity"}))
        boosting = name in _BOOSTING and not params.get("defaults")
        if boosting and doubled < _LOG_TARGET_AFTER:
            out.append((name, {**params, "target": "log"}))
            doubled += 1
    return out
