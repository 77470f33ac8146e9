"""The search loop and its executors (local worker processes and Ray actors, one contract):
failures, timeouts and determinism."""

from __future__ import annotations

import importlib.util
import os
import pickle
import signal
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from modelworks.automl import AutoMLClassifier
from modelworks.automl._executor import LocalProcessExecutor
from modelworks.automl._trial import TrialData, TrialSpec
from modelworks.automl.featurize import infer_column_kinds


def _data(tmp_path, X: pd.DataFrame, y: np.ndarray) -> str:
    from sklearn.model_selection import StratifiedKFold

    folds = list(StratifiedKFold(3, shuffle=True, random_state=0).split(X, y))
    data = TrialData(
        X=X,
        y=y,
        folds=folds,
        task="classification",
        n_classes=2,
        kinds=dict(infer_column_kinds(X)),
        metric="AUC_weighted",
        metric_context={},
        model_dir=str(tmp_path),
    )
    path = tmp_path / "data.pkl"
    path.write_bytes(pickle.dumps(data))
    return str(path)


def _wait(executor: LocalProcessExecutor, n: int, limit: float = 60.0) -> list:
    results: list = []
    end = time.time() + limit
    while len(results) < n and time.time() < end:
        results += executor.wait(0.2)
    return results


def _submit(executor: LocalProcessExecutor, spec: TrialSpec) -> None:
    end = time.time() + 30
    while executor.idle() == 0 and time.time() < end:
        time.sleep(0.05)
    executor.submit(spec)


HAVE_RAY = importlib.util.find_spec("ray") is not None  # imported only in compute/ray*.py


@pytest.fixture(scope="module")
def ray_head() -> Iterator[object]:
    from _ray_head import RayHead

    head = RayHead(num_cpus=2).start()
    yield head
    head.stop()


@pytest.fixture(
    params=[
        "local",
        pytest.param(
            "ray",
            marks=[
                pytest.mark.slow,
                pytest.mark.skipif(not HAVE_RAY, reason="Ray is not installed"),
            ],
        ),
    ]
)
def make_executor(request: pytest.FixtureRequest) -> Iterator[Callable[..., Any]]:
    """The TrialExecutor port's adapters: local worker processes, Ray actors on a head."""
    made: list[Any] = []

    def make(data_path: str, *, n_workers: int, grace: float) -> Any:
        if request.param == "local":
            found: Any = LocalProcessExecutor(data_path, n_workers=n_workers, grace=grace)
        else:
            from modelworks.compute.ray_trials import RayTrialExecutor

            head = request.getfixturevalue("ray_head")
            found = RayTrialExecutor(
                data_path, address=head.gcs_address, n_workers=n_workers, grace=grace
            )
        made.append(found)
        return found

    yield make
    for executor in made:
        executor.shutdown()


def _running_pid(executor: Any) -> int:
    """The process running the executor's one trial (a worker process or a Ray actor)."""
    if isinstance(executor, LocalProcessExecutor):
        (worker,) = executor._busy
        return int(worker.process.pid)
    (slot,) = [s for s in executor._slots if s.spec is not None]
    return int(slot.pid)


def test_crashing_killed_and_overdue_trials_are_recorded_and_the_executor_goes_on(
    tmp_path, cancer, make_executor
) -> None:
    X, y = cancer
    models = tmp_path / "models"
    models.mkdir()
    executor = make_executor(_data(models, X, y.to_numpy()), n_workers=1, grace=0.5)
    assert executor.capacity == 1
    # 1. a learner that raises: a failed result with the error
    _submit(executor, TrialSpec(0, "LightGBM", {"num_leaves": -3}))
    (failed,) = _wait(executor, 1)
    assert failed.status == "failed" and "num_leaves" in failed.error
    # 2. the process running it dies mid-trial: failed, with what happened
    _submit(executor, TrialSpec(1, "RandomForest", {"max_features": 1.0}))
    time.sleep(0.3)
    pid = _running_pid(executor)
    assert pid != os.getpid()
    os.kill(pid, signal.SIGKILL)
    (died,) = _wait(executor, 1)
    assert died.status == "failed"
    assert "worker process died" in died.error or "Ray actor" in died.error
    # 3. a trial past its deadline is stopped
    _submit(executor, TrialSpec(2, "KNN", {"n_neighbors": 5}, deadline=time.time() - 5))
    (late,) = _wait(executor, 1)
    assert late.status == "timeout"
    # 4. a good trial still completes on a fresh process; its fold models are in model_dir
    _submit(executor, TrialSpec(3, "LogisticRegression", {"C": 1.0}))
    (ok,) = _wait(executor, 1)
    assert ok.status == "completed" and ok.oof is not None and 0.9 < 1 - ok.loss <= 1
    assert ok.model_path == str(models / "trial-3.pkl")
    fold_models = pickle.loads(Path(ok.model_path).read_bytes())
    assert len(fold_models) == 3 and fold_models[0].predict_proba(X.head(3)).shape == (3, 2)


