"""Explanations of an AutoML model: per-row feature contributions and global importance.

When the model has a LightGBM or XGBoost member, contributions are exact TreeSHAP values
from the library itself (``pred_contrib`` / ``pred_contribs``), averaged over that member's
fold models and summed back onto the input columns each feature came from (one-hot parts,
frequency and target encodings). Otherwise they are occlusion effects of the whole model:
how the prediction changes when a column is replaced by a typical value. Global importance
is the mean absolute contribution of each column.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np
import pandas as pd

from modelworks.automl.model import AutoMLModel, BaggedModel

__all__ = ["Explanation", "explain"]


@dataclasses.dataclass
class Explanation:
    """``contributions`` (rows x input columns), ``base_value``, ``importance`` (per column,
    largest first), the ``method`` used, the ``units`` of the values, and which ``member``."""

    contributions: pd.DataFrame
    base_value: np.ndarray
    importance: pd.Series
    method: str
    units: str
    member: str

    def to_dict(self, top: int = 20) -> dict[str, Any]:
        return {
            "method": self.method,
            "units": self.units,
            "member": self.member,
            "importance": {k: float(v) for k, v in self.importance.head(top).items()},
        }


def _tree_member(model: AutoMLModel) -> tuple[BaggedModel, str] | None:
    members = model.members or []
    weights = model.weights or [1.0] * len(members)
    ranked = sorted(zip(weights, range(len(members)), members, strict=True), reverse=True)
    for _, _, member in ranked:
        final = member.pipelines[0].steps[-1][1] if member.pipelines else None
        module = type(final).__module__
        if module.startswith("lightgbm"):
            return member, "lightgbm"
        if module.startswith("xgboost"):
            return member, "xgboost"
    return None


def _contribs(estimator: Any, Xt: Any, library: str) -> np.ndarray:
    if library == "lightgbm":
        return np.asarray(estimator.predict(Xt, pred_contrib=True))
    import xgboost

    booster = estimator.get_booster()
    best = getattr(estimator, "best_iteration", None)
    kwargs = {"iteration_range": (0, best + 1)} if best is not None else {}
    return np.asarray(booster.predict(xgboost.DMatrix(Xt), pred_contribs=True, **kwargs))


def _pick_class(raw: np.ndarray, n_features: int, classes: np.ndarray) -> np.ndarray:
    """Multiclass contributions come as n x C(d+1): keep each row's chosen class."""
    if raw.ndim == 3:
        raw = raw.reshape(raw.shape[0], -1)
    if raw.shape[1] == n_features + 1:
        return raw
    per = raw.reshape(raw.shape[0], -1, n_features + 1)
    return per[np.arange(per.shape[0]), classes]


def _tree_shap(model: AutoMLModel, member: BaggedModel, library: str, X: pd.DataFrame) -> Any:
    columns = list(X.columns)
    total = np.zeros((len(X), len(columns)))
    base = np.zeros(len(X))
    chosen = None
    if model.task == "classification":
        chosen = np.argmax(model.predict_raw(X), axis=1)
        if len(model.classes or []) == 2:
            chosen = None  # binary: the positive class's log-odds
    for pipeline in member.pipelines or []:
        featurizer = pipeline.steps[0][1]
        estimator = pipeline.steps[-1][1]
        Xt = featurizer.transform(X)
        n_features = Xt.shape[1]
        raw = _contribs(estimator, Xt, library)
        if chosen is not None:
            raw = _pick_class(raw, n_features, chosen)
        sources = featurizer.feature_sources_
        for j, source in enumerate(sources[:n_features]):
            if source in columns:
                total[:, columns.index(source)] += raw[:, j]
        base += raw[:, -1]
    n = max(1, len(member.pipelines or []))
    units = "log-odds" if model.task == "classification" else "target units"
    return total / n, base / n, units


def _baseline(values: pd.Series) -> Any:
    numbers = pd.to_numeric(values, errors="coerce")
    if numbers.notna().mean() > 0.9 and pd.api.types.is_numeric_dtype(values):
        return float(numbers.median())
    mode = values.mode(dropna=True)
    return mode.iloc[0] if len(mode) else values.iloc[0]


def _occlusion(model: AutoMLModel, X: pd.DataFrame) -> Any:
    def output(frame: pd.DataFrame) -> np.ndarray:
        raw = model.predict_raw(frame)
        if model.task != "classification":
            return np.asarray(raw, dtype=float)
        if raw.shape[1] == 2:
            return raw[:, 1]
        return raw[np.arange(len(raw)), reference_class]

    reference_class = (
        np.argmax(model.predict_raw(X), axis=1) if model.task == "classification" else None
    )
    reference = output(X)
    contributions = np.zeros((len(X), X.shape[1]))
    for j, column in enumerate(X.columns):
        changed = X.copy()
        changed[column] = _baseline(X[column])
        contributions[:, j] = reference - output(changed)
    units = "probability" if model.task == "classification" else "target units"
    return contributions, reference - contributions.sum(axis=1), units


def explain(model: AutoMLModel, X: Any, *, max_rows: int = 1000) -> Explanation:
    """Explain ``model``'s predictions on up to ``max_rows`` rows of ``X``."""
    frame = model._frame(X).head(max_rows).reset_index(drop=True)
    found = _tree_member(model)
    if found is not None:
        member, library = found
        values, base, units = _tree_shap(model, member, library, frame)
        method = f"TreeSHAP ({'LightGBM pred_contrib' if library == 'lightgbm' else 'XGBoost pred_contribs'})"
        member_name = member.learner
    else:
        values, base, units = _occlusion(model, frame)
        method, member_name = "occlusion (column replaced by its median or mode)", model.name
    contributions = pd.DataFrame(values, columns=list(frame.columns))
    importance = contributions.abs().mean().sort_values(ascending=False)
    return Explanation(contributions, np.asarray(base), importance, method, units, member_name)
