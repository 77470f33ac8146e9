"""One forecasting trial: rolling-origin validation of one forecaster configuration.

For each origin (``n_folds`` windows of ``horizon`` points, oldest first) every
series is cut at the origin, the forecaster is fitted on what comes before and forecasts the
next ``horizon`` points. The forecasts of all origins and series, in a fixed order, are the
trial's out-of-fold predictions, which the search scores and ensembles like tabular ones.
"""

from __future__ import annotations

import dataclasses
import math
import time
import traceback
from typing import Any

import numpy as np

from modelworks.automl._trial import TrialResult, TrialSpec
from modelworks.automl.metrics import Metric

__all__ = ["ForecastTrialData", "fold_averaged", "layout", "origin_blocks", "run_forecast_trial"]

LAG_REGRESSIONS = frozenset({"LightGBM", "ElasticNet"})
"""The forecasters built on lag features, which ``target_lags`` and
``target_rolling_window_size`` configure."""


@dataclasses.dataclass
class ForecastTrialData:
    """The series, the validation layout and the metric; ``y`` holds the actual values of
    every validation window, in :func:`layout` order."""

    series: dict[tuple[Any, ...], Any]
    freq: str
    season: int
    horizon: int
    n_folds: int
    metric: str
    metric_context: dict[str, Any]
    y: np.ndarray
    steps: np.ndarray
    keys: list[int]
    task: str = "forecasting"
    n_classes: int = 0
    seed: int = 0
    overrides: dict[str, Any] = dataclasses.field(default_factory=dict)
    """Fixed lag-regression settings (``target_lags``, ``target_rolling_window_size``)."""
    offsets: list[int] = dataclasses.field(default_factory=list)
    """How many points before the end of each series every origin cuts, oldest first (one per
    fold; the estimator's ``_origin_offsets`` decides them)."""

    def params_for(self, learner: str, params: dict[str, Any]) -> dict[str, Any]:
        return {**params, **self.overrides} if learner in LAG_REGRESSIONS else dict(params)

    @property
    def folds(self) -> list[tuple[np.ndarray, np.ndarray]]:
        rows = np.arange(len(self.y))
        return [(rows[:0], rows[block]) for block in origin_blocks(len(self.y), self.n_folds)]


def origin_blocks(n_rows: int, n_folds: int) -> list[slice]:
    """Where each validation origin's points sit in the fold-major :func:`layout` order."""
    per = n_rows // max(1, n_folds)
    return [slice(i * per, (i + 1) * per) for i in range(max(1, n_folds))]


def fold_averaged(metric: Metric, n_folds: int) -> Metric:
    """``metric`` computed on each validation origin's block and averaged, as Azure averages
    its cross-validation folds.

    Pooled over all origins, a squared error is decided by the worst window (sunspots: the one
    running up to the 1958 record peak, which no level model had seen), so the search preferred
    models that chase a rise; averaged per origin, each window counts once. Over eight rolling
    10-year test windows this took the mean normalized RMSE from 0.174 to 0.150 (three seeds).
    """

    def averaged(y_true: np.ndarray, y_pred: np.ndarray, **context: Any) -> float:
        blocks = origin_blocks(len(y_true), n_folds)
        return float(np.mean([metric(y_true[b], y_pred[b], **context) for b in blocks]))

    return dataclasses.replace(metric, fn=averaged)


def layout(
    series: dict[tuple[Any, ...], Any], horizon: int, offsets: list[int]
) -> tuple[np.ndarray, np.ndarray, list[int]]:
    """Actual values, horizon step and series index of every validation point, fold-major."""
    actual: list[float] = []
    steps: list[int] = []
    keys: list[int] = []
    for offset in offsets:
        for index, s in enumerate(series.values()):
            cut = len(s) - offset
            window = s.to_numpy(dtype=float)[cut : cut + horizon]
            actual.extend(window)
            steps.extend(range(len(window)))
            keys.extend([index] * len(window))
    return np.asarray(actual), np.asarray(steps), keys


def run_forecast_trial(data: ForecastTrialData, spec: TrialSpec) -> TrialResult:
    """Rolling-origin validation of ``spec``; never raises."""
    started = time.time()
    result = TrialResult(spec.number, spec.learner, spec.params, "failed", source=spec.source)
    try:
        _run(data, spec, result)
    except Exception as e:  # noqa: BLE001 - a failing forecaster must not stop the search
        result.status = "failed"
        result.error = f"{type(e).__name__}: {e}\n{traceback.format_exc(limit=6)}"
    result.duration = time.time() - started
    return result


def _run(data: ForecastTrialData, spec: TrialSpec, result: TrialResult) -> None:
    from modelworks.automl.forecasting.forecasters import make_forecaster, nan_guard
    from modelworks.automl.metrics import get_metric

    metric = get_metric(data.metric, "forecasting")
    preds: list[np.ndarray] = []
    blocks = origin_blocks(len(data.y), data.n_folds)
    for i, offset in enumerate(data.offsets):
        train = {k: s.iloc[: len(s) - offset] for k, s in data.series.items()}
        params = data.params_for(spec.learner, spec.params)
        forecaster = make_forecaster(spec.learner, params, data.season).fit(train, data.freq)
        forecast = forecaster.predict(data.horizon)
        block = np.concatenate([nan_guard(forecast[k]) for k in data.series])
        preds.append(block)
        actual = data.y[blocks[i]]
        result.fold_losses.append(metric.loss(actual, block, **data.metric_context))
        if time.time() > spec.deadline and i < data.n_folds - 1:
            result.status = "timeout"
            result.error = f"stopped at its deadline after {i + 1} of {data.n_folds} origins"
            return
    oof = np.concatenate(preds)
    # the origins' losses, averaged (what fold_averaged(metric) gives, without recomputing)
    result.loss = float(np.mean(result.fold_losses))
    result.oof = oof.astype(np.float64)
    result.status = "completed" if math.isfinite(result.loss) else "failed"
    if result.status == "failed":
        result.error = f"the {metric.name} of this trial is not a number"
