"""Guardrails: lines a challenger must not cross, each checked with its evidence in words.

Absolute bounds (``max: 200`` on latency_p95_ms) use the challenger's value and its one-sided
``1 - alpha`` confidence bounds; ``pass`` needs evidence too, not just a good estimate:

- ``pass``: the one-sided bound on the near side is inside the limit (for a max, the upper
  bound is at or below the max; for a min, the lower bound is at or above the min);
- ``fail``: the bound is crossed with evidence: the whole one-sided interval lies beyond it
  (for a max, the lower bound is above the max);
- ``warn``: neither, yet: the interval reaches both sides of the limit (or has no end).

Non-inferiority margins (``non_inferiority_margin: 0.005``) compare challenger and champion in
the metric's direction (latency and error rate: lower is better):

- ``pass``: non-inferiority is shown (the one-sided bound on the difference is inside the margin);
- ``fail``: inferiority beyond the margin is shown (the opposite one-sided test rejects);
- ``inconclusive``: neither, yet.

A ``fail`` rolls back; a ``warn`` or ``inconclusive`` blocks a rollout (the decision waits).

Request-level guardrails (``error_rate``, ``latency_*_ms``) count requests, but a unit's
requests are alike, so their variance is taken per unit: the serving sums come split into
buckets of units (a hash of ``unit_id``), and the spread between buckets sets the variance
(``champion.stats.clustered``): the error rate is a ratio of per-bucket sums (delta method;
the Clopper-Pearson interval at the effective sample size), a latency quantile has its
order-statistic interval at the effective sample size, the latency mean is a ratio over
buckets (Student's t on 63 df), and their non-inferiority margins compare arms with these
variances. Serving sums without buckets (built by hand) are read as independent requests
(Wilson, order statistics, Welch), and the evidence says so.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import chain
from typing import TypedDict

import numpy as np

from champion.analysis.aggregates import AnalysisData, Cell, LatencyHistogram, ServingStats
from champion.analysis.kinds import kind_of
from champion.errors import InvalidArgument
from champion.spec.models import (
    BUILTIN_GUARDRAIL_METRICS,
    MONITOR_GUARDRAIL_METRICS,
    Guardrail,
    Metric,
)
from champion.stats._normal import z_quantile
from champion.stats.clustered import (
    cluster_ratio_stats,
    clustered_histogram_mean,
    clustered_quantile,
    clustered_quantile_difference,
    clustered_rate_ci,
)
from champion.stats.frequentist import t_quantile, welch_test
from champion.stats.noninferiority import noninferiority_mean, noninferiority_proportion
from champion.stats.quantile import histogram_mean, histogram_quantile, quantile_difference
from champion.stats.ratio import ratio_test, ratio_variance
from champion.stats.sufficient import RatioStats

__all__ = ["BLOCKING", "FAIL", "GuardrailCheck", "check_guardrails"]

FAIL = "fail"
BLOCKING = ("warn", "inconclusive")
_QUANTILES = {"latency_p50_ms": 0.5, "latency_p95_ms": 0.95, "latency_p99_ms": 0.99}
_NAN = float("nan")
_INDEPENDENT = "requests taken as independent: no per-unit sums"


@dataclass(frozen=True, slots=True)
class GuardrailCheck:
    """One rule of one guardrail for one challenger: its status and the evidence."""

    guardrail: str
    variant: str
    rule: str  # "max 200", "min 0.1", "non-inferiority margin 0.005"
    status: str  # pass, warn, fail, inconclusive, no_data
    value: float  # the challenger's value (bounds) or the difference (non-inferiority)
    champion_value: float
    bound: tuple[float, float]  # one-sided 1 - alpha bounds (lower, upper)
    evidence: str


@dataclass(frozen=True, slots=True)
class _Source:
    """Where a guardrail's numbers come from, per variant.

    ``kind``: proportion, mean, ratio, quantile, histogram_mean (per unit or independent
    values), or clustered_rate, clustered_mean (request-level, ratios over unit buckets in
    ``clusters``); a quantile with ``buckets`` has one histogram per unit bucket.
    """

    kind: str
    direction: str
    cells: dict[str, Cell] | None = None
    histogram: LatencyHistogram | None = None
    q: float = 0.5
    unit: str = ""
    clusters: dict[str, RatioStats] | None = None
    buckets: dict[str, np.ndarray] | None = None
    note: str = ""  # how the variance was taken, for the evidence


@dataclass(frozen=True, slots=True)
class _Value:
    """One variant's value: count, estimate, one-sided bounds, and a note for the evidence."""

    n: float
    estimate: float
    lower: float
    upper: float
    note: str = ""


_NO_VALUE = _Value(0.0, _NAN, _NAN, _NAN)


