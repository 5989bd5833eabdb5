"""The same comparison within each segment value, corrected for the number of segments.

A segment (device, country) is fixed by the unit's first exposure, so the randomisation holds
inside it; within a segment the arms are compared per allocation version and combined, as
overall. Looking at many segments finds spurious effects, so each metric's p-values across
one attribute's values (and challengers) are adjusted together (Holm by default, or BH / the
spec's correction). A segment whose effect points against the aggregate with a CI that
excludes zero is flagged: a challenger that wins overall may lose for mobile users.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from champion.analysis.aggregates import MetricAggregates
from champion.analysis.comparison import Comparison, compare_histograms, compare_strata
from champion.analysis.kinds import kind_of
from champion.spec.models import Metric
from champion.stats.multiple import adjust_p_values

__all__ = ["SegmentResult", "segment_results"]


@dataclass(frozen=True, slots=True)
class SegmentResult:
    """One (metric, challenger, attribute = value) comparison and its adjusted p-value.

    ``against`` is True when the segment's effect has the opposite sign of the aggregate's
    and its CI excludes zero on that side; ``significant`` says whether the adjusted
    p-value is below alpha.
    """

    metric: str
    variant: str
    attribute: str
    value: str
    comparison: Comparison
    p_value_adjusted: float
    significant: bool
    against: bool

    def warning(self, aggregate: Comparison, correction: str) -> str:
        c = self.comparison
        lo, hi = c.test.diff_ci
        verdict = (
            f"significant after {correction} (adjusted p = {self.p_value_adjusted:.2g})"
            if self.significant
            else f"not significant after {correction} (adjusted p = {self.p_value_adjusted:.2g})"
        )
        return (
            f"segment {self.attribute}={self.value} moves against the aggregate on "
            f"{self.metric} with {self.variant}: {c.test.diff:+.4g} (CI {lo:.4g} to {hi:.4g}) "
            f"against {aggregate.test.diff:+.4g} overall; {verdict}"
        )


def _against(segment: Comparison, aggregate: Comparison) -> bool:
    overall = aggregate.test.diff
    lo, hi = segment.test.diff_ci
    if not segment.ok or math.isnan(overall) or overall == 0 or math.isnan(lo):
        return False
    return hi < 0 if overall > 0 else lo > 0


def _compare(
    metric: Metric,
    aggregates: MetricAggregates,
    attribute: str,
    value: str,
    champion: str,
    variant: str,
    alpha: float,
) -> Comparison | None:
    """One segment value's comparison; None when an arm has no units there."""
    if kind_of(metric.kind).from_histogram:
        histogram = aggregates.segment_histogram(attribute, value)
        if histogram is None or not (
            any(histogram.counts.get(champion, ())) and any(histogram.counts.get(variant, ()))
        ):
            return None
        q = metric.quantile or 0.5
        return compare_histograms(
            metric.name, metric.direction, histogram, champion, variant, q, alpha=alpha, bayes=False
        )
    strata = aggregates.by_segment_strata(attribute, value)
    if not any(champion in arms for arms in strata.values()) or not any(
        variant in arms for arms in strata.values()
    ):
        return None
    covariate = kind_of(metric.kind).adjusts(metric)
    return compare_strata(
        metric.name,
        metric.kind,
        metric.direction,
        strata,
        champion,
        variant,
        covariate=covariate,
        alpha=alpha,
        bayes=False,
    )


def segment_results(
    metric: Metric,
    aggregates: MetricAggregates,
    attributes: Sequence[str],
    champion: str,
    challengers: Sequence[str],
    overall: dict[str, Comparison],
    *,
    alpha: float,
    correction: str,
) -> list[SegmentResult]:
    """Every segment value of every attribute for one metric, corrected per attribute."""
    out: list[SegmentResult] = []
    for attribute in attributes:
        rows = []
        for value in aggregates.segment_values(attribute):
            for variant in challengers:
                c = _compare(metric, aggregates, attribute, value, champion, variant, alpha)
                if c is not None:
                    rows.append((variant, value, c))
        adjusted = adjust_p_values([c.test.p_value for _, _, c in rows], correction)
        for (variant, value, c), p_adj in zip(rows, adjusted, strict=True):
            significant = bool(not math.isnan(p_adj) and p_adj < alpha)
            aggregate = overall.get(variant)
            against = aggregate is not None and _against(c, aggregate)
            out.append(
                SegmentResult(
                    metric.name, variant, attribute, value, c, float(p_adj), significant, against
                )
            )
    return out
