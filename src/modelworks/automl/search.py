"""The search loop: portfolio first, then Optuna per learner, under a strict time budget.

An ask → evaluate → tell loop over a :class:`~modelworks.automl._executor.TrialExecutor`:

1. The portfolio's configurations run first (each only if its estimated cost fits the time
   left; on large data a configuration that would not fit runs on a subsample of each
   fold's training rows instead).
2. Then each free worker gets a trial of the learner with the best priority — how close its
   best loss is to the overall best, discounted by how expensive it is (an a-priori cost
   model, so one worker with one seed gives the same sequence every time) and boosted while
   it has few trials — with parameters from that learner's Optuna TPE study, which was seeded
   with the portfolio's results.
3. Trials whose first folds are already clearly worse than the best trial on the same folds
   are stopped (early termination). Every trial gets a deadline: the end of the search, or
   its own ``trial_timeout``; past it the executor kills the worker.

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

__all__ = ["Search", "SearchCallback", "SearchLimits"]

_DEFAULT_SECONDS_PER_UNIT = 6e-9
_SUBSAMPLE_MIN_ROWS = 10000
HOPELESS_GAP = 3.0


class SearchCallback(Protocol):
    """Told about each trial as it starts and ends (progress display, run tracking)."""

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
        space_context: FitContext | None = None,
        learner_table: dict[str, Learner] | None = None,
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
        self.table = learner_table or LEARNERS
        n_train = len(data.folds[0][0]) if data.folds else len(data.y)
        self.ctx = space_context or FitContext(
            task=data.task,
            n_classes=data.n_classes,
            n_rows=n_train,
            n_features=max(1, n_features),
            seed=seed,
        )
        self.results: list[TrialResult] = []
        self.skipped: list[tuple[str, dict[str, Any], str]] = []
        self._studies: dict[str, Any] = {}
        self._asked: dict[int, Any] = {}
        self._seen: dict[tuple[str, str], TrialResult] = {}
        self._units: dict[int, float] = {}
        self._number = 0
        self._calibration: dict[str, list[float]] = {}
        self.best: TrialResult | None = None
        self.stop_reason = ""

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

    def _fit_fraction(self, learner: Learner, params: dict[str, Any], now: float) -> float | None:
        """1.0 if a full trial fits in the time left, a subsample fraction on large data, or
        None when even that would not fit."""
        if self.limits.max_trials is not None and not self._calibration:
            return 1.0  # nothing measured yet: run it (the deadline still applies)
        left = self.limits.end - now
        allowance = left * 0.9
        cost = self._estimate(learner, params, 1.0)
        if cost <= allowance or (not self.results and not self.executor.running()):
            return 1.0
        fraction = 1.0
        while fraction > 0.05 and self.ctx.n_rows * fraction / 2 >= _SUBSAMPLE_MIN_ROWS:
            fraction /= 2
            if self._estimate(learner, params, fraction) <= allowance:
                return fraction
        return None

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

    def _ask(self, name: str, fixed: dict[str, Any] | None) -> tuple[Any, dict[str, Any]]:
        import warnings

        study = self._study(name)
        if fixed is not None:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                study.enqueue_trial(fixed)
        for attempt in range(6):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                trial = study.ask()
                params = self.learners[name].space(trial, self.ctx)
            seen = self._seen.get((name, repr(sorted(params.items()))))
            if fixed is not None or seen is None or attempt == 5:
                break
            # TPE proposed a configuration already tried: answer from memory, ask again
            study.tell(
                trial,
                seen.loss if seen.status == "completed" else None,
                state=None if seen.status == "completed" else _fail_state(),
            )
        self._seen.setdefault((name, repr(sorted(params.items()))), None)  # type: ignore[arg-type]
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
    def _priority(self, name: str) -> float:
        mine = [r for r in self.results if r.learner == name]
        done = [r for r in mine if r.status == "completed"]
        if not done or self.best is None:
            return math.inf
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
        since, best_so_far = 0, math.inf
        for r in mine:
            if r.status == "completed" and r.loss < best_so_far - 1e-12:
                best_so_far, since = r.loss, 0
            else:
                since += 1
        return gap + 0.25 * cost - explore + 0.25 * min(since, 8)

    def _next(self, now: float) -> TrialSpec | None:
        while self.queue:
            name, params = self.queue.pop(0)
            learner = self.learners[name]
            fraction = self._fit_fraction(learner, params, now)
            if fraction is None:
                self.skipped.append((name, params, "estimated to take longer than the time left"))
                continue
            trial, suggested = self._ask(name, params)
            return self._spec(name, suggested, trial, fraction, "portfolio", now)
        ranked = sorted(
            (p, i, n) for i, n in enumerate(self.learners) if math.isfinite(p := self._priority(n))
        )
        for _, _, name in ranked:
            trial, params = self._ask(name, None)
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
            trial, params = self._ask(name, None)
            fraction = 1.0
            while self.ctx.n_rows * fraction / 2 >= _SUBSAMPLE_MIN_ROWS:
                fraction /= 2
            return self._spec(name, params, trial, fraction, "search", now)
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
        if (
            self.limits.early_termination
            and source == "search"
            and self.best is not None
            and self.best.sample_fraction == fraction
            and len(self.data.folds) >= 3
        ):
            prune = list(self.best.fold_losses)
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

    def run(self) -> list[TrialResult]:
        """Run trials until the time, the trial count or the exit score says stop."""
        submitted = 0
        closing = False
        while True:
            now = time.time()
            if not closing:
                first_pending = submitted == 0 and now < (self.limits.hard_end or 0.0)
                if now >= self.limits.end and not first_pending:
                    closing, self.stop_reason = True, "time budget reached"
                elif self.limits.max_trials is not None and submitted >= self.limits.max_trials:
                    closing, self.stop_reason = True, "max_trials reached"
                elif self._exit_reached():
                    closing, self.stop_reason = True, "exit_score reached"
            while not closing and self.executor.idle() > 0:
                if self.limits.max_trials is not None and submitted >= self.limits.max_trials:
                    break
                spec = self._next(time.time())
                if spec is None:
                    if not self.executor.running():
                        closing, self.stop_reason = True, "no configuration left to try"
                    break
                for callback in self.callbacks:
                    callback.on_trial_start(spec)
                self.executor.submit(spec)
                submitted += 1
            if closing and not self.executor.running():
                break
            wait_for = max(0.0, min(0.25, self.limits.end - time.time())) if not closing else 0.25
            for result in self.executor.wait(wait_for):
                self._record(result)
        return self.results


def _fail_state() -> Any:
    import optuna

    return optuna.trial.TrialState.FAIL


def completed(results: list[TrialResult]) -> list[TrialResult]:
    """Completed trials, best first (ties broken by trial number)."""
    return sorted((r for r in results if r.status == "completed"), key=lambda r: (r.loss, r.number))


Loss = Callable[[np.ndarray], float]
