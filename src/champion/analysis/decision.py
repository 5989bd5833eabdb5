"""From evidence to a decision: roll out (fully or gradually), keep, extend, or roll back.

Per challenger, the first rule that applies wins:

1. ``rollback``: a guardrail failed (crossed with evidence), or the primary metric is
   significantly worse (in its direction; a sequential design also rolls back when the
   always-valid interval excludes zero on the worse side).
2. ``keep``: a sample-ratio mismatch: the results are untrustworthy; fix the assignment.
3. ``extend``: the primary metric has no usable test yet (no outcomes, an empty arm).
4. Significant improvement of the primary metric (after correction across challengers, or
   a crossed Lan-DeMets boundary for a design with several looks):
   a guardrail that warns or is inconclusive -> ``extend`` (never roll out past it);
   relative lift > ``full_rollout_lift`` -> ``rollout_full``;
   >= ``gradual_rollout_lift`` -> ``rollout_gradual``; below -> ``keep`` (too small to pay).
5. Not significant: ``extend`` while the sample the design needs (at the observed variance)
   is within reach (the total duration stays within ``max_duration_days``, four weeks by
   default), else ``keep``: an effect the size of the MDE would have shown.

Across challengers: any ``rollback`` rolls back; otherwise the best rollout (full before
gradual, then the larger lift); otherwise ``extend`` if any challenger extends; else ``keep``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

from champion.spec.models import DecisionRules

__all__ = ["DECISIONS", "Decision", "Evidence", "decide", "decide_one"]

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


@dataclass(frozen=True, slots=True)
class Decision:
    decision: str
    reasons: tuple[str, ...]
    variant: str | None = None
    per_challenger: dict[str, tuple[str, tuple[str, ...]]] = field(default_factory=dict)

    def to_dict(self) -> dict:
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


def _remaining(e: Evidence) -> str:
    if e.more_units is None:
        return "add a design block (mde, baseline) to know how many more units it needs"
    days = (
        f" (about {e.more_days} more days at the current rate)" if e.more_days is not None else ""
    )
    return f"{e.more_units:,} more units{days} reach the design's power"


def decide_one(
    e: Evidence, rules: DecisionRules, *, srm_reason: str = ""
) -> tuple[str, tuple[str, ...]]:
    """The decision and its reasons for one challenger (rules in the module docstring)."""
    if e.failed_guardrails:
        return "rollback", tuple(f"guardrail failed: {g}" for g in e.failed_guardrails)
    if e.worse:
        return "rollback", (f"{e.variant} is significantly worse on {_lift(e)}",)
    if srm_reason:
        return "keep", (f"{srm_reason}: results untrustworthy, fix the assignment and restart",)
    if not e.usable:
        note = e.usable_note or "no usable test yet"
        return "extend", (f"{e.metric}: {note}; keep collecting data",)
    if e.significant and e.improvement > 0:
        if e.blocking_guardrails:
            return "extend", (
                f"{e.variant} improves {_lift(e)}, but a guardrail is not yet clear",
                *(f"guardrail: {g}" for g in e.blocking_guardrails),
            )
        if e.improvement > rules.full_rollout_lift:
            return "rollout_full", (
                (
                    f"{e.variant} improves {_lift(e)}: above the full-rollout threshold "
                    f"{rules.full_rollout_lift:.0%}"
                ),
            )
        if e.improvement >= rules.gradual_rollout_lift:
            return "rollout_gradual", (
                (
                    f"{e.variant} improves {_lift(e)}: between the gradual "
                    f"({rules.gradual_rollout_lift:.0%}) and full ({rules.full_rollout_lift:.0%}) "
                    "rollout thresholds"
                ),
            )
        return "keep", (
            (
                f"{e.variant} improves {_lift(e)}, significant but below the "
                f"{rules.gradual_rollout_lift:.0%} gradual-rollout threshold: not worth a change"
            ),
        )
    if e.within_reach and (e.more_units is None or e.more_units > 0):
        return "extend", (f"{e.variant}: not significant yet on {_lift(e)}; {_remaining(e)}",)
    if e.more_units == 0:
        why = "the sample the design needs is reached"
    else:
        why = f"{_remaining(e)}, beyond the maximum duration"
    return "keep", (
        (
            f"{e.variant}: not significant on {_lift(e)} and {why}: any effect is likely smaller "
            "than the MDE"
        ),
    )


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
