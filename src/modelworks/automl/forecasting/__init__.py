"""Forecasting AutoML: one or several time series, rolling-origin validation, statistical
baselines and gradient boosting on lag features (see :class:`AutoMLForecaster`)."""

from __future__ import annotations

from modelworks.automl.forecasting.estimator import AutoMLForecaster
from modelworks.automl.forecasting.model import ForecastModel

__all__ = ["AutoMLForecaster", "ForecastModel"]
