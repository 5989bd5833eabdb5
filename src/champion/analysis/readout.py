"""The experiment read-out: health, every metric and challenger, segments, guardrails, decision.

:func:`build_report` turns an :class:`~champion.analysis.aggregates.AnalysisData` (sums
computed where the data lives) and the experiment's spec into a :class:`Report`; every number
in it comes from :mod:`champion.stats` applied to those sums. ``Report.to_dict()`` is what
``champion analyze --json`` prints (shape in docs/analysis.md).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import TYPE_CHECKING, Any

from champion.analysis.aggregates import AnalysisData, Cell, LatencyHistogram, MetricAggregates
from champion.analysis.comparison import (
    NO_OUTCOMES,
    Comparison,
    compare_cells,
    compare_histograms,
    compare_strata,
)
from champion.analysis.cumulative import CumulativePoint, cumulative_series
from champion.analysis.decision import Decision, Evidence, decide, primary_verdict
from champion.analysis.guardrails import BLOCKING, FAIL, GuardrailCheck, check_guardrails
from champion.analysis.health import HealthReport, check_health
from champion.analysis.kinds import kind_of
from champion.analysis.looks import Look, interim_record, plan_look
from champion.analysis.progress import (
    DEFAULT_MAX_DAYS,
    Power,
    always_valid_interval,
    power_status,
)
from champion.analysis.segments import SegmentResult, segment_results
from champion.errors import InvalidArgument
from champion.spec.design import Design
from champion.spec.models import DecisionRules, Experiment, Metric
from champion.stats._normal import fieller_rel_ci
from champion.stats.multiple import adjust_p_values
from champion.stats.quantile import QuantileEstimate, histogram_quantile
from champion.stats.results import TestResult

if TYPE_CHECKING:
    from champion.registry.records import AuditEntry, ExperimentState, LookRecord

__all__ = ["ChallengerResult", "MetricResult", "Report", "build_report"]

LATENCY_QUANTILES = (0.5, 0.95, 0.99)


@dataclass(frozen=True, slots=True)
class ChallengerResult:
    """One challenger on one metric: the comparison and what follows from it."""

    variant: str
    comparison: Comparison
    p_value_adjusted: float
    significant: bool
    always_valid_ci: tuple[float, float]
    power: Power | None = None
    look: Look | None = None  # the primary metric's place in its design
    cumulative: tuple[CumulativePoint, ...] = ()


@dataclass(frozen=True, slots=True)
class MetricResult:
    name: str
    role: str  # primary or secondary
    kind: str
    direction: str
    status: str  # ok, no_outcomes, no_histogram, or the tests' status
    covariate: str | None
    control_value: float
    control_n: float
    challengers: dict[str, ChallengerResult]
    correction: str


@dataclass(frozen=True, slots=True)
class Report:
    experiment: str
    champion: str
    challengers: tuple[str, ...]
    as_of: datetime
    alpha: float
    rules: DecisionRules
    design: Design | None
    health: HealthReport
    metrics: tuple[MetricResult, ...]
    segments: tuple[SegmentResult, ...]
    guardrails: tuple[GuardrailCheck, ...]
    decision: Decision
    latency_histogram: LatencyHistogram
    latency: dict[str, dict[float, QuantileEstimate]]
    requests: dict[str, int]
    errors: dict[str, int]
    warnings: tuple[str, ...]
    state: ExperimentState | None = None
    new_looks: tuple[LookRecord, ...] = ()  # decision points this read-out made: store them

    @property
    def looks(self) -> dict[str, Look]:
        """Per challenger, the primary metric's look (empty without a design block)."""
        return {v: r.look for v, r in self.primary.challengers.items() if r.look is not None}

    def metric(self, name: str) -> MetricResult:
        for m in self.metrics:
            if m.name == name:
                return m
        raise KeyError(name)

    @property
    def primary(self) -> MetricResult:
        return self.metrics[0]

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (NaN and infinities as None); shape in docs/analysis.md."""
        from champion.analysis.readout_json import report_to_dict

        return report_to_dict(self)


def _no_outcomes(name: str, data: AnalysisData, aggregates: MetricAggregates) -> bool:
    counts = data.health.outcomes
    if name in counts:
        return counts[name] == 0
    total = Cell()
    for cell in aggregates.overall().values():
        total = total + cell
    return total.n > 0 and total.sum_y == 0 and total.sum_y_sq == 0 and total.sum_d == 0


def _compare_metric(
    m: Metric,
    agg: MetricAggregates,
    champion: str,
    challengers: Sequence[str],
    alpha: float,
    alternative: str,
) -> dict[str, Comparison]:
    if kind_of(m.kind).from_histogram:
        hist = getattr(agg, "histogram", None)
        out = {}
        for v in challengers:
            if hist is None:
                c = compare_cells(m.name, m.kind, m.direction, Cell(), Cell(), alpha=alpha)
                out[v] = replace(c, status="no_histogram")
            else:
                out[v] = compare_histograms(
                    m.name,
                    m.direction,
                    hist,
                    champion,
                    v,
                    m.quantile or 0.5,
                    alpha=alpha,
                    alternative=alternative,
                )
        return out
    strata = agg.strata()
    covariate = kind_of(m.kind).adjusts(m)
    return {
        v: _rel_ci_for_kind(
            compare_strata(
                m.name,
                m.kind,
                m.direction,
                strata,
                champion,
                v,
                covariate=covariate,
                alpha=alpha,
                alternative=alternative,
            )
        )
        for v in challengers
    }


def _rel_ci(c: Comparison, t: TestResult, critical: float) -> tuple[float, float]:
    """The relative-lift interval at ``critical`` that agrees with the difference's interval
    (Fieller's: it leaves out 0% exactly when the difference's leaves out 0, at the same
    critical value), a proportion's held above -100%.

    The arms' variances are scaled to the difference's standard error (CUPED and strata
    shrink it), in proportion to each other.
    """
    var_c, var_t = c.var_control, c.var_treatment
    total = var_c + var_t
    if total > 0 and c.se > 0 and math.isfinite(total):
        scale = c.se * c.se / total
        var_c, var_t = var_c * scale, var_t * scale
    lo, hi = fieller_rel_ci(
        t.control, var_c, t.treatment, var_t, critical, positive=c.kind == "proportion"
    )
    if t.alternative == "larger":
        return (lo, math.inf)
    if t.alternative == "smaller":
        return (-1.0 if c.kind == "proportion" else -math.inf, hi)
    return (lo, hi)


def _rel_ci_for_kind(c: Comparison) -> Comparison:
    """The comparison with the relative-lift interval that agrees with its difference's
    interval, at the same confidence (CUPED and strata included)."""
    t = c.test
    if not c.ok or not (c.se > 0):
        return c
    lo, hi = t.diff_ci
    critical = (hi - t.diff) / c.se if math.isfinite(hi) else (t.diff - lo) / c.se
    if not math.isfinite(critical):
        return c
    return replace(c, test=replace(t, rel_lift_ci=_rel_ci(c, t, critical)))


def _adjusted(p_values: list[float], correction: str) -> list[float]:
    return [float(p) for p in adjust_p_values(p_values, correction)] if p_values else []


def _how(look: Look | None, correction: str, n_challengers: int, p_adj: float) -> str:
    if look is not None:
        return look.describe()
    if n_challengers > 1 and not math.isnan(p_adj):
        return f"{correction}-adjusted p = {p_adj:.2g}"
    return ""


def _always_valid_side(c: Comparison, interval: tuple[float, float]) -> float:
    """+1 when the always-valid interval shows the challenger better, -1 worse, 0 neither."""
    lo, hi = interval
    if math.isnan(lo) or not c.ok:
        return 0.0
    if lo > 0 or hi < 0:
        return c.sign * (1.0 if lo > 0 else -1.0)
    return 0.0


ALWAYS_VALID = "the always-valid interval excludes 0"


def _always_valid_test(c: Comparison, interval: tuple[float, float]) -> Comparison:
    """``c`` with the always-valid interval as its CI (and the relative CI it implies)."""
    t = c.test
    critical = (interval[1] - t.diff) / c.se
    rel_ci = _rel_ci(c, replace(t, alternative="two-sided"), critical)
    test = replace(
        t, diff_ci=interval, rel_lift_ci=rel_ci, method=f"{t.method}, always-valid interval"
    )
    return replace(c, test=test)


def _primary_significance(
    c: Comparison, look: Look | None, interval: tuple[float, float]
) -> tuple[bool, bool, str]:
    """(significant, worse, how) for the decision, valid however often it is read.

    With a design: a decision point's boundary, or (between them) the always-valid interval
    on the worse side only — a design says when an improvement is read, and stopping early
    for one would also leave the reported interval conservative; harm may stop it any day.
    Without a design: the always-valid interval, on either side.
    """
    side = _always_valid_side(c, interval)
    if look is not None and look.decision_point and look.crossed:
        worse = c.better < 0
        return True, worse, look.describe()
    if side != 0 and (look is None or side < 0):
        return True, side < 0, ALWAYS_VALID
    return False, False, look.describe() if look is not None else ""


def build_report(
    data: AnalysisData,
    spec: Experiment,
    *,
    state: ExperimentState | None = None,
    history: Sequence[AuditEntry] = (),
    max_days: float | None = None,
    ledger: Sequence[LookRecord] = (),
) -> Report:
    """Read out an experiment from its aggregates; a spec metric missing from them raises.

    ``ledger`` holds the decision points recorded by earlier read-outs (the registry's look
    ledger); the report's ``new_looks`` are this read-out's, to be recorded in turn.
    """
    rules = spec.decision or DecisionRules()
    design = spec.design
    alpha = design.alpha if design is not None else 0.05
    champion, challengers = spec.champion, tuple(spec.challengers)
    n_ch = len(challengers)
    primary = spec.metrics.primary
    stages = spec.rollout.stages if spec.rollout else []
    health = check_health(
        data.health,
        srm_threshold=rules.srm_threshold,
        primary_window_days=primary.window_days,
        history=history,
        stages=stages,
    )
    days = health.days_elapsed
    warnings = list(health.warnings)
    results: list[MetricResult] = []
    comparisons: dict[str, dict[str, Comparison]] = {}
    for m in spec.metrics.all():
        agg = data.metrics.get(m.name)
        if agg is None:
            known = ", ".join(sorted(data.metrics)) or "none"
            raise InvalidArgument(
                "metric", m.name, f"is not in the analysed data (analysed metrics: {known})"
            )
        is_primary = m is primary
        alternative = design.alternative if (is_primary and design) else "two-sided"
        comp = _compare_metric(m, agg, champion, challengers, alpha, alternative)
        if _no_outcomes(m.name, data, agg):
            comp = {v: replace(c, status=NO_OUTCOMES) for v, c in comp.items()}
            warnings.append(
                f"metric {m.name} has no outcomes: no outcome event is named {m.name!r} "
                "inside its window; load them with champion outcomes load"
            )
        elif any(c.status == "no_histogram" for c in comp.values()):
            warnings.append(f"metric {m.name}: the aggregates carry no histogram for a quantile")
        comparisons[m.name] = comp
    # Multiple testing: the primary across challengers, the secondaries together.
    primary_p = _adjusted(
        [c.test.p_value for c in comparisons[primary.name].values()], rules.correction
    )
    secondary = [(m.name, v) for m in spec.metrics.secondary for v in challengers]
    secondary_p = _adjusted(
        [comparisons[n][v].test.p_value for n, v in secondary], rules.correction
    )
    adjusted = dict(zip([(primary.name, v) for v in challengers], primary_p, strict=True))
    adjusted.update(zip(secondary, secondary_p, strict=True))

    evidence: list[Evidence] = []
    max_total = max_days or (
        design.max_duration_days if design and design.max_duration_days else DEFAULT_MAX_DAYS
    )
    daily = {v: health.daily_exposed(v) for v in (champion, *challengers)}
    looks: dict[str, Look] = {}
    for m in spec.metrics.all():
        agg = data.metrics[m.name]
        is_primary = m is primary
        per: dict[str, ChallengerResult] = {}
        for v, c in comparisons[m.name].items():
            p_adj = adjusted[(m.name, v)]
            significant = bool(c.ok and not math.isnan(p_adj) and p_adj < alpha)
            interval = always_valid_interval(c, alpha)
            look = None
            fraction = None
            if is_primary and design is not None:
                shares = (spec.allocation.get(champion, 0.0), spec.allocation.get(v, 0.0))
                look = plan_look(
                    c, design, ledger, experiment=spec.name, variant=v,
                    at=data.health.as_of, shares=shares, n_challengers=n_ch,
                )  # fmt: skip
                looks[v] = look
                fraction = look.information_fraction
            if is_primary:
                significant, _, how = _primary_significance(c, look, interval)
                if significant and how == ALWAYS_VALID:
                    # decided on the always-valid interval: that is the interval it stands on
                    c = _always_valid_test(c, interval)
                    comparisons[m.name][v] = c
            power = power_status(
                c, design, primary=is_primary, n_challengers=n_ch,
                daily=(daily[champion], daily[v]), information_fraction=fraction,
            )  # fmt: skip
            series: list[CumulativePoint] = []
            if not kind_of(m.kind).from_histogram and c.ok:
                series = cumulative_series(
                    m, agg, champion, v, alpha=alpha, alternative=c.test.alternative,
                    sequential=look,
                )  # fmt: skip
            per[v] = ChallengerResult(
                v, c, p_adj, significant, interval, power, look, tuple(series)
            )
            if is_primary:
                evidence.append(
                    # time is up once the traffic's maximum duration has passed and the
                    # last units exposed then have had their window to convert
                    _evidence(
                        c,
                        per[v],
                        rules,
                        n_ch,
                        days,
                        max_total,
                        _time_up(health, max_total, float(primary.window_days)),
                    )
                )
        first = next(iter(comparisons[m.name].values()), None)
        status = first.status if first is not None else "ok"
        control_n = first.n_control if first is not None else 0.0
        results.append(
            MetricResult(
                m.name,
                "primary" if is_primary else "secondary",
                m.kind,
                m.direction,
                status,
                m.covariate,
                first.test.control if first else math.nan,
                control_n,
                per,
                rules.correction,
            )
        )

    segs: list[SegmentResult] = []
    for m in spec.metrics.all():
        if not data.segments:
            continue
        segs += segment_results(
            m,
            data.metrics[m.name],
            data.segments,
            champion,
            challengers,
            comparisons[m.name],
            alpha=alpha,
            correction=rules.correction,
        )
    warnings += [
        s.warning(comparisons[s.metric][s.variant], rules.correction) for s in segs if s.against
    ]

    checks = check_guardrails(
        spec.metrics.guardrails, data, spec.metrics.all(), champion, challengers, alpha=alpha
    )
    warnings += [g.evidence for g in checks if g.status == "no_data"]
    evidence = [
        replace(
            e,
            failed_guardrails=tuple(
                g.evidence for g in checks if g.variant == e.variant and g.status == FAIL
            ),
            blocking_guardrails=tuple(
                g.evidence for g in checks if g.variant == e.variant and g.status in BLOCKING
            ),
        )
        for e in evidence
    ]
    no_data = ""
    if data.health.exposed_units == 0:
        no_data = f"no exposures for {spec.name} yet: nothing to decide"
    srm_reason = health.srm.reason() if health.srm.mismatch else ""
    decision = decide(evidence, rules, srm_reason=srm_reason, no_data_reason=no_data)
    new_looks = (
        ()
        if srm_reason or no_data
        else _new_looks(looks, evidence, rules, spec.name, data.health.as_of)
    )
    hist = data.serving.latency
    latency = {
        v: {q: histogram_quantile(hist.edges, counts, q, alpha=alpha) for q in LATENCY_QUANTILES}
        for v, counts in hist.counts.items()
    }
    return Report(
        experiment=spec.name,
        champion=champion,
        challengers=challengers,
        as_of=data.health.as_of,
        alpha=alpha,
        rules=rules,
        design=design,
        health=health,
        metrics=tuple(results),
        segments=tuple(segs),
        guardrails=tuple(checks),
        decision=decision,
        latency_histogram=hist,
        latency=latency,
        requests=dict(data.serving.requests),
        errors=dict(data.serving.errors),
        warnings=tuple(warnings),
        state=state,
        new_looks=new_looks,
    )


def _time_up(health: HealthReport, max_total: float, window: float) -> bool:
    """The maximum duration has passed: traffic has run for it (to within a day) and every
    unit's primary window has closed, or it has passed by a whole window more."""
    if health.days_running - window >= max_total:
        return True
    return health.units_in_window == 0 and health.days_elapsed >= max_total - 1.0


