"""The forecasting learners: seasonal naive, ETS and ARIMA (statsmodels), and regression on
lag and rolling-window features — gradient boosting (with calendar parts too) and an elastic
net (a linear autoregression).

Every forecaster sees a dict of regular series (id → time-indexed ``pd.Series``) and answers
``predict(horizon)`` with an array per id. The lag regressions are one *global* model over
all series: each series is scaled by its mean absolute value, the target is optionally
differenced (so trends extrapolate), LightGBM gets the series id as a categorical feature,
and forecasts are made recursively, one step at a time. Statistical models are fitted per
series. statsmodels comes with the ``modelworks[automl]`` extra.
"""

from __future__ import annotations

import math
import warnings
from typing import Any

import numpy as np
import pandas as pd

from modelworks.automl.learners import FitContext, Learner
from modelworks.errors import MissingDependencyError

__all__ = ["FORECAST_LEARNERS", "Forecaster", "make_forecaster"]

Series = dict[tuple[Any, ...], pd.Series]


class Forecaster:
    """Base: ``fit(series, freq, season)`` then ``predict(horizon)``."""

    packages: tuple[str, ...] = ()
    """Distributions a fitted one needs to load and predict (beyond NumPy, pandas, sklearn)."""

    def __init__(self, params: dict[str, Any], season: int) -> None:
        self.params = dict(params)
        self.season = season

    def fit(self, series: Series, freq: str) -> Forecaster:
        self.freq = freq
        self.last_ = {k: s.index[-1] for k, s in series.items()}
        self._fit(series)
        return self

    def _fit(self, series: Series) -> None:
        raise NotImplementedError

    def predict(self, horizon: int) -> dict[tuple[Any, ...], np.ndarray]:
        raise NotImplementedError


class Naive(Forecaster):
    """The last value (``season`` = 1) or the value one season ago (seasonal naive)."""

    def _fit(self, series: Series) -> None:
        self.tails_ = {k: s.to_numpy(dtype=float) for k, s in series.items()}

    def predict(self, horizon: int) -> dict[tuple[Any, ...], np.ndarray]:
        out = {}
        seasonal = bool(self.params.get("seasonal", True))
        for key, values in self.tails_.items():
            m = self.season if seasonal and len(values) >= self.season > 1 else 1
            last = values[-m:]
            out[key] = np.asarray([last[i % m] for i in range(horizon)], dtype=float)
        return out


def _statsmodels() -> Any:
    try:
        import statsmodels.tsa.api as tsa
    except ImportError as e:
        raise MissingDependencyError(
            "ETS and ARIMA forecasters need statsmodels: pip install 'modelworks[automl]'."
        ) from e
    return tsa


class ETS(Forecaster):
    """Holt-Winters exponential smoothing per series (statsmodels)."""

    packages = ("statsmodels",)

    def _fit(self, series: Series) -> None:
        tsa = _statsmodels()
        self.models_: dict[tuple[Any, ...], Any] = {}
        for key, s in series.items():
            values = s.to_numpy(dtype=float)
            seasonal = self.params.get("seasonal")
            m = self.season
            if not seasonal or m <= 1 or len(values) < 2 * m + 2:
                seasonal = None
            if seasonal == "mul" and values.min() <= 0:
                seasonal = "add"
            trend = self.params.get("trend")
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                try:
                    model = tsa.ExponentialSmoothing(
                        values,
                        trend=trend,
                        damped_trend=bool(trend and self.params.get("damped", True)),
                        seasonal=seasonal,
                        seasonal_periods=m if seasonal else None,
                        initialization_method="estimated",
                    ).fit()
                except (ValueError, np.linalg.LinAlgError):
                    model = tsa.ExponentialSmoothing(
                        values, initialization_method="estimated"
                    ).fit()
            self.models_[key] = model

    def predict(self, horizon: int) -> dict[tuple[Any, ...], np.ndarray]:
        return {k: np.asarray(m.forecast(horizon), dtype=float) for k, m in self.models_.items()}


