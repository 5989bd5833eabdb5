"""Prometheus series about the monitor itself: guardrail states, stages, ticks and actions.

The monitor is one long-running process, so one registry serves its own ``/metrics``.
When an experiment stops, :meth:`MonitorMetrics.forget` removes its labelled series so a
dashboard does not show a stopped challenger's last state for ever.
"""

from __future__ import annotations

import threading
from typing import TypeVar
from wsgiref.simple_server import WSGIServer

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    start_http_server,
)

from champion.errors import InvalidArgument

__all__ = ["STATUSES", "MonitorMetrics"]

STATUSES = ("pass", "warn", "violation", "inconclusive", "no_data")
_TICK_BUCKETS = (0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300)

_Labelled = TypeVar("_Labelled", Gauge, Counter)


class MonitorMetrics:
    """The monitor's series; each setter names the experiment so :meth:`forget` can drop it."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        self.port: int | None = None  # the bound port once serve() runs (useful with port 0)
        r = self.registry
        guardrail = ["experiment", "variant", "guardrail"]
        self.guardrail_status = Gauge(
            "champion_monitor_guardrail_status",
            "1 for the guardrail's current status, 0 for the others (a state set)",
            [*guardrail, "status"], registry=r,
        )  # fmt: skip
        self.violations = Gauge(
            "champion_monitor_violations", "Consecutive looks in violation (k)", guardrail,
            registry=r,
        )  # fmt: skip
        self.stop_after = Gauge(
            "champion_monitor_stop_after", "Looks in violation that stop the challenger",
            guardrail, registry=r,
        )  # fmt: skip
        self.stage_percent = Gauge(
            "champion_monitor_stage_percent", "Traffic percent of the current rollout stage",
            ["experiment"], registry=r,
        )  # fmt: skip
        self.tick_duration = Histogram(
            "champion_monitor_tick_duration_seconds", "Time one monitor tick took",
            buckets=_TICK_BUCKETS, registry=r,
        )  # fmt: skip
        self.last_tick = Gauge(
            "champion_monitor_last_tick_timestamp_seconds", "Unix time the last tick finished",
            registry=r,
        )  # fmt: skip
        self.actions = Counter(
            "champion_monitor_actions", "Actions the monitor took (stop, advance, rollback ...)",
            ["experiment", "action"], registry=r,
        )  # fmt: skip
        self.experiment_errors = Counter(
            "champion_monitor_experiment_errors", "Ticks that failed for one experiment",
            ["experiment"], registry=r,
        )  # fmt: skip
        self.webhook_failures = Counter(
            "champion_monitor_webhook_failures", "Alerts given up on", registry=r
        )
        self._lock = threading.Lock()
        self._series: dict[str, set[tuple[Gauge | Counter, tuple[str, ...]]]] = {}
        self._server: WSGIServer | None = None
        self._thread: threading.Thread | None = None

    def set_guardrail(
        self, experiment: str, variant: str, guardrail: str, status: str, k: int,
        stop_after: int,
    ) -> None:  # fmt: skip
        """Mark ``status`` 1 and every other status 0; record k and the stop threshold."""
        if status not in STATUSES:
            raise InvalidArgument("status", status, f"one of {', '.join(STATUSES)}")
        key = (experiment, variant, guardrail)
        for s in STATUSES:
            self._labels(experiment, self.guardrail_status, (*key, s)).set(1 if s == status else 0)
        self._labels(experiment, self.violations, key).set(k)
        self._labels(experiment, self.stop_after, key).set(stop_after)

    def set_stage(self, experiment: str, percent: float) -> None:
        self._labels(experiment, self.stage_percent, (experiment,)).set(percent)

    def observe_tick(self, seconds: float, at: float) -> None:
        """One finished tick: its duration and its end as a Unix timestamp (for staleness)."""
        self.tick_duration.observe(seconds)
        self.last_tick.set(at)

    def count_action(self, experiment: str, action: str) -> None:
        self._labels(experiment, self.actions, (experiment, action)).inc()

    def count_error(self, experiment: str) -> None:
        self._labels(experiment, self.experiment_errors, (experiment,)).inc()

    def count_webhook_failure(self) -> None:
        """Fits ``Webhook(on_failure=...)``."""
        self.webhook_failures.inc()

    def forget(self, experiment: str) -> None:
        """Remove every labelled series of ``experiment`` (it stopped or was removed)."""
        with self._lock:
            series = self._series.pop(experiment, set())
        for metric, labels in series:
            metric.remove(*labels)

    def render(self) -> bytes:
        """The exposition text of this registry."""
        return generate_latest(self.registry)

    def serve(self, port: int, host: str = "127.0.0.1") -> None:
        """Serve ``/metrics`` on ``host:port`` from a daemon thread; port 0 picks a free one."""
        if self._server is not None:
            raise RuntimeError(f"the monitor's metrics are already served on port {self.port}")
        self._server, self._thread = start_http_server(port, addr=host, registry=self.registry)
        self.port = self._server.server_port

    def close(self) -> None:
        """Stop the ``/metrics`` server, if :meth:`serve` started one."""
        if self._server is None:
            return
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(5.0)
        self._server = self._thread = None
        self.port = None

    def _labels(self, experiment: str, metric: _Labelled, labels: tuple[str, ...]) -> _Labelled:
        with self._lock:
            self._series.setdefault(experiment, set()).add((metric, labels))
        return metric.labels(*labels)
