"""The learners AutoML searches over: how to build, fit (with early stopping and a deadline)
and tune each one, and roughly what a fit costs.

Names follow Azure AutoML (``LightGBM``, ``XGBoostClassifier``, ``RandomForest``,
``ExtremeRandomTrees``, ``LogisticRegression``, ``ElasticNet``, ``KNN``, ``MLP``,
``CatBoost``) and are matched case-insensitively with a few aliases. Every learner is pinned
to the thread count it is given (one per worker by default): on a small machine, threads
fight each other and a default-threaded LightGBM is many times slower.

A fit receives an absolute ``deadline`` (``time.time()``): gradient-boosting learners stop
adding trees at it and keep what they have; forests grow in chunks and stop between chunks.
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Callable
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator

from modelworks.errors import InvalidInputError

__all__ = [
    "LEARNERS",
    "FitContext",
    "Learner",
    "LogTarget",
    "available_learners",
    "fit_learner",
    "resolve_learner_names",
]


@dataclasses.dataclass
class FitContext:
    """What a learner needs to know about the data and the trial to build and fit a model."""

    task: str  # "classification" | "regression"
    n_classes: int
    n_rows: int
    n_features: int
    seed: int = 0
    n_threads: int = 1
    deadline: float = math.inf
    categorical_indices: list[int] = dataclasses.field(default_factory=list)
    log_target: bool = False  # the search may fit regressors on log1p(y) (a skewed target)


SpaceFn = Callable[[Any, FitContext], dict[str, Any]]


@dataclasses.dataclass(frozen=True)
class Learner:
    """One kind of model: ``space`` suggests parameters from an Optuna trial; ``build`` and
    ``fit`` make a fitted estimator; ``units`` estimates the cost of one fold (arbitrary units,
    calibrated against measured times during the search)."""

    name: str
    tasks: tuple[str, ...]
    mode: str
    space: SpaceFn
    build: Callable[[dict[str, Any], FitContext], Any]
    fit: Callable[[Any, Any, Any, Any, Any, FitContext], None]
    units: Callable[[dict[str, Any], FitContext], float]
    module: str | None = None
    aliases: tuple[str, ...] = ()
    onnx: bool = False

    def is_available(self) -> bool:
        if self.module is None:
            return True
        import importlib.util

        return importlib.util.find_spec(self.module) is not None


# -- LightGBM -------------------------------------------------------------------------------


def _patience(learning_rate: float, n_rows: int = 100_000) -> int:
    """Early-stopping rounds: enough to ride out noise, few enough not to waste the budget.
    Small data has noisy validation folds (and cheap rounds): be patient there."""
    if n_rows < 5000:
        return 100
    return int(min(100, max(20, 3.0 / max(learning_rate, 1e-3))))


FIXED_ROUNDS_BELOW = 2000
"""Below this many training rows per fold, boosting runs a searched, fixed number of rounds
instead of early-stopping on the fold's validation rows: on a fold of a few dozen rows,
stopping where those rows score best flatters the very score that ranks the trial and picks
the ensemble, so the search chases lucky folds (mpg table, 175 rows: a cross-validated R2 of
0.93 for models that held out at 0.89). Rounds are cheap on such tables."""


def fixed_rounds(n_rows: int) -> bool:
    """Whether boosting on folds of ``n_rows`` training rows runs fixed rounds (see
    ``FIXED_ROUNDS_BELOW``): the one rule for the search's spaces and the portfolio."""
    return n_rows < FIXED_ROUNDS_BELOW


def default_rounds(learning_rate: float) -> int:
    """Boosting rounds that suit a learning rate when none were searched: 100 at 0.1."""
    return int(min(2000, max(20, round(10.0 / max(learning_rate, 1e-3)))))


def _rounds_space(trial: Any, ctx: FitContext) -> dict[str, Any]:
    if not fixed_rounds(ctx.n_rows):
        return {}
    return {"rounds": trial.suggest_int("rounds", 20, 2000, log=True)}


def _planned_rounds(params: dict[str, Any]) -> float:
    """Rounds a trial is expected to run: its fixed rounds, or where early stopping lands."""
    if "rounds" in params:
        return float(params["rounds"])
    lr = float(params.get("learning_rate", 0.1))
    return 8.0 / lr + _patience(lr)