class Arima(Forecaster):
    """(Seasonal) ARIMA per series (statsmodels SARIMAX)."""

    packages = ("statsmodels",)

    def _fit(self, series: Series) -> None:
        tsa = _statsmodels()
        order = (
            int(self.params.get("p", 1)),
            int(self.params.get("d", 1)),
            int(self.params.get("q", 1)),
        )
        self.models_: dict[tuple[Any, ...], Any] = {}
        for key, s in series.items():
            values = s.to_numpy(dtype=float)
            seasonal = (0, 0, 0, 0)
            m = self.season
            if self.params.get("seasonal") and 1 < m <= 52 and len(values) >= 3 * m:
                seasonal = (1, 1, 0, m)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                try:
                    model = tsa.SARIMAX(
                        values,
                        order=order,
                        seasonal_order=seasonal,
                        trend="c" if order[1] == 0 else None,
                    ).fit(disp=False, maxiter=50)
                except (ValueError, np.linalg.LinAlgError):
                    model = tsa.SARIMAX(values, order=(1, 1, 0)).fit(disp=False, maxiter=50)
            self.models_[key] = model

    def predict(self, horizon: int) -> dict[tuple[Any, ...], np.ndarray]:
        return {k: np.asarray(m.forecast(horizon), dtype=float) for k, m in self.models_.items()}


def _calendar(times: pd.DatetimeIndex) -> np.ndarray:
    return np.column_stack(
        [
            times.month.to_numpy(),
            times.day_of_week.to_numpy(),
            times.day_of_year.to_numpy(),
            times.hour.to_numpy(),
            times.quarter.to_numpy(),
        ]
    ).astype(float)


class LagRegression(Forecaster):
    """One regression model over all series on lags and a rolling mean of the scaled (and
    optionally differenced) target, forecasting recursively; subclasses choose the model and
    which extra features it can use."""

    def _lags(self) -> list[int]:
        lags = self.params.get("lags")
        if isinstance(lags, list | tuple):
            chosen = sorted({int(v) for v in lags if int(v) >= 1})
        else:
            count = int(self.params.get("n_lags", 3))
            chosen = list(range(1, count + 1))
            if self.season > 1:
                chosen += [self.season]
        return sorted(set(chosen))

    def _features(
        self, z: np.ndarray, t: int, time: pd.Timestamp, code: int, lags: list[int], window: int
    ) -> list[float]:
        row = [z[t - lag] if t - lag >= 0 else np.nan for lag in lags]
        recent = z[max(0, t - window) : t]
        row.append(float(np.mean(recent)) if len(recent) else np.nan)
        row.append(float(code))
        return row

    def _design(self, rows: np.ndarray, times: pd.DatetimeIndex) -> np.ndarray:
        """The model's inputs from the lag rows (lags, rolling mean, series code)."""
        raise NotImplementedError

    def _fit_model(self, features: np.ndarray, targets: np.ndarray) -> Any:
        raise NotImplementedError

    def _transform(self, values: np.ndarray, scale: float) -> np.ndarray:
        z = values / scale
        if self.params.get("transform") == "diff":
            return np.diff(z, prepend=z[0])
        return z

    def _fit(self, series: Series) -> None:
        lags = self._lags()
        window = int(self.params.get("window", max(3, self.season)))
        self.lags_, self.window_ = lags, window
        self.codes_ = {k: i for i, k in enumerate(series)}
        self.scales_ = {}
        self.histories_ = {}
        rows, targets, times = [], [], []
        start = max(lags) if lags else 1
        for key, s in series.items():
            values = s.to_numpy(dtype=float)
            scale = float(np.mean(np.abs(values))) or 1.0
            self.scales_[key] = scale
            z = self._transform(values, scale)
            self.histories_[key] = (values / scale, z)
            begin = 1 if self.params.get("transform") == "diff" else 0
            for t in range(max(begin, min(start, len(z) - 1)), len(z)):
                rows.append(self._features(z, t, s.index[t], self.codes_[key], lags, window))
                targets.append(z[t])
                times.append(s.index[t])
        features = self._design(np.asarray(rows, dtype=float), pd.DatetimeIndex(times))
        self.model_ = self._fit_model(features, np.asarray(targets, dtype=float))
        self.last_time_ = {k: s.index[-1] for k, s in series.items()}

    def predict(self, horizon: int) -> dict[tuple[Any, ...], np.ndarray]:
        out: dict[tuple[Any, ...], np.ndarray] = {}
        offset = pd.tseries.frequencies.to_offset(self.freq)
        for key, (level_values, z_values) in self.histories_.items():
            level, z = list(level_values), list(z_values)
            preds = []
            time = self.last_time_[key]
            for _ in range(horizon):
                time = time + offset
                t = len(z)
                features = self._features(
                    np.asarray([*z, 0.0]), t, time, self.codes_[key], self.lags_, self.window_
                )
                row = self._design(np.asarray([features], dtype=float), pd.DatetimeIndex([time]))
                step = float(self.model_.predict(row)[0])
                z.append(step)
                value = level[-1] + step if self.params.get("transform") == "diff" else step
                level.append(value)
                preds.append(value * self.scales_[key])
            out[key] = np.asarray(preds)
        return out


