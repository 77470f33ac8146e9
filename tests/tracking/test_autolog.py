"""Autologging of real scikit-learn and LightGBM training into a real workspace."""

from __future__ import annotations

import json
import math
import shutil
import threading
import warnings
from collections.abc import Iterator
from multiprocessing.pool import ThreadPool
from pathlib import Path
from typing import Any

import lightgbm as lgb
import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st
from sklearn import metrics as skm
from sklearn.cluster import KMeans
from sklearn.datasets import load_breast_cancer, load_diabetes, load_iris
from sklearn.dummy import DummyClassifier
from sklearn.ensemble import IsolationForest
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.model_selection import GridSearchCV
from sklearn.neighbors import KNeighborsClassifier, LocalOutlierFactor
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler

import modelworks as mw
from modelworks._validation import MAX_PARAM_VALUE_LENGTH, validate_key
from modelworks.entities import Run, RunStatus
from modelworks.tracking.autolog import AutologWarning, _metric_key, _param_text, autolog

CLASSIFIER_METRICS = {
    "training_accuracy_score",
    "training_precision_score",
    "training_recall_score",
    "training_f1_score",
    "training_log_loss",
    "training_roc_auc",
    "training_score",
}
REGRESSOR_METRICS = {
    "training_mean_squared_error",
    "training_root_mean_squared_error",
    "training_mean_absolute_error",
    "training_r2_score",
    "training_score",
}


@pytest.fixture(scope="module")
def iris() -> tuple[pd.DataFrame, pd.Series]:
    return load_iris(as_frame=True, return_X_y=True)


@pytest.fixture(scope="module")
def cancer() -> tuple[pd.DataFrame, pd.Series]:
    return load_breast_cancer(as_frame=True, return_X_y=True)


@pytest.fixture(scope="module")
def diabetes() -> tuple[pd.DataFrame, pd.Series]:
    return load_diabetes(as_frame=True, return_X_y=True)


@pytest.fixture
def ws(tmp_path: Path) -> Iterator[mw.Workspace]:
    workspace = mw.Workspace(tmp_path / "ws")
    yield workspace
    workspace.close()


@pytest.fixture
def autologged(ws: mw.Workspace) -> Iterator[mw.Workspace]:
    autolog(workspace=ws)
    try:
        yield ws
    finally:
        autolog(disable=True)
        while mw.active_run() is not None:
            mw.end_run()


def all_runs(ws: mw.Workspace) -> list[Run]:
    ws.runs.flush()
    return list(ws.runs.search())


def only_run(ws: mw.Workspace) -> Run:
    runs = all_runs(ws)
    assert len(runs) == 1, [(r.name, r.tags.get("estimator_name")) for r in runs]
    return runs[0]


def eval_kwargs(x: pd.DataFrame, y: pd.Series) -> dict[str, Any]:
    """LightGBM 4.7 renamed eval_set to eval_X/eval_y; use whichever this version has."""
    import inspect

    if "eval_X" in inspect.signature(lgb.LGBMClassifier.fit).parameters:
        return {"eval_X": (x,), "eval_y": (y,)}
    return {"eval_set": [(x, y)]}


# -- scikit-learn ----------------------------------------------------------------------------
def test_classifier_fit_logs_params_metrics_and_a_loadable_model(autologged, iris) -> None:
    ws = autologged
    x, y = iris
    with mw.start_run(workspace=ws) as run:
        model = LogisticRegression(C=0.5, max_iter=500)
        assert model.fit(x, y) is model
    logged = ws.runs.get(run.id)
    assert logged.status == RunStatus.COMPLETED
    assert logged.params["C"] == "0.5"
    assert logged.params["max_iter"] == "500"
    assert logged.params.keys() == model.get_params().keys()
    assert logged.tags["estimator_name"] == "LogisticRegression"
    assert logged.tags["estimator_class"] == "sklearn.linear_model._logistic.LogisticRegression"
    assert logged.metrics.keys() >= CLASSIFIER_METRICS
    proba = model.predict_proba(x)
    expected = {
        "training_accuracy_score": skm.accuracy_score(y, model.predict(x)),
        "training_f1_score": skm.f1_score(y, model.predict(x), average="weighted"),
        "training_log_loss": skm.log_loss(y, proba),
        "training_roc_auc": skm.roc_auc_score(y, proba, multi_class="ovr", average="weighted"),
    }
    for key, value in expected.items():
        assert logged.metrics[key] == pytest.approx(value), key

    loaded = ws.models.load(f"runs:/{run.id}/model")
    np.testing.assert_array_equal(loaded.predict(x.head(10)), model.predict(x.head(10)))
    assert loaded.signature is not None
    assert [c["name"] for c in loaded.signature["inputs"]] == list(x.columns)
    assert len(loaded.input_example) == 5