def test_shutdown_returns_when_the_accepting_thread_has_already_ended(tmp_path, cancer) -> None:
    """A worker killed mid-handshake ends the accepting thread during shutdown; waking it
    must not then wait for a challenge nobody sends (a canceled AutoML job hung there)."""
    import socket
    import threading

    X, y = cancer
    executor = LocalProcessExecutor(_data(tmp_path, X, y.to_numpy()), n_workers=1)
    executor._closed = True  # what shutdown sets first; a broken connection then ends the thread
    with socket.socket(socket.AF_UNIX) as broken:
        broken.connect(str(executor._dir / "socket"))
    executor._accepter.join(timeout=30)
    assert not executor._accepter.is_alive()
    done = threading.Thread(target=executor.shutdown, daemon=True)
    done.start()
    done.join(timeout=30)
    assert not done.is_alive(), "shutdown hung waking an accepting thread that had ended"


def _board(clf: AutoMLClassifier) -> pd.DataFrame:
    board = clf.leaderboard_.drop(columns=["duration_s"]).copy()
    board["params"] = board["params"].astype(str)
    return board


@pytest.mark.slow
def test_same_seed_same_data_one_worker_same_leaderboard(cancer) -> None:
    X, y = cancer
    settings = dict(
        time_budget=120, max_trials=7, n_jobs=1, metric="roc_auc", random_state=3, verbose=0
    )
    first = AutoMLClassifier(**settings).fit(X, y)
    second = AutoMLClassifier(**settings).fit(X, y)
    pd.testing.assert_frame_equal(_board(first), _board(second))
    assert len(first.trials_) == 7
    np.testing.assert_allclose(first.predict_proba(X), second.predict_proba(X))


def test_a_trial_over_trial_timeout_is_recorded_and_the_run_goes_on(cancer) -> None:
    X, y = cancer
    # Logistic regression on 300 rows takes milliseconds; 300 extra trees x 5 folds do not.
    clf = AutoMLClassifier(
        time_budget=30,
        max_trials=4,
        trial_timeout=0.8,
        allowed_learners=["ExtremeRandomTrees", "LogisticRegression"],
        n_jobs=1,
        verbose=0,
    ).fit(X, y)
    board = clf.leaderboard_
    assert "timeout" in set(board.loc[board["learner"] == "ExtremeRandomTrees", "status"])
    assert "completed" in set(board.loc[board["learner"] == "LogisticRegression", "status"])
    assert len(clf.trials_) == 4
    assert clf.predict(X.head(3)).shape == (3,)


@pytest.mark.parametrize("fraction", [0.5])
def test_subsampled_trials_train_on_fewer_rows_but_predict_every_fold(
    tmp_path, cancer, fraction
) -> None:
    from modelworks.automl._trial import FoldCache, run_trial

    X, y = cancer
    with open(_data(tmp_path, X, y.to_numpy()), "rb") as fh:
        data = pickle.load(fh)
    result = run_trial(
        data, TrialSpec(0, "LightGBM", {"n_estimators": 50}, sample_fraction=fraction), FoldCache()
    )
    assert result.status == "completed"
    assert not np.isnan(result.oof).any()


class _WorkersNeverStart(LocalProcessExecutor):
    """Fault injection: a machine too busy to start the worker processes in time."""

    def _spawn(self) -> None:
        return None


def test_a_model_even_when_no_worker_process_starts(cancer) -> None:
    from modelworks.automl._tabular import run_tabular
    from modelworks.automl.settings import AutoMLSettings

    X, y = cancer
    outcome = run_tabular(
        X,
        y,
        AutoMLSettings(time_budget=8, primary_metric="AUC_weighted", verbose=0),
        executor_factory=lambda path, n, grace: _WorkersNeverStart(path, n_workers=n, grace=grace),
    )
    assert [r.status for r in outcome.trials] == ["completed"]  # run in the AutoML process
    assert outcome.model.predict_raw(X.head(3)).shape == (3, 2)


