from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from modelworks.automl import AutoMLForecaster
from modelworks.automl.forecasting.forecasters import make_forecaster
from modelworks.errors import InvalidInputError


@pytest.mark.slow
def test_two_series_with_quantiles(two_series) -> None:
    train = two_series.groupby("store").head(66)
    future = two_series.groupby("store").tail(6)
    fc = AutoMLForecaster(
        time_column="month",
        horizon=6,
        time_series_id_columns=["store"],
        time_budget=15,
        metric="smape",
        n_jobs=2,
        verbose=0,
    ).fit(train, "sales")
    learners = set(fc.leaderboard_["learner"])
    assert {"SeasonalNaive", "LightGBM", "ExponentialSmoothing"} <= learners
    naive = fc.leaderboard_.loc[fc.leaderboard_["learner"] == "SeasonalNaive"]
    metric = "symmetric_mean_absolute_percentage_error"
    assert fc.best_score_ <= naive[metric].min()
    forecast = fc.forecast()
    assert len(forecast) == 12 and {"store", "month", "prediction", "q0.1", "q0.9"} <= set(
        forecast.columns
    )
    assert (forecast["q0.9"] >= forecast["q0.1"]).all()
    pred = fc.predict(future[["month", "store"]])
    smape = np.mean(2 * np.abs(pred - future["sales"]) / (np.abs(pred) + np.abs(future["sales"])))
    assert smape < 0.1


def test_forecast_model_rejects_past_times(two_series) -> None:
    single = two_series[two_series["store"] == "a"].drop(columns=["store"])
    fc = AutoMLForecaster(
        time_column="month",
        horizon=3,
        time_budget=20,
        max_trials=2,
        n_jobs=1,
        verbose=0,
    ).fit(single, "sales")
    with pytest.raises(InvalidInputError, match="not after the end of the training data"):
        fc.predict(pd.DataFrame({"month": [single["month"].iloc[-1]]}))
    assert len(fc.predict(pd.DataFrame({"month": ["2021-02-01"]}))) == 1


def _two_stores_forecaster(data: pd.DataFrame) -> AutoMLForecaster:
    """A quick forecaster of the two stores' monthly sales, 3 months ahead."""
    return AutoMLForecaster(
        time_column="month",
        horizon=3,
        time_series_id_columns=["store"],
        time_budget=20,
        max_trials=2,
        n_jobs=1,
        verbose=0,
    ).fit(data, "sales")


def test_forecast_model_names_what_is_wrong_with_the_rows_it_is_asked(two_series) -> None:
    fc = _two_stores_forecaster(two_series)  # the last month is 2020-12-01
    with pytest.raises(
        InvalidInputError, match=r"lacks the time series id column\(s\) \['store'\]"
    ):
        fc.predict(pd.DataFrame({"month": ["2021-01-01"]}))
    with pytest.raises(InvalidInputError, match="not dates or times, such as 'next month'"):
        fc.predict(pd.DataFrame({"month": ["next month"], "store": ["a"]}))
    with pytest.raises(
        InvalidInputError, match=r"not on the series' 'MS' steps.*2021-01-01.*2021-02"
    ):
        fc.predict(pd.DataFrame({"month": ["2021-01-15"], "store": ["a"]}))
    assert len(fc.predict(pd.DataFrame({"month": ["2021-02-01"], "store": ["a"]}))) == 1


@pytest.mark.parametrize(
    ("strings", "dayfirst", "first"),
    [
        (
            list(pd.date_range("2020-01", periods=14, freq="MS").strftime("%d/%m/%Y")),
            True,
            "2020-01-01",
        ),
        (["01/01/2020", "01/02/2020", "01/03/2020"], False, "2020-01-01"),  # regular both ways
        (["31.01.2020", "01.02.2020", "02.02.2020"], True, "2020-01-31"),  # dd.mm, daily
        (["01/31/2020", "02/01/2020", "02/02/2020"], False, "2020-01-31"),  # mm/dd, daily
        (["2020-01-02", "2020-01-03", "2020-01-04"], False, "2020-01-02"),  # ISO stays ISO
    ],
)
def test_time_strings_are_read_the_way_that_reads_them_all_regularly(
    strings: list[str], dayfirst: bool, first: str
) -> None:
    from modelworks.automl.forecasting._data import parse_times

    times, read_dayfirst = parse_times(pd.Series(strings), "when")
    assert read_dayfirst is dayfirst
    assert times.iloc[0] == pd.Timestamp(first)
    assert times.is_monotonic_increasing


def test_day_first_dates_mean_the_same_day_in_training_and_prediction(two_series) -> None:
    data = two_series.assign(month=two_series["month"].dt.strftime("%d/%m/%Y"))
    fc = _two_stores_forecaster(data)
    forecast = fc.forecast()
    store_a = forecast[forecast["store"] == "a"]
    assert list(store_a["month"]) == list(pd.date_range("2021-01-01", periods=3, freq="MS"))
    asked = fc.predict(pd.DataFrame({"month": ["01/02/2021"], "store": ["a"]}))  # 1 February
    assert asked[0] == pytest.approx(store_a["prediction"].iloc[1])


