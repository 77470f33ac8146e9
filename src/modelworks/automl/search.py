"""The search loop: portfolio first, then Optuna per learner, under a strict time budget.

An ask → evaluate → tell loop over a :class:`~modelworks.automl._executor.TrialExecutor`:

1. The portfolio's configurations run first (each only if its estimated cost fits in
   ``PORTFOLIO_SHARE`` of the time left; on large data a configuration that would not fit runs on a subsample of each
   fold's training rows instead).
2. Then each free worker gets a trial of the learner with the best priority — how close its
   best loss is to the overall best, discounted by how expensive it is (an a-priori cost
   model, so one worker with one seed gives the same sequence every time) and boosted while
   it has few trials — with parameters from that learner's Optuna TPE study, which was seeded
   with the portfolio's results.
3. Trials whose first folds are already clearly worse than the best trial on the same folds
   are stopped (early termination). Every trial gets a deadline: the end of the search, or
   its own ``trial_timeout``; past it the executor kills the worker.

With ``synchronous`` (forecasting), trials are asked one batch per round of workers and told
in trial order once the whole batch is in, so which worker finishes first cannot change what
is tried next: the same seed gives the same leaderboard with any number of workers.

Measured durations only calibrate the cost model that decides what still fits in the time
left, so they change the order of trials only when the budget binds.
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Callable
from typing import Any, Protocol

import numpy as np

from modelworks.automl._trial import TrialData, TrialResult, TrialSpec
from modelworks.automl.learners import LEARNERS, FitContext, Learner
from modelworks.automl.metrics import Metric
from modelworks.errors import ModelworksError

__all__ = ["Search", "SearchCallback", "SearchCanceled", "SearchLimits"]

_DEFAULT_SECONDS_PER_UNIT = 6e-9
_SUBSAMPLE_MIN_ROWS = 10000
_FIRST_TRIAL_MIN_ROWS = 2500
HOPELESS_GAP = 3.0
FIRST_TRIAL_PESSIMISM = 20.0
"""How much longer than the a-priori estimate the first trial is planned to take."""
PORTFOLIO_SHARE = 0.3
"""After the first trial, one portfolio configuration may take at most this share of the
time left (else it runs on a subsample, or is skipped): on a mid-size table a forest or an
MLP can take half the budget and rarely earns a place in the ensemble, while the boosting
configurations it displaces do."""
STAGNANT_TRIALS = 20
"""A learner whose best loss has not improved (by ``IMPROVEMENT``) in this many trials has
converged; once all the promising ones have, the learners judged hopeless get trials too:
on small tables the budget allows hundreds of trials, and the ensemble gains more from a
tuned second learner than from the leader's thousandth near-copy."""
IMPROVEMENT = 1e-3
"""The relative gain in loss that counts as progress."""
ASK_ATTEMPTS = 6
"""Proposals of already-tried configurations in a row after which a learner's space counts
as exhausted."""
WORKERS_LATE_S = 3.0
WORKERS_LATE_SHARE = 0.3
"""With no worker up after this share of the search time, the first trial runs in-process."""


class SearchCanceled(ModelworksError):
    """A callback's ``should_stop()`` asked the search to stop (a canceled AutoML job)."""

    status_code = 409
    code = "AUTOML_CANCELED"


class SearchCallback(Protocol):
    """Told about each trial as it starts and ends (progress display, run tracking).

    A callback may also have ``should_stop() -> bool``: when it answers True the search stops
    at once (running trials are killed) and raises :class:`SearchCanceled`."""

    def on_trial_start(self, spec: TrialSpec) -> None: ...

    def on_trial_end(self, result: TrialResult, best: TrialResult | None) -> None: ...


@dataclasses.dataclass
class SearchLimits:
    """When to stop: ``end`` (absolute ``time.time()`` by which trials must be done),
    ``max_trials``, ``trial_timeout`` (seconds), ``exit_score`` (stop once reached)."""

    end: float
    max_trials: int | None = None
    trial_timeout: float | None = None
    exit_score: float | None = None
    early_termination: bool = True
    hard_end: float | None = None
    """Until when the first trial may run while no trial has completed yet (so even a tiny
    budget returns a model); later trials stop at ``end``."""