def test_pipeline_logs_once_with_step_params_and_binary_roc_auc(autologged, cancer) -> None:
    ws = autologged
    x, y = cancer
    pipe = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000))
    pipe.fit(x, y)  # no active run: autolog starts one and ends it
    assert mw.active_run() is None
    run = only_run(ws)
    assert run.status == RunStatus.COMPLETED
    assert run.tags["estimator_name"] == "Pipeline"
    assert run.tags["mw.autolog"] == "sklearn"
    assert list(ws.runs.children(run.id)) == []
    assert run.params["logisticregression__max_iter"] == "1000"
    assert run.params["standardscaler__with_mean"] == "True"
    assert run.metrics["training_roc_auc"] == pytest.approx(
        skm.roc_auc_score(y, pipe.predict_proba(x)[:, 1])
    )
    loaded = ws.models.load(f"runs:/{run.id}/model")
    np.testing.assert_array_equal(loaded.predict(x.tail(7)), pipe.predict(x.tail(7)))


def test_standalone_preprocessing_fit_is_not_logged(autologged, iris) -> None:
    StandardScaler().fit(iris[0])
    assert all_runs(autologged) == []


def test_grid_search_logs_best_params_and_the_best_candidates_as_child_runs(ws, iris) -> None:
    x, y = iris
    grid = {"n_neighbors": [1, 5, 15, 40]}
    autolog(workspace=ws, max_tuning_runs=2)
    try:
        with mw.start_run(workspace=ws) as run:
            search = GridSearchCV(KNeighborsClassifier(weights="distance"), grid, cv=3).fit(x, y)
    finally:
        autolog(disable=True)
    parent = ws.runs.get(run.id)
    assert parent.params["best_n_neighbors"] == str(search.best_params_["n_neighbors"])
    assert parent.metrics["best_cv_score"] == pytest.approx(search.best_score_)
    assert "estimator__weights" not in parent.params  # the untuned seed's params are not logged
    assert parent.params["param_grid"] == str(grid)
    assert parent.tags["estimator_name"] == "GridSearchCV"
    assert "training_accuracy_score" in parent.metrics
    assert "cv_results.csv" in [a.path for a in ws.runs.list_artifacts(run.id)]

    children = list(ws.runs.children(run.id))
    assert len(children) == 2
    results = pd.DataFrame(search.cv_results_)
    best_two = results.sort_values("rank_test_score", kind="stable").head(2)
    assert sorted(c.params["n_neighbors"] for c in children) == sorted(
        str(p["n_neighbors"]) for p in best_two.params
    )
    for child in children:
        assert child.status == RunStatus.COMPLETED
        assert child.parent_id == run.id
        assert child.params["weights"] == "distance"  # the seed's params, completed by the row
        row = results[results.param_n_neighbors.astype(str) == child.params["n_neighbors"]]
        assert child.metrics["mean_test_score"] == pytest.approx(row.mean_test_score.iloc[0])
        assert not any(k.startswith("split") for k in child.metrics)
    # The nested fits of every candidate and fold created no runs of their own.
    assert len(all_runs(ws)) == 3


