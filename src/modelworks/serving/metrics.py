"""Prometheus metrics of the endpoint gateways (``GET /metrics`` on every endpoint port).

- ``modelworks_endpoint_requests_total{endpoint, deployment, status}``: answered requests
- ``modelworks_endpoint_request_duration_seconds{endpoint, deployment}``: latency histogram
- ``modelworks_endpoint_requests_in_flight{endpoint, deployment}``: requests being scored
- ``modelworks_endpoint_mirror_requests_total{endpoint, deployment, status}``: mirrored copies
- ``modelworks_endpoint_worker_restarts_total{endpoint, deployment}``: crashed workers restarted

Counting a request is on the gateway's hot path, so the first three are plain Python
counters (the gateways share one event loop thread: no locks needed) turned into metric
families only when ``/metrics`` is scraped. The rare ones are ``prometheus_client`` counters.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterator
from typing import Any

from prometheus_client import CollectorRegistry, Counter, generate_latest
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
)

__all__ = ["GatewayMetrics"]

_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class _Histogram:
    """Per-bucket counts (not cumulative), the total count and the sum."""

    __slots__ = ("buckets", "count", "sum")

    def __init__(self) -> None:
        self.buckets = [0] * (len(_BUCKETS) + 1)
        self.count = 0
        self.sum = 0.0


class GatewayMetrics:
    """The metrics of one host process (all its endpoints), in their own registry.

    The hot-path methods (:meth:`count`, :meth:`started`, :meth:`ended`) must be called from
    the gateways' event loop thread; scraping may happen from any thread.
    """

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self._requests: dict[tuple[str, str, int], int] = {}
        self._latency: dict[tuple[str, str], _Histogram] = {}
        self._in_flight: dict[tuple[str, str], int] = {}
        self.registry.register(_Collector(self))
        self.mirrored = Counter(
            "modelworks_endpoint_mirror_requests",
            "Copies of requests sent to a mirror deployment (answers discarded).",
            ["endpoint", "deployment", "status"],
            registry=self.registry,
        )
        self.restarts = Counter(
            "modelworks_endpoint_worker_restarts",
            "Worker processes restarted after they crashed or failed their liveness probe.",
            ["endpoint", "deployment"],
            registry=self.registry,
        )

    def count(self, endpoint: str, deployment: str, status: int, seconds: float) -> None:
        """One answered request and its latency."""
        key = (endpoint, deployment, status)
        requests = self._requests
        requests[key] = requests.get(key, 0) + 1
        pair = (endpoint, deployment)
        histogram = self._latency.get(pair)
        if histogram is None:
            histogram = self._latency[pair] = _Histogram()
        histogram.buckets[bisect.bisect_left(_BUCKETS, seconds)] += 1
        histogram.count += 1
        histogram.sum += seconds

    def started(self, endpoint: str, deployment: str) -> None:
        """A request went to a deployment's worker."""
        key = (endpoint, deployment)
        self._in_flight[key] = self._in_flight.get(key, 0) + 1

    def ended(self, endpoint: str, deployment: str) -> None:
        """A request sent to a worker came back (answered, failed or timed out)."""
        key = (endpoint, deployment)
        self._in_flight[key] = self._in_flight.get(key, 0) - 1

    def in_flight(self, endpoint: str, deployment: str) -> int:
        return self._in_flight.get((endpoint, deployment), 0)

    def exposition(self) -> bytes:
        return generate_latest(self.registry)


class _Collector:
    """Turns the plain counters into metric families at scrape time."""

    def __init__(self, metrics: GatewayMetrics) -> None:
        self.metrics = metrics

    def describe(self) -> list[Any]:
        return list(self._families(empty=True))

    def collect(self) -> Iterator[Any]:
        return self._families(empty=False)

    def _families(self, *, empty: bool) -> Iterator[Any]:
        metrics = self.metrics
        requests = CounterMetricFamily(
            "modelworks_endpoint_requests",
            "Requests answered by the endpoint gateway, by deployment and HTTP status.",
            labels=["endpoint", "deployment", "status"],
        )
        latency = HistogramMetricFamily(
            "modelworks_endpoint_request_duration_seconds",
            "Time from the request reaching the gateway to the answer leaving it.",
            labels=["endpoint", "deployment"],
        )
        in_flight = GaugeMetricFamily(
            "modelworks_endpoint_requests_in_flight",
            "Requests being scored now.",
            labels=["endpoint", "deployment"],
        )
        if not empty:
            for (endpoint, deployment, status), value in list(metrics._requests.items()):
                requests.add_metric([endpoint, deployment, str(status)], value)
            for (endpoint, deployment), histogram in list(metrics._latency.items()):
                cumulative = 0
                buckets = []
                for bound, count in zip(_BUCKETS, histogram.buckets, strict=False):
                    cumulative += count
                    buckets.append((_le(bound), cumulative))
                buckets.append(("+Inf", histogram.count))
                latency.add_metric([endpoint, deployment], buckets, histogram.sum)
            for (endpoint, deployment), value in list(metrics._in_flight.items()):
                in_flight.add_metric([endpoint, deployment], value)
        yield requests
        yield latency
        yield in_flight


def _le(bound: float) -> str:
    return repr(float(bound))