class Search:
    """Runs trials for ``learners`` on ``data`` through ``executor`` within ``limits``."""

    def __init__(
        self,
        data: TrialData,
        *,
        metric: Metric,
        learners: list[Learner],
        portfolio: list[tuple[str, dict[str, Any]]],
        executor: Any,
        limits: SearchLimits,
        seed: int = 0,
        n_features: int = 1,
        callbacks: list[SearchCallback] | None = None,
        spec_kind: str = "tabular",
        stop_when_converged: bool = False,
        space_context: FitContext | None = None,
        learner_table: dict[str, Learner] | None = None,
        synchronous: bool = False,
    ) -> None:
        self.data = data
        self.metric = metric
        self.learners = {lr.name: lr for lr in learners}
        self.queue = [(n, p) for n, p in portfolio if n in self.learners]
        self.executor = executor
        self.limits = limits
        self.seed = seed
        self.callbacks = callbacks or []
        self.spec_kind = spec_kind
        self.stop_when_converged = stop_when_converged
        self.table = learner_table or LEARNERS
        self.synchronous = synchronous
        n_train = len(data.folds[0][0]) if data.folds else len(data.y)
        self.ctx = space_context or FitContext(
            task=data.task,
            n_classes=data.n_classes,
            n_rows=n_train,
            n_features=max(1, n_features),
            seed=seed,
            log_target=bool(getattr(data, "extra", {}).get("log_target")),
        )
        self.results: list[TrialResult] = []
        self.skipped: list[tuple[str, dict[str, Any], str]] = []
        self._studies: dict[str, Any] = {}
        self._asked: dict[int, Any] = {}
        self._seen: dict[tuple[str, str], TrialResult | None] = {}  # None: still running
        self._exhausted: set[str] = set()
        self._units: dict[int, float] = {}
        self._number = 0
        self._calibration: dict[str, list[float]] = {}
        self.best: TrialResult | None = None
        self.stop_reason = ""
        #: Why :meth:`_next` last found nothing to run (the stop reason when nothing runs).
        self._idle_reason = "no configuration left to try"
        self._local: Any = None  # the thread of a trial run in this process
        self._local_done: list[TrialResult] = []
        self._revived = False
        self._progress: dict[str, tuple[float, int]] = {}  # learner: (best loss, since)
        self._pending: list[TrialResult] = []  # synchronous: finished, not yet recorded
        self._batch: list[TrialSpec] = []  # synchronous: planned, not yet started

    # -- cost model -------------------------------------------------------------------------
    def _seconds_per_unit(self, learner: str) -> float:
        own = self._calibration.get(learner)
        if own:
            return float(np.median(own))
        every = [v for values in self._calibration.values() for v in values]
        return float(np.median(every)) if every else _DEFAULT_SECONDS_PER_UNIT

    def _estimate(self, learner: Learner, params: dict[str, Any], fraction: float) -> float:
        ctx = dataclasses.replace(self.ctx, n_rows=max(1, int(self.ctx.n_rows * fraction)))
        units = learner.units(params, ctx) * max(1, len(self.data.folds))
        return units * self._seconds_per_unit(learner.name)

    def _fit_fraction(
        self, learner: Learner, params: dict[str, Any], now: float, *, share: float = 0.9
    ) -> float | None:
        """1.0 if a full trial fits in ``share`` of the time left, a subsample fraction on
        large data, or None when even that would not fit."""
        if self.limits.max_trials is not None and not self._calibration:
            return 1.0  # nothing measured yet: run it (the deadline still applies)
        left = self.limits.end - now
        allowance = left * share
        # The first trial must complete for there to be a model at all, and nothing has been
        # measured yet (the a-priori cost is off by up to an order of magnitude on a busy
        # machine): it plans pessimistically, on a subsample of a large table if need be.
        first = not self.results and not self._busy()
        pessimism = FIRST_TRIAL_PESSIMISM if first and not self._calibration else 1.0
        cost = self._estimate(learner, params, 1.0) * pessimism
        if cost <= allowance:
            return 1.0
        fraction = 1.0
        smallest = _FIRST_TRIAL_MIN_ROWS if first else _SUBSAMPLE_MIN_ROWS
        while fraction > 0.05 and self.ctx.n_rows * fraction / 2 >= smallest:
            fraction /= 2
            if self._estimate(learner, params, fraction) * pessimism <= allowance:
                return fraction
        return fraction if first else None

    # -- Optuna -------------------------------------------------------------------------------
    def _study(self, name: str) -> Any:
        study = self._studies.get(name)
        if study is None:
            import optuna

            optuna.logging.set_verbosity(optuna.logging.WARNING)
            index = list(self.table).index(name) if name in self.table else 0
            sampler = optuna.samplers.TPESampler(
                seed=self.seed * 1000 + index,
                n_startup_trials=4,
                multivariate=True,
            )
            study = optuna.create_study(direction="minimize", sampler=sampler)
            self._studies[name] = study
        return study

    def _ask(self, name: str, fixed: dict[str, Any] | None) -> tuple[Any, dict[str, Any]] | None:
        """The next configuration of this learner, or None when TPE keeps proposing ones
        already tried (a small discrete space, such as ARIMA orders, is exhausted): the
        learner is then left out, rather than refitting a copy whose result is known."""
        import warnings

        study = self._study(name)
        if fixed is not None:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                study.enqueue_trial(fixed)
        for _ in range(ASK_ATTEMPTS):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                trial = study.ask()
                params = self.learners[name].space(trial, self.ctx)
                if self.ctx.log_target:
                    params["target"] = trial.suggest_categorical("target", ["identity", "log"])
            key = (name, repr(sorted(params.items())))
            if fixed is not None or key not in self._seen:
                break
            # TPE proposed a configuration already tried: answer from memory, ask again
            seen = self._seen[key]
            if seen is not None and seen.status == "completed":
                study.tell(trial, seen.loss)
            else:  # failed, or still running
                study.tell(trial, state=_fail_state())
        else:
            self._exhausted.add(name)
            return None
        if fixed is not None:  # keys outside the search space (e.g. fixed boosting rounds)
            params = {**params, **{k: v for k, v in fixed.items() if k not in params}}
        self._seen.setdefault((name, repr(sorted(params.items()))), None)
        return trial, params

    def _tell(self, result: TrialResult) -> None:
        import optuna

        self._seen[(result.learner, repr(sorted(result.params.items())))] = result
        trial = self._asked.pop(result.number, None)
        if trial is None:
            return
        study = self._studies[result.learner]
        if result.status == "completed":
            study.tell(trial, result.loss)
        elif result.status == "pruned":
            for step, value in enumerate(result.fold_losses):
                trial.report(value, step)
            study.tell(trial, state=optuna.trial.TrialState.PRUNED)
        else:
            study.tell(trial, state=optuna.trial.TrialState.FAIL)

    # -- choosing the next trial ----------------------------------------------------------------
    def _since_improved(self, name: str) -> int:
        """Trials of this learner since its best loss last improved by more than
        ``IMPROVEMENT`` (relative): creeping along a bound of the space is not progress."""
        return self._progress.get(name, (math.inf, 0))[1]

    def _learner_best(self, name: str) -> TrialResult | None:
        return min(
            (r for r in self.results if r.learner == name and r.status == "completed"),
            key=lambda r: r.loss,
            default=None,
        )

    def _converged(self) -> bool:
        """Every learner still worth searching has gone ``STAGNANT_TRIALS`` trials without
        progress (or has run out of configurations): the rest of the budget is better spent
        on the others (ensemble members)."""
        open_ = [n for n in self.learners if math.isfinite(self._priority(n, revive=False))]
        return all(self._since_improved(n) >= STAGNANT_TRIALS for n in open_)

    def _priority(self, name: str, *, revive: bool = False) -> float:
        mine = [r for r in self.results if r.learner == name]
        done = [r for r in mine if r.status == "completed"]
        if not done or self.best is None or name in self._exhausted:
            return math.inf
        if revive:
            # the search has converged: least time spent first, so every learner gets
            # refined and a slow one (ARIMA) does not take the budget from the cheap ones
            spent = sum(r.duration for r in mine)
            if self._since_improved(name) >= STAGNANT_TRIALS:
                return math.inf if len(mine) > 2 * STAGNANT_TRIALS else 1e6 + spent
            return spent
        best = min(r.loss for r in done)
        scale = max(abs(self.best.loss) * 0.05, 1e-4)
        gap = (best - self.best.loss) / scale
        units = float(np.median([self._units.get(r.number, 1.0) for r in done]))
        cheapest = min(
            (self._units.get(r.number, 1.0) for r in self.results if r.status == "completed"),
            default=units,
        )
        cost = math.log2(max(units, 1.0) / max(cheapest, 1.0))
        if gap > HOPELESS_GAP:
            return math.inf  # more than 15% worse than the best: not worth more trials
        explore = 1.0 / math.sqrt(len(mine))
        # trials since this learner last improved: spread the effort once it stagnates
        since = self._since_improved(name)
        return gap + 0.25 * cost - explore + 0.25 * since

    def _next(self, now: float) -> TrialSpec | None:
        while self.queue:
            name, params = self.queue.pop(0)
            learner = self.learners[name]
            share = PORTFOLIO_SHARE if self.results else 0.9
            fraction = self._fit_fraction(learner, params, now, share=share)
            if fraction is None:
                self.skipped.append(
                    (name, params, f"estimated to take more than {share:.0%} of the time left")
                )
                continue
            asked = self._ask(name, params)
            assert asked is not None  # a fixed configuration is always asked
            return self._spec(name, asked[1], asked[0], fraction, "portfolio", now)
        revive = self._revived = self._converged()
        ranked = sorted(
            (p, i, n)
            for i, n in enumerate(self.learners)
            if math.isfinite(p := self._priority(n, revive=revive))
        )
        if revive and not ranked and not self.stop_when_converged:
            # every learner has converged: back to the best ones
            ranked = sorted(
                (p, i, n)
                for i, n in enumerate(self.learners)
                if math.isfinite(p := self._priority(n))
            )
        for _, _, name in ranked:
            asked = self._ask(name, None)
            if asked is None:  # just found exhausted: that can change the whole ranking
                return self._next(now)
            trial, params = asked
            fraction = self._fit_fraction(self.learners[name], params, now)
            if fraction is None:
                import optuna

                self._studies[name].tell(trial, state=optuna.trial.TrialState.FAIL)
                continue
            return self._spec(name, params, trial, fraction, "search", now)
        if ranked and self.limits.end - now > 1.0:
            # Nothing is estimated to fit: rather than idle, try the best learner on the
            # smallest sample; its deadline still stops it in time.
            name = ranked[0][2]
            asked = self._ask(name, None)
            if asked is None:
                return self._next(now)
            trial, params = asked
            fraction = 1.0
            while self.ctx.n_rows * fraction / 2 >= _SUBSAMPLE_MIN_ROWS:
                fraction /= 2
            return self._spec(name, params, trial, fraction, "search", now)
        if ranked:
            self._idle_reason = "time budget reached"  # too little time left for any trial
        elif revive and self.stop_when_converged and set(self.learners) - self._exhausted:
            self._idle_reason = "every learner has converged"
        else:
            self._idle_reason = "no configuration left to try"
        return None

    def _spec(
        self,
        name: str,
        params: dict[str, Any],
        trial: Any,
        fraction: float,
        source: str,
        now: float,
    ) -> TrialSpec:
        number = self._number
        self._number += 1
        self._asked[number] = trial
        ctx = dataclasses.replace(self.ctx, n_rows=max(1, int(self.ctx.n_rows * fraction)))
        self._units[number] = self.learners[name].units(params, ctx) * max(1, len(self.data.folds))
        deadline = self.limits.end
        if number == 0 and self.limits.hard_end is not None:
            deadline = max(deadline, self.limits.hard_end)
        if self.limits.trial_timeout:
            deadline = min(deadline, now + self.limits.trial_timeout)
        prune = None
        # the reference is the best trial, or once the search has converged (and the
        # learners judged hopeless get their turn) the best trial of this learner
        reference = self._learner_best(name) if self._revived else self.best
        if (
            self.limits.early_termination
            and source == "search"
            and reference is not None
            and reference.sample_fraction == fraction
            and len(self.data.folds) >= 3
        ):
            prune = list(reference.fold_losses)
        return TrialSpec(
            number=number,
            learner=name,
            params=params,
            deadline=deadline,
            sample_fraction=fraction,
            prune_losses=prune,
            source=source,
            kind=self.spec_kind,
        )

    # -- the loop ---------------------------------------------------------------------------------
    def _record(self, result: TrialResult) -> None:
        self._tell(result)
        self.results.append(result)
        best_so_far, since = self._progress.get(result.learner, (math.inf, 0))
        done = result.status == "completed"
        improved = done and result.loss < best_so_far - _min_gain(best_so_far)
        self._progress[result.learner] = (
            min(best_so_far, result.loss) if done else best_so_far,
            0 if improved else since + 1,
        )
        units = self._units.get(result.number)
        fit_seconds = result.duration - float(result.extra.get("featurize_seconds", 0.0))
        if result.status == "completed" and units and fit_seconds > 0:
            self._calibration.setdefault(result.learner, []).append(fit_seconds / units)
        if result.status == "completed" and (self.best is None or result.loss < self.best.loss):
            self.best = result
        for callback in self.callbacks:
            callback.on_trial_end(result, self.best)

    def _exit_reached(self) -> bool:
        if self.limits.exit_score is None or self.best is None:
            return False
        score = self.metric.from_loss(self.best.loss)
        target = self.limits.exit_score
        return score >= target if self.metric.greater_is_better else score <= target

    def _stop_requested(self) -> bool:
        return any(
            bool(getattr(callback, "should_stop", lambda: False)()) for callback in self.callbacks
        )

    def _workers_late(self, began: float) -> bool:
        """No worker process has started yet and a good part of the time is gone (a busy
        machine: imports alone can take many seconds)."""
        if self.executor.idle() > 0 or self._busy():
            return False
        waited = time.time() - began
        return waited > max(WORKERS_LATE_S, WORKERS_LATE_SHARE * (self.limits.end - began))

    def _run_here(self, spec: TrialSpec) -> None:
        """Run the first trial in a thread of this process (its learner stops at its
        deadline; native learners release the GIL), so a run whose workers start late still
        ends with a model while the workers that come up take the next trials."""
        import threading

        from modelworks.automl._trial import FoldCache
        from modelworks.automl._worker import run_one

        for callback in self.callbacks:
            callback.on_trial_start(spec)

        def work() -> None:
            self._local_done.append(run_one(self.data, spec, FoldCache()))

        self._local = threading.Thread(target=work, name="automl-first-trial", daemon=True)
        self._local.start()

    def _local_results(self) -> list[TrialResult]:
        if self._local is None or self._local.is_alive():
            return []
        self._local = None
        done, self._local_done = self._local_done, []
        return done

    def _slots(self) -> int:
        """Trials that may start now: ``capacity`` at once, a trial in this process included."""
        running = len(self.executor.running()) + (self._local is not None)
        return int(getattr(self.executor, "capacity", 1)) - running

    def _busy(self) -> bool:
        """Trials still running, in worker processes or in this process."""
        return bool(self.executor.running()) or self._local is not None

    def _plan(self, now: float, submitted: int) -> list[TrialSpec]:
        """The next batch (synchronous mode): one trial per worker, all asked from the same
        recorded results, so neither worker timing nor completion order changes them."""
        size = int(getattr(self.executor, "capacity", 1))
        if self.limits.max_trials is not None:
            size = min(size, self.limits.max_trials - submitted)
        batch: list[TrialSpec] = []
        for _ in range(size):
            spec = self._next(now)
            if spec is None:
                break
            batch.append(spec)
        return batch

    def run(self) -> list[TrialResult]:
        """Run trials until the time, the trial count or the exit score says stop."""
        submitted = 0
        closing = False
        began = time.time()
        while True:
            if self._stop_requested():
                self.stop_reason = "canceled"
                raise SearchCanceled(
                    f"AutoML was canceled after {len(self.results)} finished trial(s)."
                )
            now = time.time()
            if not closing:
                first_pending = submitted == 0 and now < (self.limits.hard_end or 0.0)
                if now >= self.limits.end and not first_pending:
                    closing, self.stop_reason = True, "time budget reached"
                elif self.limits.max_trials is not None and submitted >= self.limits.max_trials:
                    closing, self.stop_reason = True, "max_trials reached"
                elif self._exit_reached():
                    closing, self.stop_reason = True, "exit_score reached"
            if not closing and submitted == 0 and self._workers_late(began):
                spec = self._next(time.time())
                if spec is not None:
                    self._run_here(spec)
                    submitted += 1
                    continue
            while not closing and self.executor.idle() > 0 and self._slots() > 0:
                if self.limits.max_trials is not None and submitted >= self.limits.max_trials:
                    break
                if self.synchronous:
                    if not self._batch:
                        if self._busy():
                            break  # the batch is still running
                        self._batch = self._plan(time.time(), submitted)
                    spec = self._batch.pop(0) if self._batch else None
                else:
                    spec = self._next(time.time())
                if spec is None:
                    if not self._busy():
                        closing, self.stop_reason = True, self._idle_reason
                    break
                for callback in self.callbacks:
                    callback.on_trial_start(spec)
                self.executor.submit(spec)
                submitted += 1
            if closing and not self._busy():
                break
            wait_for = max(0.0, min(0.25, self.limits.end - time.time())) if not closing else 0.25
            finished = [*self.executor.wait(wait_for), *self._local_results()]
            if self.synchronous:
                # a batch is told in trial-number order once all of it is in, so what the next
                # batch is asked from does not depend on which worker finished first
                self._pending.extend(finished)
                if self._busy():
                    continue
                finished, self._pending = sorted(self._pending, key=lambda r: r.number), []
            for result in finished:
                self._record(result)
        return self.results


def _min_gain(loss: float) -> float:
    return 0.0 if not math.isfinite(loss) else max(abs(loss) * IMPROVEMENT, 1e-12)


def _fail_state() -> Any:
    import optuna

    return optuna.trial.TrialState.FAIL


def completed(results: list[TrialResult]) -> list[TrialResult]:
    """Completed trials, best first (ties broken by trial number)."""
    return sorted((r for r in results if r.status == "completed"), key=lambda r: (r.loss, r.number))


Loss = Callable[[np.ndarray], float]
