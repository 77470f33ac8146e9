"""``AutoMLForecaster``: forecasting AutoML as a scikit-learn-style estimator.

::

    fc = AutoMLForecaster(time_column="date", horizon=12, time_budget=30).fit(X, y)
    fc.leaderboard_
    fc.forecast()                # every series over the horizon, with quantile columns
    fc.predict(X_future)         # point forecasts for future rows

Candidates — seasonal naive, naive, ETS and ARIMA (statsmodels), LightGBM on lag, rolling
and calendar features, an elastic net on lag and rolling features — are compared by
rolling-origin validation over ``n_cross_validations`` windows of ``horizon`` points (the last
ones, or spread over the last half of a long history), searched with the same loop as tabular
AutoML, ensembled by greedy selection, and the chosen members are refitted on all the data.
"""

from __future__ import annotations

import dataclasses
import math
import pickle
import shutil
import tempfile
import time
from typing import Any

import numpy as np
import pandas as pd

from modelworks.automl._trial import TrialResult
from modelworks.automl.estimators import _AutoMLBase
from modelworks.automl.forecasting._data import SeriesSet, prepare_series
from modelworks.automl.forecasting._trial import (
    ForecastTrialData,
    fold_averaged,
    layout,
    origin_blocks,
)
from modelworks.automl.forecasting.forecasters import (
    FORECAST_LEARNERS,
    FORECAST_PORTFOLIO,
    make_forecaster,
)
from modelworks.automl.forecasting.model import ForecastModel
from modelworks.automl.guardrails import Guardrail
from modelworks.automl.learners import FitContext
from modelworks.automl.metrics import Metric, compute_metrics, default_metric, get_metric
from modelworks.automl.settings import AutoMLSettings, ForecastSettings
from modelworks.errors import InvalidInputError

__all__ = ["AutoMLForecaster", "ForecastOutcome", "run_forecast"]


@dataclasses.dataclass
class ForecastOutcome:
    """What a forecasting run produced (the same shape as the tabular outcome)."""

    task: str
    metric: Metric
    trials: list[TrialResult]
    leaderboard: pd.DataFrame
    model: ForecastModel
    best_name: str
    best_loss: float
    guardrails: list[Guardrail]
    stop_reason: str
    fit_time: float
    metrics: dict[str, float]
    series: SeriesSet
    data: ForecastTrialData
    oof: np.ndarray
    kinds: dict[str, str] = dataclasses.field(default_factory=dict)

    @property
    def best_score(self) -> float:
        return self.metric.from_loss(self.best_loss)

    def save_charts(self, folder: str) -> list[str]:
        from modelworks.automl.charts import forecast_chart

        key = next(iter(self.series.series))
        s = self.series.series[key]
        h = self.data.horizon
        n_series = len(self.series.series)
        last_block = self.oof[-n_series * h :]
        index = list(self.series.series).index(key)
        forecast = pd.Series(last_block[index * h : (index + 1) * h], index=s.index[-h:])
        history = s.iloc[max(0, len(s) - h * 6) : len(s) - h]
        name = ", ".join(str(k) for k in key) or "the series"
        return [
            forecast_chart(
                history, s.iloc[-h:], forecast, folder, title=f"Forecast vs actual ({name})"
            )
        ]


MIN_TRAIN_POINTS = 3
"""The fewest points the earliest validation origin may leave a series to train on."""


