"""The report as plain JSON data: what ``champion analyze --json`` prints.

Every number is a float or None (NaN and infinities have no JSON spelling), intervals are
two-element lists, times are ISO 8601 strings. The shape is documented in docs/analysis.md.
"""

from __future__ import annotations

import math
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

from champion.analysis.significance import significance
from champion.stats.results import SRMResult, TestResult

if TYPE_CHECKING:
    from champion.analysis.health import HealthReport, SrmReport
    from champion.analysis.looks import Look
    from champion.analysis.readout import ChallengerResult, MetricResult, Report

__all__ = ["clean", "report_to_dict"]


def clean(value: Any) -> Any:
    """JSON-safe copy: NaN/inf -> None, tuples -> lists, dates -> ISO strings, enums -> values."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, str):
        return str(value)  # a StrEnum becomes its value
    if isinstance(value, bool | int) or value is None:
        return value
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, dict):
        return {str(k): clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [clean(v) for v in value]
    try:
        return clean(float(value))  # numpy scalars
    except (TypeError, ValueError):
        return str(value)


def _test(t: TestResult) -> dict[str, Any]:
    return {
        "control": t.control,
        "treatment": t.treatment,
        "diff": t.diff,
        "diff_ci": t.diff_ci,
        "rel_lift": t.rel_lift,
        "rel_lift_ci": t.rel_lift_ci,
        "statistic": t.statistic,
        "p_value": t.p_value,
        "method": t.method,
        "alternative": t.alternative,
        "status": str(t.status),
    }


def _srm_result(r: SRMResult | None) -> dict[str, Any]:
    if r is None:
        return {"statistic": None, "p_value": None}
    return {"statistic": r.statistic, "p_value": r.p_value}


def _srm(s: SrmReport) -> dict[str, Any]:
    return {
        "p_value": s.p_value,
        "statistic": s.overall.statistic if s.overall else None,
        "sequential_p_value": s.sequential.p_value if s.sequential else None,
        "threshold": s.threshold,
        "mismatch": s.mismatch,
        "reason": s.reason(),
        "observed": s.observed,
        "expected_shares": s.expected_shares,
        "stages": [
            {
                "allocation_version": st.allocation_version,
                "label": st.label,
                "observed": st.observed,
                "expected_shares": st.expected_shares,
                **_srm_result(st.test),
                "sequential_p_value": st.sequential.p_value if st.sequential else None,
                "mismatch": st.mismatch,
                "note": st.note,
            }
            for st in s.stages
        ],
    }


def _health(h: HealthReport) -> dict[str, Any]:
    return {
        "exposed_units": h.exposed_units,
        "analysed_units": h.analysed_units,
        "multiple_exposure_units": h.multiple_exposure_units,
        "multiple_exposure_share": h.multiple_exposure_share,
        "crossovers": h.crossovers,
        "first_exposure": h.first_exposure,
        "last_exposure": h.last_exposure,
        "last_outcome": h.last_outcome,
        "as_of": h.as_of,
        "exposure_lag_hours": h.exposure_lag_hours,
        "outcome_lag_hours": h.outcome_lag_hours,
        "units_in_window": h.units_in_window,
        "units_in_window_share": h.units_in_window_share,
        "outcomes": h.outcomes,
        "warnings": list(h.warnings),
    }


def _challenger(r: ChallengerResult) -> dict[str, Any]:
    c = r.comparison
    t = c.test
    out: dict[str, Any] = {
        "value": t.treatment,
        "n": c.n_treatment,
        "control_value": t.control,
        "control_n": c.n_control,
        "diff": t.diff,
        "diff_ci": t.diff_ci,
        "rel_lift": t.rel_lift,
        "rel_lift_ci": t.rel_lift_ci,
        "improvement": c.improvement,
        "improvement_ci": c.improvement_ci,
        "statistic": t.statistic,
        "p_value": t.p_value,
        "p_value_adjusted": r.p_value_adjusted,
        "significant": r.significant,
        "significance": significance(c, r.significant),  # with its direction: "yes, WORSE"
        "alternative": t.alternative,
        "method": t.method,
        "status": c.status,
        "se": c.se,
        "always_valid_ci": r.always_valid_ci,
        "cuped": None,
        "bayes": None,
        "power": None,
        "sequential": None,
    }
    if c.unadjusted is not None:
        out["cuped"] = {
            "variance_reduction": c.variance_reduction,
            "unadjusted": _test(c.unadjusted),
        }
    if c.bayes is not None:
        out["bayes"] = {
            "chance_to_beat": c.chance_to_beat,
            "expected_loss": c.expected_loss,
            "credible_interval": c.bayes.diff_ci,
            "method": c.bayes.method,
        }
    if r.power is not None:
        p = r.power
        out["power"] = {
            "mde": p.mde,
            "relative": p.relative,
            "target": p.target_power,
            "achieved": p.power,
            "needed_control": p.needed_control,
            "needed_treatment": p.needed_treatment,
            "more_units": p.more_units,
            "more_days": p.more_days,
            "daily_control": p.daily_control,
            "daily_treatment": p.daily_treatment,
            "note": p.note,
        }
    out["look"] = _look(r.look) if r.look is not None else None
    out["sequential"] = out["look"] if r.look is not None and r.look.sequential else None
    out["strata"] = _strata(r)
    out["cumulative"] = [
        {
            "day": p.day,
            "control": p.control,
            "n_control": p.n_control,
            "n_treatment": p.n_treatment,
            "diff": p.diff,
            "diff_ci": p.diff_ci,
            "rel_lift": p.rel_lift,
            "rel_lift_ci": p.rel_lift_ci,
            "always_valid_ci": p.always_valid_ci,
            "information_fraction": p.information_fraction,
            "look": p.look,
            "boundary_diff": p.boundary_diff,
        }
        for p in r.cumulative
    ]
    return out


def _look(k: Look) -> dict[str, Any]:
    return {
        "looks": k.looks,
        "index": k.index,
        "information_fraction": k.information_fraction,
        "information": k.information,
        "max_information": k.max_information,
        "boundary": k.boundary,
        "statistic": k.statistic,
        "alpha": k.alpha,
        "alpha_spent": k.alpha_spent,
        "decision_point": k.decision_point,
        "final": k.final,
        "crossed": k.crossed,
        "direction": k.direction,
        "next_fraction": k.next_fraction,
        "verdict": k.verdict,
        "decided_at": k.decided_at,
        "spending": k.spending,
        "alternative": k.alternative,
        "planned_fractions": k.planned,
        "planned_boundaries": k.planned_boundaries,
        "status": k.describe(),
    }


def _strata(r: ChallengerResult) -> list[dict[str, Any]]:
    """Per allocation version of first exposure: units per arm and the estimate. A single
    usable version is the whole comparison."""
    c = r.comparison
    parts = c.strata
    if not parts:
        return []
    return [
        {
            "allocation_version": s.version,
            "n_control": s.n_control,
            "n_treatment": s.n_treatment,
            "control": s.control,
            "treatment": s.treatment,
            "diff": s.diff,
            "se": s.se,
            "weight": s.weight,
        }
        for s in parts
    ]


def _metric(m: MetricResult) -> dict[str, Any]:
    return {
        "role": m.role,
        "kind": m.kind,
        "direction": m.direction,
        "status": m.status,
        "covariate": m.covariate,
        "correction": m.correction if m.role == "secondary" else None,
        "control": {"value": m.control_value, "n": m.control_n},
        "challengers": {v: _challenger(r) for v, r in m.challengers.items()},
    }


def report_to_dict(report: Report) -> dict[str, Any]:
    d = report.decision
    state = report.state
    out = {
        "experiment": report.experiment,
        "as_of": report.as_of,
        "champion": report.champion,
        "challengers": list(report.challengers),
        "state": state.to_dict() if state is not None else None,
        "alpha": report.alpha,
        "rules": report.rules.model_dump(),
        "decision": d.decision,
        "reasons": list(d.reasons),
        "decision_variant": d.variant,
        "per_challenger": d.to_dict()["per_challenger"],
        "srm": _srm(report.health.srm),
        "crossovers": report.health.crossovers,
        "look": {v: _look(k) for v, k in report.looks.items()},
        "strata": {v: _strata(r) for v, r in report.primary.challengers.items()},
        "new_looks": [k.to_dict() for k in report.new_looks],
        "health": _health(report.health),
        "metrics": {m.name: _metric(m) for m in report.metrics},
        "segments": [
            {
                "metric": s.metric,
                "variant": s.variant,
                "attribute": s.attribute,
                "value": s.value,
                "n_control": s.comparison.n_control,
                "n_treatment": s.comparison.n_treatment,
                "diff": s.comparison.test.diff,
                "diff_ci": s.comparison.test.diff_ci,
                "rel_lift": s.comparison.test.rel_lift,
                "rel_lift_ci": s.comparison.test.rel_lift_ci,
                "p_value": s.comparison.test.p_value,
                "p_value_adjusted": s.p_value_adjusted,
                "significant": s.significant,
                "significance": significance(s.comparison, s.significant),
                "against": s.against,
                "status": s.comparison.status,
            }
            for s in report.segments
        ],
        "guardrails": [
            {
                "guardrail": g.guardrail,
                "variant": g.variant,
                "rule": g.rule,
                "status": g.status,
                "value": g.value,
                "champion_value": g.champion_value,
                "bound": g.bound,
                "evidence": g.evidence,
            }
            for g in report.guardrails
        ],
        "serving": {
            "requests": report.requests,
            "errors": report.errors,
            "latency_ms": {
                v: {
                    f"p{round(q * 100)}": {"estimate": e.estimate, "ci": e.ci, "n": e.n}
                    for q, e in qs.items()
                }
                for v, qs in report.latency.items()
            },
        },
        "warnings": list(report.warnings),
    }
    cleaned: dict[str, Any] = clean(out)  # a dict stays a dict
    return cleaned
