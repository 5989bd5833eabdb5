"""Guardrails: lines a challenger must not cross, each checked with its evidence in words.

Absolute bounds (``max: 200`` on latency_p95_ms) use the challenger's value and its one-sided
``1 - alpha`` confidence bounds:

- ``fail``: the bound is crossed with evidence: the whole one-sided interval lies beyond it
  (for a max, the lower confidence bound is above the max);
- ``warn``: the estimate is beyond the bound but the interval still reaches back inside;
- ``pass``: the estimate is within the bound.

Non-inferiority margins (``non_inferiority_margin: 0.005``) compare challenger and champion in
the metric's direction (latency and error rate: lower is better):

- ``pass``: non-inferiority is shown (the one-sided bound on the difference is inside the margin);
- ``fail``: inferiority beyond the margin is shown (the opposite one-sided test rejects);
- ``inconclusive``: neither, yet.

A ``fail`` rolls back; a ``warn`` or ``inconclusive`` blocks a rollout (the decision waits).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from champion.analysis.aggregates import AnalysisData, Cell, LatencyHistogram
from champion.errors import InvalidArgument
from champion.spec.models import BUILTIN_GUARDRAIL_METRICS, Guardrail, Metric
from champion.stats._normal import z_quantile
from champion.stats.drift import proportion_ci
from champion.stats.frequentist import welch_test
from champion.stats.noninferiority import noninferiority_mean, noninferiority_proportion
from champion.stats.quantile import histogram_mean, histogram_quantile, quantile_difference
from champion.stats.ratio import ratio_test, ratio_variance

__all__ = ["BLOCKING", "FAIL", "GuardrailCheck", "check_guardrails"]

FAIL = "fail"
BLOCKING = ("warn", "inconclusive")
_QUANTILES = {"latency_p50_ms": 0.5, "latency_p95_ms": 0.95, "latency_p99_ms": 0.99}
_NAN = float("nan")


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
    """Where a guardrail's numbers come from, per variant."""

    kind: str  # proportion, mean, ratio, quantile, histogram_mean
    direction: str
    cells: dict[str, Cell] | None = None
    histogram: LatencyHistogram | None = None
    q: float = 0.5
    unit: str = ""


def _source(g: Guardrail, data: AnalysisData, metrics: dict[str, Metric]) -> _Source:
    hist = data.serving.latency
    if g.name in _QUANTILES:
        return _Source("quantile", "lower", histogram=hist, q=_QUANTILES[g.name], unit=" ms")
    if g.name == "latency_mean_ms":
        return _Source("histogram_mean", "lower", histogram=hist, unit=" ms")
    if g.name == "error_rate":
        cells = {
            v: Cell(n=float(n), sum_y=float(data.serving.errors.get(v, 0)))
            for v, n in data.serving.requests.items()
        }
        return _Source("proportion", "lower", cells=cells)
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


def _value(src: _Source, variant: str, alpha: float) -> tuple[float, float, float, float]:
    """n, estimate and one-sided 1 - alpha lower and upper bounds of one variant's value."""
    if src.kind in ("quantile", "histogram_mean"):
        counts = src.histogram.counts.get(variant) if src.histogram is not None else None
        if not counts or sum(counts) == 0:
            return 0.0, _NAN, _NAN, _NAN
        assert src.histogram is not None
        if src.kind == "quantile":
            q = histogram_quantile(src.histogram.edges, counts, src.q, alpha=2 * alpha)
            return q.n, q.estimate, q.ci[0], q.ci[1]
        m = histogram_mean(src.histogram.edges, counts)
        return m.n, m.mean, *_normal_bounds(m.mean, m.variance, m.n, alpha)
    cell = (src.cells or {}).get(variant)
    if cell is None or cell.n < 1:
        return 0.0, _NAN, _NAN, _NAN
    if src.kind == "proportion":
        r = proportion_ci(cell.sum_y, cell.n, alpha=2 * alpha)
        return cell.n, r.rate, r.ci[0], r.ci[1]
    if src.kind == "ratio":
        stats = cell.ratio()
        var = ratio_variance(stats) * cell.n
        return cell.n, stats.ratio, *_normal_bounds(stats.ratio, var, cell.n, alpha)
    m = cell.mean()
    return cell.n, m.mean, *_normal_bounds(m.mean, m.variance, m.n, alpha)


