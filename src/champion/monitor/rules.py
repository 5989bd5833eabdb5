"""Guardrail rules the monitor judges on serving data, and their status in words and numbers.

Two kinds, both from the spec's ``metrics.guardrails`` (docs/rollout.md):

- **SLO rules** (``max``/``min`` on ``error_rate``, ``latency_p50/p95/p99_ms``,
  ``latency_mean_ms``; ``max_ratio`` of a latency to the champion's; ``max`` on
  ``prediction_psi``, the challenger's score distribution against the champion's in the
  same window): judged on the challenger in each closed window. A window *violates* only
  when its one-sided bound is beyond the limit (for a max: the lower bound above it),
  *passes* when the bound on the near side is inside, is *inconclusive* in between and
  ``no_data`` below the minimum sample (never a pass). ``stop_after`` consecutive
  violating windows (windows without data neither count nor break the run) stop the
  experiment.
- **Comparative rules** (``non_inferiority_margin`` on ``error_rate`` or
  ``latency_mean_ms``), two tests sharing the rule's alpha, each violating (and stopping
  at once) when it shows harm beyond the margin:

  - *since the start*: the difference challenger - champion summed over every window
    since the experiment started, judged with an always-valid confidence sequence, so a
    monitor reading every minute for weeks keeps its false-stop rate;
  - *a change scan*: the same difference over the last 1, 2, 4 ... 128 windows, each a
    one-sided z-test at a level that shrinks with the tick (:func:`scan_alpha`), so the
    levels of every test at every tick add up to the scan's alpha (a union bound, valid
    however the tests overlap). A challenger that turns bad after days is caught on the
    windows since it turned, not diluted by the good ones before.

The monitor's ``alpha`` is the false-stop rate of an experiment's guardrails together:
each of the ``m`` (rule, challenger) pairs gets ``alpha / m`` (Bonferroni). Outcome
metrics with a margin (``false_positive``) need outcomes and attribution windows: the
stage gates judge them with the read-out.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, replace
from statistics import NormalDist
from typing import Any

import numpy as np
from scipy import stats

from champion.analysis.aggregate import HISTOGRAM_EDGES
from champion.spec.models import Experiment, Guardrail, Monitor
from champion.stats.always_valid import confidence_sequence, mixing_variance
from champion.stats.clustered import cluster_ratio_stats, clustered_rate_ci
from champion.stats.frequentist import t_quantile
from champion.stats.quantile import histogram_quantile
from champion.stats.ratio import ratio_variance

__all__ = [
    "DEFAULTS",
    "SCAN_WINDOWS",
    "SERVING",
    "RuleStatus",
    "cumulative",
    "difference",
    "family_size",
    "judge_change",
    "judge_comparative",
    "judge_slo",
    "judge_stage",
    "monitored",
    "psi",
    "scan_alpha",
    "totals",
]

DEFAULTS = Monitor()
SERVING = (
    "error_rate", "latency_p50_ms", "latency_p95_ms", "latency_p99_ms", "latency_mean_ms",
    "prediction_psi",
)  # fmt: skip
#: the dict-valued sums (histograms, bin -> count) every window carries
_COUNTED = ("bins", "scores")
#: the prediction-drift rule compares score distributions in this many bins at most
PSI_BINS = 10
_QUANTILES = {"latency_p50_ms": 0.5, "latency_p95_ms": 0.95, "latency_p99_ms": 0.99}
_COMPARATIVE = ("error_rate", "latency_mean_ms")
#: the always-valid sequences are tightest near this many challenger requests: a regression
#: should be caught within a few thousand requests
TUNING_REQUESTS = 4_000
_NAN = float("nan")
CHANGE = "change"
PASS, WARN, VIOLATION, INCONCLUSIVE, NO_DATA = (
    "pass",
    "warn",
    "violation",
    "inconclusive",
    "no_data",
)


@dataclass(frozen=True, slots=True)
class RuleStatus:
    """One rule of one guardrail for one challenger, as of the last closed window."""

    guardrail: str
    variant: str
    rule: str  # "max 0.01", "max_ratio 1.1 x champion", "non-inferiority margin 0.005"
    kind: str  # "slo", "comparative", "change" (the comparative rule's scan) or "stage"
    status: str  # pass, violation, inconclusive, no_data
    estimate: float
    bound: float  # the one-sided bound that decides
    limit: float
    k: int  # consecutive violating windows (comparative: 1 once violated)
    stop_after: int
    n: int  # challenger requests judged (the window's, or since the start)
    window: str  # ISO start of the window judged (comparative: the last one summed)
    alpha: float

    @property
    def stop(self) -> bool:
        return self.k >= self.stop_after

    @property
    def key(self) -> tuple[str, str, str, str]:
        """What stays the same from tick to tick (a change scan names a new lookback)."""
        return (self.guardrail, self.variant, self.kind, "" if self.kind == CHANGE else self.rule)

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        for key in ("estimate", "bound", "limit"):
            value = out[key]
            out[key] = None if value is None or not math.isfinite(value) else value
        out["stop"] = self.stop
        return out

    def describe(self) -> str:
        """One line for the audit log and alerts."""
        return (
            f"{self.guardrail} {self.rule} on {self.variant}: {self.status}, estimate "
            f"{_fmt(self.estimate)}, bound {_fmt(self.bound)} vs limit {_fmt(self.limit)}, "
            f"{self.k}/{self.stop_after} windows, n {self.n} (window {self.window})"
        )


def _fmt(x: float) -> str:
    return "n/a" if not math.isfinite(x) else f"{x:.4g}"


def monitored(spec: Experiment) -> list[Guardrail]:
    """The spec's guardrails the monitor judges on serving data."""
    return [g for g in spec.metrics.guardrails if g.name in SERVING]


