"""The deployable forecasting model: fitted forecasters, their weights and quantiles.

:class:`ForecastModel` is a scikit-learn ``BaseEstimator`` (saved with the sklearn flavor).
``predict(X)`` takes rows with the time column (and the series id columns) at or after the
end of the training data and returns the point forecast for each row; ``forecast()`` returns
the whole horizon for every series, with the quantile columns (``q0.1``, ``q0.9``, ...)
estimated from the rolling-origin validation errors at each horizon step.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator

from modelworks.automl.forecasting._data import parse_times
from modelworks.errors import InvalidInputError

__all__ = ["ForecastModel"]


class ForecastModel(BaseEstimator):
    """Members (fitted forecasters) combined with ``weights``; see the module docstring."""

    def __init__(
        self,
        members: list[Any] | None = None,
        weights: list[float] | None = None,
        *,
        time_column: str = "time",
        id_columns: list[str] | None = None,
        horizon: int = 1,
        freq: str = "D",
        quantiles: dict[float, np.ndarray] | None = None,
        scales: dict[tuple[Any, ...], float] | None = None,
        name: str = "",
        dayfirst: bool = False,
    ) -> None:
        self.members = members
        self.weights = weights
        self.time_column = time_column
        self.id_columns = id_columns
        self.horizon = horizon
        self.freq = freq
        self.quantiles = quantiles
        self.scales = scales
        self.name = name
        self.dayfirst = dayfirst

    def _combined(self, steps: int) -> dict[tuple[Any, ...], np.ndarray]:
        from modelworks.automl.forecasting.forecasters import nan_guard

        members = self.members or []
        weights = self.weights or [1.0 / len(members)] * len(members)
        total: dict[tuple[Any, ...], np.ndarray] = {}
        for weight, member in zip(weights, members, strict=True):
            for key, values in member.predict(steps).items():
                total[key] = total.get(key, 0.0) + weight * nan_guard(values)
        return total

    @property
    def last_times_(self) -> dict[tuple[Any, ...], pd.Timestamp]:
        return dict((self.members or [])[0].last_) if self.members else {}

    def forecast(self, horizon: int | None = None) -> pd.DataFrame:
        """Every series over ``horizon`` steps (default: the trained horizon), with quantiles."""
        steps = int(horizon or self.horizon)
        offset = pd.tseries.frequencies.to_offset(self.freq)
        rows = []
        combined = self._combined(steps)
        for key, values in combined.items():
            time = self.last_times_[key]
            for step in range(steps):
                time = time + offset
                row: dict[str, Any] = dict(zip(self.id_columns or [], key, strict=False))
                row[self.time_column] = time
                row["prediction"] = float(values[step])
                for q, errors in (self.quantiles or {}).items():
                    scale = (self.scales or {}).get(key, 1.0)
                    idx = min(step, len(errors) - 1)
                    row[f"q{q:g}"] = float(values[step] + errors[idx] * scale)
                rows.append(row)
        return pd.DataFrame(rows)

    def predict(self, X: Any) -> np.ndarray:
        """Point forecasts for the rows of ``X`` (time column + series ids, future times)."""
        from modelworks.automl.model import as_frame

        frame = as_frame(X)
        if self.time_column not in frame.columns:
            raise InvalidInputError(
                f"The input lacks the time column {self.time_column!r} the forecaster needs."
            )
        absent = [c for c in self.id_columns or [] if c not in frame.columns]
        if absent:
            raise InvalidInputError(
                f"The input lacks the time series id column(s) {absent}; each row names its "
                f"series by {self.id_columns} and its time by {self.time_column!r}."
            )
        # models saved before day-first reading have no such attribute
        dayfirst = bool(getattr(self, "dayfirst", False))
        times, _ = parse_times(frame[self.time_column], self.time_column, dayfirst=dayfirst)
        offset = pd.tseries.frequencies.to_offset(self.freq)
        keys = (
            [tuple(r) for r in frame[self.id_columns].itertuples(index=False, name=None)]
            if self.id_columns
            else [()] * len(frame)
        )
        last = self.last_times_
        steps_needed = []
        for key, time in zip(keys, times, strict=True):
            if key not in last:
                raise InvalidInputError(
                    f"Unknown series {dict(zip(self.id_columns or [], key, strict=False))}; the "
                    f"model knows {len(last)} series from training."
                )
            grid = pd.date_range(last[key], time, freq=offset)
            step = len(grid) - 1
            if step < 1:
                raise InvalidInputError(
                    f"Time {time} is not after the end of the training data ({last[key]}); "
                    "the forecaster predicts future times only."
                )
            if grid[-1] != time:
                raise InvalidInputError(
                    f"Time {time} is not on the series' {self.freq!r} steps: the nearest are "
                    f"{grid[-1]} and {grid[-1] + offset}. Ask for those times."
                )
            steps_needed.append(step)
        combined = self._combined(max(steps_needed) if steps_needed else 1)
        return np.asarray(
            [combined[k][s - 1] for k, s in zip(keys, steps_needed, strict=True)], dtype=float
        )

    def __repr__(self) -> str:
        return f"ForecastModel({self.name}, horizon={self.horizon}, freq={self.freq!r})"