def _normal_bounds(mean: float, var: float, n: float, alpha: float) -> tuple[float, float]:
    if n < 2 or math.isnan(var) or math.isnan(mean):
        return _NAN, _NAN
    half = z_quantile(1 - alpha) * math.sqrt(var / n)
    return mean - half, mean + half


def _fmt(x: float, unit: str = "") -> str:
    return "n/a" if math.isnan(x) else f"{x:.4g}{unit}"


def _bound_check(
    g: Guardrail, src: _Source, variant: str, champion: str, alpha: float, side: str
) -> GuardrailCheck:
    limit = g.max if side == "max" else g.min
    assert limit is not None
    n, est, lo, hi = _value(src, variant, alpha)
    champ = _value(src, champion, alpha)[1]
    rule = f"{side} {limit:g}"
    level = f"{1 - alpha:.0%}"
    name, u = g.name, src.unit
    if n == 0 or math.isnan(est):
        return GuardrailCheck(
            name, variant, rule, "no_data", est, champ, (lo, hi), f"{name}: no data for {variant}"
        )
    beyond_est = est > limit if side == "max" else est < limit
    evidence_bound = lo if side == "max" else hi
    beyond_all = evidence_bound > limit if side == "max" else evidence_bound < limit
    word = "above" if side == "max" else "below"
    base = f"{name} of {variant} is {_fmt(est, u)} (champion {_fmt(champ, u)})"
    if beyond_all:
        status = FAIL
        which = "lower" if side == "max" else "upper"
        text = (
            f"{base}: {word} the {rule} with evidence, its one-sided {level} {which} "
            f"bound {_fmt(evidence_bound, u)} is {word} {limit:g}"
        )
    elif beyond_est:
        status = "warn"
        text = (
            f"{base}: {word} the {rule}, not yet with evidence (one-sided {level} "
            f"bounds {_fmt(lo, u)} to {_fmt(hi, u)})"
        )
    else:
        status = "pass"
        text = (
            f"{base}: within the {rule} (one-sided {level} bounds {_fmt(lo, u)} to {_fmt(hi, u)})"
        )
    return GuardrailCheck(name, variant, rule, status, est, champ, (lo, hi), text)


def _difference_bounds(src: _Source, champion: str, variant: str, alpha: float):
    """Difference (variant - champion), its one-sided bounds and the NI p-values if any."""
    margin_free = {"alpha": 2 * alpha}
    if src.kind == "quantile" and src.histogram is not None:
        hist = src.histogram
        c, t = hist.counts.get(champion), hist.counts.get(variant)
        if not c or not t:
            return None
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
    c, t = cells.get(champion), cells.get(variant)
    if c is None or t is None or c.n < 2 or t.n < 2:
        return None
    if src.kind == "ratio":
        r = ratio_test(c.ratio(), t.ratio(), **margin_free)
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
                m_c.mean,
                m_c.variance,
                m_c.n,
                m_t.mean,
                m_t.variance,
                m_t.n,
                margin=margin,
                direction=d,
                alpha=alpha,
            )
            champ, chall = m_c.mean, m_t.mean
        diff, p_ni = r.diff, r.p_value
        p_fail = 1.0 - p_ni if not math.isnan(p_ni) else _NAN  # the opposite one-sided test
        other = 2 * r.diff - r.bound  # the symmetric opposite one-sided bound
        bounds = (r.bound, other) if d == "higher" else (other, r.bound)
        shown, worse = r.noninferior, p_fail < alpha
    else:
        got = _difference_bounds(src, champion, variant, alpha)
        if got is None:
            return GuardrailCheck(
                name,
                variant,
                rule,
                "no_data",
                _NAN,
                _NAN,
                (_NAN, _NAN),
                f"{name}: not enough data to compare {variant}",
            )
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
        src = _source(g, data, declared)
        for variant in challengers:
            if g.max is not None:
                out.append(_bound_check(g, src, variant, champion, alpha, "max"))
            if g.min is not None:
                out.append(_bound_check(g, src, variant, champion, alpha, "min"))
            if g.non_inferiority_margin is not None:
                out.append(_noninferiority(g, src, variant, champion, alpha))
    return out
