"""What the dashboard shows of the registry, as plain JSON data: rows, timelines, history.

Everything here reads the registry only (one snapshot for the list; a handful of small
queries for one experiment), so the list answers in milliseconds with a hundred
experiments. The read-out, which scans the event log, lives in :mod:`champion.ui.readouts`.
"""

from __future__ import annotations

from typing import Any

from champion.errors import ChampionError
from champion.registry import AuditEntry, ExperimentState, Registry, allowed_actions
from champion.spec import Experiment
from champion.ui._json import json_object

__all__ = ["WINDOWS_SHOWN", "experiment_view", "list_rows", "live_percent", "window_series"]

#: guardrail windows the experiment page charts (the newest; each has every variant)
WINDOWS_SHOWN = 120

# Actions the dashboard offers: the lifecycle's, less those it has no form for.
_OFFERED = ("start", "ramp", "pause", "resume", "stop", "promote")


def live_percent(spec: Experiment, allocation: dict[str, float]) -> tuple[str, float]:
    """The challenger being rolled out and the percent of traffic it gets now.

    The monitor's rule (``champion.monitor.rollout.current_challenger``: the largest share,
    the first on ties), kept here so the list does not import the monitor and its query
    engine (a second on a fresh process); tests/ui/test_views.py holds the two together.
    """
    order = spec.challengers
    which = max(order, key=lambda v: (allocation.get(v, 0.0), -order.index(v)))
    return which, 100.0 * allocation.get(which, 0.0)


def _spec_or_none(state: ExperimentState) -> Experiment | None:
    try:
        return state.spec
    except (ChampionError, ValueError):  # a spec edited by hand in the database
        return None


def _row(state: ExperimentState) -> dict[str, Any]:
    spec = _spec_or_none(state)
    row: dict[str, Any] = {
        **state.to_dict(),
        "updated_by": state.updated_by,
        "champion": None,
        "challenger": None,
        "live_percent": None,
        "stages": [],
        "actions": [a for a in allowed_actions(state.state) if a in _OFFERED]
        if state.state.value != "archived" else [],
    }  # fmt: skip
    if spec is not None:
        which, percent = live_percent(spec, state.allocation)
        row.update(champion=spec.champion, challenger=which, live_percent=percent,
                   stages=list(spec.rollout.stages) if spec.rollout else [])  # fmt: skip
    return row


def list_rows(registry: Registry) -> dict[str, Any]:
    """Every experiment's row for the list page, from one snapshot."""
    snapshot = registry.snapshot()
    return {
        "global_version": snapshot.global_version,
        "experiments": [_row(s) for s in snapshot.experiments],
    }


def _timeline(history: list[AuditEntry], challenger: str | None) -> list[dict[str, Any]]:
    """The challenger's share after every change: the stage timeline's steps."""
    return [
        {
            "at": e.at.isoformat(),
            "action": e.action,
            "state": e.state.value,
            "stage": e.stage,
            "percent": None if challenger is None else 100.0 * e.allocation.get(challenger, 0.0),
            "by": e.by,
        }
        for e in history
    ]


def _entry(e: AuditEntry) -> dict[str, Any]:
    return json_object({**e.to_dict(), "evidence": e.evidence})


def _p95(bins: dict[str, Any]) -> float | None:
    """The window's p95 latency from its histogram, by the estimator the monitor's rule uses."""
    from champion.analysis.aggregate import HISTOGRAM_EDGES  # with the query engine: late
    from champion.stats.quantile import histogram_quantile

    counts = [0.0] * (len(HISTOGRAM_EDGES) - 1)
    for k, c in bins.items():
        counts[int(k)] += float(c)
    if not sum(counts):
        return None
    return histogram_quantile(HISTOGRAM_EDGES, counts, 0.95).estimate


def window_series(registry: Registry, name: str, newest: int = WINDOWS_SHOWN) -> dict[str, Any]:
    """Requests, error rate, mean and p95 latency of each variant in each stored guardrail
    window (the monitor's window ledger)."""
    series: dict[str, list[dict[str, Any]]] = {}
    seconds = None
    for w in registry.windows(name, newest=newest):
        seconds = w.seconds
        latency = sum(float(x) for x in w.sums.get("latency", []) or [])
        series.setdefault(w.variant, []).append({
            "start": w.start.isoformat(),
            "requests": w.requests,
            "errors": w.errors,
            "error_rate": w.errors / w.requests if w.requests else None,
            "mean_latency_ms": latency / w.requests if w.requests and latency else None,
            "p95_latency_ms": _p95(w.sums.get("bins") or {}),
        })  # fmt: skip
    return json_object({"seconds": seconds, "variants": series})


def experiment_view(registry: Registry, name: str) -> dict[str, Any]:
    """One experiment for its page: state, spec outline, stage timeline, history, looks."""
    state = registry.get(name)
    history = registry.history(name)
    row = _row(state)
    spec = _spec_or_none(state)
    outline: dict[str, Any] | None = None
    if spec is not None:
        outline = {
            "unit": spec.unit,
            "champion": spec.champion,
            "challengers": list(spec.challengers),
            "primary": spec.metrics.primary.name,
            "guardrails": [g.name for g in spec.metrics.guardrails],
            "rollout": None if spec.rollout is None else {
                "stages": list(spec.rollout.stages),
                "min_stage_hours": spec.rollout.min_stage_hours,
                "on_fail": spec.rollout.on_fail,
            },
            "bandit": None if spec.bandit is None else spec.bandit.model_dump(),
        }  # fmt: skip
    return {
        **row,
        "spec": outline,
        "timeline": _timeline(history, row["challenger"]),
        "history": [_entry(e) for e in reversed(history)],  # newest first
        "looks": [json_object(look.to_dict()) for look in registry.looks(name)],
        "windows": window_series(registry, name),
    }

