"""Running an Azure ML ``type: automl`` job spec against a workspace.

``run_automl_job(ws, "automl.yml")`` validates the spec, reads the training (and validation,
test) data — ``azureml:<name>@latest`` / ``azureml:<name>:<v>`` data assets or local files and
MLTable folders — runs AutoML with the spec's limits, records a parent run with one child
run per trial, logs the results and registers the best model (``model_name``, by default
``<experiment_name>-model``). With ``test_data`` the best model is also scored on it
(``test_<metric>`` metrics on the parent run).
"""

from __future__ import annotations

import dataclasses
import math
import os
import time
from typing import Any

from modelworks.automl.settings import AutoMLSettings, ForecastSettings
from modelworks.specs.automl import AutoMLJobSpec, DataInput, load_automl_spec

__all__ = ["AutoMLJobResult", "read_data_input", "run_automl_job", "settings_from_spec"]


@dataclasses.dataclass
class AutoMLJobResult:
    """The parent run, the best model and its scores."""

    run_id: str
    best_model: str
    best_score: float
    metric: str
    model: Any
    leaderboard: Any
    test_metrics: dict[str, float]
    outcome: Any


def read_data_input(ws: Any, data: DataInput, used: list[Any] | None = None) -> Any:
    """The table a data input names, as a pandas DataFrame; a data asset read is appended to
    ``used`` (for lineage)."""
    path = data.path
    if path.startswith(("azureml:", "data:/")) or (
        not os.path.exists(path) and ("@" in path or ":" in path) and "://" not in path
    ):
        asset = ws.data.get(path)
        if used is not None:
            used.append(asset)
        return asset.to_pandas()
    from modelworks.data.readers import read_table

    return read_table(path, "auto" if data.type == "uri_file" else data.type)


def settings_from_spec(
    spec: AutoMLJobSpec, *, verbose: int = 0, workspace: Any = None
) -> AutoMLSettings:
    """The AutoML settings a spec describes; with ``workspace``, its ``compute`` is resolved
    to where the trials run (a registered Ray compute; anything else runs them locally)."""
    from modelworks.automl._executor import trial_compute

    address, config = (
        trial_compute(spec.compute, workspace, strict=False)
        if workspace is not None
        else (None, {})
    )
    limits = spec.limits
    forecasting = None
    if spec.forecasting is not None:
        f = spec.forecasting
        forecasting = ForecastSettings(
            time_column_name=f.time_column_name,
            forecast_horizon=int(f.forecast_horizon),
            time_series_id_column_names=list(f.time_series_id_column_names or []),
            target_lags=[f.target_lags] if isinstance(f.target_lags, int) else f.target_lags,
            target_rolling_window_size=f.target_rolling_window_size,
            frequency=f.frequency,
            country_or_region_for_holidays=f.country_or_region_for_holidays,
            seasonality=f.seasonality,
            cv_step_size=f.cv_step_size,
            quantiles=list(f.quantiles or [0.1, 0.5, 0.9]),
        )
    featurization = spec.featurization
    return AutoMLSettings(
        task=spec.task,
        primary_metric=spec.primary_metric,
        time_budget=limits.time_budget_s,
        max_trials=limits.max_trials,
        n_jobs=limits.max_concurrent_trials,
        trial_timeout=limits.trial_timeout_minutes * 60 if limits.trial_timeout_minutes else None,
        enable_early_termination=limits.enable_early_termination,
        exit_score=limits.exit_score,
        n_cross_validations=spec.n_cross_validations or "auto",
        validation_size=spec.validation_data_size,
        allowed_learners=spec.training.allowed_training_algorithms,
        blocked_learners=spec.training.blocked_training_algorithms,
        enable_vote_ensemble=spec.training.enable_vote_ensemble,
        enable_stack_ensemble=spec.training.enable_stack_ensemble,
        enable_onnx_compatible_models=spec.training.enable_onnx_compatible_models,
        featurization=featurization.mode,
        column_purposes=dict(featurization.column_name_and_types) or None,
        drop_columns=list(featurization.drop_columns) or None,
        blocked_transformers=list(featurization.blocked_transformers) or None,
        verbose=verbose,
        forecasting=forecasting,
        owner="the automl job",
        compute=address,
        compute_config=config,
    )


