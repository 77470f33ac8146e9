"""Search spaces → Optuna distributions, and policies → Optuna samplers and pruners."""

from __future__ import annotations

import math

import optuna
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from modelworks.errors import SpecError
from modelworks.specs.jobs import EarlyTerminationSpec, SamplingAlgorithmSpec, SearchSpaceSpec
from modelworks.sweep.policies import bandit_pruner_class, make_pruner, make_sampler
from modelworks.sweep.space import SearchSpace


def _space(**entries: dict[str, object]) -> SearchSpace:
    return SearchSpace({k: SearchSpaceSpec.model_validate(v) for k, v in entries.items()})


@settings(max_examples=60, deadline=None)
@given(
    low=st.floats(min_value=-5, max_value=5),
    width=st.floats(min_value=0.01, max_value=5),
    u=st.floats(min_value=0, max_value=1),
)
def test_sampled_values_stay_in_bounds(low: float, width: float, u: float) -> None:
    high = low + width
    space = _space(
        a={"type": "uniform", "min_value": low, "max_value": high},
        b={"type": "loguniform", "min_value": low, "max_value": high},
        c={"type": "quniform", "min_value": low, "max_value": high + 1, "q": 0.5},
        d={"type": "randint", "upper": 7},
    )
    dists = space.distributions
    raw = {}
    for name, dist in dists.items():
        if isinstance(dist, optuna.distributions.FloatDistribution):
            raw[name] = dist.low + u * (dist.high - dist.low)
        else:
            raw[name] = dist.low + round(u * (dist.high - dist.low))
    values = space.values(raw)
    assert low <= values["a"] <= high
    assert math.exp(low) * (1 - 1e-9) <= values["b"] <= math.exp(high) * (1 + 1e-9)
    assert values["c"] / 0.5 == pytest.approx(round(values["c"] / 0.5))
    assert low - 1e-9 <= values["c"] <= high + 1 + 1e-9
    assert values["d"] in range(7)


def test_normal_family_maps_quantiles() -> None:
    space = _space(
        n={"type": "normal", "mu": 10, "sigma": 2},
        ln={"type": "lognormal", "mu": 0, "sigma": 1},
        qn={"type": "qnormal", "mu": 10, "sigma": 2, "q": 1},
        qln={"type": "qlognormal", "mu": 2, "sigma": 0.5, "q": 2},
    )
    median = space.values({"n": 0.5, "ln": 0.5, "qn": 0.5, "qln": 0.5})
    assert median == {"n": pytest.approx(10), "ln": pytest.approx(1), "qn": 10, "qln": 8}
    assert space.values({"n": 0.8413, "ln": 0.5, "qn": 0.5, "qln": 0.5})["n"] == pytest.approx(
        12, abs=0.01
    )


def test_grid_and_sampler_choice() -> None:
    space = _space(
        a={"type": "choice", "values": [1, 2, 3]}, b={"type": "choice", "values": ["x", "y"]}
    )
    assert space.grid_size() == 6
    for kind, cls in (
        ("grid", optuna.samplers.RandomSampler),  # the driver enqueues every grid point
        ("random", optuna.samplers.RandomSampler),
        ("sobol", optuna.samplers.QMCSampler),
        ("bayesian", optuna.samplers.TPESampler),
    ):
        assert isinstance(make_sampler(SamplingAlgorithmSpec(type=kind, seed=1), space), cls)
    with pytest.raises(SpecError, match="grid sampling needs choice"):
        _space(a={"type": "uniform", "min_value": 0, "max_value": 1}).grid()
    with pytest.raises(SpecError, match="no multiple of q=5"):
        _space(a={"type": "quniform", "min_value": 1, "max_value": 2, "q": 5})


def _study(pruner: optuna.pruners.BasePruner, direction: str = "maximize") -> optuna.Study:
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    return optuna.create_study(direction=direction, pruner=pruner)


@pytest.mark.parametrize(
    ("direction", "best", "value", "pruned"),
    [
        ("maximize", 1.0, 0.95, False),
        ("maximize", 1.0, 0.85, True),
        ("minimize", 1.0, 1.05, False),
        ("minimize", 1.0, 1.2, True),
    ],
)
def test_bandit_prunes_outside_the_slack(
    direction: str, best: float, value: float, pruned: bool
) -> None:
    pruner = make_pruner(EarlyTerminationSpec(type="bandit", slack_factor=0.1))
    assert isinstance(pruner, bandit_pruner_class())
    study = _study(pruner, direction)
    leader = study.ask()
    leader.report(best, 0)
    other = study.ask()
    other.report(value, 0)
    assert other.should_prune() is pruned


def test_bandit_delay_and_interval_and_amount() -> None:
    pruner = make_pruner(
        EarlyTerminationSpec(
            type="bandit", slack_amount=0.2, delay_evaluation=2, evaluation_interval=2
        )
    )
    study = _study(pruner)
    leader, other = study.ask(), study.ask()
    for step in range(5):
        leader.report(1.0, step)
        other.report(0.5, step)
        assert other.should_prune() is (step in (2, 4))


def test_median_and_truncation_map_to_optuna_pruners() -> None:
    median = make_pruner(EarlyTerminationSpec(type="median_stopping", delay_evaluation=3))
    assert isinstance(median, optuna.pruners.MedianPruner)
    truncation = make_pruner(
        EarlyTerminationSpec(type="truncation_selection", truncation_percentage=20)
    )
    assert isinstance(truncation, optuna.pruners.PercentilePruner)
    assert truncation._percentile == 80.0
    study = _study(truncation)
    for value in (1.0, 2.0, 3.0, 4.0, 5.0):
        done = study.ask()
        done.report(value, 0)
        study.tell(done, value)
    weak, strong = study.ask(), study.ask()
    weak.report(1.5, 0)
    strong.report(4.5, 0)
    assert weak.should_prune() and not strong.should_prune()
    assert isinstance(make_pruner(None), optuna.pruners.NopPruner)
