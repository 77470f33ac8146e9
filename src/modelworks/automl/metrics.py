"""Azure AutoML's metric set, by its names, with the short aliases people type.

Each metric is a function of the true values and the predictions (class probabilities of
shape ``(n, n_classes)`` for classification, values for regression and forecasting). The
search minimises a *loss* derived from the primary metric (``1 - score`` for scores bounded
by 1, the value itself for errors), so one comparison serves every metric.

Classification: accuracy, AUC_weighted / AUC_macro / AUC_micro,
average_precision_score_weighted / _macro / _micro, precision_score_weighted / _macro,
recall_score_weighted / _macro, f1_score_weighted / _macro, log_loss, balanced_accuracy,
matthews_correlation, norm_macro_recall. Regression: r2_score, root_mean_squared_error,
mean_absolute_error, normalized_root_mean_squared_error, normalized_mean_absolute_error,
spearman_correlation. Forecasting adds mean_absolute_percentage_error,
symmetric_mean_absolute_percentage_error and mean_absolute_scaled_error.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from typing import Any

import numpy as np

from modelworks.errors import InvalidInputError

__all__ = [
    "CLASSIFICATION_METRICS",
    "FORECASTING_METRICS",
    "REGRESSION_METRICS",
    "Metric",
    "compute_metrics",
    "default_metric",
    "get_metric",
    "metric_names",
]

_EPS = 1e-12


@dataclasses.dataclass(frozen=True)
class Metric:
    """One metric: its Azure name, direction and how to turn it into a loss to minimise."""

    name: str
    fn: Callable[..., float]
    greater_is_better: bool
    bounded_by_one: bool = False
    needs_proba: bool = False

    def __call__(self, y_true: Any, y_pred: Any, **context: Any) -> float:
        return float(self.fn(np.asarray(y_true), np.asarray(y_pred), **context))

    def to_loss(self, score: float) -> float:
        """The quantity the search minimises (0 is perfect for scores bounded by one)."""
        if not self.greater_is_better:
            return score
        return 1.0 - score if self.bounded_by_one else -score

    def from_loss(self, loss: float) -> float:
        if not self.greater_is_better:
            return loss
        return 1.0 - loss if self.bounded_by_one else -loss

    def loss(self, y_true: Any, y_pred: Any, **context: Any) -> float:
        value = self(y_true, y_pred, **context)
        return self.to_loss(value) if math.isfinite(value) else math.inf


# -- classification -------------------------------------------------------------------------


def _labels(proba: np.ndarray) -> np.ndarray:
    return np.asarray(proba).argmax(axis=1)


def _binary_auc(y: np.ndarray, score: np.ndarray) -> float:
    """ROC AUC by the rank-sum formula (ties averaged): fast enough for greedy ensembling."""
    from scipy.stats import rankdata

    pos = y == 1
    n_pos = int(pos.sum())
    n_neg = len(y) - n_pos
    if n_pos == 0 or n_neg == 0:
        return math.nan
    ranks = rankdata(score)
    return float((ranks[pos].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def _auc(y: np.ndarray, proba: np.ndarray, average: str) -> float:
    n_classes = proba.shape[1]
    if n_classes == 2 and average != "micro":
        return _binary_auc(y, proba[:, 1])
    onehot = np.eye(n_classes)[y]
    if average == "micro":
        return _binary_auc(onehot.ravel().astype(int), proba.ravel())
    values, weights = [], []
    for k in range(n_classes):
        value = _binary_auc(onehot[:, k].astype(int), proba[:, k])
        if math.isfinite(value):
            values.append(value)
            weights.append(onehot[:, k].sum())
    if not values:
        return math.nan
    w = np.asarray(weights) if average == "weighted" else np.ones(len(values))
    return float(np.average(values, weights=w))


def _average_precision(y: np.ndarray, proba: np.ndarray, average: str) -> float:
    from sklearn.metrics import average_precision_score

    n_classes = proba.shape[1]
    onehot = np.eye(n_classes)[y]
    present = onehot.sum(axis=0) > 0
    if n_classes == 2 and average != "micro":
        return float(average_precision_score(y, proba[:, 1]))
    return float(average_precision_score(onehot[:, present], proba[:, present], average=average))


def _prf(kind: str, average: str) -> Callable[..., float]:
    def fn(y: np.ndarray, proba: np.ndarray, **_: Any) -> float:
        from sklearn import metrics

        scorer = {
            "precision": metrics.precision_score,
            "recall": metrics.recall_score,
            "f1": metrics.f1_score,
        }[kind]
        return float(scorer(y, _labels(proba), average=average, zero_division=0))

    return fn


def _accuracy(y: np.ndarray, proba: np.ndarray, **_: Any) -> float:
    return float(np.mean(_labels(proba) == y))


def _log_loss(y: np.ndarray, proba: np.ndarray, **_: Any) -> float:
    p = np.clip(proba[np.arange(len(y)), y], 1e-15, 1.0)
    return float(-np.mean(np.log(p)))


def _balanced_accuracy(y: np.ndarray, proba: np.ndarray, **_: Any) -> float:
    pred = _labels(proba)
    recalls = [np.mean(pred[y == k] == k) for k in np.unique(y)]
    return float(np.mean(recalls))


def _norm_macro_recall(y: np.ndarray, proba: np.ndarray, **_: Any) -> float:
    n_classes = proba.shape[1]
    chance = 1.0 / n_classes
    recall = _balanced_accuracy(y, proba)
    return float((recall - chance) / (1 - chance))


def _mcc(y: np.ndarray, proba: np.ndarray, **_: Any) -> float:
    from sklearn.metrics import matthews_corrcoef

    return float(matthews_corrcoef(y, _labels(proba)))


# -- regression and forecasting -------------------------------------------------------------


def _range(y: np.ndarray, y_range: float | None) -> float:
    span = float(y_range) if y_range is not None else float(np.max(y) - np.min(y))
    return span if span > _EPS else 1.0


def _rmse(y: np.ndarray, p: np.ndarray, **_: Any) -> float:
    return float(np.sqrt(np.mean((y - p) ** 2)))


def _mae(y: np.ndarray, p: np.ndarray, **_: Any) -> float:
    return float(np.mean(np.abs(y - p)))


def _nrmse(y: np.ndarray, p: np.ndarray, *, y_range: float | None = None, **_: Any) -> float:
    return _rmse(y, p) / _range(y, y_range)


def _nmae(y: np.ndarray, p: np.ndarray, *, y_range: float | None = None, **_: Any) -> float:
    return _mae(y, p) / _range(y, y_range)


def _r2(y: np.ndarray, p: np.ndarray, **_: Any) -> float:
    total = float(np.sum((y - np.mean(y)) ** 2))
    if total <= _EPS:
        return math.nan
    return 1.0 - float(np.sum((y - p) ** 2)) / total


def _spearman(y: np.ndarray, p: np.ndarray, **_: Any) -> float:
    from scipy.stats import spearmanr

    if np.ptp(p) <= _EPS or np.ptp(y) <= _EPS:
        return 0.0
    return float(spearmanr(y, p).statistic)


def _mape(y: np.ndarray, p: np.ndarray, **_: Any) -> float:
    mask = np.abs(y) > _EPS  # as Azure does: rows whose true value is 0 are left out
    if not mask.any():
        return math.nan
    return float(np.mean(np.abs((y[mask] - p[mask]) / y[mask])) * 100.0)


def _smape(y: np.ndarray, p: np.ndarray, **_: Any) -> float:
    denom = np.abs(y) + np.abs(p)
    mask = denom > _EPS
    if not mask.any():
        return 0.0
    return float(np.mean(2.0 * np.abs(y[mask] - p[mask]) / denom[mask]) * 100.0)


def _mase(y: np.ndarray, p: np.ndarray, *, mase_scale: float | None = None, **_: Any) -> float:
    """MAE over the in-sample MAE of the (seasonal) naive forecast, given as ``mase_scale``."""
    scale = mase_scale if mase_scale and mase_scale > _EPS else None
    if scale is None:
        diffs = np.abs(np.diff(y))
        scale = float(diffs.mean()) if len(diffs) and diffs.mean() > _EPS else 1.0
    return _mae(y, p) / scale


def _m(name: str, fn: Callable[..., float], greater: bool, bounded: bool = False) -> Metric:
    return Metric(name, fn, greater, bounded)


CLASSIFICATION_METRICS: dict[str, Metric] = {
    m.name: m
    for m in [
        _m("accuracy", _accuracy, True, True),
        _m("AUC_weighted", lambda y, p, **_: _auc(y, p, "weighted"), True, True),
        _m("AUC_macro", lambda y, p, **_: _auc(y, p, "macro"), True, True),
        _m("AUC_micro", lambda y, p, **_: _auc(y, p, "micro"), True, True),
        _m(
            "average_precision_score_weighted",
            lambda y, p, **_: _average_precision(y, p, "weighted"),
            True,
            True,
        ),
        _m(
            "average_precision_score_macro",
            lambda y, p, **_: _average_precision(y, p, "macro"),
            True,
            True,
        ),
        _m(
            "average_precision_score_micro",
            lambda y, p, **_: _average_precision(y, p, "micro"),
            True,
            True,
        ),
        _m("precision_score_weighted", _prf("precision", "weighted"), True, True),
        _m("precision_score_macro", _prf("precision", "macro"), True, True),
        _m("recall_score_weighted", _prf("recall", "weighted"), True, True),
        _m("recall_score_macro", _prf("recall", "macro"), True, True),
        _m("f1_score_weighted", _prf("f1", "weighted"), True, True),
        _m("f1_score_macro", _prf("f1", "macro"), True, True),
        _m("log_loss", _log_loss, False),
        _m("balanced_accuracy", _balanced_accuracy, True, True),
        _m("matthews_correlation", _mcc, True, True),
        _m("norm_macro_recall", _norm_macro_recall, True, True),
    ]
}

REGRESSION_METRICS: dict[str, Metric] = {
    m.name: m
    for m in [
        _m("r2_score", _r2, True, True),
        _m("root_mean_squared_error", _rmse, False),
        _m("mean_absolute_error", _mae, False),
        _m("normalized_root_mean_squared_error", _nrmse, False),
        _m("normalized_mean_absolute_error", _nmae, False),
        _m("spearman_correlation", _spearman, True, True),
    ]
}

FORECASTING_METRICS: dict[str, Metric] = {
    **REGRESSION_METRICS,
    **{
        m.name: m
        for m in [
            _m("mean_absolute_percentage_error", _mape, False),
            _m("symmetric_mean_absolute_percentage_error", _smape, False),
            _m("mean_absolute_scaled_error", _mase, False),
        ]
    },
}

_ALIASES = {
    "roc_auc": "AUC_weighted",
    "auc": "AUC_weighted",
    "roc_auc_ovr_weighted": "AUC_weighted",
    "roc_auc_ovr": "AUC_macro",
    "average_precision": "average_precision_score_weighted",
    "precision": "precision_score_weighted",
    "recall": "recall_score_weighted",
    "f1": "f1_score_weighted",
    "f1_weighted": "f1_score_weighted",
    "f1_macro": "f1_score_macro",
    "logloss": "log_loss",
    "mcc": "matthews_correlation",
    "r2": "r2_score",
    "rmse": "root_mean_squared_error",
    "mae": "mean_absolute_error",
    "nrmse": "normalized_root_mean_squared_error",
    "nmae": "normalized_mean_absolute_error",
    "spearman": "spearman_correlation",
    "mape": "mean_absolute_percentage_error",
    "smape": "symmetric_mean_absolute_percentage_error",
    "mase": "mean_absolute_scaled_error",
}

_TABLES = {
    "classification": CLASSIFICATION_METRICS,
    "regression": REGRESSION_METRICS,
    "forecasting": FORECASTING_METRICS,
}

_DEFAULTS = {
    "classification": "accuracy",
    "regression": "normalized_root_mean_squared_error",
    "forecasting": "normalized_root_mean_squared_error",
}


def metric_names(task: str) -> list[str]:
    """The Azure names of the metrics computed for ``task``."""
    return list(_TABLES[task])


def default_metric(task: str) -> str:
    """Azure's default primary metric for ``task``."""
    return _DEFAULTS[task]