def run_automl_job(
    ws: Any,
    spec: str | os.PathLike[str] | AutoMLJobSpec,
    *,
    progress: Any = None,
    model_name: str | None = None,
    time_budget: float | None = None,
    parent_id: str | None = None,
    callbacks: list[Any] | None = None,
    tables: dict[str, Any] | None = None,
) -> AutoMLJobResult:
    """Run the AutoML job ``spec`` (a YAML path or a loaded spec) in workspace ``ws``.

    A job's driver passes its run as ``parent_id`` (the run is then not ended here), extra
    search ``callbacks`` (its log view, which also answers ``should_stop``) and the tables it
    already read (``{"training_data": frame, ...}``)."""
    from modelworks.automl._session import AutoMLSession

    loaded = spec if isinstance(spec, AutoMLJobSpec) else load_automl_spec(spec)
    settings = settings_from_spec(loaded, workspace=ws)
    if time_budget is not None:
        settings.time_budget = float(time_budget)
    settings.check()
    tables = tables or {}
    used: list[Any] = []

    def table(name: str, data: DataInput | None) -> Any:
        if name in tables:
            return tables[name]
        return read_data_input(ws, data, used) if data is not None else None

    train = table("training_data", loaded.training_data)
    valid = table("validation_data", loaded.validation_data)
    test = table("test_data", loaded.test_data)
    target = loaded.target_column_name
    if test is not None:
        _check_test_columns(test, train, target, settings)
    register = model_name or loaded.model_name or f"{loaded.experiment_name}-model"
    test_metrics: dict[str, float] = {}

    def score_test(outcome: Any) -> None:
        if test is None:
            return
        test_metrics.update(_test_metrics(loaded.task, outcome, test, target))
        finite = {f"test_{k}": v for k, v in test_metrics.items() if math.isfinite(v)}
        ws.runs.log_metrics(session.run_id, finite)

    session = AutoMLSession(
        settings,
        workspace=ws,
        experiment=loaded.experiment_name,
        register_model=register,
        run_name=loaded.name or loaded.display_name,
        progress=progress,
        on_outcome=score_test,
        parent_id=parent_id,
        extra_callbacks=callbacks,
    )
    started = time.time()
    if loaded.task == "forecasting":
        from modelworks.automl.forecasting.estimator import run_forecast

        outcome = session.run_forecast(
            lambda callbacks: run_forecast(
                train, target, settings, callbacks=callbacks, started=started
            ),
            started,
        )
    else:
        outcome = session.run_tabular(
            train,
            target,
            X_valid=valid,
            y_valid=target if valid is not None else None,
            started=started,
        )
    assert session.run_id is not None
    for asset in used:  # lineage: data version → this run → the model it registered
        ws.data.record_input(session.run_id, asset.name, asset.version)
    return AutoMLJobResult(
        run_id=session.run_id,
        best_model=outcome.best_name,
        best_score=outcome.best_score,
        metric=outcome.metric.name,
        model=session.registered_model,
        leaderboard=outcome.leaderboard,
        test_metrics=test_metrics,
        outcome=outcome,
    )


def _check_test_columns(test: Any, train: Any, target: str, settings: AutoMLSettings) -> None:
    """test_data is scored by the best model after the search: refuse, before any trial, a
    table that could not be, rather than spend the budget and fail at the end."""
    from modelworks.errors import InvalidInputError

    if target not in getattr(train, "columns", []):
        return  # the training data's own check names that, with its columns
    if target not in test.columns:
        raise InvalidInputError(
            f"test_data has no target column {target!r}, so the best model cannot be scored "
            "on it. Add the column, or leave test_data out."
        )
    forecasting = settings.forecasting if settings.task == "forecasting" else None
    time_column = forecasting.time_column_name if forecasting is not None else None
    if forecasting is not None:
        needed = [*([time_column] if time_column else []), *forecasting.time_series_id_column_names]
    else:
        needed = [str(c) for c in getattr(train, "columns", []) if c != target]
    missing = [c for c in needed if c not in test.columns]
    if missing:
        raise InvalidInputError(
            f"test_data lacks the column(s) {missing} of the training data; the best model "
            "needs them to be scored on it. Add them, or leave test_data out."
        )
    if forecasting is not None and time_column:
        _check_test_follows_training(test, train, time_column, forecasting)


def _check_test_follows_training(test: Any, train: Any, time_column: str, forecasting: Any) -> None:
    """A forecaster predicts after the end of its training data only: each test series must
    start after its training series ends."""
    from modelworks.automl.forecasting._data import parse_times
    from modelworks.errors import InvalidInputError

    if time_column not in train.columns:
        return  # the training data's own check names that
    ids = list(forecasting.time_series_id_column_names)
    train_times, dayfirst = parse_times(train[time_column].reset_index(drop=True), time_column)
    test_times, _ = parse_times(
        test[time_column].reset_index(drop=True), time_column, dayfirst=dayfirst
    )

    def per_series(frame: Any, times: Any, how: str) -> dict[tuple[Any, ...], Any]:
        if not ids:
            return {(): getattr(times, how)()}
        keyed = frame[ids].reset_index(drop=True).assign(__time=times.to_numpy())
        found = getattr(keyed.groupby(ids)["__time"], how)()
        return {k if isinstance(k, tuple) else (k,): v for k, v in found.items()}

    ends = per_series(train, train_times, "max")
    for key, start in per_series(test, test_times, "min").items():
        named = dict(zip(ids, key, strict=True))
        if key not in ends:
            raise InvalidInputError(
                f"test_data has a series the training data does not ({named}); a forecaster "
                "predicts only the series it was trained on. Remove it from test_data."
            )
        if start <= ends[key]:
            series = f" for {named}" if ids else ""
            raise InvalidInputError(
                f"test_data{series} starts at {start}, but the training data runs to "
                f"{ends[key]}; a forecaster is scored on the times after its training data. "
                "Give test_data the rows that follow the training data."
            )


def _test_metrics(task: str, outcome: Any, test: Any, target: str) -> dict[str, float]:
    from modelworks.automl.metrics import compute_metrics

    truth = test[target]
    features = test.drop(columns=[target])
    if task == "classification":
        lookup = {c: i for i, c in enumerate(outcome.model.classes or [])}
        known = truth.map(lambda v: v in lookup).to_numpy(dtype=bool)
        encoded = [lookup[v] for v in truth[known]]
        raw = outcome.model.predict_raw(features[known])
        return compute_metrics("classification", encoded, raw)
    pred = outcome.model.predict(features)
    context = outcome.metric_context if task == "regression" else outcome.data.metric_context
    return compute_metrics(task, truth.to_numpy(dtype=float), pred, **context)