def family_size(spec: Experiment) -> int:
    """(rule, challenger) pairs sharing the monitor's alpha."""
    rules = 0
    for g in monitored(spec):
        rules += sum(x is not None for x in (g.min, g.max, g.max_ratio))
        rules += g.non_inferiority_margin is not None and g.name in _COMPARATIVE
    return max(1, rules * len(spec.challengers))


# -- one variant's value in a set of sums ---------------------------------------------------


def _hist(sums: dict[str, Any]) -> np.ndarray:
    counts = np.zeros(len(HISTOGRAM_EDGES) - 1)
    for k, c in sums["bins"].items():
        counts[int(k)] += c
    return counts


def _value(name: str, sums: dict[str, Any], alpha: float) -> tuple[float, float, float, float]:
    """n, estimate and one-sided ``1 - alpha`` (lower, upper) bounds of one variant."""
    requests = np.asarray(sums["requests"], float)
    n = float(requests.sum())
    if n == 0:
        return 0.0, _NAN, _NAN, _NAN
    if name == "error_rate":
        r = clustered_rate_ci(cluster_ratio_stats(sums["errors"], requests), alpha=2 * alpha)
        return n, r.rate, r.ci[0], r.ci[1]
    if name == "latency_mean_ms":
        stats = cluster_ratio_stats(sums["latency"], requests)
        mean, var = stats.sum_num / stats.sum_den, ratio_variance(stats)
        if not math.isfinite(var):
            return n, mean, -math.inf, math.inf
        half = t_quantile(1 - alpha, stats.n - 1) * math.sqrt(var)
        return n, mean, mean - half, mean + half
    e = histogram_quantile(HISTOGRAM_EDGES, _hist(sums), _QUANTILES[name], alpha=2 * alpha)
    return n, e.estimate, e.ci[0], e.ci[1]


def _counts(hist: Mapping[str, Any]) -> dict[int, float]:
    return {int(k): float(c) for k, c in hist.items() if c}


def psi(mine: Mapping[str, Any], reference: Mapping[str, Any]) -> tuple[float, float, int]:
    """(PSI, effective n, degrees of freedom) of two score histograms (bin -> count).

    The fine bins are merged into at most :data:`PSI_BINS` groups of about equal share of
    the reference (its deciles, as PSI is usually taken), each share smoothed by half a
    count. Under no drift, ``n_eff * PSI`` is about chi-square with ``dof`` degrees of
    freedom (PSI is the symmetric Kullback-Leibler divergence), n_eff = n1 n2 / (n1 + n2).
    """
    a, c = _counts(mine), _counts(reference)
    n_a, n_c = sum(a.values()), sum(c.values())
    if n_a == 0 or n_c == 0:
        return _NAN, 0.0, 0
    groups: list[tuple[float, float]] = []
    acc_a = acc_c = 0.0
    step = n_c / PSI_BINS
    for k in sorted(set(a) | set(c)):
        acc_a, acc_c = acc_a + a.get(k, 0.0), acc_c + c.get(k, 0.0)
        if acc_c >= step:
            groups.append((acc_a, acc_c))
            acc_a = acc_c = 0.0
    if acc_a or acc_c:  # the remainder joins the last group
        if groups:
            last = groups.pop()
            groups.append((last[0] + acc_a, last[1] + acc_c))
        else:
            groups.append((acc_a, acc_c))
    g = len(groups)
    p = (np.array([x for x, _ in groups]) + 0.5) / (n_a + 0.5 * g)
    q = (np.array([y for _, y in groups]) + 0.5) / (n_c + 0.5 * g)
    return float(np.sum((p - q) * np.log(p / q))), n_a * n_c / (n_a + n_c), g - 1


