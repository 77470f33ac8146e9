"""Prometheus metrics of the endpoint gateways (``GET /metrics`` on every endpoint port).

- ``modelworks_endpoint_requests_total{endpoint, deployment, status}``: answered requests
- ``modelworks_endpoint_request_duration_seconds{endpoint, deployment}``: latency histogram
- ``modelworks_endpoint_requests_in_flight{endpoint, deployment}``: requests being scored
- ``modelworks_endpoint_mirror_requests_total{endpoint, deployment, status}``: mirrored copies
- ``modelworks_endpoint_worker_restarts_total{endpoint, deployment}``: crashed workers restarted

Label children are cached, so counting a request costs a dictionary lookup and an increment.
"""

from __future__ import annotations

from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

__all__ = ["GatewayMetrics"]

_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class GatewayMetrics:
    """The metrics of one host process (all its endpoints), in their own registry."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.requests = Counter(
            "modelworks_endpoint_requests",
            "Requests answered by the endpoint gateway, by deployment and HTTP status.",
            ["endpoint", "deployment", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "modelworks_endpoint_request_duration_seconds",
            "Time from the request reaching the gateway to the answer leaving it.",
            ["endpoint", "deployment"],
            buckets=_BUCKETS,
            registry=self.registry,
        )
        self.in_flight = Gauge(
            "modelworks_endpoint_requests_in_flight",
            "Requests being scored now.",
            ["endpoint", "deployment"],
            registry=self.registry,
        )
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
        self._children: dict[tuple[Any, ...], Any] = {}

    def count(self, endpoint: str, deployment: str, status: int, seconds: float) -> None:
        key = (endpoint, deployment, status)
        child = self._children.get(key)
        if child is None:
            child = self._children[key] = self.requests.labels(endpoint, deployment, str(status))
        child.inc()
        key2 = (endpoint, deployment)
        hist = self._children.get(key2)
        if hist is None:
            hist = self._children[key2] = self.latency.labels(endpoint, deployment)
        hist.observe(seconds)

    def gauge(self, endpoint: str, deployment: str) -> Any:
        key = ("in_flight", endpoint, deployment)
        child = self._children.get(key)
        if child is None:
            child = self._children[key] = self.in_flight.labels(endpoint, deployment)
        return child

    def exposition(self) -> bytes:
        return generate_latest(self.registry)