def test_regressor_metrics_respect_sample_weight(autologged, diabetes) -> None:
    ws = autologged
    x, y = diabetes
    weight = np.linspace(0.1, 3.0, len(y))
    with mw.start_run(workspace=ws) as run:
        model = Ridge(alpha=0.5).fit(x, y, sample_weight=weight)
    logged = ws.runs.get(run.id).metrics
    assert logged.keys() >= REGRESSOR_METRICS
    pred = model.predict(x)
    mse = skm.mean_squared_error(y, pred, sample_weight=weight)
    assert mse != pytest.approx(skm.mean_squared_error(y, pred))  # weights matter here
    assert logged["training_mean_squared_error"] == pytest.approx(mse)
    assert logged["training_root_mean_squared_error"] == pytest.approx(math.sqrt(mse))
    assert logged["training_mean_absolute_error"] == pytest.approx(
        skm.mean_absolute_error(y, pred, sample_weight=weight)
    )
    assert logged["training_r2_score"] == pytest.approx(skm.r2_score(y, pred, sample_weight=weight))
    assert logged["training_score"] == pytest.approx(model.score(x, y, sample_weight=weight))


def test_fit_predict_logs_once_and_returns_the_labels(autologged, iris) -> None:
    x = iris[0]
    kmeans = KMeans(n_clusters=3, n_init=2, random_state=0)
    labels = kmeans.fit_predict(x)  # calls fit inside: still one run
    np.testing.assert_array_equal(labels, kmeans.labels_)
    # LocalOutlierFactor.fit_predict is an available_if method: patched, still conditional.
    assert not hasattr(LocalOutlierFactor(novelty=True), "fit_predict")
    outliers = LocalOutlierFactor(n_neighbors=10).fit_predict(x)
    assert set(np.unique(outliers)) <= {-1, 1}
    runs = all_runs(autologged)
    assert sorted(r.tags["estimator_name"] for r in runs) == ["KMeans", "LocalOutlierFactor"]
    kmeans_run = next(r for r in runs if r.tags["estimator_name"] == "KMeans")
    assert kmeans_run.params["n_clusters"] == "3"


def test_fits_nested_in_joblib_threads_do_not_log(autologged, iris) -> None:
    # IsolationForest fits its trees in joblib's threading backend, which does not carry
    # the nesting ContextVar into its pool threads.
    IsolationForest(n_estimators=6, n_jobs=2, random_state=0).fit(iris[0])
    run = only_run(autologged)
    assert run.tags["estimator_name"] == "IsolationForest"


_rendezvous = threading.Barrier(2, timeout=60)


class RendezvousRidge(Ridge):
    """A Ridge whose predict waits for a second thread to predict too, so that two fits are
    certainly being logged (training metrics call predict) at the same time."""

    def predict(self, X: Any) -> Any:
        _rendezvous.wait()
        return super().predict(X)


def test_overlapping_fits_in_a_user_thread_pool_each_log(ws, diabetes) -> None:
    x, y = diabetes
    _rendezvous.reset()
    autolog(workspace=ws, log_models=False)
    try:
        with ThreadPool(2) as pool:
            pool.map(lambda alpha: RendezvousRidge(alpha=alpha).fit(x, y), [0.5, 2.0])
    finally:
        autolog(disable=True)
    runs = all_runs(ws)
    assert sorted(r.params["alpha"] for r in runs) == ["0.5", "2.0"]
    assert all("training_r2_score" in r.metrics for r in runs)


