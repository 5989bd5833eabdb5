"""The shadow comparison report: one experiment, the served model and each shadow model.

:func:`build_report` opens the event log, asks the database for aggregates, turns them into
metrics and closes the database; the report it returns holds numbers only, ready for the
terminal, JSON (:meth:`ShadowReport.to_dict`) or HTML.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from datetime import datetime

from champion.errors import InvalidArgument
from champion.events.schema import from_epoch_us
from champion.shadow.export import report_dict
from champion.shadow.metrics import (
    Agreement,
    ErrorComparison,
    Histogram,
    ScoreDiff,
    agreement,
    error_comparison,
    score_diff,
    score_psi,
)
from champion.shadow.queries import (
    Latency,
    ServedAggregates,
    ShadowAggregates,
    ShadowEvents,
    open_shadow_events,
)
from champion.stats._checks import check_alpha
from champion.stats.drift import PSIResult, RateCI, proportion_ci

__all__ = ["HISTOGRAM_BINS", "ServedSummary", "ShadowComparison", "ShadowReport", "build_report"]

#: Bins of the HTML histograms (scores, |difference|, latency).
HISTOGRAM_BINS = 40


@dataclass(frozen=True, slots=True)
class ServedSummary:
    """The served side: every exposure of the experiment."""

    models: tuple[tuple[str, int], ...]
    requests: int
    with_request_id: int
    errors: RateCI
    latency: Latency
    first_ts: datetime | None
    last_ts: datetime | None


@dataclass(frozen=True, slots=True)
class ShadowComparison:
    """One shadow model against the served model, on the requests both answered.

    ``coverage`` is the share of served requests (inside the span of those this shadow
    answered) that reached it: the shadow's sampling rate as it happened.
    """

    model: str
    requests: int
    matched: int
    unmatched: int
    no_request_id: int
    matched_requests: int
    served_in_range: int
    first_ts: datetime | None
    last_ts: datetime | None
    agreement: Agreement
    score_diff: ScoreDiff
    psi: PSIResult | None
    psi_edges: tuple[float, ...]
    errors: ErrorComparison
    latency_shadow: Latency
    latency_served: Latency
    histograms: dict[str, Histogram]
    notes: tuple[str, ...]

    @property
    def coverage(self) -> float:
        if self.served_in_range == 0:
            return math.nan
        return min(self.matched_requests / self.served_in_range, 1.0)

    @property
    def psi_value(self) -> float:
        return self.psi.value if self.psi is not None else math.nan

    @property
    def psi_reading(self) -> str:
        return self.psi.reading if self.psi is not None else "n/a"


@dataclass(frozen=True, slots=True)
class ShadowReport:
    experiment: str
    events: str
    threshold: float
    alpha: float
    served: ServedSummary
    shadows: tuple[ShadowComparison, ...]

    def to_dict(self) -> dict[str, object]:
        """The report as plain JSON types (NaN stays NaN; the CLI writes it as null)."""
        return report_dict(self)


def _ts(us: int | None) -> datetime | None:
    return None if us is None else from_epoch_us(us)


def _served(agg: ServedAggregates, alpha: float) -> ServedSummary:
    return ServedSummary(
        models=agg.models,
        requests=agg.requests,
        with_request_id=agg.with_request_id,
        errors=proportion_ci(agg.errors, agg.requests, alpha=alpha),
        latency=agg.latency,
        first_ts=_ts(agg.first_us),
        last_ts=_ts(agg.last_us),
    )


def _span(lo: float, hi: float) -> tuple[float, float]:
    if not (math.isfinite(lo) and math.isfinite(hi)):
        return 0.0, 1.0
    if lo >= 0.0 and hi <= 1.0:
        return 0.0, 1.0  # probabilities: the whole unit interval
    return (lo, hi) if hi > lo else (lo - 0.5, lo + 0.5)


def _histograms(
    events: ShadowEvents, agg: ShadowAggregates, threshold: float
) -> dict[str, Histogram]:
    model, k = agg.model, HISTOGRAM_BINS
    out: dict[str, Histogram] = {}
    if agg.n_diff:
        lo, hi = _span(agg.score_lo, agg.score_hi)
        out["scores"] = Histogram(lo, hi, {
            "served": tuple(events.histogram(model, "e_score", lo, hi, k)),
            "shadow": tuple(events.histogram(model, "s_score", lo, hi, k)),
        })  # fmt: skip
        top = max(agg.diff_max, threshold * 1.25)
        out["diff"] = Histogram(
            0.0, top, {"shadow": tuple(events.histogram(model, "diff", 0.0, top, k))}
        )
    lat_s, lat_e = agg.latency_shadow, agg.latency_served
    if lat_s.n or lat_e.n:
        tops = [v for v in (lat_s.p99, lat_e.p99) if math.isfinite(v)]
        peak = max(v for v in (lat_s.max, lat_e.max) if math.isfinite(v))
        top = min(1.5 * max(tops), peak) if tops else peak
        top = top if top > 0 else 1.0
        out["latency"] = Histogram(0.0, top, {
            "served": tuple(events.histogram(model, "e_lat", 0.0, top, k)),
            "shadow": tuple(events.histogram(model, "s_lat", 0.0, top, k)),
        })  # fmt: skip
    return out


def _notes(agg: ShadowAggregates, psi: PSIResult | None, edges: list[float]) -> tuple[str, ...]:
    notes = []
    if agg.matched == 0:
        notes.append(
            "no shadow call matched a served request: log the same request_id on the "
            "exposure and the shadow events; only the shadow's errors and latency are shown"
        )
    elif agg.unmatched:
        notes.append(
            f"{agg.unmatched:,} of {agg.rows:,} shadow calls ({agg.unmatched / agg.rows:.1%}) "
            f"match no served request ({agg.no_request_id:,} without a request_id); they "
            "count in the shadow's errors and latency only"
        )
    incomparable = agg.answered - agg.compared
    if incomparable:
        notes.append(
            f"{incomparable:,} answered pairs are left out of the agreement: their predictions "
            "have no decision (e.g. a score outside [0, 1]) or decisions of different kinds"
        )
    if agg.answered and agg.n_diff == 0:
        notes.append(
            "no pair has a score on both sides: |score difference| and PSI need Exposure.score "
            "and Shadow.score"
        )
    if psi is not None and psi.bins < 10:
        notes.append(
            f"the served scores have {len(edges)} distinct deciles: the PSI uses {psi.bins} bins"
        )
    return tuple(notes)


def _compare(
    events: ShadowEvents, agg: ShadowAggregates, threshold: float, alpha: float
) -> ShadowComparison:
    psi, edges = score_psi(events, agg)
    return ShadowComparison(
        model=agg.model,
        requests=agg.rows,
        matched=agg.matched,
        unmatched=agg.unmatched,
        no_request_id=agg.no_request_id,
        matched_requests=agg.matched_requests,
        served_in_range=agg.served_in_range,
        first_ts=_ts(agg.first_us),
        last_ts=_ts(agg.last_us),
        agreement=agreement(agg, alpha),
        score_diff=score_diff(agg, threshold, alpha),
        psi=psi,
        psi_edges=tuple(edges),
        errors=error_comparison(agg, alpha),
        latency_shadow=agg.latency_shadow,
        latency_served=agg.latency_served,
        histograms=_histograms(events, agg, threshold),
        notes=_notes(agg, psi, edges),
    )


def build_report(
    events: str | os.PathLike[str],
    experiment: str,
    *,
    threshold: float = 0.1,
    alpha: float = 0.05,
) -> ShadowReport:
    """Compare every shadow model of ``experiment`` with the served model.

    ``threshold`` splits |score difference| (the share above it gets a Wilson interval);
    intervals are at 1 - ``alpha``.
    """
    if not (isinstance(threshold, int | float) and math.isfinite(threshold) and threshold > 0):
        raise InvalidArgument("threshold", threshold, "must be a number > 0, e.g. 0.1")
    alpha = check_alpha(alpha)
    with open_shadow_events(events, experiment) as ev:
        served = _served(ev.served(), alpha)
        shadows = tuple(_compare(ev, agg, threshold, alpha) for agg in ev.shadows(threshold))
    return ShadowReport(experiment, os.fspath(events), float(threshold), alpha, served, shadows)