def _bucket_histograms(serving: ServingStats, bins: int) -> dict[str, np.ndarray]:
    """variant -> latency counts of shape (unit buckets, bins)."""
    out = {}
    size = serving.unit_buckets * bins
    for variant, cells in serving.bucket_latency.items():
        flat = np.fromiter(chain.from_iterable(cells), np.int64, 3 * len(cells))
        b, k, c = flat.reshape(-1, 3).T
        counts = np.bincount(b * bins + k, weights=c, minlength=size)
        out[variant] = counts.reshape(serving.unit_buckets, bins)
    return out


def _serving_source(name: str, serving: ServingStats) -> _Source:
    hist = serving.latency
    buckets = serving.unit_buckets
    if name == "error_rate":
        if not buckets:
            cells = {
                v: Cell(n=float(n), sum_y=float(serving.errors.get(v, 0)))
                for v, n in serving.requests.items()
            }
            return _Source("proportion", "lower", cells=cells, note=_INDEPENDENT)
        clusters = {
            v: cluster_ratio_stats(serving.bucket_errors.get(v, (0,) * len(r)), r)
            for v, r in serving.bucket_requests.items()
        }
        return _Source("clustered_rate", "lower", clusters=clusters)
    per_bucket = _bucket_histograms(serving, len(hist.edges) - 1) if buckets else None
    note = "" if buckets else _INDEPENDENT
    if name in _QUANTILES:
        q = _QUANTILES[name]
        return _Source(
            "quantile", "lower", histogram=hist, q=q, unit=" ms", buckets=per_bucket, note=note
        )
    if per_bucket is None:
        return _Source("histogram_mean", "lower", histogram=hist, unit=" ms", note=note)
    clusters = {v: clustered_histogram_mean(hist.edges, c) for v, c in per_bucket.items()}
    return _Source("clustered_mean", "lower", clusters=clusters, unit=" ms")


def _source(g: Guardrail, data: AnalysisData, metrics: dict[str, Metric]) -> _Source:
    if g.name in _QUANTILES or g.name in ("latency_mean_ms", "error_rate"):
        return _serving_source(g.name, data.serving)
    agg = data.metrics.get(g.name)
    if agg is None:
        known = sorted({*data.metrics, *BUILTIN_GUARDRAIL_METRICS})
        raise InvalidArgument(
            "guardrail", g.name, f"names no analysed metric; known: {', '.join(known)}"
        )
    metric = metrics.get(g.name)
    direction = metric.direction if metric else "higher"
    kind = metric.kind if metric else agg.kind
    if kind == "quantile":  # outcome-defined quantiles come with their own histogram
        q = metric.quantile if metric and metric.quantile else 0.5
        return _Source(kind, direction, histogram=getattr(agg, "histogram", None), q=q)
    return _Source(kind, direction, cells=agg.overall())


def _clustered_note(clusters: float, deff: float | None = None) -> str:
    text = f"variance per unit from {clusters:g} unit buckets"
    if deff is None:
        return text
    return f"{text}, design effect {'n/a' if math.isnan(deff) else f'{deff:.2f}'}"


def _value(src: _Source, variant: str, alpha: float) -> _Value:
    """n, estimate and one-sided 1 - alpha lower and upper bounds of one variant's value."""
    if src.kind in ("clustered_rate", "clustered_mean"):
        stats = (src.clusters or {}).get(variant)
        if stats is None or stats.sum_den == 0:
            return _NO_VALUE
        if src.kind == "clustered_rate":
            r = clustered_rate_ci(stats, alpha=2 * alpha)
            note = _clustered_note(r.clusters, r.design_effect)
            return _Value(r.n, r.rate, *r.ci, note)
        mean, var = stats.sum_num / stats.sum_den, ratio_variance(stats)
        lo, hi = _normal_bounds(mean, var, 1.0, alpha, df=stats.n - 1)
        return _Value(stats.sum_den, mean, lo, hi, _clustered_note(stats.n))
    if src.kind in ("quantile", "histogram_mean"):
        counts = src.histogram.counts.get(variant) if src.histogram is not None else None
        if not counts or sum(counts) == 0:
            return _NO_VALUE
        assert src.histogram is not None
        if src.kind == "quantile":
            per_bucket = (src.buckets or {}).get(variant)
            if per_bucket is not None:
                c = clustered_quantile(src.histogram.edges, per_bucket, src.q, alpha=2 * alpha)
                return _Value(c.n, c.estimate, *c.ci, _clustered_note(c.clusters, c.design_effect))
            e = histogram_quantile(src.histogram.edges, counts, src.q, alpha=2 * alpha)
            return _Value(e.n, e.estimate, *e.ci, src.note)
        m = histogram_mean(src.histogram.edges, counts)
        return _Value(m.n, m.mean, *_normal_bounds(m.mean, m.variance, m.n, alpha), src.note)
    cell = (src.cells or {}).get(variant)
    if cell is None or cell.n < 1:
        return _NO_VALUE
    return _Value(cell.n, *kind_of(src.kind).bounds(cell, alpha), src.note)