def _new_looks(
    looks: dict[str, Look],
    evidence: Sequence[Evidence],
    rules: DecisionRules,
    name: str,
    at: datetime,
) -> tuple[LookRecord, ...]:
    """Ledger rows for this read-out's decision points, with the primary's verdict; a
    verdict reached on the always-valid interval between decision points is one too."""
    out = []
    for e in evidence:
        look = looks.get(e.variant)
        if look is None or look.verdict is not None:
            continue
        verdict = primary_verdict(e, rules)
        record = look.record
        if record is None and verdict != "extend":
            record = interim_record(look, name, e.variant, at)
        if record is not None:
            out.append(replace(record, decision=verdict))
    return tuple(out)


def _evidence(
    c: Comparison,
    r: ChallengerResult,
    rules: DecisionRules,
    n_challengers: int,
    days: float,
    max_total: float,
    time_up: bool,
) -> Evidence:
    usable = c.status == "ok" and not math.isnan(c.test.p_value)
    note = {
        NO_OUTCOMES: "no outcomes yet",
        "empty_arm": "an arm has no counted units yet (a unit counts once its window closes)",
        "too_few": "too few units for a test",
        "zero_variance": "no variation yet (no conversions in either arm)",
        "zero_baseline": "the champion's value is 0, so the relative lift is undefined",
        "no_histogram": "no histogram for the quantile",
    }.get(c.status, f"status {c.status}")
    power = r.power
    more_units = power.more_units if power is not None else None
    more_days = power.more_days if power is not None else None
    reach = days <= max_total if more_days is None else days + more_days <= max_total
    look = r.look
    significant, worse, how = _primary_significance(c, look, r.always_valid_ci)
    if look is None or how != look.describe():
        how = how or _how(look, rules.correction, n_challengers, r.p_value_adjusted)
    return Evidence(
        variant=r.variant,
        metric=c.metric,
        improvement=c.improvement,
        improvement_ci=c.improvement_ci,
        p_value=r.p_value_adjusted,
        significant=significant and usable,
        worse=usable and worse,
        usable=usable,
        more_units=more_units,
        more_days=more_days,
        within_reach=reach,
        how=how,
        usable_note=note if not usable else "",
        final=look is not None and look.decision_point and look.final,
        verdict=look.verdict if look is not None else None,
        decided_at=look.decided_at if look is not None else None,
        next_fraction=look.next_fraction if look is not None else math.nan,
        time_up=time_up,
        mde=_relative_mde(power, c.test.control),
    )


def _relative_mde(power: Power | None, control: float) -> float:
    """The design's MDE as a relative change (an absolute one over the champion's level)."""
    if power is None or math.isnan(power.mde):
        return math.nan
    if power.relative:
        return abs(power.mde)
    return abs(power.mde / control) if control else math.nan
