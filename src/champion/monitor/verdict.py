"""The verdict a delivery controller asks for: pass, fail or inconclusive, from the registry.

Argo Rollouts' web metric and Flagger's webhooks ask "may this stage go on?" many times a
minute. The answer is computed from what the monitor stored (the window ledger, the audit
log), never from the event log, so it is cheap and every gateway worker gives the same one.
Missing data is never a pass: no window, a stale ledger (no monitor running), a stage other
than the one asked about, an unknown experiment, all answer ``inconclusive`` with a reason.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from typing import Any

from champion.errors import ExperimentNotFound
from champion.monitor.rollout import current_challenger
from champion.monitor.rules import DEFAULTS
from champion.monitor.tick import (
    _started,
    judge_current_stage,
    judge_stored,
    recent_windows,
    stage_baseline,
    stage_requests,
    verdict,
)
from champion.registry import Registry

__all__ = ["STALE_WINDOWS", "experiment_verdict"]

#: the ledger is stale (no monitor is storing windows) this many window lengths after the
#: newest stored window should have been followed by another
STALE_WINDOWS = 3


def _answer(verdict_: str, reason: str, **fields: Any) -> dict[str, Any]:
    base: dict[str, Any] = {"verdict": verdict_, "stage": None, "stage_percent": None, "n": {},
                            "guardrails": [], "reason": reason}  # fmt: skip
    return base | fields


def experiment_verdict(
    registry: Registry, name: str, *, stage: int | None = None, now: datetime | None = None
) -> dict[str, Any]:
    """The verdict on ``name`` now (``stage``: the stage index the caller is at)."""
    now = now or datetime.now(UTC)
    try:
        state = registry.get(name)
    except ExperimentNotFound:
        return _answer("inconclusive", f"no experiment named {name!r} in the registry")
    history = registry.history(name)
    spec = state.spec
    which = current_challenger(spec, state.allocation)
    common = {"stage": state.stage, "stage_percent": 100 * state.allocation.get(which, 0.0)}
    last = history[-1]
    if state.state.value in ("stopped", "rolled_back"):
        return _answer("fail", f"{state.state.value} by {last.by}: {last.reason}", **common)
    if state.state.value == "completed":
        return _answer("pass", f"completed by {last.by}: {last.reason}", **common)
    if state.state.value == "paused":  # a person or the monitor holds it: so do controllers
        return _answer("inconclusive", f"paused by {last.by}: {last.reason}", **common)
    if state.state.value != "running":
        return _answer("inconclusive", f"{name} is {state.state.value}, not serving", **common)
    if stage is not None and stage != state.stage:
        return _answer("inconclusive", f"{name} is at stage {state.stage}, not {stage}", **common)
    started, stage_started = _started(history)
    windows = recent_windows(registry, name, spec, started)
    seconds = (spec.monitor or DEFAULTS).window_minutes * 60
    settle = (spec.monitor or DEFAULTS).settle_seconds
    if not windows:
        return _answer("inconclusive", "no guardrail window stored yet: is champion monitor "
                       "running?", **common)  # fmt: skip
    newest_end = windows[-1].start + timedelta(seconds=seconds)
    if now - newest_end > timedelta(seconds=STALE_WINDOWS * seconds + settle):
        since = newest_end.isoformat()
        reason = f"no monitor has stored a window since {since}: is champion monitor running?"
        return _answer("inconclusive", reason, **common)
    rules = judge_stored(registry, name, spec, started, windows)
    first, baseline = stage_baseline(registry, name, spec, started, stage_started)
    pooled = judge_current_stage(spec, windows, first, baseline)
    n = stage_requests(windows, first, baseline)
    said = verdict(rules, pooled)
    reasons = [r.describe() for r in rules if r.status != "pass"]
    if said == "pass":
        reason = f"every guardrail keeps its limit on the windows of stage {state.stage}"
    else:
        reason = "; ".join(reasons[:3]) or "the stage has not shown its limits yet"
    guardrails = [
        {"name": r.guardrail, "rule": r.rule, "variant": r.variant, "kind": r.kind,
         "estimate": _finite(r.estimate), "bound": _finite(r.bound), "limit": _finite(r.limit),
         "status": r.status, "k": r.k, "stop_after": r.stop_after, "n": r.n}
        for r in (*rules, *pooled)
    ]  # fmt: skip
    return _answer(said, reason, n=n, guardrails=guardrails, **common)


def _finite(x: float) -> float | None:
    return x if math.isfinite(x) else None
