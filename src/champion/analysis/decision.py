"""From evidence to a decision: roll out (fully or gradually), keep, extend, or roll back.

Per challenger, the first rule that applies wins:

1. ``rollback``: a guardrail failed (crossed with evidence), or the primary metric is
   significantly worse in its direction (now, or at an earlier decision point).
2. ``keep``: a sample-ratio mismatch: the results are untrustworthy; fix the assignment.
3. A verdict reached at an earlier decision point (the look ledger) stands: a decision is
   made once (a rollout still waits for guardrails that are not clear).
4. ``extend``: the primary metric has no usable test yet (no outcomes, an empty arm).
5. Significant improvement of the primary metric: at a decision point, the statistic
   crosses its Lan-DeMets boundary (``champion.analysis.looks``); without a design block,
   the always-valid interval excludes 0 (between decision points only harm decides, on
   the always-valid interval: rule 1):
   a guardrail that warns or is inconclusive -> ``extend`` (never roll out past it);
   relative lift > ``full_rollout_lift`` -> ``rollout_full``;
   >= ``gradual_rollout_lift`` -> ``rollout_gradual``; below -> ``keep`` (too small to pay).
6. Not significant at the final look -> ``keep``, never ``extend``. Before it: ``extend``
   until the experiment has run for ``max_duration_days`` (four weeks by default) plus the
   primary metric's window (the last units exposed need it to convert), then ``keep``: an
   effect the size of the MDE would have shown. A projection beyond the maximum is said in
   the reasons but does not stop the experiment early: a ramp that has not reached its last
   stage makes the current rate a poor guide.

Better and worse are ``sign x diff`` (sign +1 when higher is better), and the relative
improvement is ``sign x diff / |champion|``, so a negative metric is judged the right way.

Across challengers: any ``rollback`` rolls back; otherwise the best rollout (full before
gradual, then the larger lift); otherwise ``extend`` if any challenger extends; else ``keep``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from champion.spec.models import DecisionRules

__all__ = ["DECISIONS", "Decision", "Evidence", "decide", "decide_one", "primary_verdict"]

DECISIONS = ("rollout_full", "rollout_gradual", "keep", "extend", "rollback")
_RANK = {"rollback": 0, "rollout_full": 1, "rollout_gradual": 2, "extend": 3, "keep": 4}


@dataclass(frozen=True, slots=True)
class Evidence:
    """What the decision needs to know about one challenger, in the primary metric's terms.

    ``improvement`` is the relative lift in the metric's good direction (> 0: better).
    ``more_units``/``more_days`` is what reaching the design's power still needs (None:
    unknown, e.g. no design block); ``within_reach`` whether that fits the maximum duration.
    """

    variant: str
    metric: str
    improvement: float
    improvement_ci: tuple[float, float]
    p_value: float
    significant: bool
    worse: bool
    usable: bool = True
    more_units: int | None = None
    more_days: int | None = None
    within_reach: bool = True
    failed_guardrails: tuple[str, ...] = ()
    blocking_guardrails: tuple[str, ...] = ()
    how: str = ""  # how significance was judged, e.g. "boundary 2.68 at look 3 of 5"
    usable_note: str = ""
    final: bool = False  # this read-out is the design's final look
    verdict: str | None = None  # the primary's verdict at an earlier decision point
    decided_at: datetime | None = None
    next_fraction: float = math.nan  # information fraction of the next decision point
    time_up: bool = False  # the maximum duration has passed, and the primary window after it
    mde: float = math.nan  # the design's MDE as a relative improvement (nan: no design)


@dataclass(frozen=True, slots=True)
class Decision:
    decision: str
    reasons: tuple[str, ...]
    variant: str | None = None
    per_challenger: dict[str, tuple[str, tuple[str, ...]]] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "decision": self.decision,
            "reasons": list(self.reasons),
            "variant": self.variant,
            "per_challenger": {
                v: {"decision": d, "reasons": list(r)} for v, (d, r) in self.per_challenger.items()
            },
        }


def _pct(x: float) -> str:
    return "n/a" if math.isnan(x) else f"{x:+.1%}"


def _lift(e: Evidence) -> str:
    lo, hi = e.improvement_ci
    ci = "" if math.isnan(lo) else f" (CI {_pct(lo)} to {_pct(hi)})"
    how = f", {e.how}" if e.how else ""
    p = "" if math.isnan(e.p_value) else f", p = {e.p_value:.2g}"
    return f"{e.metric} {_pct(e.improvement)}{ci}{p}{how}"


def _about_mde(e: Evidence) -> str:
    """What a non-significant result says about the effect's size: only an interval inside
    ±MDE rules out effects that large; a wide one says the experiment could not tell."""
    lo, hi = e.improvement_ci
    if math.isnan(e.mde) or math.isnan(lo) or math.isnan(hi):
        return "the data cannot tell a real effect from none at this sample"
    if -e.mde < lo and hi < e.mde:
        return f"the interval rules out effects as large as the MDE ({_pct(e.mde)} either way)"
    return (
        f"the interval still holds effects as large as the MDE ({_pct(e.mde)} either way): "
        "the experiment could not tell a real effect from none"
    )


def _remaining(e: Evidence) -> str:
    if e.more_units is None:
        return "add a design block (mde, baseline) to know how many more units it needs"
    days = (
        f" (about {e.more_days} more days at the current rate)" if e.more_days is not None else ""
    )
    return f"{e.more_units:,} more units{days} reach the design's power"


def _rollout(e: Evidence, rules: DecisionRules, done: str = "") -> tuple[str, tuple[str, ...]]:
    """Significantly better: which rollout the lift earns (``done`` says when it was decided)."""
    verdict = primary_verdict(e, rules)
    if verdict != "keep" and e.blocking_guardrails:
        return "extend", (
            f"{e.variant} improves {_lift(e)}{done}, but a guardrail is not yet clear",
            *(f"guardrail: {g}" for g in e.blocking_guardrails),
        )
    if verdict == "rollout_full":
        why = f"above the full-rollout threshold {rules.full_rollout_lift:.0%}"
    elif verdict == "rollout_gradual":
        why = (
            f"between the gradual ({rules.gradual_rollout_lift:.0%}) and full "
            f"({rules.full_rollout_lift:.0%}) rollout thresholds"
        )
    else:
        why = (
            f"significant but below the {rules.gradual_rollout_lift:.0%} gradual-rollout "
            "threshold: not worth a change"
        )
    return verdict, (f"{e.variant} improves {_lift(e)}{done}: {why}",)


def primary_verdict(e: Evidence, rules: DecisionRules) -> str:
    """What the primary metric alone says (no guardrails, no SRM): the look ledger keeps it.

    ``rollback`` when significantly worse; a rollout (or ``keep`` below the gradual
    threshold) when significantly better; ``keep`` at the final look without significance;
    ``extend`` otherwise. A verdict from an earlier decision point stands.
    """
    if e.verdict is not None:
        return e.verdict
    if e.worse:
        return "rollback"
    if e.significant and e.improvement > 0:
        if e.improvement > rules.full_rollout_lift:
            return "rollout_full"
        if e.improvement >= rules.gradual_rollout_lift:
            return "rollout_gradual"
        return "keep"
    return "keep" if e.final else "extend"


def _decided(e: Evidence) -> str:
    when = f" on {e.decided_at:%Y-%m-%d}" if e.decided_at is not None else ""
    return f" (decided at an earlier look{when})"


def _next_look(e: Evidence) -> str:
    if math.isnan(e.next_fraction):
        return ""
    return f"; interim: the next decision point is at information {e.next_fraction:.0%}"


def decide_one(
    e: Evidence, rules: DecisionRules, *, srm_reason: str = ""
) -> tuple[str, tuple[str, ...]]:
    """The decision and its reasons for one challenger (rules in the module docstring)."""
    if e.failed_guardrails:
        return "rollback", tuple(f"guardrail failed: {g}" for g in e.failed_guardrails)
    if e.worse or e.verdict == "rollback":
        done = _decided(e) if e.verdict == "rollback" else ""
        return "rollback", (f"{e.variant} is significantly worse on {_lift(e)}{done}",)
    if srm_reason:
        return "keep", (f"{srm_reason}: results untrustworthy, fix the assignment and restart",)
    if e.verdict in ("rollout_full", "rollout_gradual"):
        return _rollout(e, rules, _decided(e))
    if e.verdict == "keep":
        return "keep", (
            f"{e.variant}: {_lift(e)}{_decided(e)}: no change worth shipping was shown",
        )
    if not e.usable:
        note = e.usable_note or "no usable test yet"
        return "extend", (f"{e.metric}: {note}; keep collecting data",)
    if e.significant and e.improvement > 0:
        return _rollout(e, rules)
    if e.final:
        return "keep", (
            (f"{e.variant}: not significant on {_lift(e)} at the final look: {_about_mde(e)}"),
        )
    if not e.time_up and (e.more_units is None or e.more_units > 0):
        beyond = "" if e.within_reach else ", beyond the maximum duration at this rate"
        return "extend", (
            (
                f"{e.variant}: not significant yet on {_lift(e)}; {_remaining(e)}{beyond}"
                f"{_next_look(e)}"
            ),
        )
    if e.more_units == 0:
        why = "the sample the design needs is reached"
    else:
        why = "the maximum duration is reached"
    return "keep", ((f"{e.variant}: not significant on {_lift(e)} and {why}: {_about_mde(e)}"),)


def decide(
    evidence: Sequence[Evidence],
    rules: DecisionRules,
    *,
    srm_reason: str = "",
    no_data_reason: str = "",
) -> Decision:
    """The experiment's decision across its challengers, with every challenger's own."""
    if no_data_reason or not evidence:
        reason = no_data_reason or "no challenger to compare"
        return Decision("extend", (reason,), None, {})
    per = {e.variant: decide_one(e, rules, srm_reason=srm_reason) for e in evidence}
    by_variant = {e.variant: e for e in evidence}

    def key(variant: str) -> tuple[int, float]:
        imp = by_variant[variant].improvement
        return _RANK[per[variant][0]], -(imp if not math.isnan(imp) else -math.inf)

    best = min(per, key=key)
    decision, reasons = per[best]
    if decision == "rollback":
        reasons = tuple(r for v, (d, rs) in per.items() if d == "rollback" for r in rs)
    return Decision(decision, reasons, best, per)
