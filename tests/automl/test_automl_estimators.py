"""AutoML end to end: sklearn-style estimators, recording in a workspace, the registered model."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone

from modelworks import Workspace
from modelworks.automl import AutoMLClassifier, AutoMLRegressor
from modelworks.errors import InvalidInputError


def test_constructor_stores_and_clones() -> None:
    clf = AutoMLClassifier(time_budget=7, metric="roc_auc", blocked_learners=["KNN"])
    assert clf.get_params()["time_budget"] == 7
    assert clone(clf).get_params()["blocked_learners"] == ["KNN"]
    with pytest.raises(InvalidInputError, match="not fitted"):
        clf.predict(pd.DataFrame({"a": [1]}))


@pytest.mark.slow
def test_classifier_recorded_registered_explained(tmp_path, bank_small) -> None:
    ws = Workspace(tmp_path / "ws")
    train, test = bank_small.iloc[:1200], bank_small.iloc[1200:]
    clf = AutoMLClassifier(
        time_budget=20,
        max_trials=8,
        metric="AUC_weighted",
        n_jobs=2,
        verbose=0,
        workspace=ws,
        experiment="bank",
        register_model="bank-automl",
    ).fit(train, "response")
    board = clf.leaderboard_
    assert board.iloc[0]["model"] == clf.best_model_name_
    assert {"LightGBM", "LogisticRegression"} <= set(board["learner"])
    assert 0.8 < clf.best_score_ <= 1.0
    assert set(clf.classes_) == {"yes", "no"}
    proba = clf.predict_proba(test)
    assert proba.shape == (len(test), 2) and np.allclose(proba.sum(axis=1), 1.0)
    assert clf.score(test.drop(columns=["response"]), test["response"]) > 0.8
    assert clf.metrics_["AUC_weighted"] == pytest.approx(clf.best_score_)
    assert {"accuracy", "log_loss", "matthews_correlation"} <= set(clf.metrics_)
    # each trial is a child run of the AutoML run, with params, metrics and duration
    parent = ws.runs.get(clf.run_id_)
    assert parent.kind == "automl" and parent.status.value == "Completed"
    children = [r for r in ws.runs.search("bank") if r.parent_id == parent.id]
    assert len(children) == len(clf.trials_) > 0
    done = [r for r in children if r.tags.get("mw.automl.status") == "completed"]
    assert done and all(r.kind == "trial" for r in children)
    assert "learner" in done[0].params and "duration_s" in done[0].metrics
    assert "AUC_weighted" in done[0].metrics
    artifacts = {a.path for a in ws.runs.list_artifacts(parent.id)}
    assert {"leaderboard.csv", "guardrails.json", "charts/roc.png", "model/MLmodel"} <= artifacts
    # the registered model is one deployable artifact: featurization + model(s)
    version = clf.registered_model_
    assert version.name == "bank-automl" and version.signature is not None
    loaded = ws.models.load("models:/bank-automl/1")
    features = test.drop(columns=["response"])
    assert list(loaded.predict(features.head(5))) == list(clf.predict(features.head(5)))
    np.testing.assert_allclose(loaded.predict_proba(features.head(5)), proba[:5])
    # explanations: per-row contributions over the input columns and a global ranking
    explanation = clf.explain(features.head(20))
    assert list(explanation.contributions.columns) == list(features.columns)
    assert explanation.importance.index[0] in features.columns
    assert explanation.importance.iloc[0] > 0


@pytest.mark.slow
def test_regressor_with_validation_data_and_stack_ensemble(tmp_path, diabetes) -> None:
    X, y = diabetes
    clf = AutoMLRegressor(
        time_budget=20,
        metric="r2",
        max_trials=6,
        enable_stack_ensemble=True,
        n_jobs=2,
        verbose=0,
    ).fit(X.iloc[:300], y.iloc[:300], X_valid=X.iloc[300:380], y_valid=y.iloc[300:380])
    assert "StackEnsemble" in set(clf.leaderboard_["model"])
    assert clf.best_score_ > 0.2
    pred = clf.predict(X.iloc[380:])
    assert pred.shape == (len(X) - 380,)
    charts = clf.save_charts(str(tmp_path / "charts"))
    assert {p.split("/")[-1] for p in charts} == {"predicted_vs_true.png", "residuals.png"}


def test_missing_column_at_predict_names_it(cancer) -> None:
    X, y = cancer
    clf = AutoMLClassifier(time_budget=20, max_trials=1, n_jobs=1, verbose=0).fit(X, y)
    with pytest.raises(InvalidInputError, match="lacks the column"):
        clf.predict(X.drop(columns=["mean radius"]).head(2))


@pytest.mark.slow
def test_onnx_compatible_models_are_exported(tmp_path, bank_small) -> None:
    import onnxruntime

    ws = Workspace(tmp_path / "ws")
    data = bank_small.iloc[:600]
    clf = AutoMLClassifier(
        time_budget=20,
        max_trials=3,
        enable_onnx_compatible_models=True,
        n_jobs=1,
        verbose=0,
        workspace=ws,
    ).fit(data, "response")
    assert set(clf.leaderboard_["learner"]) <= {
        "ExtremeRandomTrees",
        "RandomForest",
        "LogisticRegression",
        "KNN",
        "MLP",
        "VotingEnsemble",
    }
    run = ws.runs.get(clf.run_id_)
    assert run.tags.get("mw.automl.onnx") == "onnx/model.onnx", run.tags
    folder = ws.runs.download_artifacts(clf.run_id_, "onnx", tmp_path / "dl")
    session = onnxruntime.InferenceSession(str(next(folder.rglob("model.onnx"))))
    from modelworks.automl.onnx import onnx_inputs

    outputs = session.run(None, onnx_inputs(session, data.drop(columns=["response"]).head(5)))
    assert len(outputs[0]) == 5


def test_catboost_with_categorical_columns(bank_small) -> None:
    train, test = bank_small.iloc[:600], bank_small.iloc[600:700]
    clf = AutoMLClassifier(
        time_budget=120,
        max_trials=1,
        n_jobs=1,
        allowed_learners=["CatBoostClassifier"],
        verbose=0,
    ).fit(train, "response")
    assert list(clf.leaderboard_["status"]) == ["completed"], clf.leaderboard_["error"].tolist()
    assert clf.predict_proba(test).shape == (100, 2)


FIT_UNTIL_INTERRUPTED = """
import signal
import sys