def get_metric(name: str, task: str) -> Metric:
    """The metric called ``name`` (an Azure name or an alias such as 'roc_auc', 'rmse')."""
    table = _TABLES.get(task)
    if table is None:
        raise InvalidInputError(
            f"Unknown task {task!r}; use one of classification, regression, forecasting."
        )
    text = str(name).strip()
    lookup = {k.lower(): k for k in table}
    canonical = _ALIASES.get(text.lower(), text)
    found = lookup.get(canonical.lower())
    if found is None:
        raise InvalidInputError(
            f"The primary metric {name!r} is not a {task} metric. Use one of: "
            f"{', '.join(table)} (or an alias such as "
            f"{', '.join(a for a, t in _ALIASES.items() if t in table)})."
        )
    return table[found]


def compute_metrics(
    task: str, y_true: Any, y_pred: Any, *, names: list[str] | None = None, **context: Any
) -> dict[str, float]:
    """Every metric of ``task`` (or those in ``names``) for these predictions; NaN when a
    metric is undefined (e.g. AUC with one class present)."""
    table = _TABLES[task]
    out: dict[str, float] = {}
    for name in names or list(table):
        try:
            out[name] = table[name](y_true, y_pred, **context)
        except (ValueError, ZeroDivisionError, IndexError):
            out[name] = math.nan
    return out