class GradientBoosting(LagRegression):
    """LightGBM on lags, a rolling mean, calendar parts and the series id (categorical)."""

    packages = ("lightgbm",)

    def _design(self, rows: np.ndarray, times: pd.DatetimeIndex) -> np.ndarray:
        return np.column_stack([rows, _calendar(times)])

    def _fit_model(self, features: np.ndarray, targets: np.ndarray) -> Any:
        import lightgbm

        model = lightgbm.LGBMRegressor(
            n_estimators=int(self.params.get("n_estimators", 300)),
            learning_rate=float(self.params.get("learning_rate", 0.05)),
            num_leaves=int(self.params.get("num_leaves", 15)),
            min_child_samples=int(
                min(self.params.get("min_child_samples", 10), max(2, len(targets) // 4))
            ),
            colsample_bytree=float(self.params.get("colsample_bytree", 0.9)),
            n_jobs=1,
            verbose=-1,
            random_state=0,
        )
        return model.fit(features, targets, categorical_feature=[len(self.lags_) + 1])


class LinearAutoregression(LagRegression):
    """Elastic net on lags and a rolling mean: the linear autoregression that long cycles
    (sunspots: ~11 years) and smooth series favour, where trees cannot extrapolate. The
    series code and calendar are left out (a linear model cannot use them as numbers;
    seasonality comes in through the seasonal lag)."""

    def _design(self, rows: np.ndarray, times: pd.DatetimeIndex) -> np.ndarray:
        # a lag before the series starts (a series shorter than its lags) reads as 0
        return np.nan_to_num(rows[:, :-1], nan=0.0)

    def _fit_model(self, features: np.ndarray, targets: np.ndarray) -> Any:
        from sklearn.linear_model import ElasticNet

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # convergence warnings at the smallest alphas
            return ElasticNet(
                alpha=float(self.params.get("alpha", 1e-3)),
                l1_ratio=float(self.params.get("l1_ratio", 0.5)),
                max_iter=5000,
            ).fit(features, targets)


def make_forecaster(name: str, params: dict[str, Any], season: int) -> Forecaster:
    cls = {
        "SeasonalNaive": Naive,
        "Naive": Naive,
        "ExponentialSmoothing": ETS,
        "Arima": Arima,
        "LightGBM": GradientBoosting,
        "ElasticNet": LinearAutoregression,
    }[name]
    if name == "Naive":
        params = {**params, "seasonal": False}
    return cls(params, season)


def _no_build(params: dict[str, Any], ctx: FitContext) -> Any:
    raise NotImplementedError("forecasting learners are built by make_forecaster")


def _no_fit(*args: Any) -> None:
    raise NotImplementedError("forecasting learners are fitted by make_forecaster")


def _units(factor: float) -> Any:
    def units(params: dict[str, Any], ctx: FitContext) -> float:
        return factor * max(ctx.n_rows, 1)

    return units


def _gbm_units(params: dict[str, Any], ctx: FitContext) -> float:
    return 40.0 * max(ctx.n_rows, 1) * float(params.get("n_estimators", 300)) / 100.0


def _gbm_space(trial: Any, ctx: FitContext) -> dict[str, Any]:
    return {
        "n_lags": trial.suggest_int("n_lags", 1, 12),
        "window": trial.suggest_int("window", 2, 24),
        "transform": trial.suggest_categorical("transform", ["none", "diff"]),
        "learning_rate": trial.suggest_float("learning_rate", 0.01, 0.3, log=True),
        "num_leaves": trial.suggest_int("num_leaves", 4, 64, log=True),
        "min_child_samples": trial.suggest_int("min_child_samples", 2, 50, log=True),
        "n_estimators": trial.suggest_int("n_estimators", 50, 800, log=True),
        "colsample_bytree": trial.suggest_float("colsample_bytree", 0.5, 1.0),
    }


def _ets_space(trial: Any, ctx: FitContext) -> dict[str, Any]:
    return {
        "trend": trial.suggest_categorical("trend", [None, "add"]),
        "damped": trial.suggest_categorical("damped", [True, False]),
        "seasonal": trial.suggest_categorical("seasonal", [None, "add", "mul"]),
    }


def _arima_space(trial: Any, ctx: FitContext) -> dict[str, Any]:
    return {
        "p": trial.suggest_int("p", 0, 3),
        "d": trial.suggest_int("d", 0, 2),
        "q": trial.suggest_int("q", 0, 2),
        "seasonal": trial.suggest_categorical("seasonal", [True, False]),
    }


def _linear_space(trial: Any, ctx: FitContext) -> dict[str, Any]:
    return {
        "n_lags": trial.suggest_int("n_lags", 1, 24),
        "window": trial.suggest_int("window", 2, 24),
        "transform": trial.suggest_categorical("transform", ["none", "diff"]),
        "alpha": trial.suggest_float("alpha", 1e-5, 1.0, log=True),
        "l1_ratio": trial.suggest_float("l1_ratio", 0.0, 1.0),
    }


def _naive_space(trial: Any, ctx: FitContext) -> dict[str, Any]:
    return {}


def _learner(name: str, space: Any, units: Any, module: str | None = None) -> Learner:
    return Learner(
        name, ("forecasting",), "series", space, _no_build, _no_fit, units, module=module
    )


FORECAST_LEARNERS: dict[str, Learner] = {
    lr.name: lr
    for lr in [
        _learner("SeasonalNaive", _naive_space, _units(1.0)),
        _learner("Naive", _naive_space, _units(1.0)),
        _learner("ExponentialSmoothing", _ets_space, _units(300.0), "statsmodels"),
        _learner("Arima", _arima_space, _units(3000.0), "statsmodels"),
        _learner("LightGBM", _gbm_space, _gbm_units),
        _learner("ElasticNet", _linear_space, _units(20.0)),
    ]
}

FORECAST_PORTFOLIO: list[tuple[str, dict[str, Any]]] = [
    ("SeasonalNaive", {}),
    ("Naive", {}),
    # LightGBM's defaults on the last 12 values (what a user tries first): a candidate from
    # the start, so a long cycle the calendar does not name (sunspots: ~11 years) is covered.
    (
        "LightGBM",
        {
            "n_lags": 12,
            "window": 12,
            "transform": "none",
            "learning_rate": 0.1,
            "num_leaves": 31,
            "min_child_samples": 20,
            "n_estimators": 100,
            "colsample_bytree": 1.0,
        },
    ),
    (
        "LightGBM",
        {
            "n_lags": 3,
            "window": 6,
            "transform": "diff",
            "learning_rate": 0.05,
            "num_leaves": 15,
            "min_child_samples": 5,
            "n_estimators": 300,
            "colsample_bytree": 0.9,
        },
    ),
    ("ExponentialSmoothing", {"trend": "add", "damped": True, "seasonal": "add"}),
    (
        "LightGBM",
        {
            "n_lags": 6,
            "window": 12,
            "transform": "none",
            "learning_rate": 0.05,
            "num_leaves": 15,
            "min_child_samples": 5,
            "n_estimators": 300,
            "colsample_bytree": 0.9,
        },
    ),
    ("Arima", {"p": 1, "d": 1, "q": 1, "seasonal": True}),
    ("ExponentialSmoothing", {"trend": None, "damped": False, "seasonal": "add"}),
    # a linear autoregression on the last 12 values, nearly unregularised
    (
        "ElasticNet",
        {"n_lags": 12, "window": 12, "transform": "none", "alpha": 1e-4, "l1_ratio": 0.5},
    ),
]


def nan_guard(values: np.ndarray) -> np.ndarray:
    """Replace non-finite forecasts (a diverging model) by the last finite value."""
    out = np.asarray(values, dtype=float).copy()
    if not np.isfinite(out).all():
        last = 0.0
        for i, v in enumerate(out):
            if math.isfinite(v):
                last = v
            else:
                out[i] = last
    return out
