"""One trial: cross-validate one learner configuration, featurizing inside each fold.

This runs inside a worker process (see :mod:`modelworks.automl._worker`). Featurizers are
fitted on each fold's training rows and cached per (fold, featurization mode) for the
worker's lifetime, so trials after the first pay only for their model. The trial's fold
models are pickled to a file (the parent loads only those it ends up using); the
out-of-fold predictions travel back in the result, for scoring and ensemble selection.
"""

from __future__ import annotations

import dataclasses
import math
import os
import pickle
import time
import traceback
from typing import Any

import numpy as np

__all__ = ["TrialData", "TrialResult", "TrialSpec", "run_trial", "stopped_result"]


@dataclasses.dataclass
class TrialData:
    """Everything trials share: the table, the encoded target, the folds, the metric."""

    X: Any  # pandas.DataFrame
    y: np.ndarray
    folds: list[tuple[np.ndarray, np.ndarray]]
    task: str
    n_classes: int
    kinds: dict[str, str]
    metric: str
    metric_context: dict[str, Any]
    model_dir: str
    blocked_transformers: tuple[str, ...] = ()
    seed: int = 0
    extra: dict[str, Any] = dataclasses.field(default_factory=dict)


@dataclasses.dataclass
class TrialSpec:
    """What to run: a learner and its parameters, under a deadline (``time.time()``)."""

    number: int
    learner: str
    params: dict[str, Any]
    deadline: float = math.inf
    sample_fraction: float = 1.0
    prune_losses: list[float] | None = None
    prune_tolerance: float = 0.1
    n_threads: int = 1
    source: str = "search"  # "portfolio" | "search"
    kind: str = "tabular"  # "tabular" | "forecast"


@dataclasses.dataclass
class TrialResult:
    """How a trial ended: ``status`` is completed, failed, pruned or timeout."""

    number: int
    learner: str
    params: dict[str, Any]
    status: str
    loss: float = math.inf
    fold_losses: list[float] = dataclasses.field(default_factory=list)
    oof: np.ndarray | None = None
    model_path: str | None = None
    duration: float = 0.0
    error: str | None = None
    iterations: list[int] = dataclasses.field(default_factory=list)
    sample_fraction: float = 1.0
    source: str = "search"
    extra: dict[str, Any] = dataclasses.field(default_factory=dict)


def stopped_result(spec: TrialSpec, status: str, error: str, started: float) -> TrialResult:
    """The result of a trial an executor had to stop (``timeout``) or lost (``failed``)."""
    return TrialResult(
        spec.number,
        spec.learner,
        spec.params,
        status,
        duration=time.time() - started,
        error=error,
        sample_fraction=spec.sample_fraction,
        source=spec.source,
    )


class FoldCache:
    """Fitted featurizers and featurized matrices per (fold, mode), kept between trials."""

    def __init__(self) -> None:
        self._items: dict[tuple[int, str], tuple[Any, Any, Any]] = {}

    def get(self, data: TrialData, fold: int, mode: str) -> tuple[Any, Any, Any]:
        key = (fold, mode)
        if key not in self._items:
            from modelworks.automl.featurize import Featurizer

            train, valid = data.folds[fold]
            featurizer = Featurizer(
                data.kinds,
                mode=mode,
                task=data.task,
                blocked_transformers=data.blocked_transformers,
                random_state=data.seed,
            )
            Xt = featurizer.fit_transform(data.X.iloc[train], data.y[train])
            Xv = featurizer.transform(data.X.iloc[valid]) if len(valid) else None
            self._items[key] = (featurizer, Xt, Xv)
        return self._items[key]


def predict_matrix(model: Any, X: Any, task: str, n_classes: int) -> np.ndarray:
    """Class probabilities over all ``n_classes`` (a fold may miss a class), or values."""
    if task != "classification":
        return np.asarray(model.predict(X), dtype=float).ravel()
    proba = np.asarray(model.predict_proba(X), dtype=float)
    classes = np.asarray(getattr(model, "classes_", np.arange(proba.shape[1])), dtype=int)
    if proba.shape[1] == n_classes and np.array_equal(classes, np.arange(n_classes)):
        return proba
    full = np.zeros((proba.shape[0], n_classes))
    full[:, classes] = proba
    return full


