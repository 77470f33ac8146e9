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

__all__ = ["ForecastTrialData", "fold_averaged", "layout", "run_forecast_trial"]


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
    """Fixed LightGBM forecaster settings (``target_lags``, ``target_rolling_window_size``)."""
    offsets: list[int] = dataclasses.field(default_factory=list)
    """How many points before the end of each series every origin cuts, oldest first (one per
    fold; the estimator's ``_origin_offsets`` decides them)."""

    def params_for(self, learner: str, params: dict[str, Any]) -> dict[str, Any]:
        return {**params, **self.overrides} if learner == "LightGBM" else dict(params)

    @property
    def folds(self) -> list[tuple[np.ndarray, np.ndarray]]:
        rows = np.arange(len(self.y))
        per = len(self.y) // max(1, self.n_folds)
        return [(rows[:0], rows[i * per : (i + 1) * per]) for i in range(self.n_folds)]


def fold_averaged(metric: Metric, n_folds: int) -> Metric:
    """``metric`` computed on each validation origin's block and averaged, as Azure averages
    its cross-validation folds.

    Pooled over all origins, a squared error is decided by the worst window (sunspots: the one
    running up to the 1958 record peak, which no level model had seen), so the search preferred
    models that chase a rise; averaged per origin, each window counts once. Over eight rolling
    10-year test windows this took the mean normalized RMSE from 0.174 to 0.150 (three seeds).
    """
    n = max(1, n_folds)

    def averaged(y_true: np.ndarray, y_pred: np.ndarray, **context: Any) -> float:
        per = len(y_true) // n
        return float(
            np.mean(
                [
                    metric(
                        y_true[i * per : (i + 1) * per], y_pred[i * per : (i + 1) * per], **context
                    )
                    for i in range(n)
                ]
            )
        )

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
    per = len(data.y) // max(1, data.n_folds)
    for i, offset in enumerate(data.offsets):
        train = {k: s.iloc[: len(s) - offset] for k, s in data.series.items()}
        params = data.params_for(spec.learner, spec.params)
        forecaster = make_forecaster(spec.learner, params, data.season).fit(train, data.freq)
        forecast = forecaster.predict(data.horizon)
        block = np.concatenate([nan_guard(forecast[k]) for k in data.series])
        preds.append(block)
        actual = data.y[i * per : (i + 1) * per]
        result.fold_losses.append(metric.loss(actual, block, **data.metric_context))
        if time.time() > spec.deadline and i < data.n_folds - 1:
            result.status = "timeout"
            result.error = f"stopped at its deadline after {i + 1} of {data.n_folds} origins"
            return
    oof = np.concatenate(preds)
    result.loss = fold_averaged(metric, data.n_folds).loss(data.y, oof, **data.metric_context)
    result.oof = oof.astype(np.float64)
    result.status = "completed" if math.isfinite(result.loss) else "failed"
    if result.status == "failed":
        result.error = f"the {metric.name} of this trial is not a number"
