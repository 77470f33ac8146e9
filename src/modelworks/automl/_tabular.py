"""One tabular AutoML run (classification or regression), from a table to the best model.

:func:`run_tabular` is what ``AutoMLClassifier.fit`` / ``AutoMLRegressor.fit`` and the
``type: automl`` job call: guardrails → folds → column kinds → trials in worker processes
(:class:`~modelworks.automl.search.Search`) → ensembles over out-of-fold predictions →
leaderboard → the best model as one :class:`~modelworks.automl.model.AutoMLModel`.
The whole of it, worker start-up included, fits in ``time_budget`` seconds (+10% at worst).
"""

from __future__ import annotations

import dataclasses
import math
import os
import pickle
import shutil
import tempfile
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

from modelworks.automl import guardrails
from modelworks.automl._trial import TrialData, TrialResult
from modelworks.automl.ensemble import EnsembleChoice, greedy_selection, stack
from modelworks.automl.featurize import KIND_DROP, ColumnKinds, infer_column_kinds
from modelworks.automl.learners import available_learners, fixed_rounds
from modelworks.automl.metrics import Metric, compute_metrics, default_metric, get_metric
from modelworks.automl.model import AutoMLModel, BaggedModel, as_frame
from modelworks.automl.portfolio import portfolio
from modelworks.automl.search import Search, SearchCallback, SearchLimits, completed
from modelworks.automl.settings import AutoMLSettings
from modelworks.errors import InvalidInputError, ModelworksError

__all__ = ["AutoMLOutcome", "NoModelError", "prepare_xy", "reserve_seconds", "run_tabular"]

MAX_ENSEMBLE_CANDIDATES = 15
"""The best this many trials are ensemble candidates (plus, on tables up to
``DIVERSE_MAX_ROWS``, the best ``DIVERSE_PER_LEARNER`` trials of every learner)."""
DIVERSE_PER_LEARNER = 3
DIVERSE_MAX_ROWS = 10000
"""On small tables the search often fills the top 15 with near-copies of one learner (wine:
15 LogisticRegressions with the same out-of-fold loss; diabetes: 15 boosting trials), so the
greedy selection has nothing to hedge with; keeping each learner's best few as candidates
raised diabetes' held-out R2 by 0.006-0.033 on three splits. Above this size the out-of-fold
ranking is reliable and the extra candidates would only slow the selection down."""
SAME_PREDICTIONS = 1e-2
"""Out-of-fold predictions of one learner within this share of their spread everywhere count
as one candidate."""
SMALL_ROWS = 1000
"""Below this many training rows, ``n_cross_validations: auto`` uses 8 folds."""
MAX_STACK_CANDIDATES = 5


class NoModelError(ModelworksError):
    """No trial completed, so there is no model to return."""

    status_code = 422
    code = "AUTOML_NO_MODEL"


@dataclasses.dataclass
class AutoMLOutcome:
    """Everything an AutoML run produced."""

    task: str
    metric: Metric
    trials: list[TrialResult]
    leaderboard: pd.DataFrame
    model: AutoMLModel
    best_name: str
    best_loss: float
    y: np.ndarray
    oof: np.ndarray
    rows: np.ndarray
    classes: list[Any] | None
    guardrails: list[guardrails.Guardrail]
    kinds: ColumnKinds
    stop_reason: str
    fit_time: float
    metrics: dict[str, float]
    skipped: list[tuple[str, dict[str, Any], str]]
    metric_context: dict[str, Any]
    explain_sample: Any = None
    train_X: Any = None
    train_y: Any = None

    @property
    def best_score(self) -> float:
        return self.metric.from_loss(self.best_loss)