def _subsample(n: int, fraction: float, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    size = max(1, round(n * fraction))
    return np.sort(rng.choice(n, size=size, replace=False))


def _should_prune(spec: TrialSpec, fold_losses: list[float], n_folds: int) -> bool:
    best = spec.prune_losses
    done = len(fold_losses)
    if not best or done >= n_folds or done > len(best):
        return False
    mine = float(np.mean(fold_losses))
    theirs = float(np.mean(best[:done]))
    return mine > theirs * (1.0 + spec.prune_tolerance) + 1e-12


def run_trial(data: TrialData, spec: TrialSpec, cache: FoldCache) -> TrialResult:
    """Cross-validate ``spec`` on ``data``; never raises (errors become a failed result)."""
    started = time.time()
    result = TrialResult(
        spec.number,
        spec.learner,
        spec.params,
        "failed",
        sample_fraction=spec.sample_fraction,
        source=spec.source,
    )
    try:
        _run(data, spec, cache, result)
    except Exception as e:  # noqa: BLE001 - a crashing learner must not stop the search
        result.status = "failed"
        result.error = f"{type(e).__name__}: {e}\n{traceback.format_exc(limit=8)}"
    result.duration = time.time() - started
    return result


def _run(data: TrialData, spec: TrialSpec, cache: FoldCache, result: TrialResult) -> None:
    from sklearn.pipeline import Pipeline

    from modelworks.automl.learners import LEARNERS, FitContext, fit_learner
    from modelworks.automl.metrics import get_metric

    learner = LEARNERS[spec.learner]
    metric = get_metric(data.metric, data.task)
    mode = str(spec.params.get("features", learner.mode))
    n = len(data.y)
    oof = (
        np.full((n, data.n_classes), np.nan)
        if data.task == "classification"
        else np.full(n, np.nan)
    )
    models = []
    featurize_seconds = 0.0
    for fold, (train, valid) in enumerate(data.folds):
        before = time.time()
        featurizer, Xt, Xv = cache.get(data, fold, mode)
        featurize_seconds += time.time() - before
        result.extra["featurize_seconds"] = featurize_seconds
        y_train = data.y[train]
        if spec.sample_fraction < 1.0:
            rows = _subsample(len(train), spec.sample_fraction, data.seed + fold)
            Xt, y_train = Xt[rows], y_train[rows]
        ctx = FitContext(
            task=data.task,
            n_classes=data.n_classes,
            n_rows=Xt.shape[0],
            n_features=Xt.shape[1],
            seed=data.seed,
            n_threads=spec.n_threads,
            deadline=spec.deadline,
            categorical_indices=list(getattr(featurizer, "categorical_indices_", []))
            if mode != "dense"
            else [],
        )
        model = fit_learner(learner, spec.params, ctx, Xt, y_train, Xv, data.y[valid])
        best = getattr(model, "best_iteration_", None) or getattr(model, "best_iteration", None)
        if isinstance(best, int | np.integer):
            result.iterations.append(int(best))
        pred = predict_matrix(model, Xv, data.task, data.n_classes)
        oof[valid] = pred
        result.fold_losses.append(metric.loss(data.y[valid], pred, **data.metric_context))
        models.append(Pipeline([("featurize", featurizer), ("model", model)]))
        if time.time() > spec.deadline and fold < len(data.folds) - 1:
            result.status = "timeout"
            result.error = f"stopped at its deadline after {fold + 1} of {len(data.folds)} folds"
            return
        if _should_prune(spec, result.fold_losses, len(data.folds)):
            result.status = "pruned"
            result.loss = float(np.mean(result.fold_losses))
            return
    scored = np.concatenate([valid for _, valid in data.folds])
    result.loss = metric.loss(data.y[scored], oof[scored], **data.metric_context)
    result.oof = oof.astype(np.float32)
    path = os.path.join(data.model_dir, f"trial-{spec.number}.pkl")
    with open(path + ".tmp", "wb") as fh:
        pickle.dump(models, fh, protocol=pickle.HIGHEST_PROTOCOL)
    os.replace(path + ".tmp", path)
    result.model_path = path
    result.status = "completed" if math.isfinite(result.loss) else "failed"
    if result.status == "failed":
        result.error = f"the {metric.name} of this trial is not a number"
