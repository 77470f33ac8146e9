"""Ensembles over out-of-fold predictions: greedy selection (Caruana et al., 2004) and stacking.

Both work only with the trials' out-of-fold (OOF) predictions, so building them costs no
model training:

- :func:`greedy_selection` adds, with replacement, whichever model most improves the
  averaged OOF prediction, for a fixed number of rounds, and keeps the best ensemble seen;
  the weights are how often each model was picked. This is Azure AutoML's VotingEnsemble.
- :func:`stack` fits a regularised linear meta-model (logistic regression on log
  probabilities, or non-negative least squares) on the OOF predictions; its score comes from
  cross-validating the meta-model on those predictions, so it is not scored on what it was
  fitted on. This is the StackEnsemble.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np

from modelworks.automl.metrics import Metric

__all__ = ["EnsembleChoice", "greedy_selection", "stack"]


@dataclasses.dataclass
class EnsembleChoice:
    """Which candidates (indices) with which weights, its OOF loss and OOF prediction."""

    indices: list[int]
    weights: list[float]
    loss: float
    oof: np.ndarray
    meta: Any = None


def greedy_selection(
    oofs: list[np.ndarray],
    y: np.ndarray,
    metric: Metric,
    *,
    rounds: int = 25,
    context: dict[str, Any] | None = None,
    rows: np.ndarray | None = None,
) -> EnsembleChoice:
    """Caruana's ensemble selection with replacement, starting from the best single model."""
    context = context or {}
    rows = np.arange(len(y)) if rows is None else rows
    preds = [np.asarray(p, dtype=float)[rows] for p in oofs]
    target = y[rows]
    losses = [metric.loss(target, p, **context) for p in preds]
    first = int(np.argmin(losses))
    counts = np.zeros(len(preds), dtype=int)
    counts[first] = 1
    total = preds[first].copy()
    best_loss, best_counts = losses[first], counts.copy()
    for _ in range(rounds - 1):
        n = counts.sum()
        trial_losses = [metric.loss(target, (total + p) / (n + 1), **context) for p in preds]
        pick = int(np.argmin(trial_losses))
        counts[pick] += 1
        total += preds[pick]
        if trial_losses[pick] < best_loss - 1e-12:
            best_loss, best_counts = trial_losses[pick], counts.copy()
    chosen = [i for i in range(len(preds)) if best_counts[i] > 0]
    weights = [float(best_counts[i]) / float(best_counts.sum()) for i in chosen]
    full = sum(w * np.asarray(oofs[i], dtype=float) for i, w in zip(chosen, weights, strict=True))
    return EnsembleChoice(chosen, weights, float(best_loss), np.asarray(full))


def _stack_features(preds: list[np.ndarray], task: str) -> np.ndarray:
    if task != "classification":
        return np.column_stack(preds)
    cols = []
    for p in preds:
        p = np.clip(np.asarray(p, dtype=float), 1e-6, 1 - 1e-6)
        cols.append(np.log(p[:, 1:2] / p[:, 0:1]) if p.shape[1] == 2 else np.log(p))
    return np.hstack(cols)


class StackMeta:
    """The fitted meta-model of a stack ensemble (picklable, used by the final model)."""

    def __init__(self, model: Any, task: str) -> None:
        self.model = model
        self.task = task

    def predict(self, preds: list[np.ndarray]) -> np.ndarray:
        features = _stack_features(preds, self.task)
        if self.task == "classification":
            return np.asarray(self.model.predict_proba(features))
        return np.asarray(self.model.predict(features))


def _meta_model(task: str, seed: int) -> Any:
    if task == "classification":
        from sklearn.linear_model import LogisticRegression

        return LogisticRegression(C=1.0, max_iter=500, random_state=seed)
    from sklearn.linear_model import LinearRegression

    return LinearRegression(positive=True)


def stack(
    oofs: list[np.ndarray],
    y: np.ndarray,
    metric: Metric,
    *,
    task: str,
    seed: int = 0,
    context: dict[str, Any] | None = None,
    rows: np.ndarray | None = None,
) -> EnsembleChoice:
    """A linear meta-model over the candidates' OOF predictions, scored by 5-fold CV."""
    from sklearn.model_selection import KFold, StratifiedKFold, cross_val_predict

    context = context or {}
    rows = np.arange(len(y)) if rows is None else rows
    features = _stack_features([np.asarray(p)[rows] for p in oofs], task)
    target = y[rows]
    n_splits = int(min(5, max(2, np.bincount(target).min() if task == "classification" else 5)))
    splitter: Any = (
        StratifiedKFold(n_splits, shuffle=True, random_state=seed)
        if task == "classification"
        else KFold(n_splits, shuffle=True, random_state=seed)
    )
    method = "predict_proba" if task == "classification" else "predict"
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        pred = cross_val_predict(
            _meta_model(task, seed), features, target, cv=splitter, method=method
        )
        meta = _meta_model(task, seed).fit(features, target)
    if task == "classification" and pred.shape[1] != np.asarray(oofs[0]).shape[1]:
        full = np.zeros((pred.shape[0], np.asarray(oofs[0]).shape[1]))
        full[:, meta.classes_] = pred
        pred = full
    loss = metric.loss(target, pred, **context)
    full_pred = np.full(np.asarray(oofs[0]).shape, np.nan)
    full_pred[rows] = pred
    return EnsembleChoice(
        list(range(len(oofs))),
        [1.0 / len(oofs)] * len(oofs),
        float(loss),
        full_pred,
        meta=StackMeta(meta, task),
    )