def prepare_xy(X: Any, y: Any, *, owner: str) -> tuple[pd.DataFrame, pd.Series, str]:
    """The feature table and the target; ``y`` may be a column name of ``X``."""
    if isinstance(y, str) and not isinstance(X, str):
        frame = as_frame(X)
        if y not in frame.columns:
            raise InvalidInputError(
                f"The target column {y!r} is not in the training data; its columns are "
                f"{list(frame.columns)}. Pass target_column_name / y as one of them."
            )
        return frame.drop(columns=[y]), frame[y].reset_index(drop=True), y
    if y is None:
        raise InvalidInputError(
            f"{owner}.fit needs the target: pass y (values) or the name of a column of X."
        )
    frame = as_frame(X)
    target = pd.Series(np.asarray(y) if not isinstance(y, pd.Series) else y.to_numpy())
    if len(target) != len(frame):
        raise InvalidInputError(
            f"X has {len(frame)} rows but y has {len(target)}; they must match row for row."
        )
    name = str(getattr(y, "name", None) or "target")
    return frame.reset_index(drop=True), target.rename(name), name


def reserve_seconds(budget: float) -> tuple[float, float]:
    """(time kept for the end of the run, grace given to a trial past its deadline)."""
    grace = min(1.0, max(0.3, 0.02 * budget))
    return min(10.0, max(0.8, 0.04 * budget)), grace


