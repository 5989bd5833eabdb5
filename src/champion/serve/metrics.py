"""Prometheus metrics: requests, latency and errors per experiment and variant; shadows.

With several worker processes, ``PROMETHEUS_MULTIPROC_DIR`` (set by ``champion serve``)
makes every worker write its samples to files that ``/metrics`` aggregates.
"""

from __future__ import annotations

import os
from typing import Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)

from champion.serve.router import RouterObserver

__all__ = ["CONTENT_TYPE_LATEST", "GatewayMetrics", "render"]

_LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5)
_DIVERGENCE_BUCKETS = (0.001, 0.01, 0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1.0)


class GatewayMetrics(RouterObserver):
    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        r = self.registry
        self.requests = Counter(
            "champion_requests", "Requests served", ["experiment", "variant"], registry=r
        )
        self.errors = Counter(
            "champion_request_errors", "Requests whose model failed", ["experiment", "variant"],
            registry=r,
        )  # fmt: skip
        self.latency = Histogram(
            "champion_request_latency_seconds", "Model latency of served requests",
            ["experiment", "variant"], buckets=_LATENCY_BUCKETS, registry=r,
        )  # fmt: skip
        self.shadow_calls = Counter(
            "champion_shadow_calls", "Shadow calls finished", ["experiment", "model"], registry=r
        )
        self.shadow_errors = Counter(
            "champion_shadow_errors", "Shadow calls that failed or timed out",
            ["experiment", "model"], registry=r,
        )  # fmt: skip
        self.shadow_drops = Counter(  # not shadow_dropped: that is the observer hook below
            "champion_shadow_dropped", "Shadow calls dropped at the concurrency bound",
            ["experiment", "model"], registry=r,
        )  # fmt: skip
        self.shadow_latency = Histogram(
            "champion_shadow_latency_seconds", "Shadow model latency", ["experiment", "model"],
            buckets=_LATENCY_BUCKETS, registry=r,
        )  # fmt: skip
        self.divergence = Histogram(
            "champion_shadow_divergence", "|shadow score - served score|",
            ["experiment", "model"], buckets=_DIVERGENCE_BUCKETS, registry=r,
        )  # fmt: skip
        self._served: dict[tuple[str, str], tuple[Any, Any]] = {}
        self._shadowed: dict[tuple[str, str], tuple[Any, Any, Any]] = {}
        self.events = Gauge(
            "champion_events", "Event writer counters (written, spilled, dropped ...)",
            ["counter"], registry=r, multiprocess_mode="livesum",
        )  # fmt: skip

    def served(self, experiment: str, variant: str, latency_ms: float, error: bool) -> None:
        # One dict lookup per request for the labelled children (``labels()`` takes a lock
        # and builds a key every call).
        children = self._served.get((experiment, variant))
        if children is None:
            children = self._served[(experiment, variant)] = (
                self.requests.labels(experiment, variant),
                self.latency.labels(experiment, variant),
            )
        children[0].inc()
        children[1].observe(latency_ms / 1000.0)
        if error:
            self.errors.labels(experiment, variant).inc()

    def shadowed(
        self, experiment: str, model: str, latency_ms: float, error: str | None,
        divergence: float | None,
    ) -> None:  # fmt: skip
        children = self._shadowed.get((experiment, model))
        if children is None:
            children = self._shadowed[(experiment, model)] = (
                self.shadow_calls.labels(experiment, model),
                self.shadow_latency.labels(experiment, model),
                self.divergence.labels(experiment, model),
            )
        children[0].inc()
        children[1].observe(latency_ms / 1000.0)
        if error:
            self.shadow_errors.labels(experiment, model).inc()
        if divergence is not None:
            children[2].observe(divergence)

    def shadow_dropped(self, experiment: str, model: str) -> None:
        self.shadow_drops.labels(experiment, model).inc()

    def record_events(self, counters: dict[str, object]) -> None:
        for name, value in counters.items():
            if isinstance(value, int | float) and not isinstance(value, bool):
                self.events.labels(name).set(value)


def render(metrics: GatewayMetrics) -> bytes:
    """The exposition text: this process's, or every worker's in multiprocess mode."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        return generate_latest(registry)
    return generate_latest(metrics.registry)