def _psi_status(
    limit: float, mine: dict[str, Any], champion: dict[str, Any], alpha: float, settings: Monitor
) -> tuple[str, float, float, int]:
    """A window of the prediction-drift rule: the challenger's scores against the
    champion's on the same window's randomised traffic. The deciding bound is the PSI less
    what noise alone reaches with probability ``alpha`` (chi-square), so a small window's
    PSI, biased upwards, violates only beyond it."""
    n = int(sum(_counts(mine.get("scores", {})).values()))
    theirs = int(sum(_counts(champion.get("scores", {})).values()))
    if min(n, theirs) < settings.min_window_requests:
        return NO_DATA, _NAN, _NAN, n
    value, n_eff, dof = psi(mine["scores"], champion["scores"])
    if dof < 1:  # one group: every score alike on both sides
        return PASS, value, value, n
    noise = float(stats.chi2.isf(alpha, dof)) / n_eff
    bound = max(0.0, value - noise)
    if bound > limit:
        return VIOLATION, value, bound, n
    return (PASS if value <= limit else INCONCLUSIVE), value, bound, n


def _window_status(
    g: Guardrail, rule: str, limit: float, mine: dict[str, Any], champion: dict[str, Any],
    alpha: float, settings: Monitor,
) -> tuple[str, float, float, int]:  # fmt: skip
    """(status, estimate, deciding bound, n) of one window."""
    if g.name == "prediction_psi":
        return _psi_status(limit, mine, champion, alpha, settings)
    n, est, lo, hi = _value(g.name, mine, alpha)
    if n < settings.min_window_requests:
        return NO_DATA, est, _NAN, int(n)
    if rule == "max_ratio":
        cn, c_est, c_lo, c_hi = _value(g.name, champion, alpha)
        if cn < settings.min_window_requests or not c_est > 0:
            return NO_DATA, est, _NAN, int(n)
        # the challenger's bound against the ratio times the champion's far bound
        if lo > limit * c_hi:
            return VIOLATION, est / c_est, lo / c_hi, int(n)
        if hi <= limit * c_lo:
            return PASS, est / c_est, hi / c_lo, int(n)
        return INCONCLUSIVE, est / c_est, lo / c_hi, int(n)
    if rule == "max":
        if lo > limit:
            return VIOLATION, est, lo, int(n)
        return (PASS if hi <= limit else INCONCLUSIVE), est, hi, int(n)
    if hi < limit:  # min
        return VIOLATION, est, hi, int(n)
    return (PASS if lo >= limit else INCONCLUSIVE), est, lo, int(n)


def judge_slo(
    spec: Experiment, windows: Sequence[dict[str, dict[str, Any]]], starts: Sequence[str]
) -> list[RuleStatus]:
    """Every SLO rule of every challenger, as of the last of ``windows``.

    ``windows[i]`` maps variant -> sums of the window starting at ``starts[i]``, oldest
    first; only the last ``stop_after`` windows with data matter.
    """
    settings = spec.monitor or DEFAULTS
    alpha = settings.alpha / family_size(spec)
    out = []
    for g in monitored(spec):
        stop_after = g.stop_after or settings.stop_after
        rules = [
            (r, getattr(g, r)) for r in ("max", "min", "max_ratio") if getattr(g, r) is not None
        ]
        for v in spec.challengers:
            for rule, limit in rules:
                last: tuple[str, float, float, int] | None = None
                k, seen = 0, 0
                for w in reversed(windows):
                    mine, theirs = w.get(v), w.get(spec.champion)
                    if mine is None or theirs is None:
                        continue
                    status = _window_status(g, rule, limit, mine, theirs, alpha, settings)
                    last = last or status
                    if status[0] == NO_DATA:
                        continue
                    if status[0] != VIOLATION:
                        break
                    k += 1
                    seen += 1
                    if seen >= stop_after:
                        break
                status_, est, bound, n = last or (NO_DATA, _NAN, _NAN, 0)
                label = (
                    f"max_ratio {limit:g} x champion"
                    if rule == "max_ratio"
                    else f"{rule} {limit:g}"
                )
                out.append(
                    RuleStatus(
                        g.name,
                        v,
                        label,
                        "slo",
                        status_,
                        est,
                        bound,
                        float(limit),
                        k,
                        stop_after,
                        n,
                        starts[-1] if starts else "",
                        alpha,
                    )
                )
    return out