def _n_origins(settings: AutoMLSettings, shortest: int, horizon: int) -> int:
    """Rolling origins: as asked, or for "auto" 3, and up to 5 while the last third of the
    shortest series holds them — a single window of a few points ranks models by noise, and
    the earliest origin still trains on two thirds of the history."""
    cv = settings.n_cross_validations
    wanted = int(cv) if cv != "auto" else max(3, min(5, shortest // (3 * horizon)))
    possible = (shortest - MIN_TRAIN_POINTS) // horizon
    return max(1, min(wanted, possible))


LONG_HISTORY_HORIZONS = 20
"""A series at least this many horizons long spreads its validation origins over the last half
of its history (``cv_step_size: auto``); shorter ones use the last consecutive windows."""


def _origin_offsets(
    cv_step_size: int | str | None, n_folds: int, horizon: int, shortest: int
) -> list[int]:
    """How far before the end of each series every origin cuts, oldest first.

    Consecutive windows at the end of a long history all see one stretch of its behaviour
    (sunspots: the last five decades were one rising run of cycles up to the 1958 record, so
    differenced models that chase a rise won validation and lost the next decade); origins
    spread over the last half sample more of it. Azure's ``cv_step_size`` sets the spacing.
    """
    if n_folds <= 1:
        return [horizon]
    if cv_step_size in (None, "auto"):
        step = horizon
        if shortest >= LONG_HISTORY_HORIZONS * horizon:
            step = max(horizon, (shortest // 2 - horizon) // (n_folds - 1))
    else:
        step = int(cv_step_size)
        earliest = horizon + (n_folds - 1) * step
        if shortest - earliest < MIN_TRAIN_POINTS:
            raise InvalidInputError(
                f"cv_step_size {step} with {n_folds} cross-validation origins cuts the "
                f"earliest origin {earliest} points before the end, which leaves the shortest "
                f"series ({shortest} points) fewer than {MIN_TRAIN_POINTS} to train on. Lower "
                "cv_step_size or n_cross_validations, or leave cv_step_size at 'auto'."
            )
    return [horizon + j * step for j in range(n_folds - 1, -1, -1)]


def _spacing(offsets: list[int]) -> str:
    if len(offsets) < 2:
        return "the last one"
    step = offsets[0] - offsets[1]
    return f"origins {step} steps apart, the earliest {offsets[0]} steps before the end"


def _fold_metrics(
    actual: np.ndarray, oof: np.ndarray, n_folds: int, context: dict[str, Any]
) -> dict[str, float]:
    """Every forecasting metric, averaged over the validation origins like the primary one."""
    folds = [
        compute_metrics("forecasting", actual[b], oof[b], **context)
        for b in origin_blocks(len(actual), n_folds)
    ]
    return {name: float(np.mean([f[name] for f in folds])) for name in folds[0]}


def _mase_scale(series: SeriesSet) -> float:
    scales = []
    for s in series.series.values():
        values = s.to_numpy(dtype=float)
        m = series.season if len(values) > series.season * 2 else 1
        diffs = np.abs(values[m:] - values[:-m])
        if len(diffs) and diffs.mean() > 0:
            scales.append(float(diffs.mean()))
    return float(np.mean(scales)) if scales else 1.0


def _quantiles(
    data: ForecastTrialData, oof: np.ndarray, series: SeriesSet, levels: list[float]
) -> tuple[dict[float, np.ndarray], dict[tuple[Any, ...], float]]:
    keys = list(series.series)
    scales = {k: float(np.mean(np.abs(series.series[k].to_numpy()))) or 1.0 for k in keys}
    per_row = np.asarray([scales[keys[i]] for i in data.keys])
    errors = (data.y - oof) / per_row
    out: dict[float, np.ndarray] = {}
    for q in levels:
        out[q] = np.asarray(
            [
                float(np.quantile(errors[data.steps == h], q)) if (data.steps == h).any() else 0.0
                for h in range(data.horizon)
            ]
        )
    return out, scales


def _overrides(fs: ForecastSettings) -> dict[str, Any]:
    """Azure's target_lags / target_rolling_window_size, when given, fix the lag regressions'
    features."""
    out: dict[str, Any] = {}
    lags = fs.target_lags
    if isinstance(lags, int) and not isinstance(lags, bool):
        lags = [lags]
    if isinstance(lags, list) and lags:
        if any(not isinstance(v, int) or v < 1 for v in lags):
            raise InvalidInputError(f"target_lags must be ints >= 1 or 'auto'. Got {lags!r}.")
        out["lags"] = lags
    window = fs.target_rolling_window_size
    if isinstance(window, int) and not isinstance(window, bool):
        if window < 2:
            raise InvalidInputError(
                f"target_rolling_window_size must be an int >= 2 or 'auto'. Got {window!r}."
            )
        out["window"] = window
    return out


def run_forecast(
    X: Any,
    y: Any,
    settings: AutoMLSettings,
    *,
    callbacks: list[Any] | None = None,
    started: float | None = None,
) -> ForecastOutcome:
    """Search for the best forecaster within ``settings.time_budget`` seconds."""
    from modelworks.automl._executor import open_trial_executor
    from modelworks.automl._tabular import NoModelError, prepare_xy, reserve_seconds
    from modelworks.automl.ensemble import greedy_selection
    from modelworks.automl.search import Search, SearchLimits, completed

    t0 = started if started is not None else time.time()
    settings.check()
    fs = settings.forecasting or ForecastSettings()
    frame, target, target_name = prepare_xy(X, y, owner=settings.owner)
    series = prepare_series(
        frame,
        target,
        time_column=fs.time_column_name,
        id_columns=list(fs.time_series_id_column_names or []),
        horizon=fs.forecast_horizon,
        frequency=fs.frequency,
        seasonality=fs.seasonality if fs.seasonality != "auto" else None,
        target_name=target_name,
    )
    metric = get_metric(settings.primary_metric or default_metric("forecasting"), "forecasting")
    horizon = fs.forecast_horizon
    n_folds = _n_origins(settings, series.min_length(), horizon)
    offsets = _origin_offsets(fs.cv_step_size, n_folds, horizon, series.min_length())
    actual, steps, keys = layout(series.series, horizon, offsets)
    all_values = np.concatenate([s.to_numpy() for s in series.series.values()])
    context: dict[str, Any] = {
        "y_range": float(np.ptp(all_values)) or 1.0,
        "mase_scale": _mase_scale(series),
    }
    data = ForecastTrialData(
        series=series.series,
        freq=series.freq,
        season=series.season,
        horizon=horizon,
        n_folds=n_folds,
        metric=metric.name,
        metric_context=context,
        y=actual,
        steps=steps,
        keys=keys,
        seed=settings.random_state,
        overrides=_overrides(fs),
        offsets=offsets,
    )
    # Azure's lists may name regression-only algorithms (XGBoostRegressor, Prophet…): those
    # are left out with an alert below, as long as some forecasting algorithm remains
    listed = [*(settings.allowed_learners or []), *(settings.blocked_learners or [])]
    resolved = {n: resolve_forecast_names([n], strict=False) for n in listed}
    ignored = [n for n in listed if not resolved[n]]
    names = list(FORECAST_LEARNERS)
    if settings.allowed_learners:
        wanted = {r for n in settings.allowed_learners for r in resolved[n]}
        names = [n for n in names if n in wanted]
    if settings.blocked_learners:
        blocked = {r for n in settings.blocked_learners for r in resolved[n]}
        names = [n for n in names if n not in blocked]
    learners = [FORECAST_LEARNERS[n] for n in names if FORECAST_LEARNERS[n].is_available()]
    if not learners:
        raise InvalidInputError(
            f"No forecasting algorithm is left after the allowed/blocked lists; choose among "
            f"{', '.join(FORECAST_LEARNERS)}."
        )
    guardrails = [
        Guardrail(
            "Missing time steps",
            "done" if series.filled else "passed",
            f"{series.filled} missing time steps (frequency {series.freq}) were filled by "
            "interpolation."
            if series.filled
            else f"Every series is regular at frequency {series.freq}.",
        ),
        Guardrail(
            "Validation",
            "passed",
            f"{len(series.series)} series; rolling-origin validation over {n_folds} "
            f"window(s) of {horizon} steps, {_spacing(offsets)}; seasonality {series.season}.",
        ),
    ]
    if ignored:
        guardrails.append(
            Guardrail(
                "Algorithms",
                "alerted",
                f"{', '.join(map(str, ignored))} are not forecasting algorithms here and were "
                f"left out; the forecasting algorithms are {', '.join(FORECAST_LEARNERS)}.",
            )
        )
    other = [c for c in frame.columns if c != fs.time_column_name and c not in series.id_columns]
    if other:
        guardrails.append(
            Guardrail(
                "Unused columns",
                "alerted",
                f"Columns {other[:10]} are not used: forecasts use the target's own history "
                "and the calendar.",
                tuple(other),
            )
        )
    from modelworks.automl.guardrails import announce

    announce(guardrails, callbacks)
    reserve, grace = reserve_seconds(settings.time_budget)
    reserve = max(reserve, 0.1 * settings.time_budget)
    workdir = tempfile.mkdtemp(prefix="modelworks-automl-")
    try:
        path = f"{workdir}/data.pkl"
        with open(path, "wb") as fh:
            pickle.dump(data, fh, protocol=pickle.HIGHEST_PROTOCOL)
        executor = open_trial_executor(path, settings, grace=grace)
        search = Search(
            data,  # type: ignore[arg-type]
            metric=metric,
            learners=learners,
            portfolio=[(n, p) for n, p in FORECAST_PORTFOLIO if n in names],
            executor=executor,
            limits=SearchLimits(
                end=t0 + settings.time_budget - reserve - grace,
                max_trials=settings.max_trials,
                trial_timeout=settings.trial_timeout,
                exit_score=settings.exit_score,
                early_termination=False,
            ),
            seed=settings.random_state,
            callbacks=callbacks,
            spec_kind="forecast",
            # a few dozen validation points: once every learner has converged, more trials
            # of the leader only fit the validation windows (by chance) better, not the future
            stop_when_converged=True,
            space_context=FitContext("forecasting", 0, len(all_values), 1),
            learner_table=FORECAST_LEARNERS,
            # trials take a fraction of a second and the search converges well inside the
            # budget: batches told in order make the result independent of worker timing
            synchronous=True,
        )
        try:
            trials = search.run()
        finally:
            executor.shutdown()
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    done = [r for r in completed(trials) if r.oof is not None]
    if not done:
        failed = [r for r in trials if r.error]
        hint = f" The first error: {(failed[0].error or '').splitlines()[0]}" if failed else ""
        raise NoModelError(
            f"No forecasting trial completed within {settings.time_budget:g} s.{hint}"
        )
    candidates = done[:10]
    best_name = f"{candidates[0].learner}#{candidates[0].number}"
    best_loss = candidates[0].loss
    members_idx, weights, oof = [0], [1.0], np.asarray(candidates[0].oof)
    rows_board = []
    if settings.enable_vote_ensemble and len(candidates) >= 2:
        choice = greedy_selection(
            [np.asarray(r.oof) for r in candidates],
            actual,
            fold_averaged(metric, n_folds),
            context=context,
        )
        rows_board.append(("VotingEnsemble", choice))
        if choice.loss < best_loss - 1e-12 and len(choice.indices) > 1:
            best_name, best_loss = "VotingEnsemble", choice.loss
            members_idx, weights, oof = choice.indices, choice.weights, choice.oof
    from modelworks.automl._tabular import _leaderboard

    board = _leaderboard(trials, rows_board, metric)
    members = [
        make_forecaster(
            candidates[i].learner,
            data.params_for(candidates[i].learner, candidates[i].params),
            series.season,
        ).fit(series.series, series.freq)
        for i in members_idx
    ]
    quantiles, scales = _quantiles(data, oof, series, list(fs.quantiles or []))
    model = ForecastModel(
        members,
        weights,
        time_column=str(fs.time_column_name),
        id_columns=list(series.id_columns),
        horizon=horizon,
        freq=series.freq,
        quantiles=quantiles,
        scales=scales,
        name=best_name,
        dayfirst=series.dayfirst,
    )
    metrics = _fold_metrics(actual, oof, n_folds, context)
    return ForecastOutcome(
        task="forecasting",
        metric=metric,
        trials=sorted(trials, key=lambda r: r.number),
        leaderboard=board,
        model=model,
        best_name=best_name,
        best_loss=best_loss,
        guardrails=guardrails,
        stop_reason=search.stop_reason,
        fit_time=time.time() - t0,
        metrics=metrics,
        series=series,
        data=data,
        oof=oof,
    )


class AutoMLForecaster(_AutoMLBase):
    """Finds the best forecaster for one or several time series within a time budget."""

    _task = "forecasting"

    def __init__(
        self,
        *,
        time_column: str | None = None,
        horizon: int = 1,
        time_series_id_columns: list[str] | None = None,
        frequency: str | None = None,
        seasonality: int | str = "auto",
        target_lags: list[int] | str | None = "auto",
        target_rolling_window_size: int | str | None = "auto",
        quantiles: tuple[float, ...] = (0.1, 0.5, 0.9),
        cv_step_size: int | str = "auto",
        time_budget: float = 60.0,
        metric: str | None = None,
        max_trials: int | None = None,
        n_jobs: int | None = None,
        trial_timeout: float | None = None,
        n_cross_validations: int | str = "auto",
        allowed_learners: list[str] | None = None,
        blocked_learners: list[str] | None = None,
        enable_vote_ensemble: bool = True,
        exit_score: float | None = None,
        random_state: int = 0,
        verbose: int = 1,
        workspace: Any = None,
        experiment: str = "automl",
        register_model: str | None = None,
        compute: str | None = None,
    ) -> None:
        super().__init__(
            time_budget=time_budget,
            metric=metric,
            max_trials=max_trials,
            n_jobs=n_jobs,
            trial_timeout=trial_timeout,
            n_cross_validations=n_cross_validations,
            allowed_learners=allowed_learners,
            blocked_learners=blocked_learners,
            enable_vote_ensemble=enable_vote_ensemble,
            exit_score=exit_score,
            random_state=random_state,
            verbose=verbose,
            workspace=workspace,
            experiment=experiment,
            register_model=register_model,
            compute=compute,
        )
        self.time_column = time_column
        self.horizon = horizon
        self.time_series_id_columns = time_series_id_columns
        self.frequency = frequency
        self.seasonality = seasonality
        self.target_lags = target_lags
        self.target_rolling_window_size = target_rolling_window_size
        self.quantiles = quantiles
        self.cv_step_size = cv_step_size

    def _settings(self) -> AutoMLSettings:
        settings = super()._settings()
        settings.forecasting = ForecastSettings(
            time_column_name=self.time_column,
            forecast_horizon=self.horizon,
            time_series_id_column_names=list(self.time_series_id_columns or []),
            target_lags=self.target_lags,
            target_rolling_window_size=self.target_rolling_window_size,
            frequency=self.frequency,
            seasonality=self.seasonality,
            cv_step_size=self.cv_step_size,
            quantiles=list(self.quantiles),
        )
        step = self.cv_step_size
        if step != "auto" and (isinstance(step, bool) or not isinstance(step, int) or step < 1):
            raise InvalidInputError(
                f"The 'cv_step_size' parameter of AutoMLForecaster must be an int >= 1 (time "
                f"steps between validation origins) or 'auto'. Got {step!r} instead."
            )
        for q in self.quantiles:
            if not 0.0 < float(q) < 1.0:
                raise InvalidInputError(
                    f"The 'quantiles' parameter of AutoMLForecaster must hold values between "
                    f"0 and 1. Got {q!r}."
                )
        if self.allowed_learners:
            resolve_forecast_names(self.allowed_learners)
        return settings

    def fit(self, X: Any, y: Any = None, **_: Any) -> AutoMLForecaster:
        """Search for the best forecaster; ``y`` is the target values or a column of ``X``."""
        from modelworks.automl._session import AutoMLSession

        started = time.time()
        settings = self._settings().check()
        session = AutoMLSession(
            settings,
            workspace=self.workspace,
            experiment=self.experiment,
            register_model=self.register_model,
        )
        outcome = session.run_forecast(
            lambda callbacks: run_forecast(X, y, settings, callbacks=callbacks, started=started),
            started,
        )
        self._set_fitted_forecast(outcome, session)
        return self

    def _set_fitted_forecast(self, outcome: ForecastOutcome, session: Any) -> None:
        self.outcome_ = outcome
        self.best_estimator_ = outcome.model
        self.leaderboard_ = outcome.leaderboard
        self.best_score_ = outcome.best_score
        self.best_model_name_ = outcome.best_name
        self.metric_ = outcome.metric.name
        self.metrics_ = outcome.metrics
        self.guardrails_ = pd.DataFrame([g.to_dict() for g in outcome.guardrails])
        self.trials_ = outcome.trials
        self.stop_reason_ = outcome.stop_reason
        self.fit_time_ = outcome.fit_time
        self.run_id_ = session.run_id
        self.registered_model_ = session.registered_model

    def forecast(self, horizon: int | None = None) -> pd.DataFrame:
        """Every series over ``horizon`` steps after the training data, with quantiles."""
        self._check_fitted()
        return self.best_estimator_.forecast(horizon)

    def score(self, X: Any, y: Any) -> float:
        self._check_fitted()
        metric = get_metric(self.metric_, "forecasting")
        return metric(
            np.asarray(y, dtype=float), self.predict(X), **self.outcome_.data.metric_context
        )

    def explain(self, X: Any, *, max_rows: int = 1000) -> Any:
        raise InvalidInputError(
            "explain is for classification and regression models; a forecaster's leaderboard "
            "and charts show how it forecasts."
        )


def resolve_forecast_names(names: list[str], *, strict: bool = True) -> list[str]:
    """Forecasting learner names from user spellings (Azure's ``AutoArima``, ``LassoLars``…);
    an unknown name is an error, or skipped when not ``strict``."""
    known = {n.lower(): n for n in FORECAST_LEARNERS}
    known.update(
        {
            "lgbm": "LightGBM",
            "autoarima": "Arima",
            "arimax": "Arima",
            "ets": "ExponentialSmoothing",
            "elastic_net": "ElasticNet",
            "lassolars": "ElasticNet",
        }
    )
    out = []
    for name in names:
        found = known.get(str(name).lower())
        if found is None and not strict:
            continue
        if found is None:
            raise InvalidInputError(
                f"Unknown forecasting algorithm {name!r}. Known: {', '.join(FORECAST_LEARNERS)}."
            )
        out.append(found)
    return out


_ = math