def test_target_lags_and_window_fix_the_gbm_features(two_series) -> None:
    single = two_series[two_series["store"] == "b"].drop(columns=["store"])
    fc = AutoMLForecaster(
        time_column="month",
        horizon=3,
        target_lags=[1, 12],
        target_rolling_window_size=4,
        allowed_learners=["LightGBM", "ElasticNet"],
        time_budget=20,
        max_trials=4,
        n_jobs=1,
        verbose=0,
    ).fit(single, "sales")
    assert {r.learner for r in fc.trials_} == {"LightGBM", "ElasticNet"}
    for learner in ("LightGBM", "ElasticNet"):
        trial = next(r for r in fc.trials_ if r.learner == learner)
        forecaster = make_forecaster(
            learner, fc.outcome_.data.params_for(learner, trial.params), 12
        )
        forecaster.fit({("b",): single.set_index("month")["sales"].asfreq("MS")}, "MS")
        assert forecaster.lags_ == [1, 12] and forecaster.window_ == 4
    members = fc.best_estimator_.members or []
    assert members
    for member in members:
        assert member.lags_ == [1, 12] and member.window_ == 4
    with pytest.raises(InvalidInputError, match="target_lags"):
        AutoMLForecaster(time_column="month", horizon=3, target_lags=[0], verbose=0).fit(
            single, "sales"
        )


def test_the_linear_autoregression_carries_a_cycle_the_calendar_does_not_name() -> None:
    # A yearly series with an 11-year cycle growing in amplitude: the elastic net on 12 lags
    # extrapolates the next cycle; LightGBM on the same lags cannot leave the range it saw.
    t = np.arange(120)
    values = 50 + (20 + 0.3 * t) * np.sin(2 * np.pi * t / 11)
    history = pd.Series(values[:110], index=pd.date_range("1900", periods=110, freq="YS"))
    params = {"n_lags": 12, "window": 12, "transform": "none", "alpha": 1e-4, "l1_ratio": 0.5}
    errors = {}
    for learner in ("ElasticNet", "LightGBM"):
        forecaster = make_forecaster(learner, params, season=1).fit({("s",): history}, "YS")
        (forecast,) = forecaster.predict(10).values()
        errors[learner] = float(np.sqrt(np.mean((forecast - values[110:]) ** 2)))
    assert errors["ElasticNet"] < 1.0 < errors["LightGBM"]


def test_a_small_space_is_searched_once_then_the_search_stops(two_series) -> None:
    # Naive has no parameters, ExponentialSmoothing 12 combinations: refitting a configuration
    # already tried only repeats a known loss, so once TPE can propose nothing new the search
    # ends early instead of filling the budget with copies.
    single = two_series[two_series["store"] == "a"].drop(columns=["store"])
    fc = AutoMLForecaster(
        time_column="month",
        horizon=6,
        time_budget=120,
        allowed_learners=["Naive", "SeasonalNaive", "ExponentialSmoothing"],
        n_jobs=1,
        verbose=0,
        random_state=0,
    ).fit(single, "sales")
    tried = [(r.learner, repr(sorted(r.params.items()))) for r in fc.trials_]
    assert len(tried) == len(set(tried))
    assert fc.stop_reason_ == "no configuration left to try"
    assert sum(r.learner == "ExponentialSmoothing" for r in fc.trials_) >= 4


def test_a_converged_forecast_search_stops_instead_of_refitting_the_leader(two_series) -> None:
    # A few dozen validation points: once LightGBM has stopped improving, more of its trials
    # would only fit the validation windows better by chance, so the fit ends early.
    single = two_series[two_series["store"] == "b"].drop(columns=["store"])
    fc = AutoMLForecaster(
        time_column="month",
        horizon=6,
        time_budget=300,
        allowed_learners=["SeasonalNaive", "LightGBM"],
        n_jobs=1,
        verbose=0,
        random_state=0,
    ).fit(single, "sales")
    assert fc.stop_reason_ == "every learner has converged"
    gbm = [r for r in fc.trials_ if r.learner == "LightGBM"]
    assert 20 <= len(gbm) <= 100  # converged after a few dozen (the budget allows thousands)


def _ramp(n: int) -> pd.DataFrame:
    """A series whose value is its position, so a naive forecast names where it was cut."""
    return pd.DataFrame(
        {"day": pd.date_range("2020-01-01", periods=n, freq="D"), "y": np.arange(n, dtype=float)}
    )


def _naive_validation(data: pd.DataFrame, horizon: int, **kwargs) -> AutoMLForecaster:
    return AutoMLForecaster(
        time_column="day",
        horizon=horizon,
        allowed_learners=["Naive"],
        max_trials=1,
        n_jobs=1,
        verbose=0,
        **kwargs,
    ).fit(data, "y")