def _n_folds(settings: AutoMLSettings, n_rows: int, min_class: int | None) -> int:
    cv = settings.n_cross_validations
    # "auto": 8 folds on small tables (each model sees 7/8 of the rows and the bag of 8
    # averages out more variance; trials are cheap there), 5 up to 100k rows, then 3.
    k = int(cv) if cv != "auto" else (8 if n_rows < SMALL_ROWS else 5 if n_rows <= 100_000 else 3)
    if min_class is not None:
        k = min(k, max(2, min_class))
    return max(2, min(k, n_rows // 2))


def _folds(
    settings: AutoMLSettings, y: np.ndarray, n_valid: int, seed: int
) -> list[tuple[np.ndarray, np.ndarray]]:
    from sklearn.model_selection import KFold, StratifiedKFold, train_test_split

    n = len(y) - n_valid
    if n_valid:
        return [(np.arange(n), np.arange(n, len(y)))]
    classification = settings.task == "classification"
    min_class = int(np.bincount(y).min()) if classification else None
    if settings.validation_size is not None:
        idx = np.arange(n)
        train, valid = train_test_split(
            idx,
            test_size=settings.validation_size,
            random_state=seed,
            stratify=y if classification and (min_class or 0) >= 2 else None,
        )
        return [(np.sort(train), np.sort(valid))]
    k = _n_folds(settings, n, min_class)
    splitter: Any = (
        StratifiedKFold(k, shuffle=True, random_state=seed)
        if classification
        else KFold(k, shuffle=True, random_state=seed)
    )
    return [(tr, va) for tr, va in splitter.split(np.zeros(n), y)]


def _encode_target(y: pd.Series, task: str) -> tuple[np.ndarray, list[Any] | None]:
    if task != "classification":
        return y.to_numpy(dtype=float), None
    values = y.to_numpy()
    try:
        classes = sorted(pd.unique(values).tolist())
    except TypeError:
        classes = sorted(pd.unique(values).tolist(), key=str)
    lookup = {c: i for i, c in enumerate(classes)}
    return np.asarray([lookup[v] for v in values], dtype=np.int64), classes


def _leaderboard(
    trials: list[TrialResult], ensembles: list[tuple[str, EnsembleChoice]], metric: Metric
) -> pd.DataFrame:
    rows = []
    for r in trials:
        rows.append(
            {
                "model": f"{r.learner}#{r.number}",
                "learner": r.learner,
                "trial": r.number,
                metric.name: metric.from_loss(r.loss) if r.status == "completed" else math.nan,
                "status": r.status,
                "source": r.source,
                "duration_s": round(r.duration, 3),
                "sample_fraction": r.sample_fraction,
                "params": dict(r.params),
                "error": (r.error or "").splitlines()[0] if r.error else "",
                "_loss": r.loss if r.status == "completed" else math.inf,
                "_order": float(r.number),
            }
        )
    for name, choice in ensembles:
        rows.append(
            {
                "model": name,
                "learner": name,
                "trial": -1,
                metric.name: metric.from_loss(choice.loss),
                "status": "completed",
                "source": "ensemble",
                "duration_s": 0.0,
                "sample_fraction": 1.0,
                "params": {
                    "members": choice.indices,
                    "weights": [round(w, 4) for w in choice.weights],
                },
                "error": "",
                "_loss": choice.loss,
                "_order": math.inf,  # a tie goes to the single model (what _finish picks)
            }
        )
    board = pd.DataFrame(rows)
    if board.empty:
        return board
    board["_done"] = board["status"] != "completed"
    board = board.sort_values(["_done", "_loss", "_order"], kind="stable").reset_index(drop=True)
    board.insert(0, "rank", range(1, len(board) + 1))
    return board.drop(columns=["_done", "_loss", "_order"])


def _load_member(result: TrialResult, task: str, n_classes: int) -> BaggedModel:
    assert result.model_path is not None
    with open(result.model_path, "rb") as fh:
        pipelines = pickle.load(fh)
    return BaggedModel(pipelines, task=task, n_classes=n_classes, learner=result.learner)


def run_tabular(
    X: Any,
    y: Any,
    settings: AutoMLSettings,
    *,
    X_valid: Any = None,
    y_valid: Any = None,
    callbacks: list[SearchCallback] | None = None,
    executor_factory: Callable[[str, int, float], Any] | None = None,
    started: float | None = None,
) -> AutoMLOutcome:
    """Search for the best model for ``y`` given ``X`` within ``settings.time_budget``."""
    t0 = started if started is not None else time.time()
    settings.check()
    task = settings.task
    frame, target, target_name = prepare_xy(X, y, owner=settings.owner)
    metric = get_metric(settings.primary_metric or default_metric(task), task)
    n_valid = 0
    if X_valid is not None:
        vframe, vtarget, _ = prepare_xy(
            X_valid, y_valid if y_valid is not None else target_name, owner=settings.owner
        )
        missing = [c for c in frame.columns if c not in vframe.columns]
        if missing:
            raise InvalidInputError(f"The validation data lacks the column(s) {missing}.")
        vtarget = guardrails.check_target(vtarget, task, name=target_name)
        keep = vtarget.notna().to_numpy()
        vframe, vtarget = vframe[keep][list(frame.columns)], vtarget[keep]
        n_valid = len(vframe)
    target = guardrails.check_target(target, task, name=target_name)
    present = target.notna().to_numpy()
    dropped = int((~present).sum())
    frame, target = frame[present].reset_index(drop=True), target[present].reset_index(drop=True)
    kinds = (
        infer_column_kinds(
            frame, purposes=settings.column_purposes, drop_columns=settings.drop_columns or ()
        )
        if settings.featurization != "off"
        else _kinds_off(frame)
    )
    report = guardrails.report(
        frame, target, task=task, kinds=kinds, target_name=target_name, dropped_target_rows=dropped
    )
    guardrails.announce(report, callbacks)
    if n_valid:
        frame = pd.concat([frame, vframe], ignore_index=True)
        target = pd.concat([target, vtarget], ignore_index=True)
    y_enc, classes = _encode_target(target, task)
    if task == "classification" and n_valid == 0:
        counts = np.bincount(y_enc)
        if counts.min() < 2:
            rare = [classes[i] for i in np.flatnonzero(counts < 2)] if classes else []
            shown = ", ".join(repr(c) for c in rare[:5]) + (
                f", ... ({len(rare)} in all)" if len(rare) > 5 else ""
            )
            raise InvalidInputError(
                f"The class(es) {shown} of {target_name!r} have a single row; every class needs "
                "at least 2 rows to be cross-validated. Remove those rows or merge the classes."
            )
    folds = _folds(settings, y_enc, n_valid, settings.random_state)
    rows = np.concatenate([valid for _, valid in folds])
    n_classes = len(classes) if classes is not None else 0
    context: dict[str, Any] = {}
    if task != "classification":
        context["y_range"] = float(np.ptp(y_enc)) or 1.0
    learners = available_learners(
        task,
        allowed=settings.allowed_learners,
        blocked=settings.blocked_learners,
        onnx_only=settings.enable_onnx_compatible_models,
    )
    log_target = (
        task == "regression"
        and not settings.enable_onnx_compatible_models
        and skewed_target(y_enc[: len(y_enc) - n_valid])
    )
    reserve, grace = reserve_seconds(settings.time_budget)
    end = t0 + settings.time_budget - reserve - grace
    workdir = tempfile.mkdtemp(prefix="modelworks-automl-")
    try:
        data = TrialData(
            X=frame,
            y=y_enc,
            folds=folds,
            task=task,
            n_classes=n_classes,
            kinds={c: k for c, k in kinds.items()},
            metric=metric.name,
            metric_context=context,
            model_dir=workdir,
            blocked_transformers=tuple(settings.blocked_transformers or ()),
            seed=settings.random_state,
            extra={"log_target": log_target},
        )
        data_path = os.path.join(workdir, "data.pkl")
        with open(data_path, "wb") as fh:
            pickle.dump(data, fh, protocol=pickle.HIGHEST_PROTOCOL)
        if executor_factory is None:
            from modelworks.automl._executor import open_trial_executor

            executor = open_trial_executor(data_path, settings, grace=grace)
        else:
            executor = executor_factory(data_path, settings.workers, grace)
        search = Search(
            data,
            metric=metric,
            learners=learners,
            portfolio=portfolio(
                task,
                [lr.name for lr in learners],
                log_target=log_target,
                fixed_rounds=fixed_rounds(len(folds[0][0])),
            ),
            executor=executor,
            limits=SearchLimits(
                end=end,
                max_trials=settings.max_trials,
                trial_timeout=settings.trial_timeout,
                exit_score=settings.exit_score,
                early_termination=settings.enable_early_termination,
                hard_end=t0 + settings.time_budget * 1.05 - grace - 0.2,
            ),
            seed=settings.random_state,
            n_features=sum(1 for k in kinds.values() if k != KIND_DROP),
            callbacks=callbacks,
        )
        try:
            trials = search.run()
        finally:
            executor.shutdown()
        outcome = _finish(
            trials,
            settings=settings,
            metric=metric,
            y_enc=y_enc,
            rows=rows,
            classes=classes,
            columns=[str(c) for c in frame.columns],
            context=context,
        )
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    model, best_name, best_loss, oof, board = outcome
    metrics = compute_metrics(task, y_enc[rows], oof[rows], **context)
    return AutoMLOutcome(
        task=task,
        metric=metric,
        trials=sorted(trials, key=lambda r: r.number),
        leaderboard=board,
        model=model,
        best_name=best_name,
        best_loss=best_loss,
        y=y_enc,
        oof=oof,
        rows=rows,
        classes=classes,
        guardrails=report,
        kinds=kinds,
        stop_reason=search.stop_reason,
        fit_time=time.time() - t0,
        metrics=metrics,
        skipped=search.skipped,
        metric_context=context,
        train_X=frame,
        train_y=y_enc,
        explain_sample=frame.iloc[: len(frame) - n_valid].sample(
            min(200, len(frame) - n_valid), random_state=settings.random_state
        ),
    )


SKEW_FOR_LOG_TARGET = 1.0


def skewed_target(y: np.ndarray) -> bool:
    """Whether a regression target is non-negative and right-skewed enough (sample skewness
    above 1: prices, counts, durations) that models fitted on log1p(y) are worth trying."""
    values = np.asarray(y, dtype=float)
    if len(values) < 20 or not np.isfinite(values).all() or values.min() < 0:
        return False
    from scipy.stats import skew

    return values.std() > 0 and float(skew(values)) > SKEW_FOR_LOG_TARGET


def _kinds_off(frame: pd.DataFrame) -> ColumnKinds:
    """featurization: off — numbers as they are; anything else is an error."""
    kinds = ColumnKinds()
    for column in frame.columns:
        if not pd.api.types.is_numeric_dtype(frame[column]):
            raise InvalidInputError(
                f"featurization is 'off' but column {column!r} is not numeric "
                f"({frame[column].dtype}); use featurization 'auto' or encode it first."
            )
        kinds[str(column)] = "numeric"
    return kinds


def _finish(
    trials: list[TrialResult],
    *,
    settings: AutoMLSettings,
    metric: Metric,
    y_enc: np.ndarray,
    rows: np.ndarray,
    classes: list[Any] | None,
    columns: list[str],
    context: dict[str, Any],
) -> tuple[AutoMLModel, str, float, np.ndarray, pd.DataFrame]:
    task = settings.task
    done = [r for r in completed(trials) if r.oof is not None]
    if not done:
        failed = [r for r in trials if r.error]
        hint = f" The first error: {(failed[0].error or '').splitlines()[0]}" if failed else ""
        raise NoModelError(
            f"No trial completed within the time budget of {settings.time_budget:g} s "
            f"({len(trials)} started).{hint} Increase time_budget or allow faster learners.",
        )
    candidates = ensemble_candidates(done, n_rows=len(rows))
    oofs = [np.asarray(r.oof, dtype=float) for r in candidates]
    ensembles: list[tuple[str, EnsembleChoice]] = []
    if settings.enable_vote_ensemble and len(candidates) >= 2:
        ensembles.append(
            ("VotingEnsemble", greedy_selection(oofs, y_enc, metric, context=context, rows=rows))
        )
    if settings.enable_stack_ensemble and len(candidates) >= 2:
        top = list(range(min(MAX_STACK_CANDIDATES, len(candidates))))
        choice = stack(
            [oofs[i] for i in top],
            y_enc,
            metric,
            task=task,
            seed=settings.random_state,
            context=context,
            rows=rows,
        )
        ensembles.append(("StackEnsemble", choice))
    # An "ensemble" of one model without a meta-model is that model (its score differs only
    # by float32 rounding of the out-of-fold predictions): not a leaderboard entry of its own.
    ensembles = [(n, c) for n, c in ensembles if len(c.indices) > 1 or c.meta is not None]
    board = _leaderboard(trials, ensembles, metric)
    n_classes = len(classes) if classes else 0
    best_single = candidates[0]
    best_name, best_loss = f"{best_single.learner}#{best_single.number}", best_single.loss
    members_idx, weights, meta, oof = [0], [1.0], None, oofs[0]
    for name, choice in ensembles:
        if choice.loss < best_loss - 1e-9:
            best_name, best_loss = name, choice.loss
            members_idx, weights, meta, oof = (
                choice.indices,
                choice.weights,
                choice.meta,
                choice.oof,
            )
    members = [_load_member(candidates[i], task, n_classes) for i in members_idx]
    model = AutoMLModel(
        members,
        weights if meta is None else None,
        task=task,
        classes=classes,
        columns=columns,
        meta=meta,
        name=best_name,
    )
    return model, best_name, best_loss, oof, board


def ensemble_candidates(done: list[TrialResult], *, n_rows: int) -> list[TrialResult]:
    """The trials the ensembles may use, best first: the best ``MAX_ENSEMBLE_CANDIDATES``
    and, on tables up to ``DIVERSE_MAX_ROWS`` rows, each learner's best few as well."""
    per_learner = DIVERSE_PER_LEARNER if n_rows <= DIVERSE_MAX_ROWS else 0
    kept: list[TrialResult] = []
    seen: dict[str, int] = {}
    for result in done:
        if any(_same_predictions(result, other) for other in kept):
            continue
        seen[result.learner] = seen.get(result.learner, 0) + 1
        if len(kept) < MAX_ENSEMBLE_CANDIDATES or seen[result.learner] <= per_learner:
            kept.append(result)
    return kept


def _same_predictions(a: TrialResult, b: TrialResult) -> bool:
    """Whether two trials' out-of-fold predictions are copies for ensembling purposes (a
    search creeping along a bound of its space yields dozens): one of them is enough."""
    if a.learner != b.learner or a.oof is None or b.oof is None:
        return False
    x, y = np.asarray(a.oof, dtype=float), np.asarray(b.oof, dtype=float)
    if x.shape != y.shape:
        return False
    return float(np.max(np.abs(x - y))) <= SAME_PREDICTIONS * (float(np.std(x)) + 1e-12)
