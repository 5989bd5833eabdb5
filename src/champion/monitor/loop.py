"""The monitor's loop: tick, alert on what changed, publish metrics, sleep, again."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

from champion.analysis.store import EventStore
from champion.monitor.alerts import Alert, Webhook
from champion.monitor.metrics import MonitorMetrics
from champion.monitor.rules import RuleStatus
from champion.monitor.tick import ExperimentTick, tick
from champion.registry import Registry

__all__ = ["Monitor"]

log = logging.getLogger("champion.monitor")

_ALERTED = {"stop": "stop", "advance": "advance", "rollback": "rollback", "pause": "pause",
            "promote": "advance", "complete": "advance", "propose": "advance"}  # fmt: skip


class Monitor:
    """Ticks over the registry's live experiments; alerts and metrics are optional."""

    def __init__(
        self,
        registry: Registry,
        open_store: Callable[[str], EventStore],
        names: Sequence[str] = (),
        *,
        dry_run: bool = False,
        webhook: Webhook | None = None,
        metrics: MonitorMetrics | None = None,
        bandit_events: str | None = None,
    ) -> None:
        self.registry, self.open_store, self.names = registry, open_store, tuple(names)
        self.bandit_events = bandit_events  # the event store bandits are updated from
        self.dry_run, self.webhook, self.metrics = dry_run, webhook, metrics
        self._violating: set[tuple[str, str, str, str, str]] = set()
        self._proposed: set[tuple[str, str]] = set()

    def tick(self, now: datetime | None = None) -> list[ExperimentTick]:
        started = time.perf_counter()
        results = tick(self.registry, self.open_store, self.names, now=now, dry_run=self.dry_run)
        for r in results:
            self._publish(r)
        self._update_bandits(now or datetime.now(UTC))
        if self.metrics is not None:
            self.metrics.observe_tick(time.perf_counter() - started, time.time())
        return results

    def run(
        self,
        interval: float,
        stop: threading.Event,
        on_tick: Callable[[list[ExperimentTick]], None],
    ) -> None:
        """Tick every ``interval`` seconds until ``stop`` is set; a failing tick is logged."""
        while not stop.is_set():
            began = time.monotonic()
            try:
                on_tick(self.tick())
            except Exception:
                log.exception("monitor tick failed")
            stop.wait(max(0.0, interval - (time.monotonic() - began)))

    def _update_bandits(self, now: datetime) -> None:
        """Publish new weights for each running bandit whose last change is older than its
        ``update_every`` (after the guardrails were judged: a stopped bandit is not updated)."""
        if self.bandit_events is None or self.dry_run:
            return
        from champion.bandit import update_weights

        for state in self.registry.snapshot().experiments:
            if (self.names and state.name not in self.names) or state.state.value != "running":
                continue
            try:
                bandit = state.spec.bandit
                age = (now - state.updated_at).total_seconds()
                if bandit is None or age < bandit.update_seconds:
                    continue
                done = update_weights(self.registry, self.bandit_events, state.name,
                                      by="monitor", as_of=now)  # fmt: skip
                log.info("bandit %s: weights %s (version %s)", state.name, done.weights,
                         done.version)  # fmt: skip
            except Exception:
                log.exception("bandit update of %s failed", state.name)

    def _publish(self, r: ExperimentTick) -> None:
        if self.metrics is not None:
            if r.error is not None:
                self.metrics.count_error(r.name)
            if r.percent is not None:
                self.metrics.set_stage(r.name, r.percent)
            for rule in worst_per_guardrail(r.rules):
                self.metrics.set_guardrail(
                    r.name, rule.variant, rule.guardrail, rule.status, rule.k, rule.stop_after
                )
            if r.action is not None and r.applied:
                self.metrics.count_action(r.name, r.action)
        if self.webhook is None:
            return
        for rule in r.rules:
            key = (r.name, *rule.key)
            if rule.status == "violation" and key not in self._violating:
                self._violating.add(key)
                self._send("violation", r.name, f"{r.name}: {rule.describe()}", rule.to_dict())
            elif rule.status != "violation":
                self._violating.discard(key)
        if r.action in _ALERTED and (r.applied or r.action == "propose"):
            if r.action == "propose":
                if (r.name, r.reason) in self._proposed:
                    return
                self._proposed.add((r.name, r.reason))
            self._send(_ALERTED[r.action], r.name, f"{r.name}: {r.action}: {r.reason}", r.evidence)
        if r.error is not None:
            self._send("error", r.name, f"{r.name}: monitor cannot judge it: {r.error}", {})

    def _send(self, kind: str, name: str, text: str, evidence: dict[str, Any]) -> None:
        assert self.webhook is not None
        self.webhook.send(Alert(kind, name, text, evidence))

    def now(self) -> datetime:
        return datetime.now(UTC)


#: the order in which a guardrail's rules speak for it on the metrics: the worst first
_SEVERITY = {"violation": 0, "no_data": 1, "inconclusive": 2, "warn": 3, "pass": 4}


def worst_per_guardrail(rules: Sequence[RuleStatus]) -> list[RuleStatus]:
    """One rule per (variant, guardrail): the worst status, the nearest to stopping among
    equals, so a gauge shows a violation whichever of its rules has it."""
    chosen: dict[tuple[str, str], RuleStatus] = {}
    for rule in rules:
        key = (rule.variant, rule.guardrail)
        rank = (_SEVERITY.get(rule.status, 1), -rule.k / max(rule.stop_after, 1))
        held = chosen.get(key)
        if held is None or rank < (
            _SEVERITY.get(held.status, 1),
            -held.k / max(held.stop_after, 1),
        ):
            chosen[key] = rule
    return list(chosen.values())
