"""``AutoMLSettings``: every knob of an AutoML run, checked where it is used.

The estimators (``AutoMLClassifier(...)``) and the Azure YAML spec both end up here; the
checks follow scikit-learn's style — "The 'time_budget' parameter of AutoMLClassifier must
be a number of seconds > 0. Got -1 instead." — and run at ``fit`` time, not in constructors.
"""

from __future__ import annotations

import dataclasses
import os
from typing import Any

from modelworks.errors import InvalidInputError

__all__ = ["AutoMLSettings", "ForecastSettings", "default_n_jobs"]

MAX_DEFAULT_JOBS = 2


def default_n_jobs() -> int:
    """Parallel trials by default: the cores there are, at most two."""
    return max(1, min(MAX_DEFAULT_JOBS, os.cpu_count() or 1))


@dataclasses.dataclass
class ForecastSettings:
    """Azure's ``forecasting`` section."""

    time_column_name: str | None = None
    forecast_horizon: int = 1
    time_series_id_column_names: list[str] = dataclasses.field(default_factory=list)
    target_lags: list[int] | str | None = "auto"
    target_rolling_window_size: int | str | None = "auto"
    frequency: str | None = None
    country_or_region_for_holidays: str | None = None
    seasonality: int | str | None = "auto"
    cv_step_size: int | str | None = "auto"
    quantiles: list[float] = dataclasses.field(default_factory=lambda: [0.1, 0.5, 0.9])


@dataclasses.dataclass
class AutoMLSettings:
    """What to search, for how long, and what to build at the end."""

    task: str = "classification"
    primary_metric: str | None = None
    time_budget: float = 60.0
    max_trials: int | None = None
    n_jobs: int | None = None
    trial_timeout: float | None = None
    enable_early_termination: bool = True
    exit_score: float | None = None
    n_cross_validations: int | str = "auto"
    validation_size: float | None = None
    allowed_learners: list[str] | None = None
    blocked_learners: list[str] | None = None
    enable_vote_ensemble: bool = True
    enable_stack_ensemble: bool = False
    enable_onnx_compatible_models: bool = False
    featurization: str = "auto"
    column_purposes: dict[str, str] | None = None
    drop_columns: list[str] | None = None
    blocked_transformers: list[str] | None = None
    random_state: int = 0
    verbose: int = 1
    forecasting: ForecastSettings | None = None
    owner: str = "AutoML"
    compute: str | None = None
    """The Ray address trials run on (see ``_executor.trial_compute``); None: local processes."""
    compute_config: dict[str, Any] = dataclasses.field(default_factory=dict)

    def check(self) -> AutoMLSettings:
        """Validate every value; returns self. Raises InvalidInputError naming the parameter."""
        if self.task not in ("classification", "regression", "forecasting"):
            self._bad("task", "one of 'classification', 'regression', 'forecasting'", self.task)
        if isinstance(self.time_budget, bool) or not isinstance(self.time_budget, int | float):
            self._bad("time_budget", "a number of seconds > 0", self.time_budget)
        if self.time_budget <= 0:
            self._bad("time_budget", "a number of seconds > 0", self.time_budget)
        for name in ("max_trials",):
            value = getattr(self, name)
            if value is not None and (
                isinstance(value, bool) or not isinstance(value, int) or value < 1
            ):
                self._bad(name, "an int >= 1 or None", value)
        if self.n_jobs is not None and (
            isinstance(self.n_jobs, bool) or not isinstance(self.n_jobs, int) or self.n_jobs == 0
        ):
            self._bad("n_jobs", "an int >= 1 (or -1 for every core) or None", self.n_jobs)
        if self.trial_timeout is not None and (
            not isinstance(self.trial_timeout, int | float) or self.trial_timeout <= 0
        ):
            self._bad("trial_timeout", "a number of seconds > 0 or None", self.trial_timeout)
        cv = self.n_cross_validations
        if not (cv == "auto" or (isinstance(cv, int) and not isinstance(cv, bool) and cv >= 2)):
            self._bad("n_cross_validations", "an int >= 2 or 'auto'", cv)
        if self.validation_size is not None and not (0.0 < float(self.validation_size) < 1.0):
            self._bad("validation_size", "a fraction between 0 and 1", self.validation_size)
        if self.featurization not in ("auto", "off", "custom"):
            self._bad("featurization", "'auto', 'off' or 'custom'", self.featurization)
        if not isinstance(self.verbose, int) or isinstance(self.verbose, bool):
            self._bad("verbose", "an int (0 silences the progress bar)", self.verbose)
        return self

    def _bad(self, name: str, expected: str, got: Any) -> None:
        raise InvalidInputError(
            f"The {name!r} parameter of {self.owner} must be {expected}. Got {got!r} instead."
        )

    @property
    def trial_workers(self) -> int | None:
        """Trials at once as asked: None on a Ray compute without ``n_jobs`` (one per CPU of
        the cluster, known once connected)."""
        if self.n_jobs is None and self.compute is not None:
            return None
        return self.workers

    @property
    def workers(self) -> int:
        if self.n_jobs is None:
            return default_n_jobs()
        if self.n_jobs < 0:
            return max(1, os.cpu_count() or 1)
        return self.n_jobs