def _lgbm_space(trial: Any, ctx: FitContext) -> dict[str, Any]:
    return {
        **_rounds_space(trial, ctx),
        "learning_rate": trial.suggest_float("learning_rate", 0.01, 0.2, log=True),
        "num_leaves": trial.suggest_int("num_leaves", 4, 256, log=True),
        "min_child_samples": trial.suggest_int("min_child_samples", 2, 100, log=True),
        "colsample_bytree": trial.suggest_float("colsample_bytree", 0.3, 1.0),
        "subsample": trial.suggest_float("subsample", 0.5, 1.0),
        "reg_lambda": trial.suggest_float("reg_lambda", 1e-3, 30.0, log=True),
        "reg_alpha": trial.suggest_float("reg_alpha", 1e-3, 10.0, log=True),
        "features": trial.suggest_categorical("features", ["tree", "tree_te"]),
    }


def _lgbm_build(params: dict[str, Any], ctx: FitContext) -> Any:
    import lightgbm

    kwargs = {k: v for k, v in params.items() if k not in ("features", "rounds", "defaults")}
    # ``rounds`` means exactly that many boosting rounds; otherwise up to 10,000 rounds,
    # early-stopped on the fold's validation rows. ``defaults`` (LightGBM's defaults in the
    # portfolio) also keeps the parameters exactly as given.
    fixed = "rounds" in params
    if fixed:
        kwargs["n_estimators"] = int(params["rounds"])
    kwargs.setdefault("n_estimators", 10000)
    exact = bool(params.get("defaults"))
    if "min_child_samples" in kwargs and not exact:  # a leaf of 50 rows is no leaf on 100 rows
        kwargs["min_child_samples"] = int(
            min(kwargs["min_child_samples"], max(2, ctx.n_rows // 20))
        )
        # A categorical split's groups obey the same minimum as a leaf: LightGBM's own 100
        # rows per group rule out category splits on small tables (mpg table, 175 training
        # rows, 3 splits: hold-out R2 0.80 with it, 0.92 tied to min_child_samples=5).
        kwargs["min_data_per_group"] = kwargs["min_child_samples"]
    if kwargs.get("subsample", 1.0) < 1.0:
        kwargs["subsample_freq"] = 1
    cls = lightgbm.LGBMClassifier if ctx.task == "classification" else lightgbm.LGBMRegressor
    model = cls(
        n_jobs=ctx.n_threads,
        random_state=ctx.seed,
        verbose=-1,
        deterministic=True,
        force_col_wise=True,
        **kwargs,
    )
    model._modelworks_fixed_rounds = fixed
    return model


def _lgbm_fit(model: Any, X: Any, y: Any, Xv: Any, yv: Any, ctx: FitContext) -> None:
    import lightgbm

    deadline = ctx.deadline

    def stop_at_deadline(env: Any) -> None:
        if time.time() > deadline:
            raise lightgbm.callback.EarlyStopException(
                env.iteration, env.evaluation_result_list or []
            )

    stop_at_deadline.order = 40  # type: ignore[attr-defined]
    callbacks: list[Any] = [stop_at_deadline]
    fit_kwargs: dict[str, Any] = {}
    fixed = getattr(model, "_modelworks_fixed_rounds", False)
    if Xv is not None and not fixed:
        lr = float(model.get_params().get("learning_rate", 0.1))
        callbacks.append(
            lightgbm.early_stopping(
                _patience(lr, ctx.n_rows), first_metric_only=True, verbose=False
            )
        )
        if _LGBM_EVAL_XY:
            fit_kwargs.update(eval_X=(Xv,), eval_y=(yv,))
        else:
            fit_kwargs["eval_set"] = [(Xv, yv)]
    elif Xv is None and model.get_params().get("n_estimators", 100) > 5000:
        model.set_params(n_estimators=300)
    categorical = ctx.categorical_indices or "auto"
    model.fit(X, y, categorical_feature=categorical, callbacks=callbacks, **fit_kwargs)


def _lgbm_takes_eval_xy() -> bool:
    import inspect

    try:
        import lightgbm
    except ImportError:
        return False
    return "eval_X" in inspect.signature(lightgbm.LGBMModel.fit).parameters


_LGBM_EVAL_XY = _lgbm_takes_eval_xy()


def _lgbm_units(params: dict[str, Any], ctx: FitContext) -> float:
    rounds = _planned_rounds(params)
    leaves = float(params.get("num_leaves", 31))
    classes = ctx.n_classes if ctx.n_classes > 2 else 1
    return ctx.n_rows * max(ctx.n_features, 1) * rounds * (0.5 + leaves / 64.0) * classes


# -- XGBoost ----------------------------------------------------------------------------------


def _xgb_space(trial: Any, ctx: FitContext) -> dict[str, Any]:
    return {
        **_rounds_space(trial, ctx),
        "learning_rate": trial.suggest_float("learning_rate", 0.01, 0.3, log=True),
        "max_depth": trial.suggest_int("max_depth", 2, 10),
        "min_child_weight": trial.suggest_float("min_child_weight", 0.01, 20.0, log=True),
        "subsample": trial.suggest_float("subsample", 0.5, 1.0),
        "colsample_bytree": trial.suggest_float("colsample_bytree", 0.3, 1.0),
        "reg_lambda": trial.suggest_float("reg_lambda", 1e-3, 30.0, log=True),
        "reg_alpha": trial.suggest_float("reg_alpha", 1e-3, 10.0, log=True),
        "features": trial.suggest_categorical("features", ["tree", "tree_te"]),
    }


def _xgb_build(params: dict[str, Any], ctx: FitContext) -> Any:
    import xgboost

    lr = float(params.get("learning_rate", 0.1))
    cls = xgboost.XGBClassifier if ctx.task == "classification" else xgboost.XGBRegressor
    kwargs = {
        "n_estimators": 10000,
        "early_stopping_rounds": _patience(lr, ctx.n_rows),
        **{k: v for k, v in params.items() if k not in ("features", "rounds")},
    }
    if "rounds" in params:
        kwargs.update(n_estimators=int(params["rounds"]), early_stopping_rounds=None)
    return cls(
        tree_method="hist",
        n_jobs=ctx.n_threads,
        random_state=ctx.seed,
        verbosity=0,
        **kwargs,
    )


def _xgb_fit(model: Any, X: Any, y: Any, Xv: Any, yv: Any, ctx: FitContext) -> None:
    import xgboost

    deadline = ctx.deadline

    class StopAtDeadline(xgboost.callback.TrainingCallback):
        def after_iteration(self, model: Any, epoch: int, evals_log: Any) -> bool:
            return time.time() > deadline

    model.set_params(callbacks=[StopAtDeadline()])
    if Xv is None or model.get_params()["early_stopping_rounds"] is None:
        rounds = int(model.get_params()["n_estimators"])
        model.set_params(early_stopping_rounds=None, n_estimators=rounds if rounds <= 5000 else 300)
        model.fit(X, y, verbose=False)
    else:
        model.fit(X, y, eval_set=[(Xv, yv)], verbose=False)
    model.set_params(callbacks=None)


def _xgb_units(params: dict[str, Any], ctx: FitContext) -> float:
    rounds = _planned_rounds(params)
    depth = float(params.get("max_depth", 6))
    classes = ctx.n_classes if ctx.n_classes > 2 else 1
    return 1.5 * ctx.n_rows * max(ctx.n_features, 1) * rounds * (0.3 + depth / 8.0) * classes


# -- CatBoost ---------------------------------------------------------------------------------


def _cat_space(trial: Any, ctx: FitContext) -> dict[str, Any]:
    return {
        **_rounds_space(trial, ctx),
        "learning_rate": trial.suggest_float("learning_rate", 0.02, 0.2, log=True),
        "depth": trial.suggest_int("depth", 4, 8),
        "l2_leaf_reg": trial.suggest_float("l2_leaf_reg", 0.5, 20.0, log=True),
    }


def _catboost_frame(X: Any, cats: list[int]) -> Any:
    """CatBoost wants categorical features as integers, not floats with NaN."""
    import pandas as pd

    frame = pd.DataFrame(np.asarray(X))
    for i in cats:
        frame[i] = np.nan_to_num(frame[i].to_numpy(dtype=float), nan=-1).astype(np.int64)
    return frame


class CatBoostModel(BaseEstimator):
    """A CatBoost model that takes the featurizer's float matrix: the categorical columns
    (integer codes as floats, NaN for missing) are converted on every fit and predict."""

    def __init__(self, model: Any, categorical: list[int]) -> None:
        self.model = model
        self.categorical = list(categorical)

    def __sklearn_is_fitted__(self) -> bool:
        return bool(self.model.is_fitted())

    def fit(self, X: Any, y: Any, **kwargs: Any) -> CatBoostModel:
        """Fit on the featurizer's matrix (``eval_set`` matrices are converted too)."""
        if "eval_set" in kwargs:
            Xv, yv = kwargs["eval_set"]
            kwargs["eval_set"] = (self._data(Xv), yv)
        self.model.fit(self._data(X), y, cat_features=self.categorical or None, **kwargs)
        return self

    def _data(self, X: Any) -> Any:
        return _catboost_frame(X, self.categorical) if self.categorical else np.asarray(X)

    @property
    def classes_(self) -> Any:
        return np.asarray(self.model.classes_, dtype=int)

    @property
    def best_iteration_(self) -> int | None:
        best = self.model.get_best_iteration()
        return None if best is None else int(best) + 1

    def predict(self, X: Any) -> Any:
        out = np.asarray(self.model.predict(self._data(X)))
        return out.ravel() if out.ndim > 1 and out.shape[1] == 1 else out

    def predict_proba(self, X: Any) -> Any:
        return self.model.predict_proba(self._data(X))


def _cat_build(params: dict[str, Any], ctx: FitContext) -> Any:
    import catboost

    cls = (
        catboost.CatBoostClassifier if ctx.task == "classification" else catboost.CatBoostRegressor
    )
    kwargs = {"iterations": 5000, **{k: v for k, v in params.items() if k != "rounds"}}
    if "rounds" in params:
        kwargs["iterations"] = int(params["rounds"])
    else:
        kwargs.update(
            od_type="Iter",
            od_wait=_patience(float(params.get("learning_rate", 0.1)), ctx.n_rows),
        )
    model = cls(
        thread_count=ctx.n_threads,
        random_seed=ctx.seed,
        verbose=0,
        allow_writing_files=False,
        **kwargs,
    )
    return CatBoostModel(model, list(ctx.categorical_indices))


class _CatBoostDeadline:
    """Stops boosting at the trial's deadline, keeping the trees grown so far."""

    def __init__(self, deadline: float) -> None:
        self.deadline = deadline

    def after_iteration(self, info: Any) -> bool:
        return time.time() <= self.deadline


def _cat_fit(model: Any, X: Any, y: Any, Xv: Any, yv: Any, ctx: FitContext) -> None:
    import scipy.sparse as sp

    if sp.issparse(X):
        raise InvalidInputError("CatBoost is not used with sparse text features.")
    kwargs: dict[str, Any] = {}
    if Xv is not None and model.model.get_params().get("od_type") is not None:
        kwargs["eval_set"] = (Xv, yv)
        kwargs["use_best_model"] = True
    elif model.model.get_params().get("iterations", 1000) > 5000:
        model.model.set_params(iterations=300)
    if math.isfinite(ctx.deadline):
        kwargs["callbacks"] = [_CatBoostDeadline(ctx.deadline)]
    model.fit(X, y, **kwargs)


def _cat_units(params: dict[str, Any], ctx: FitContext) -> float:
    rounds = _planned_rounds(params)
    return 20.0 * ctx.n_rows * max(ctx.n_features, 1) * rounds * (2 ** params.get("depth", 6) / 64)


# -- forests ------------------------------------------------------------------------------------


def _forest_space(trial: Any, ctx: FitContext) -> dict[str, Any]:
    return {
        "max_features": trial.suggest_float("max_features", 0.1, 1.0),
        "min_samples_leaf": trial.suggest_int("min_samples_leaf", 1, 20, log=True),
        "criterion": trial.suggest_categorical(
            "criterion",
            ["gini", "entropy"] if ctx.task == "classification" else ["squared_error"],
        ),
    }


def _n_trees(ctx: FitContext) -> int:
    return 300 if ctx.n_rows <= 5000 else 150


def _forest_build(extra: bool) -> Callable[[dict[str, Any], FitContext], Any]:
    def build(params: dict[str, Any], ctx: FitContext) -> Any:
        from sklearn import ensemble

        if ctx.task == "classification":
            cls = ensemble.ExtraTreesClassifier if extra else ensemble.RandomForestClassifier
        else:
            cls = ensemble.ExtraTreesRegressor if extra else ensemble.RandomForestRegressor
        kwargs: dict[str, Any] = {}
        if not extra and ctx.n_rows > 20000:
            kwargs["max_samples"] = 20000 / ctx.n_rows
        return cls(
            n_estimators=_n_trees(ctx),
            n_jobs=ctx.n_threads,
            random_state=ctx.seed,
            **kwargs,
            **params,
        )

    return build


def _impute(X: Any) -> Any:
    import scipy.sparse as sp

    if sp.issparse(X):
        return X
    X = np.asarray(X)
    return np.where(np.isnan(X), -1e9, X) if np.isnan(X).any() else X


def _forest_fit(model: Any, X: Any, y: Any, Xv: Any, yv: Any, ctx: FitContext) -> None:
    total = int(model.get_params()["n_estimators"])
    step = max(25, total // 6)
    X = _impute(X)
    model.set_params(warm_start=True, n_estimators=0)
    grown = 0
    while grown < total:
        grown = min(total, grown + step)
        model.set_params(n_estimators=grown)
        model.fit(X, y)
        if time.time() > ctx.deadline:
            break
    model.set_params(warm_start=False)


def _forest_units(factor: float) -> Callable[[dict[str, Any], FitContext], float]:
    def units(params: dict[str, Any], ctx: FitContext) -> float:
        rows = min(ctx.n_rows, 20000) if factor >= 4 else ctx.n_rows
        feats = max(1.0, ctx.n_features * float(params.get("max_features", 0.5)))
        return factor * rows * math.log2(max(rows, 2)) * math.sqrt(feats) * _n_trees(ctx)

    return units


# -- linear models --------------------------------------------------------------------------


def _logreg_space(trial: Any, ctx: FitContext) -> dict[str, Any]:
    return {"C": trial.suggest_float("C", 1e-3, 100.0, log=True)}


def _logreg_build(params: dict[str, Any], ctx: FitContext) -> Any:
    from sklearn.linear_model import LogisticRegression

    return LogisticRegression(max_iter=300, random_state=ctx.seed, **params)


def _enet_space(trial: Any, ctx: FitContext) -> dict[str, Any]:
    return {
        "alpha": trial.suggest_float("alpha", 1e-5, 10.0, log=True),
        "l1_ratio": trial.suggest_float("l1_ratio", 0.0, 1.0),
    }


def _enet_build(params: dict[str, Any], ctx: FitContext) -> Any:
    from sklearn.linear_model import ElasticNet

    return ElasticNet(max_iter=2000, random_state=ctx.seed, **params)


def _plain_fit(model: Any, X: Any, y: Any, Xv: Any, yv: Any, ctx: FitContext) -> None:
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # convergence warnings: the score says enough
        model.fit(X, y)


def _linear_units(params: dict[str, Any], ctx: FitContext) -> float:
    classes = ctx.n_classes if ctx.n_classes > 2 else 1
    return 30.0 * ctx.n_rows * max(ctx.n_features, 1) * classes


# -- kNN and MLP --------------------------------------------------------------------------------


def _knn_space(trial: Any, ctx: FitContext) -> dict[str, Any]:
    return {
        "n_neighbors": trial.suggest_int("n_neighbors", 3, 60, log=True),
        "weights": trial.suggest_categorical("weights", ["uniform", "distance"]),
    }


def _knn_build(params: dict[str, Any], ctx: FitContext) -> Any:
    from sklearn import neighbors

    cls = (
        neighbors.KNeighborsClassifier
        if ctx.task == "classification"
        else neighbors.KNeighborsRegressor
    )
    k = min(int(params.get("n_neighbors", 5)), max(1, ctx.n_rows // 2))
    return cls(n_jobs=ctx.n_threads, **{**params, "n_neighbors": k})


def _knn_units(params: dict[str, Any], ctx: FitContext) -> float:
    return 0.05 * ctx.n_rows * (ctx.n_rows / 4.0) * max(ctx.n_features, 1)


def _mlp_space(trial: Any, ctx: FitContext) -> dict[str, Any]:
    return {
        "hidden": trial.suggest_categorical("hidden", [32, 64, 128, 256]),
        "layers": trial.suggest_int("layers", 1, 2),
        "alpha": trial.suggest_float("alpha", 1e-6, 1e-1, log=True),
        "learning_rate_init": trial.suggest_float("learning_rate_init", 1e-4, 1e-2, log=True),
    }


MLP_EARLY_STOPPING_CLASSIFICATION_ROWS = 10_000
"""Below this many rows a classifying MLP trains until its training loss converges.

scikit-learn stops a classifier early on held-out *accuracy*, which stops improving long before
the probabilities do: on the digits table (1,347 rows) the portfolio's MLP scored a
cross-validated log loss of 0.25 with early stopping and 0.09 without (3 s for 5 folds), and
AutoML's held-out log loss on three splits went from 0.080 to 0.066. Large tables keep early
stopping for its time; regressors keep it (their held-out score is R², the quantity fitted).
"""


def _mlp_early_stopping(ctx: FitContext) -> bool:
    if ctx.task == "classification":
        return ctx.n_rows >= MLP_EARLY_STOPPING_CLASSIFICATION_ROWS
    return ctx.n_rows >= 200


def _mlp_build(params: dict[str, Any], ctx: FitContext) -> Any:
    from sklearn import neural_network

    hidden = int(params.get("hidden", 64))
    layers = int(params.get("layers", 1))
    kwargs = {k: v for k, v in params.items() if k not in ("hidden", "layers")}
    cls = (
        neural_network.MLPClassifier
        if ctx.task == "classification"
        else neural_network.MLPRegressor
    )
    return cls(
        hidden_layer_sizes=(hidden,) * layers,
        early_stopping=_mlp_early_stopping(ctx),
        max_iter=200,
        n_iter_no_change=10,
        random_state=ctx.seed,
        **kwargs,
    )


def _mlp_units(params: dict[str, Any], ctx: FitContext) -> float:
    hidden = float(params.get("hidden", 64))
    layers = float(params.get("layers", 1))
    width = max(ctx.n_features, 1) * hidden + (layers - 1) * hidden * hidden
    return 8.0 * ctx.n_rows * width


LEARNERS: dict[str, Learner] = {
    learner.name: learner
    for learner in [
        Learner(
            "LightGBM",
            ("classification", "regression"),
            "tree",
            _lgbm_space,
            _lgbm_build,
            _lgbm_fit,
            _lgbm_units,
            aliases=("lgbm", "lightgbmclassifier", "lightgbmregressor"),
        ),
        Learner(
            "XGBoost",
            ("classification", "regression"),
            "tree",
            _xgb_space,
            _xgb_build,
            _xgb_fit,
            _xgb_units,
            module="xgboost",
            aliases=("xgboostclassifier", "xgboostregressor", "xgb"),
        ),
        Learner(
            "CatBoost",
            ("classification", "regression"),
            "tree",
            _cat_space,
            _cat_build,
            _cat_fit,
            _cat_units,
            module="catboost",
            aliases=("catboostclassifier", "catboostregressor"),
        ),
        Learner(
            "ExtremeRandomTrees",
            ("classification", "regression"),
            "tree",
            _forest_space,
            _forest_build(extra=True),
            _forest_fit,
            _forest_units(3.0),
            aliases=("extratrees", "extra_trees"),
            onnx=True,
        ),
        Learner(
            "RandomForest",
            ("classification", "regression"),
            "tree",
            _forest_space,
            _forest_build(extra=False),
            _forest_fit,
            _forest_units(4.0),
            aliases=("rf", "randomforestclassifier", "randomforestregressor"),
            onnx=True,
        ),
        Learner(
            "LogisticRegression",
            ("classification",),
            "dense",
            _logreg_space,
            _logreg_build,
            _plain_fit,
            _linear_units,
            aliases=("logistic_regression", "lr"),
            onnx=True,
        ),
        Learner(
            "ElasticNet",
            ("regression",),
            "dense",
            _enet_space,
            _enet_build,
            _plain_fit,
            _linear_units,
            aliases=("elastic_net", "linear", "lassolars", "ridge"),
            onnx=True,
        ),
        Learner(
            "KNN",
            ("classification", "regression"),
            "dense",
            _knn_space,
            _knn_build,
            _plain_fit,
            _knn_units,
            aliases=("kneighbors", "knearestneighbors"),
            onnx=True,
        ),
        Learner(
            "MLP",
            ("classification", "regression"),
            "dense",
            _mlp_space,
            _mlp_build,
            _plain_fit,
            _mlp_units,
            aliases=("neuralnetwork", "mlpclassifier", "mlpregressor"),
            onnx=True,
        ),
    ]
}


def _lookup() -> dict[str, str]:
    table: dict[str, str] = {}
    for learner in LEARNERS.values():
        table[learner.name.lower()] = learner.name
        for alias in learner.aliases:
            table[alias.lower()] = learner.name
    return table


def resolve_learner_names(names: list[str] | tuple[str, ...], *, what: str) -> list[str]:
    """Canonical learner names for user-given ones (Azure names, case-insensitive)."""
    table = _lookup()
    out: list[str] = []
    for name in names:
        found = table.get(str(name).strip().lower())
        if found is None:
            raise InvalidInputError(
                f"Unknown training algorithm {name!r} in {what}. Known: "
                f"{', '.join(LEARNERS)} (Azure names such as XGBoostClassifier also work)."
            )
        if found not in out:
            out.append(found)
    return out


def available_learners(
    task: str,
    *,
    allowed: list[str] | None = None,
    blocked: list[str] | None = None,
    onnx_only: bool = False,
) -> list[Learner]:
    """The learners to search for ``task``, honouring allowed/blocked lists and installs."""
    names = resolve_learner_names(allowed, what="allowed_training_algorithms") if allowed else None
    blocked_names = set(
        resolve_learner_names(blocked, what="blocked_training_algorithms") if blocked else []
    )
    found = [
        learner
        for learner in LEARNERS.values()
        if task in learner.tasks
        and (names is None or learner.name in names)
        and learner.name not in blocked_names
        and learner.is_available()
        and (learner.onnx or not onnx_only)
    ]
    if not found:
        raise InvalidInputError(
            f"No training algorithm is left for a {task} task after the allowed/blocked lists"
            + (" and the ONNX-compatible restriction" if onnx_only else "")
            + f". Choose among: {', '.join(n for n, lr in LEARNERS.items() if task in lr.tasks)}."
        )
    return found


# -- fitting, with an optional log-transformed target ----------------------------------------


class LogTarget(BaseEstimator):
    """A regressor fitted on ``log1p(y)`` that predicts in the target's own units.

    Skewed positive targets (prices, counts, durations) are modelled better on the log
    scale: squared errors there weigh a 10% miss on a cheap item like one on a dear item.
    """

    def __init__(self, model: Any = None) -> None:
        self.model = model

    @property
    def best_iteration_(self) -> Any:
        return getattr(self.model, "best_iteration_", None) or getattr(
            self.model, "best_iteration", None
        )

    def fit(self, X: Any, y: Any, **kwargs: Any) -> LogTarget:
        self.model.fit(X, np.log1p(np.asarray(y, dtype=float)), **kwargs)
        return self

    def __sklearn_is_fitted__(self) -> bool:
        return True  # made by fit_learner around a fitted model

    def predict(self, X: Any) -> np.ndarray:
        return np.expm1(np.asarray(self.model.predict(X), dtype=float))


def fit_learner(
    learner: Learner,
    params: dict[str, Any],
    ctx: FitContext,
    X: Any,
    y: np.ndarray,
    Xv: Any = None,
    yv: np.ndarray | None = None,
) -> Any:
    """Build and fit one model; ``params["target"] == "log"`` fits it on ``log1p(y)`` (early
    stopping too) and wraps it in :class:`LogTarget`."""
    log = params.get("target") == "log"
    model = learner.build({k: v for k, v in params.items() if k != "target"}, ctx)
    if log:
        y = np.log1p(y)
        yv = None if yv is None else np.log1p(yv)
    learner.fit(model, X, y, Xv, yv, ctx)
    return LogTarget(model) if log else model
