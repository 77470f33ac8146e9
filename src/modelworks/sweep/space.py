"""Azure ML search spaces as Optuna distributions.

Each entry becomes an Optuna distribution the sampler draws from, plus a transform from the
drawn value to the value the trial receives:

- ``choice`` → categorical; ``randint(upper)`` → integers ``[0, upper)``; ``uniform`` → float;
- ``loguniform(min, max)`` → log-scaled float in ``[e^min, e^max]`` (Azure's bounds are exponents);
- ``quniform`` / ``qloguniform`` → as above, rounded to a multiple of ``q`` (``quniform`` is
  sampled as the integer ``k`` of ``k * q``, so samplers see a discrete space);
- ``normal(mu, sigma)`` and ``lognormal`` → a uniform quantile in (0, 1) mapped through the
  inverse normal CDF (Optuna has no normal distribution; samplers model the quantile, which
  keeps TPE and QMC meaningful), ``exp`` of it for lognormal; ``q`` variants round.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from statistics import NormalDist
from typing import TYPE_CHECKING, Any

from modelworks.errors import SpecError

if TYPE_CHECKING:
    from optuna.distributions import BaseDistribution

    from modelworks.specs.jobs import SearchSpaceSpec

__all__ = ["Parameter", "SearchSpace"]

_EPS = 1e-6
_STANDARD = NormalDist()


def _round_q(value: float, q: float) -> float | int:
    rounded = round(value / q) * q
    if float(q).is_integer():
        return round(rounded)
    return round(rounded, 12)


def _multiple_of(q: float) -> Callable[[Any], Any]:
    def transform(k: Any) -> Any:
        return _round_q(int(k) * q, q)

    return transform


def _rounded(inner: Callable[[float], float], q: float) -> Callable[[Any], Any]:
    def transform(v: Any) -> Any:
        return _round_q(inner(float(v)), q)

    return transform


@dataclasses.dataclass(frozen=True)
class Parameter:
    """One tuned parameter: what Optuna samples and how a sample becomes the trial's value."""

    name: str
    distribution: BaseDistribution
    transform: Callable[[Any], Any]


def _parameter(name: str, entry: SearchSpaceSpec) -> Parameter:
    from optuna.distributions import (
        CategoricalDistribution,
        FloatDistribution,
        IntDistribution,
    )

    kind = entry.type
    if kind == "choice":
        values = list(entry.values or [])
        for value in values:
            if not isinstance(value, str | int | float | bool) and value is not None:
                raise SpecError(
                    f"search_space.{name}: choice values must be numbers, strings or booleans; "
                    f"got {value!r}."
                )
        return Parameter(name, CategoricalDistribution(values), lambda v: v)
    if kind == "randint":
        upper = int(entry.upper or 1)
        return Parameter(name, IntDistribution(0, upper - 1), int)
    low, high = entry.min_value, entry.max_value
    if kind == "uniform":
        assert low is not None and high is not None
        return Parameter(name, FloatDistribution(low, high), float)
    if kind == "quniform":
        assert low is not None and high is not None and entry.q is not None
        q = entry.q
        first, last = math.ceil(low / q - 1e-9), math.floor(high / q + 1e-9)
        if first > last:
            raise SpecError(
                f"search_space.{name}: no multiple of q={q} lies between {low} and {high}."
            )
        return Parameter(name, IntDistribution(first, last), _multiple_of(q))
    if kind in ("loguniform", "qloguniform"):
        assert low is not None and high is not None
        dist = FloatDistribution(math.exp(low), math.exp(high), log=True)
        if entry.q is None:
            return Parameter(name, dist, float)
        return Parameter(name, dist, _rounded(float, entry.q))
    mu, sigma = float(entry.mu or 0.0), float(entry.sigma or 1.0)
    quantile = FloatDistribution(_EPS, 1 - _EPS)

    def normal(u: float) -> float:
        return mu + sigma * _STANDARD.inv_cdf(u)

    def lognormal(u: float) -> float:
        return math.exp(normal(u))

    if kind == "normal":
        return Parameter(name, quantile, normal)
    if kind == "lognormal":
        return Parameter(name, quantile, lognormal)
    if kind in ("qnormal", "qlognormal"):
        assert entry.q is not None
        return Parameter(
            name, quantile, _rounded(normal if kind == "qnormal" else lognormal, entry.q)
        )
    raise SpecError(f"search_space.{name}: unknown type {kind!r}.")  # pragma: no cover


class SearchSpace:
    """All parameters of a sweep, in the order the spec lists them."""

    def __init__(self, entries: dict[str, SearchSpaceSpec]) -> None:
        self.parameters = {name: _parameter(name, entry) for name, entry in entries.items()}

    @property
    def distributions(self) -> dict[str, BaseDistribution]:
        return {name: p.distribution for name, p in self.parameters.items()}

    def values(self, sampled: dict[str, Any]) -> dict[str, Any]:
        """The values a trial receives for Optuna's ``trial.params``."""
        return {name: p.transform(sampled[name]) for name, p in self.parameters.items()}

    def grid(self) -> dict[str, list[Any]]:
        """Choices of every parameter (grid sampling: all must be choices)."""
        from optuna.distributions import CategoricalDistribution

        out = {}
        for name, p in self.parameters.items():
            if not isinstance(p.distribution, CategoricalDistribution):
                raise SpecError(f"search_space.{name}: grid sampling needs choice entries.")
            out[name] = list(p.distribution.choices)
        return out

    def grid_size(self) -> int:
        return math.prod(len(v) for v in self.grid().values())