def _cuts(fc: AutoMLForecaster, n: int) -> list[int]:
    """Where each validation window's forecaster was cut, read from its naive forecasts."""
    data = fc.outcome_.data
    oof = fc.outcome_.oof
    return [n - int(oof[i * data.horizon]) - 1 for i in range(data.n_folds)]


def test_a_long_history_spreads_its_validation_origins_over_its_last_half() -> None:
    # 300 points, horizon 5: the origins sit 36 steps apart instead of in the last 25 points,
    # and every trial is cut exactly where its window starts.
    fc = _naive_validation(_ramp(300), 5)
    offsets = fc.outcome_.data.offsets
    assert offsets == [149, 113, 77, 41, 5]
    assert _cuts(fc, 300) == offsets
    assert np.array_equal(
        fc.outcome_.data.y, np.concatenate([np.arange(300 - o, 305 - o) for o in offsets])
    )
    validation = fc.guardrails_.set_index("name").loc["Validation", "description"]
    assert "origins 36 steps apart" in validation


def test_a_short_history_validates_on_its_last_consecutive_windows() -> None:
    fc = _naive_validation(_ramp(72), 6)
    assert fc.outcome_.data.offsets == [24, 18, 12, 6]
    assert _cuts(fc, 72) == [24, 18, 12, 6]


def test_cv_step_size_sets_the_spacing_of_the_origins() -> None:
    fc = _naive_validation(_ramp(60), 6, cv_step_size=2, n_cross_validations=3)
    assert fc.outcome_.data.offsets == [10, 8, 6]
    assert _cuts(fc, 60) == [10, 8, 6]
    with pytest.raises(InvalidInputError, match="cv_step_size 30 with 3 cross-validation"):
        _naive_validation(_ramp(60), 6, cv_step_size=30, n_cross_validations=3)
    with pytest.raises(InvalidInputError, match="'cv_step_size' parameter"):
        _naive_validation(_ramp(60), 6, cv_step_size=0)


def test_a_trial_scores_the_mean_of_its_validation_origins() -> None:
    # Azure averages its cross-validation folds; pooled, one bad window would decide alone.
    fc = _naive_validation(_ramp(72), 6)
    (trial,) = fc.trials_
    assert len(trial.fold_losses) == 4
    assert trial.loss == pytest.approx(np.mean(trial.fold_losses))
    metric = "normalized_root_mean_squared_error"
    assert fc.metrics_[metric] == pytest.approx(fc.best_score_)


def _sine_with_a_burst() -> pd.DataFrame:
    """A noisy cycle whose last third is twice as loud: the origins disagree on the winner."""
    rng = np.random.default_rng(3)
    t = np.arange(160)
    amplitude = np.where(t > 110, 2.0, 1.0)
    y = 50 + amplitude * 10 * np.sin(2 * np.pi * t / 11) + rng.normal(0, 2, len(t))
    return pd.DataFrame({"year": pd.date_range("1850-01-01", periods=len(t), freq="YS"), "y": y})


def _leaderboard_of(n_jobs: int) -> list[tuple[str, str, float]]:
    fc = AutoMLForecaster(
        time_column="year",
        horizon=8,
        max_trials=30,
        time_budget=120,
        n_jobs=n_jobs,
        verbose=0,
        random_state=1,
    ).fit(_sine_with_a_burst(), "y")
    return [
        (r.learner, repr(sorted(r.params.items())), round(r.loss, 10))
        for r in sorted(fc.trials_, key=lambda r: r.number)
    ]


@pytest.mark.slow
def test_two_workers_give_the_same_leaderboard_every_time() -> None:
    # Trials are asked in batches told in trial order, so which worker finishes first (ETS
    # and ARIMA trials race LightGBM's) cannot change what is tried next. Told as they came
    # in, three runs of this differed from the first in 4 of 30 trials.
    first = _leaderboard_of(2)
    assert len(first) == 30
    assert _leaderboard_of(2) == first
    assert _leaderboard_of(2) == first


def test_azure_algorithm_names_choose_the_forecasters() -> None:
    # An Azure forecasting job lists AutoArima and may list regression-only algorithms: the
    # first is our Arima, the second is left out with an alert instead of emptying the search.
    from modelworks.automl.forecasting.estimator import run_forecast
    from modelworks.automl.settings import AutoMLSettings, ForecastSettings

    settings = AutoMLSettings(
        task="forecasting",
        allowed_learners=["AutoArima", "LassoLars", "XGBoostRegressor"],
        max_trials=2,
        n_jobs=1,
        verbose=0,
        forecasting=ForecastSettings(time_column_name="day", forecast_horizon=5),
    )
    data = _ramp(80)
    outcome = run_forecast(data.drop(columns="y"), data["y"], settings.check())
    assert {r.learner for r in outcome.trials} == {"Arima", "ElasticNet"}
    alert = next(g for g in outcome.guardrails if g.name == "Algorithms")
    assert alert.status == "alerted" and "XGBoostRegressor" in alert.description