def test_a_skewed_target_is_also_tried_on_the_log_scale_and_predicted_in_its_units() -> None:
    from modelworks.automl import AutoMLRegressor
    from modelworks.automl._tabular import skewed_target
    from modelworks.automl.learners import LEARNERS, FitContext, LogTarget, fit_learner

    rng = np.random.default_rng(0)
    X = pd.DataFrame({"size": rng.uniform(0, 3, 600), "grade": rng.choice(list("abc"), 600)})
    grade = X["grade"].map({"a": 0.0, "b": 0.5, "c": 1.0}).to_numpy()
    price = np.exp(1.5 * X["size"].to_numpy() + grade + rng.normal(0, 0.1, 600))  # log-normal
    assert skewed_target(price) and not skewed_target(np.log(price))
    reg = AutoMLRegressor(
        time_budget=20,
        max_trials=6,
        allowed_learners=["LightGBM"],
        n_jobs=1,
        verbose=0,
    ).fit(X.iloc[:500], price[:500])
    board = reg.leaderboard_
    scales = {p.get("target") for p in board.loc[board["source"] != "ensemble", "params"]}
    assert scales == {"identity", "log"}
    logged = [m for m in reg.best_estimator_.members if isinstance(m.pipelines[0][-1], LogTarget)]
    pred = reg.predict(X.iloc[500:])
    assert np.corrcoef(pred, price[500:])[0, 1] > 0.95  # target units, not log units
    for member in logged:  # whichever log-scale members the ensemble kept
        alone = member.predict_raw(X.iloc[500:])
        assert np.median(np.abs(alone - price[500:]) / price[500:]) < 0.2
    # and a log-scale model on its own, whether or not the ensemble kept one
    numeric = np.column_stack([X["size"].to_numpy(), grade])
    ctx = FitContext(task="regression", n_classes=0, n_rows=500, n_features=2, log_target=True)
    params = {"rounds": 100, "features": "tree", "target": "log"}
    alone_model = fit_learner(LEARNERS["LightGBM"], params, ctx, numeric[:500], price[:500])
    assert isinstance(alone_model, LogTarget)
    alone = alone_model.predict(numeric[500:])
    assert np.median(np.abs(alone - price[500:]) / price[500:]) < 0.2
    # an unskewed target is left as it is
    plain = AutoMLRegressor(
        time_budget=10, max_trials=2, allowed_learners=["LightGBM"], verbose=0
    ).fit(X.iloc[:500], np.log(price[:500]))
    assert all("target" not in p for p in plain.leaderboard_["params"])


def test_ensemble_candidates_keep_each_learners_best_few_on_small_tables() -> None:
    from modelworks.automl._tabular import DIVERSE_MAX_ROWS, ensemble_candidates
    from modelworks.automl._trial import TrialResult

    names = ["LogisticRegression"] * 20 + ["LightGBM"] * 4 + ["KNN"] * 5
    done = [
        TrialResult(number=i, learner=name, params={}, status="completed", loss=float(i))
        for i, name in enumerate(names)
    ]
    small = ensemble_candidates(done, n_rows=300)
    assert [r.number for r in small] == [*range(15), 20, 21, 22, 24, 25, 26]
    assert [r.loss for r in small] == sorted(r.loss for r in small)  # still best first
    large = ensemble_candidates(done, n_rows=DIVERSE_MAX_ROWS + 1)
    assert [r.number for r in large] == list(range(15))


def test_ensemble_candidates_keep_one_of_a_learners_copies() -> None:
    from modelworks.automl._tabular import ensemble_candidates
    from modelworks.automl._trial import TrialResult

    rng = np.random.default_rng(0)
    base = rng.uniform(size=200)
    other = rng.uniform(size=200)

    def trial(number: int, learner: str, oof: np.ndarray) -> TrialResult:
        return TrialResult(
            number=number, learner=learner, params={}, status="completed", loss=number, oof=oof
        )

    done = [
        trial(0, "LogisticRegression", base),
        trial(1, "LogisticRegression", base + 1e-6),  # a search creeping along a bound
        trial(2, "LogisticRegression", base - 2e-6),
        trial(3, "KNN", base),  # another learner agreeing exactly is still its own member
        trial(4, "LogisticRegression", other),
    ]
    assert [r.number for r in ensemble_candidates(done, n_rows=200)] == [0, 3, 4]


def test_a_converged_search_spends_the_rest_on_the_learners_it_had_left_behind() -> None:
    # Logistic data: the linear model leads by far and its one parameter converges within a
    # few dozen trials; what is left of the trials goes to the others, not to its copies.
    rng = np.random.default_rng(0)
    X = pd.DataFrame(rng.normal(size=(400, 4)), columns=list("abcd"))
    y = (X.to_numpy() @ [3.0, -2.0, 1.0, 0.0] + rng.logistic(size=400) > 0).astype(int)
    clf = AutoMLClassifier(
        time_budget=120,
        max_trials=120,
        metric="log_loss",
        allowed_learners=["LogisticRegression", "KNN"],
        n_jobs=1,
        verbose=0,
        random_state=0,
    ).fit(X, y)
    search = [r for r in clf.trials_ if r.source == "search"]
    knn = [r for r in search if r.learner == "KNN"]
    linear = [r for r in search if r.learner == "LogisticRegression"]
    best_knn = min(r.loss for r in clf.trials_ if r.learner == "KNN" and r.status == "completed")
    best_linear = min(r.loss for r in linear if r.status == "completed")
    assert best_knn > best_linear * 1.15  # judged hopeless by the usual rule
    assert len(knn) >= 10
    assert len(linear) >= 20
    assert any(r.status == "completed" for r in knn)  # not all cut short against the leader