def _normal_bounds(
    mean: float, var: float, n: float, alpha: float, df: float | None = None
) -> tuple[float, float]:
    """``mean ∓ crit sqrt(var / n)``: crit the normal quantile, or Student's with ``df``."""
    if (df is None and n < 2) or (df is not None and df < 1):
        return _NAN, _NAN
    if math.isnan(var) or math.isnan(mean):
        return _NAN, _NAN
    crit = z_quantile(1 - alpha) if df is None else t_quantile(1 - alpha, df)
    half = crit * math.sqrt(var / n)
    return mean - half, mean + half


def _fmt(x: float, unit: str = "") -> str:
    return "n/a" if math.isnan(x) else f"{x:.4g}{unit}"


def _bound_check(
    g: Guardrail, src: _Source, variant: str, champion: str, alpha: float, side: str
) -> GuardrailCheck:
    limit = g.max if side == "max" else g.min
    assert limit is not None
    v = _value(src, variant, alpha)
    n, est, lo, hi = v.n, v.estimate, v.lower, v.upper
    champ = _value(src, champion, alpha).estimate
    rule = f"{side} {limit:g}"
    level = f"{1 - alpha:.0%}"
    name, u = g.name, src.unit
    if n == 0 or math.isnan(est):
        return GuardrailCheck(
            name, variant, rule, "no_data", est, champ, (lo, hi), f"{name}: no data for {variant}"
        )
    # for a max, the far bound is the lower one (evidence of crossing), the near the upper
    far, near = (lo, hi) if side == "max" else (hi, lo)
    far_word, near_word = ("lower", "upper") if side == "max" else ("upper", "lower")
    beyond = "above" if side == "max" else "below"
    inside = "at or below" if side == "max" else "at or above"
    base = f"{name} of {variant} is {_fmt(est, u)} (champion {_fmt(champ, u)})"
    crossed = far > limit if side == "max" else far < limit
    kept = near <= limit if side == "max" else near >= limit
    if crossed:
        status = FAIL
        text = (
            f"{base}: {beyond} the {rule} with evidence, its one-sided {level} {far_word} "
            f"bound {_fmt(far, u)} is {beyond} {limit:g}"
        )
    elif kept:
        status = "pass"
        text = (
            f"{base}: within the {rule} with evidence, its one-sided {level} {near_word} "
            f"bound {_fmt(near, u)} is {inside} {limit:g}"
        )
    else:
        status = "warn"
        estimate_beyond = est > limit if side == "max" else est < limit
        where = f"{beyond} the {rule}" if estimate_beyond else f"within the {rule}"
        text = (
            f"{base}: {where}, not yet with evidence (one-sided {level} bounds "
            f"{_fmt(lo, u)} to {_fmt(hi, u)})"
        )
    if v.note:
        text += f"; {v.note}"
    return GuardrailCheck(name, variant, rule, status, est, champ, (lo, hi), text)


class _MarginFree(TypedDict):
    """The keyword arguments :func:`_difference_bounds` passes to every test."""

    alpha: float


def _difference_bounds(
    src: _Source, champion: str, variant: str, alpha: float
) -> tuple[float, float, float, tuple[float, float]] | None:
    """Difference (variant - champion), its one-sided bounds and the NI p-values if any."""
    margin_free: _MarginFree = {"alpha": 2 * alpha}
    if src.kind in ("clustered_rate", "clustered_mean"):
        clusters = src.clusters or {}
        s_c, s_t = clusters.get(champion), clusters.get(variant)
        if s_c is None or s_t is None or s_c.n < 2 or s_t.n < 2:
            return None
        r = ratio_test(s_c, s_t, **margin_free)
        return r.control, r.treatment, r.diff, r.diff_ci
    if src.kind == "quantile" and src.histogram is not None:
        hist = src.histogram
        c, t = hist.counts.get(champion), hist.counts.get(variant)
        if not c or not t:
            return None
        per_bucket = src.buckets or {}
        if champion in per_bucket and variant in per_bucket:
            r = clustered_quantile_difference(
                hist.edges, per_bucket[champion], per_bucket[variant], src.q, **margin_free
            )
        else:
            r = quantile_difference(hist.edges, c, t, src.q, **margin_free)
        return r.control, r.treatment, r.diff, r.diff_ci
    if src.kind == "histogram_mean" and src.histogram is not None:
        hist = src.histogram
        c, t = hist.counts.get(champion), hist.counts.get(variant)
        if not c or not t:
            return None
        m_c, m_t = histogram_mean(hist.edges, c), histogram_mean(hist.edges, t)
        if m_c.n < 2 or m_t.n < 2:
            return None
        r = welch_test(m_c.mean, m_c.variance, m_c.n, m_t.mean, m_t.variance, m_t.n, **margin_free)
        return r.control, r.treatment, r.diff, r.diff_ci
    cells = src.cells or {}
    cell_c, cell_t = cells.get(champion), cells.get(variant)
    if cell_c is None or cell_t is None or cell_c.n < 2 or cell_t.n < 2:
        return None
    if src.kind == "ratio":
        r = ratio_test(cell_c.ratio(), cell_t.ratio(), **margin_free)
        return r.control, r.treatment, r.diff, r.diff_ci
    return None


