"""Azure ML sampling algorithms and early-termination policies as Optuna samplers and pruners.

==========================  =====================================================
Azure ML                    Optuna
==========================  =====================================================
random                      ``RandomSampler(seed)``
random + rule: sobol, sobol ``QMCSampler(qmc_type="sobol", seed)``
grid                        every point ``study.enqueue_trial``-ed, in order
bayesian                    ``TPESampler(seed)``
median_stopping             ``MedianPruner(n_warmup_steps=delay, interval_steps=interval)``
truncation_selection (p%)   ``PercentilePruner(100 - p, ...)``: keep the best (100-p)%
bandit                      ``BanditPruner`` (below): Optuna has no bandit policy
==========================  =====================================================

Steps are the ``step`` values a trial logs its primary metric with; ``evaluation_interval``
and ``delay_evaluation`` count them, as Azure counts metric reports.
"""

from __future__ import annotations

import functools
import math
import warnings
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import optuna

    from modelworks.specs.jobs import EarlyTerminationSpec, SamplingAlgorithmSpec
    from modelworks.sweep.space import SearchSpace

__all__ = ["bandit_pruner_class", "make_pruner", "make_sampler"]


def make_sampler(
    algorithm: SamplingAlgorithmSpec, space: SearchSpace
) -> optuna.samplers.BaseSampler:
    import optuna

    seed = algorithm.seed
    if algorithm.type == "grid":
        # Every grid point is enqueued by the driver (study.enqueue_trial): Optuna's
        # GridSampler stops the study from inside tell(), which only optimize() allows.
        space.grid()
        return optuna.samplers.RandomSampler(seed=seed)
    if algorithm.type == "sobol" or algorithm.rule == "sobol":
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            return optuna.samplers.QMCSampler(qmc_type="sobol", seed=seed, scramble=True)
    if algorithm.type == "bayesian":
        return optuna.samplers.TPESampler(seed=seed)
    return optuna.samplers.RandomSampler(seed=seed)


def _should_check(step: int, delay: int, interval: int) -> bool:
    return step >= delay and (step - delay) % max(1, interval) == 0


@functools.cache
def _bandit_class() -> type[Any]:
    """The pruner class, made on first use so that importing this module needs no Optuna."""
    import optuna

    class BanditPruner(optuna.pruners.BasePruner):
        """Azure ML's bandit policy on Optuna's pruner interface.

        At each evaluated step, a trial is pruned when its value is worse than the best value
        any other trial reported at that step by more than the slack: ``best / (1 +
        slack_factor)`` (maximize) or ``best * (1 + slack_factor)`` (minimize), or
        ``best ∓ slack_amount``.
        """

        def __init__(
            self,
            *,
            slack_factor: float | None = None,
            slack_amount: float | None = None,
            evaluation_interval: int = 1,
            delay_evaluation: int = 0,
        ) -> None:
            self.slack_factor = slack_factor
            self.slack_amount = slack_amount
            self.evaluation_interval = evaluation_interval
            self.delay_evaluation = delay_evaluation

        def prune(self, study: optuna.study.Study, trial: optuna.trial.FrozenTrial) -> bool:
            step = trial.last_step
            if step is None or not _should_check(
                step, self.delay_evaluation, self.evaluation_interval
            ):
                return False
            value = trial.intermediate_values[step]
            if math.isnan(value):
                return True
            others = [
                t.intermediate_values[step]
                for t in study.get_trials(deepcopy=False)
                if t.number != trial.number and step in t.intermediate_values
            ]
            others = [v for v in others if not math.isnan(v)]
            if not others:
                return False
            maximize = study.direction == optuna.study.StudyDirection.MAXIMIZE
            best = max(others) if maximize else min(others)
            if self.slack_amount is not None:
                limit = best - self.slack_amount if maximize else best + self.slack_amount
            else:
                factor = 1 + (self.slack_factor or 0.0)
                limit = best / factor if maximize else best * factor
            return value < limit if maximize else value > limit

    return BanditPruner


def bandit_pruner_class() -> type[Any]:
    """``BanditPruner``: Azure ML's bandit policy as an Optuna pruner (imports Optuna)."""
    return _bandit_class()


def make_pruner(policy: EarlyTerminationSpec | None) -> optuna.pruners.BasePruner:
    import optuna

    if policy is None:
        return optuna.pruners.NopPruner()
    interval = max(1, policy.evaluation_interval)
    delay = policy.delay_evaluation
    if policy.type == "bandit":
        pruner: optuna.pruners.BasePruner = _bandit_class()(
            slack_factor=policy.slack_factor,
            slack_amount=policy.slack_amount,
            evaluation_interval=interval,
            delay_evaluation=delay,
        )
        return pruner
    if policy.type == "median_stopping":
        return optuna.pruners.MedianPruner(
            n_startup_trials=1, n_warmup_steps=delay, interval_steps=interval
        )
    assert policy.truncation_percentage is not None
    return optuna.pruners.PercentilePruner(
        100.0 - policy.truncation_percentage,
        n_startup_trials=1,
        n_warmup_steps=delay,
        interval_steps=interval,
    )