def test_concurrent_fits_in_user_threads_each_log(autologged, iris) -> None:
    x, y = iris
    errors: list[BaseException] = []

    def fit(c: float) -> None:
        try:
            LogisticRegression(C=c, max_iter=500).fit(x, y)
        except BaseException as e:  # noqa: BLE001 - surfaced by the assertion below
            errors.append(e)

    threads = [threading.Thread(target=fit, args=(c,)) for c in (0.5, 2.0)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert sorted(r.params["C"] for r in all_runs(autologged)) == ["0.5", "2.0"]


def test_long_param_values_are_cut_with_a_warning(autologged) -> None:
    label = "x" * (MAX_PARAM_VALUE_LENGTH + 500)
    x = np.arange(12, dtype=float).reshape(6, 2)
    y = np.array([label, "b", label, "b", label, "b"], dtype=object)
    with (
        pytest.warns(AutologWarning, match="constant"),
        mw.start_run(workspace=autologged) as run,
    ):
        DummyClassifier(strategy="constant", constant=label).fit(x, y)
    logged = autologged.runs.get(run.id)
    assert logged.params["constant"] == label[:MAX_PARAM_VALUE_LENGTH]
    assert logged.params["strategy"] == "constant"


def test_a_second_fit_in_the_same_run_keeps_the_first_params(autologged, iris) -> None:
    x, y = iris
    with mw.start_run(workspace=autologged) as run:
        LogisticRegression(C=1.0, max_iter=500).fit(x, y)
        with pytest.warns(AutologWarning, match="already logged"):
            second = LogisticRegression(C=3.0, max_iter=500).fit(x, y)
    logged = autologged.runs.get(run.id)
    assert logged.params["C"] == "1.0"
    assert logged.metrics["training_accuracy_score"] == pytest.approx(second.score(x, y))


def test_log_models_false_logs_no_model(ws, iris) -> None:
    autolog(workspace=ws, log_models=False)
    try:
        with mw.start_run(workspace=ws) as run:
            LogisticRegression(max_iter=500).fit(*iris)
    finally:
        autolog(disable=True)
    # start_run records the installed packages; no model may be among the artifacts
    assert [e.path for e in ws.runs.list_artifacts(run.id)] == ["system/requirements.txt"]
    assert "training_score" in ws.runs.get(run.id).metrics


# -- LightGBM --------------------------------------------------------------------------------
def test_lgbm_classifier_logs_once_with_eval_metrics_per_iteration(autologged, cancer) -> None:
    ws = autologged
    x, y = cancer
    x_train, y_train, x_valid, y_valid = x[:400], y[:400], x[400:], y[400:]
    model = lgb.LGBMClassifier(n_estimators=7, num_leaves=7, verbose=-1)
    model.fit(x_train, y_train, **eval_kwargs(x_valid, y_valid))
    run = only_run(ws)  # the fit's inner lightgbm.train did not log a second run
    assert run.status == RunStatus.COMPLETED
    assert run.tags["estimator_name"] == "LGBMClassifier"
    assert run.tags["mw.autolog"] == "lightgbm"
    assert run.params["n_estimators"] == "7"
    assert run.params["num_leaves"] == "7"
    assert run.metrics.keys() >= CLASSIFIER_METRICS

    history = ws.runs.get_metric_history(run.id, "valid_0-binary_logloss")
    assert [m.step for m in history] == list(range(7))
    expected = model.evals_result_["valid_0"]["binary_logloss"]
    assert [m.value for m in history] == pytest.approx(expected)

    artifacts = {a.path for a in ws.runs.list_artifacts(run.id)}
    assert {"feature_importance_split.json", "feature_importance_gain.json"} <= artifacts
    loaded = ws.models.load(f"runs:/{run.id}/model")
    np.testing.assert_array_equal(loaded.predict(x_valid), model.predict(x_valid))


def test_lightgbm_train_logs_history_importance_and_booster(autologged, diabetes) -> None:
    ws = autologged
    x, y = diabetes
    train = lgb.Dataset(x[:350], y[:350])
    valid = lgb.Dataset(x[350:], y[350:], reference=train)
    seen: list[int] = []

    def user_callback(env: Any) -> None:
        seen.append(env.iteration)

    callbacks = [user_callback]
    params = {"objective": "regression", "num_leaves": 5, "verbose": -1}
    with mw.start_run(workspace=ws) as run:
        booster = lgb.train(
            params,
            train,
            num_boost_round=6,
            valid_sets=[valid],
            valid_names=["valid"],
            callbacks=callbacks,
        )
    assert seen == list(range(6))  # the user's callback still runs
    assert callbacks == [user_callback]  # and the user's list is not changed
    logged = ws.runs.get(run.id)
    assert logged.params["objective"] == "regression"
    assert logged.params["num_leaves"] == "5"
    assert logged.params["num_boost_round"] == "6"
    history = ws.runs.get_metric_history(run.id, "valid-l2")
    assert [m.step for m in history] == list(range(6))
    assert history[-1].value == pytest.approx(booster.best_score["valid"]["l2"])

    gain = json.loads(
        (
            ws.runs.download_artifacts(run.id, "feature_importance_gain.json", ws.root / "dl")
        ).read_text()
    )
    assert gain == pytest.approx(
        dict(zip(booster.feature_name(), booster.feature_importance("gain").tolist(), strict=True))
    )
    loaded = ws.models.load(f"runs:/{run.id}/model")
    assert loaded.flavor == "lightgbm"
    np.testing.assert_allclose(loaded.predict(x[350:]), booster.predict(x[350:]))


def test_lightgbm_early_stopping_logs_best_iteration(autologged, cancer) -> None:
    x, y = cancer
    train = lgb.Dataset(x[:400], y[:400])
    valid = lgb.Dataset(x[400:], y[400:], reference=train)
    params = {"objective": "binary", "learning_rate": 0.5, "num_leaves": 15, "verbose": -1}
    with mw.start_run(workspace=autologged) as run:
        booster = lgb.train(
            params,
            train,
            num_boost_round=60,
            valid_sets=[valid],
            callbacks=[lgb.early_stopping(3, verbose=False)],
        )
    logged = autologged.runs.get(run.id)
    assert booster.best_iteration > 0
    assert logged.metrics["best_iteration"] == booster.best_iteration
    history = autologged.runs.get_metric_history(run.id, "valid_0-binary_logloss")
    # every evaluated iteration: up to the best one plus the 3 rounds of patience
    assert [m.step for m in history] == list(range(booster.best_iteration + 3))


# -- switching, failures ---------------------------------------------------------------------
def test_disable_restores_every_original_method(ws, iris) -> None:
    lr_fit = LogisticRegression.__dict__["fit"]
    fit_predict = Pipeline.__dict__["fit_predict"].fn
    train = lgb.train
    sklearn_train = lgb.sklearn.train
    assert "fit" not in GridSearchCV.__dict__

    autolog(workspace=ws)
    autolog(workspace=ws)  # idempotent: one layer of wrapping
    try:
        assert LogisticRegression.fit is not lr_fit
        assert LogisticRegression.fit.__wrapped__ is lr_fit
        assert "fit" in GridSearchCV.__dict__
        assert Pipeline.__dict__["fit_predict"].fn is not fit_predict
        assert lgb.train is not train and lgb.sklearn.train is not sklearn_train
        LogisticRegression(max_iter=500).fit(*iris)
        assert len(all_runs(ws)) == 1
    finally:
        autolog(disable=True)

    assert LogisticRegression.__dict__["fit"] is lr_fit
    assert "fit" not in GridSearchCV.__dict__
    assert Pipeline.__dict__["fit_predict"].fn is fit_predict
    assert lgb.train is train and lgb.sklearn.train is sklearn_train
    with mw.start_run(workspace=ws) as run:
        LogisticRegression(max_iter=500).fit(*iris)
    assert ws.runs.get(run.id).params == {}
    assert len(all_runs(ws)) == 2


def test_mw_autolog_logs_to_the_active_run(ws, iris) -> None:
    mw.autolog()
    try:
        with mw.start_run(workspace=ws) as run:
            LogisticRegression(max_iter=500).fit(*iris)
    finally:
        mw.autolog(disable=True)
    assert ws.runs.get(run.id).params["max_iter"] == "500"


def test_a_failing_fit_raises_the_users_error_and_fails_its_own_run(autologged, iris) -> None:
    x, y = iris
    bad = x.copy()
    bad.iloc[0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        LogisticRegression().fit(bad, y)
    assert mw.active_run() is None
    run = only_run(autologged)
    assert run.status == RunStatus.FAILED
    assert "ValueError" in (run.error or "")
    assert run.metrics == {}


def test_a_failing_fit_leaves_the_users_run_active_and_usable(autologged, iris) -> None:
    x, y = iris
    with mw.start_run(workspace=autologged) as run:
        with pytest.raises(ValueError, match="inconsistent numbers of samples"):
            LogisticRegression(max_iter=500).fit(x, y[:10])
        assert mw.active_run() is run
        assert autologged.runs.get(run.id).status == RunStatus.RUNNING
        with warnings.catch_warnings():
            warnings.simplefilter("error", AutologWarning)
            LogisticRegression(max_iter=500).fit(x, y)  # the retry logs without a clash
    logged = autologged.runs.get(run.id)
    assert logged.status == RunStatus.COMPLETED
    assert "training_accuracy_score" in logged.metrics


def test_wrong_fit_arguments_raise_the_users_type_error(autologged, iris) -> None:
    with pytest.raises(TypeError):
        LogisticRegression().fit(*iris, None, "extra", "arguments")
    with pytest.raises(TypeError):
        lgb.train({}, no_such_argument=1)  # type: ignore[call-arg]


def test_store_failures_warn_and_the_fit_still_returns(autologged, iris) -> None:
    x, y = iris
    with mw.start_run(workspace=autologged) as run:
        autologged.runs.delete(run.id)  # every write to the run is now refused
        model = LogisticRegression(max_iter=500)
        with pytest.warns(AutologWarning, match="deleted"):
            assert model.fit(x, y) is model
        assert model.predict(x).shape == (len(x),)


def test_silent_turns_warnings_into_debug_records(ws, iris) -> None:
    autolog(workspace=ws, silent=True)
    try:
        with mw.start_run(workspace=ws) as run:
            ws.runs.delete(run.id)
            with warnings.catch_warnings():
                warnings.simplefilter("error", AutologWarning)
                LogisticRegression(max_iter=500).fit(*iris)
    finally:
        autolog(disable=True)


def test_inside_a_job_the_jobs_run_is_resumed_and_left_running(
    autologged, iris, monkeypatch
) -> None:
    job_run = autologged.runs.create("jobs")
    monkeypatch.setenv("MODELWORKS_RUN_ID", job_run.id)
    LogisticRegression(max_iter=500).fit(*iris)
    active = mw.active_run()
    assert active is not None and active.id == job_run.id  # the job's runner ends it
    mw.end_run()
    logged = autologged.runs.get(job_run.id)
    assert logged.params["max_iter"] == "500"
    assert "training_accuracy_score" in logged.metrics
    assert [r.id for r in all_runs(autologged)] == [job_run.id]


def test_artifact_store_failure_keeps_params_and_metrics(autologged, iris) -> None:
    ws = autologged
    assert ws.root is not None
    blobs = ws.root / "blobs"
    shutil.rmtree(blobs)
    blobs.write_text("not a folder any more")
    with mw.start_run(workspace=ws) as run:
        with pytest.warns(AutologWarning, match="log the model"):
            model = LogisticRegression(max_iter=500).fit(x := iris[0], iris[1])
        assert model.predict(x).shape == (len(x),)
    logged = ws.runs.get(run.id)
    assert logged.params["max_iter"] == "500"
    assert "training_accuracy_score" in logged.metrics


def test_max_tuning_runs_is_validated() -> None:
    with pytest.raises(mw.InvalidInputError, match="max_tuning_runs"):
        autolog(max_tuning_runs=-1)


# -- helpers ---------------------------------------------------------------------------------
@given(st.text(max_size=400))
def test_metric_keys_are_made_valid(key: str) -> None:
    cleaned = _metric_key(key)
    assert validate_key("metric", cleaned) == cleaned
    if validate_key_ok(key):
        assert cleaned == key


def validate_key_ok(key: str) -> bool:
    try:
        validate_key("metric", key)
    except mw.InvalidInputError:
        return False
    return True


@given(st.text(max_size=MAX_PARAM_VALUE_LENGTH + 50))
def test_param_text_cuts_only_what_is_too_long(value: str) -> None:
    text, cut = _param_text(value)
    assert cut == (len(value) > MAX_PARAM_VALUE_LENGTH)
    assert text == value[:MAX_PARAM_VALUE_LENGTH]