def _noninferiority(
    g: Guardrail, src: _Source, variant: str, champion: str, alpha: float
) -> GuardrailCheck:
    margin = g.non_inferiority_margin
    assert margin is not None
    rule = f"non-inferiority margin {margin:g}"
    name, u, d = g.name, src.unit, src.direction
    cells = src.cells or {}
    c, t = cells.get(champion), cells.get(variant)
    p_fail = _NAN
    if (
        src.kind in ("proportion", "mean")
        and c is not None
        and t is not None
        and min(c.n, t.n) >= 2
    ):
        if src.kind == "proportion":
            r = noninferiority_proportion(
                c.sum_y, c.n, t.sum_y, t.n, margin=margin, direction=d, alpha=alpha
            )
            champ, chall = c.sum_y / c.n, t.sum_y / t.n
        else:
            m_c, m_t = c.mean(), t.mean()
            r = noninferiority_mean(
                m_c.mean, m_c.variance, m_c.n, m_t.mean, m_t.variance, m_t.n,
                margin=margin, direction=d, alpha=alpha,
            )  # fmt: skip
            champ, chall = m_c.mean, m_t.mean
        diff, p_ni = r.diff, r.p_value
        p_fail = 1.0 - p_ni if not math.isnan(p_ni) else _NAN  # the opposite one-sided test
        other = 2 * r.diff - r.bound  # the symmetric opposite one-sided bound
        bounds = (r.bound, other) if d == "higher" else (other, r.bound)
        shown, worse = r.noninferior, p_fail < alpha
    else:
        got = _difference_bounds(src, champion, variant, alpha)
        if got is None:
            text = f"{name}: not enough data to compare {variant}"
            return GuardrailCheck(name, variant, rule, "no_data", _NAN, _NAN, (_NAN, _NAN), text)
        champ, chall, diff, bounds = got
        lo, hi = bounds
        shown = lo > -margin if d == "higher" else hi < margin
        worse = hi < -margin if d == "higher" else lo > margin
    lo, hi = bounds
    level = f"{1 - alpha:.0%}"
    worse_side = "lower" if d == "higher" else "higher"
    limit = -margin if d == "higher" else margin
    base = (
        f"{name}: {variant} {_fmt(chall, u)} vs champion {_fmt(champ, u)}, "
        f"difference {_fmt(diff, u)} (one-sided {level} bounds {_fmt(lo, u)} to "
        f"{_fmt(hi, u)})"
    )
    if worse:
        status = FAIL
        text = f"{base}: worse than the margin ({worse_side} than {limit:+g}) with evidence"
    elif shown:
        status = "pass"
        text = f"{base}: non-inferior within the margin {margin:g}"
    else:
        status = "inconclusive"
        text = f"{base}: non-inferiority within {margin:g} not shown yet"
    if worse and not math.isnan(p_fail):
        text += f" (p = {p_fail:.2g})"
    if src.kind in ("clustered_rate", "clustered_mean") or src.buckets:
        text += "; variance per unit from unit buckets"
    elif src.note:
        text += f"; {src.note}"
    return GuardrailCheck(name, variant, rule, status, diff, champ, (lo, hi), text)


def check_guardrails(
    guardrails: Sequence[Guardrail],
    data: AnalysisData,
    metrics: Sequence[Metric],
    champion: str,
    challengers: Sequence[str],
    *,
    alpha: float,
) -> list[GuardrailCheck]:
    """Every rule of every guardrail for every challenger (uncorrected: a guardrail errs safe)."""
    declared = {m.name: m for m in metrics}
    out = []
    for g in guardrails:
        if g.name in MONITOR_GUARDRAIL_METRICS:  # judged by champion monitor on its windows
            continue
        src = _source(g, data, declared)
        for variant in challengers:
            if g.max is not None:
                out.append(_bound_check(g, src, variant, champion, alpha, "max"))
            if g.min is not None:
                out.append(_bound_check(g, src, variant, champion, alpha, "min"))
            if g.non_inferiority_margin is not None:
                out.append(_noninferiority(g, src, variant, champion, alpha))
    return out