def totals(windows: Sequence[dict[str, dict[str, Any]]]) -> dict[str, dict[str, Any]]:
    """Per variant, the bucket sums of ``windows`` added up (a unit keeps its bucket, so the
    buckets of the sum still hold independent units)."""
    out: dict[str, dict[str, Any]] = {}
    for w in windows:
        for variant, sums in w.items():
            acc = out.setdefault(variant, {k: np.zeros(len(sums[k])) for k in _SUMMED})
            for k in _SUMMED:
                acc[k] += np.asarray(sums[k], float)
            for key in _COUNTED:
                hist = acc.setdefault(key, {})
                for b, c in sums.get(key, {}).items():
                    hist[b] = hist.get(b, 0) + c
    return out


def cumulative(previous: dict[str, Any] | None, sums: dict[str, Any]) -> dict[str, Any]:
    """``previous`` running totals (None: none yet) plus one window's sums, as plain lists."""
    out: dict[str, Any] = {}
    for k in _SUMMED:
        base = np.asarray(previous[k], float) if previous else 0.0
        out[k] = (base + np.asarray(sums[k], float)).tolist()
    for key in _COUNTED:
        hist = dict(previous.get(key, {})) if previous else {}
        for b, c in sums.get(key, {}).items():
            hist[b] = hist.get(b, 0) + c
        out[key] = hist
    return out


def difference(later: dict[str, Any], earlier: dict[str, Any] | None) -> dict[str, Any]:
    """Running totals ``later`` minus ``earlier``: the sums of the windows in between."""
    if earlier is None:
        return later
    out: dict[str, Any] = {
        k: np.asarray(later[k], float) - np.asarray(earlier[k], float) for k in _SUMMED
    }
    for key in _COUNTED:
        before = earlier.get(key, {})
        left = {b: c - before.get(b, 0) for b, c in later.get(key, {}).items()}
        out[key] = {b: c for b, c in left.items() if c > 0}
    return out


def judge_stage(
    spec: Experiment, summed: dict[str, dict[str, Any]], stage_start: str
) -> list[RuleStatus]:
    """The SLO rules on the current stage's windows pooled: what a stage gate (and a
    delivery controller's verdict) asks, "has this stage shown it keeps its limits?"."""
    return [replace(r, kind="stage", k=0) for r in judge_slo(spec, [summed], [stage_start])]


_SUMMED = ("requests", "errors", "latency")


def _mean_and_variance(name: str, sums: dict[str, Any]) -> tuple[float, float, float]:
    """n, estimate and its variance (between unit buckets; never below the binomial one)."""
    den = np.asarray(sums["requests"], float)
    num = np.asarray(sums["errors" if name == "error_rate" else "latency"], float)
    stats = cluster_ratio_stats(num, den)
    if stats.sum_den == 0:
        return 0.0, _NAN, _NAN
    est, var = stats.sum_num / stats.sum_den, ratio_variance(stats)
    if name == "error_rate":
        floor = max(est * (1 - est), 1.0 / stats.sum_den) / stats.sum_den
        var = max(var, floor) if math.isfinite(var) else floor
    return stats.sum_den, est, var


