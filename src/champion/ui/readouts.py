"""Read-outs, shadow comparisons and verdicts for the dashboard, computed off the event loop
and kept a few seconds.

The read-out is the one ``champion analyze --json`` prints (``Report.to_dict()`` plus the
early read-out), built by the same functions from the same registry rows and events. It
is read-only: the dashboard never records a look in the ledger (a page left open would
otherwise spend alpha every refresh); ``champion analyze`` and the monitor do that.

A read-out (or a shadow comparison, ``champion shadow-report --json``) scans the event log,
so each is kept ``READOUT_SECONDS`` and at most one is computed per experiment at a time (a
second caller gets the previous one). The list page asks for many at once:
:meth:`Insights.summaries` computes stale ones until its time budget is spent and says which
are still pending, so a refresh never waits on a hundred scans and the next refresh picks up
where this one stopped.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from champion.errors import ChampionError, ExperimentNotFound, NoExposures
from champion.registry import Registry
from champion.ui._json import json_object

__all__ = [
    "READOUT_SECONDS",
    "SUMMARY_BUDGET_SECONDS",
    "VERDICT_SECONDS",
    "Insights",
    "bandit_view",
    "readout",
    "shadow_comparison",
]

READOUT_SECONDS = 5.0  # with the page polling every 5 s, what it shows is at most 10 s old
VERDICT_SECONDS = 5.0
SUMMARY_BUDGET_SECONDS = 1.5
# States whose events can be read out (a draft or a shadow has no exposures to compare).
_READABLE = ("running", "paused", "stopped", "completed", "rolled_back")


def readout(registry: Registry, events: str, name: str) -> dict[str, Any]:
    """The read-out of ``name`` now, as ``champion analyze --json`` prints it (no look recorded)."""
    from champion.analysis.aggregate import load_analysis_data
    from champion.analysis.readout import build_report
    from champion.analysis.store import open_store
    from champion.report.early import early_readout

    state = registry.get(name)
    history, ledger, spec = registry.history(name), registry.looks(name), state.spec
    try:
        with open_store(events, experiment=name) as store:
            data = load_analysis_data(store, spec)
    except NoExposures:
        data = None
    if data is None or data.health.exposed_units == 0:
        return {"status": "no_exposures", "message": f"no exposures of {name} in the event "
                "store yet", "report": None}  # fmt: skip
    report = build_report(data, spec, state=state, history=history, ledger=ledger)
    early = early_readout(report, spec)
    body = {**report.to_dict(), "early": early.to_dict() if early else None}
    return {"status": "ok", "message": "", "report": json_object(body)}


def shadow_comparison(events: str, name: str) -> dict[str, Any]:
    """Each shadow model against the served one, as ``champion shadow-report --json`` prints."""
    from champion.shadow import build_report
    from champion.shadow.queries import NoShadowEvents

    try:
        report = build_report(events, name)
    except NoShadowEvents:
        return {"status": "no_shadows", "message": f"no shadow calls of {name} logged: the "
                "spec's 'shadow:' models answer beside the served one", "report": None}  # fmt: skip
    return {"status": "ok", "message": "", "report": json_object(report.to_dict())}


def bandit_view(registry: Registry, events: str, name: str) -> dict[str, Any]:
    """A bandit's weights over time (each published version) and its labelled estimates, as
    ``champion bandit report NAME --json`` prints them."""
    from champion.bandit import bandit_readout

    spec = registry.spec(name)
    if spec.bandit is None:
        return {"status": "not_a_bandit", "message": "", "report": None}
    weights = [
        {"version": entry.version, "at": entry.at.isoformat(), "by": entry.by,
         "allocation": dict(entry.allocation)}
        for entry in registry.history(name) if entry.action in ("start", "reweight")
    ]  # fmt: skip
    report = bandit_readout(events, spec, as_of=datetime.now(UTC))
    return {"status": "ok", "message": "", "weights": weights, "report": json_object(report)}


def _no_events(what: str) -> dict[str, Any]:
    message = f"no event store: give --events DIR|URL to {what}"
    return {"status": "no_events", "report": None, "computed_at": None, "message": message}


def _summary(found: dict[str, Any]) -> dict[str, Any]:
    """The list page's columns from a read-out: decision, SRM, crossovers, freshness."""
    report = found.get("report")
    out: dict[str, Any] = {"status": found["status"], "message": found["message"],
                           "computed_at": found.get("computed_at")}  # fmt: skip
    if report is None:
        return out
    health, srm = report.get("health") or {}, report.get("srm") or {}
    out.update(
        decision=report.get("decision"),
        decision_variant=report.get("decision_variant"),
        srm_p_value=srm.get("p_value"),
        srm_mismatch=srm.get("mismatch"),
        crossovers=sum((report.get("crossovers") or {}).values()),
        exposure_lag_hours=health.get("exposure_lag_hours"),
        exposed_units=health.get("exposed_units"),
        warnings=len(report.get("warnings") or []),
    )
    return out