# Ctrl-C raises KeyboardInterrupt, as in a terminal, even where this test runs with SIGINT
# ignored (a background job or nohup passes SIG_IGN on, and Python then keeps it)
signal.signal(signal.SIGINT, signal.default_int_handler)
from modelworks import Workspace
from modelworks.automl import AutoMLClassifier
from modelworks.datasets import load_bank_marketing

bank = load_bank_marketing().sample(4000, random_state=0)
AutoMLClassifier(
    time_budget=120, verbose=0, workspace=Workspace(sys.argv[1]), experiment="interrupted"
).fit(bank, "response")
"""


def _a_trial_completed(folder) -> bool:
    from modelworks.errors import NotFoundError

    try:
        runs = Workspace(folder).runs.search("interrupted") if folder.exists() else []
    except NotFoundError:  # the experiment is not created yet
        return False
    return any(r.kind == "trial" and r.status.value == "Completed" for r in runs)


@pytest.mark.slow
def test_ctrl_c_cancels_the_run_and_leaves_no_worker_behind(tmp_path) -> None:
    import signal
    import subprocess
    import sys
    import time

    import psutil

    folder = tmp_path / "ws"
    fit = subprocess.Popen(
        [sys.executable, "-c", FIT_UNTIL_INTERRUPTED, str(folder)], stderr=subprocess.PIPE
    )
    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline and not _a_trial_completed(folder):
            time.sleep(0.5)
        workers = psutil.Process(fit.pid).children(recursive=True)
        assert workers, "the search runs its trials in worker processes"
        fit.send_signal(signal.SIGINT)
        fit.wait(timeout=60)
    finally:
        fit.kill()
    assert fit.returncode != 0
    assert b"KeyboardInterrupt" in fit.stderr.read()
    psutil.wait_procs(workers, timeout=10)
    assert not [w for w in workers if w.is_running() and w.status() != psutil.STATUS_ZOMBIE]
    runs = Workspace(folder).runs.search("interrupted")
    parent = next(r for r in runs if r.kind == "automl")
    assert parent.status.value == "Canceled" and "KeyboardInterrupt" in (parent.error or "")
    assert all(r.status.value in ("Completed", "Failed", "Canceled") for r in runs)