def judge_comparative(
    spec: Experiment, summed: dict[str, dict[str, Any]], last_start: str
) -> list[RuleStatus]:
    """Every comparative rule of every challenger on the sums of every window since the
    start (:func:`totals`); ``last_start`` names the newest window in them."""
    settings = spec.monitor or DEFAULTS
    alpha = settings.alpha / family_size(spec)
    out = []
    champion = summed.get(spec.champion)
    for g in monitored(spec):
        margin = g.non_inferiority_margin
        if margin is None or g.name not in _COMPARATIVE:
            continue
        for v in spec.challengers:
            mine = summed.get(v)
            n_t, est_t, var_t = _mean_and_variance(g.name, mine) if mine else (0.0, _NAN, _NAN)
            n_c, est_c, var_c = (
                _mean_and_variance(g.name, champion) if champion else (0.0, _NAN, _NAN)
            )
            label = f"non-inferiority margin {margin:g}"
            if min(n_t, n_c) < settings.min_window_requests or not (var_t + var_c) > 0:
                out.append(RuleStatus(g.name, v, label, "comparative", NO_DATA, _NAN, _NAN, margin,
                                      0, 1, int(n_t), last_start, alpha))  # fmt: skip
                continue
            diff, var = est_t - est_c, var_t + var_c
            # half the rule's alpha (the change scan has the other half), one-sided: the
            # two-sided sequence at alpha; tuned, on a per-request scale, to be tightest near
            # TUNING_REQUESTS challenger requests
            per_request = var * n_t
            tau2 = mixing_variance(per_request, TUNING_REQUESTS, alpha=alpha)
            cs = confidence_sequence(diff, per_request, n_t, alpha=alpha, tau2=tau2)
            if cs.lower > margin:  # harm beyond the margin (both metrics: lower is better)
                status, bound, k = VIOLATION, cs.lower, 1
            elif cs.upper <= margin:
                status, bound, k = PASS, cs.upper, 0
            else:
                status, bound, k = INCONCLUSIVE, cs.lower, 0
            out.append(RuleStatus(g.name, v, label, "comparative", status, diff, bound, margin, k,
                                  1, int(n_t), last_start, alpha))  # fmt: skip
    return out


#: lookbacks of the change scan, in windows
SCAN_WINDOWS = (1, 2, 4, 8, 16, 32, 64, 128)


def scan_alpha(settings: Monitor, alpha: float, tick: int) -> float:
    """The one-sided level of each lookback of the change scan at tick ``tick`` (0: the
    experiment's first window), for a rule at ``alpha`` (the scan has half of it).

    Tick t gets the share h / ((t + h)(t + h + 1)) of the scan's alpha, h the horizon in
    windows: the shares telescope to 1 over every tick there will ever be, about 1/h each
    within the horizon, so the scan stays valid however long the monitor runs.
    """
    h = max(1.0, settings.horizon_days * 24 * 60 / settings.window_minutes)
    t = max(0, tick)
    return alpha / 2 * h / ((t + h) * (t + h + 1)) / len(SCAN_WINDOWS)


def _since(later: Mapping[str, Any], earlier: Mapping[str, Any] | None) -> dict[str, Any]:
    """The summed arrays of the windows between two running totals."""
    if not earlier:
        return {k: np.asarray(later[k], float) for k in _SUMMED}
    return {k: np.asarray(later[k], float) - np.asarray(earlier[k], float) for k in _SUMMED}


def judge_change(
    spec: Experiment, summed: Mapping[str, Mapping[str, Any]],
    marks: Mapping[int, Mapping[str, Mapping[str, Any]]], tick: int, last_start: str,
) -> list[RuleStatus]:  # fmt: skip
    """The change scan of every comparative rule of every challenger (module docstring).

    ``summed`` holds the running totals since the start up to the newest window, ``marks[L]``
    those up to the window before the last ``L`` (lookbacks that reach before the start are
    left out: the since-the-start test covers them). One status per rule and challenger: the
    lookback closest to violating; none while no lookback has data.
    """
    settings = spec.monitor or DEFAULTS
    alpha = settings.alpha / family_size(spec)
    level = scan_alpha(settings, alpha, tick)
    threshold = -NormalDist().inv_cdf(level)
    champion = summed.get(spec.champion)
    out = []
    for g in monitored(spec):
        margin = g.non_inferiority_margin
        if margin is None or g.name not in _COMPARATIVE or champion is None:
            continue
        for v in spec.challengers:
            mine = summed.get(v)
            if mine is None:
                continue
            best: tuple[float, int, float, float, float] | None = None
            for lookback, mark in sorted(marks.items()):
                n_t, est_t, var_t = _mean_and_variance(g.name, _since(mine, mark.get(v)))
                n_c, est_c, var_c = _mean_and_variance(
                    g.name, _since(champion, mark.get(spec.champion))
                )
                if min(n_t, n_c) < settings.min_window_requests or not var_t + var_c > 0:
                    continue
                diff, se = est_t - est_c, math.sqrt(var_t + var_c)
                score = (diff - margin) / se - threshold
                if best is None or score > best[0]:
                    best = (score, lookback, diff, diff - threshold * se, n_t)
            if best is None:
                continue
            _, lookback, diff, lower, n = best
            harm = lower > margin
            label = f"non-inferiority margin {margin:g}, change in the last {lookback} windows"
            out.append(RuleStatus(g.name, v, label, CHANGE, VIOLATION if harm else PASS,
                                  diff, lower, margin, int(harm), 1, int(n), last_start,
                                  level))  # fmt: skip
    return out