class Insights:
    """The read-outs and verdicts one dashboard has computed, by experiment."""

    def __init__(self, events: str | None) -> None:
        self.events = events
        self._computed: dict[tuple[str, str], tuple[float, dict[str, Any]]] = {}
        self._verdicts: dict[str, tuple[float, dict[str, Any]]] = {}
        self._busy: set[tuple[str, str]] = set()
        self._lock = threading.Lock()

    def _fresh(self, key: tuple[str, str]) -> dict[str, Any] | None:
        found = self._computed.get(key)
        if found is not None and time.monotonic() - found[0] < READOUT_SECONDS:
            return found[1]
        return None

    def _compute(self, key: tuple[str, str], make: Callable[[], dict[str, Any]]) -> dict[str, Any]:
        """``make()``'s answer, kept ``READOUT_SECONDS``; while one is being made, callers get
        the previous answer (if any) instead of starting a second scan."""
        with self._lock:
            fresh = self._fresh(key)
            previous = self._computed.get(key)
            if fresh is not None:
                return fresh
            if key in self._busy and previous is not None:
                return previous[1]
            self._busy.add(key)
        try:
            try:
                found = make()
            except ExperimentNotFound:
                raise  # a 404, not a read-out that failed
            except (ChampionError, ValueError) as e:
                found = {"status": "error", "message": str(e), "report": None}
            found["computed_at"] = datetime.now(UTC).isoformat()
            with self._lock:
                self._computed[key] = (time.monotonic(), found)
            return found
        finally:
            with self._lock:
                self._busy.discard(key)

    def readout(self, registry: Registry, name: str) -> dict[str, Any]:
        """The experiment's read-out, at most ``READOUT_SECONDS`` old (or the one being made)."""
        events = self.events
        if events is None:
            return _no_events("read experiments out")
        return self._compute(("readout", name), lambda: readout(registry, events, name))

    def shadow(self, registry: Registry, name: str) -> dict[str, Any]:
        """The shadow comparison (``champion shadow-report NAME --json``), kept like a read-out."""
        events = self.events
        if events is None:
            return _no_events("compare shadow models")
        registry.get(name)  # an unknown experiment is a 404 here too
        return self._compute(("shadow", name), lambda: shadow_comparison(events, name))

    def bandit(self, registry: Registry, name: str) -> dict[str, Any]:
        """A bandit's weights and estimates, kept like a read-out."""
        events = self.events
        if events is None:
            return _no_events("read a bandit out")
        registry.get(name)  # an unknown experiment is a 404 here too
        return self._compute(("bandit", name), lambda: bandit_view(registry, events, name))

    def verdict(self, registry: Registry, name: str, version: int) -> dict[str, Any]:
        """The monitor's verdict (``GET /v1/experiments/NAME/verdict``) at the experiment's
        ``version``, kept a few seconds (a change, such as the monitor's stop, renews it)."""
        from champion.monitor.verdict import experiment_verdict

        found = self._verdicts.get(name)
        fresh = found is not None and time.monotonic() - found[0] < VERDICT_SECONDS
        if found is not None and fresh and found[1].get("version") == version:
            return found[1]
        try:
            answer = json_object(experiment_verdict(registry, name))
        except (ChampionError, ValueError) as e:
            answer = {"verdict": "inconclusive", "reason": f"cannot judge: {e}", "guardrails": []}
        answer["version"] = version
        self._verdicts[name] = (time.monotonic(), answer)
        return answer

    def summaries(
        self, registry: Registry, budget: float = SUMMARY_BUDGET_SECONDS
    ) -> dict[str, Any]:
        """Verdict and read-out summary of every experiment; stale read-outs are computed
        until ``budget`` seconds are spent, the rest are listed as pending."""
        deadline = time.monotonic() + budget
        out: dict[str, Any] = {}
        for state in registry.snapshot().experiments:
            name = state.name
            item: dict[str, Any] = {}
            if state.state.value not in ("draft", "archived"):
                item["verdict"] = self.verdict(registry, name, state.version)
            if state.state.value in _READABLE:
                with self._lock:
                    fresh = self._fresh(("readout", name))
                    kept = self._computed.get(("readout", name))
                cached = fresh if fresh is not None else (None if kept is None else kept[1])
                if fresh is None and time.monotonic() < deadline:
                    cached = fresh = self.readout(registry, name)
                item["readout"] = None if cached is None else _summary(cached)
                item["pending"] = fresh is None
            out[name] = item
        return {"experiments": out}
