"""Request-level guardrails over thousands of simulated experiments, through ``check_guardrails``.

Each experiment gives the challenger 500 units sending 1 + Poisson(9) requests each (about
5,000 requests), and a unit's requests are alike:

- errors: each unit fails at its own rate, Beta-distributed around the arm's rate with
  intraclass correlation 0.05 (beta-binomial: the design effect is about 1 + 9.1 x 0.05 =
  1.45);
- latency: lognormal (sigma 0.5 on the log scale) with a unit effect carrying a share ICC
  of the log-variance (0.05, and 0.3 for a strongly clustered case).

Units are split into 64 buckets by a hash of their id (as ``load_analysis_data`` does) and
the per-bucket sums go into the ``ServingStats`` the guardrails read. Rules checked, at the
design's alpha 0.05 (one-sided 95% bounds):

- a rate (or p95) exactly at its ``max``: P(fail) <= 5%; P(pass) <= 5% too (the bound on
  the near side covers);
- 10% beyond the limit (error rate 0.011 against ``max: 0.01``): P(pass) <= 5%;
- a clearly good challenger (half the limit; p95 at 75% of it) passes in >= 90% of runs;
- non-inferiority: a challenger worse by exactly the margin passes in <= 5% of runs.

Each bound is widened by 2.5 Monte-Carlo standard errors at the run count (``slack``):
2,000 runs in the default run (5% + 1.2 points), 20,000 in the long variant
(``@pytest.mark.slow``, with ``CHAMPION_VALIDITY_LONG=1``; 5% + 0.4 points). The same runs
read with requests taken as independent (the old check) fail a rate at the limit in ~9%.

Measured (seeded; 2,000 runs / 20,000 runs):

- error rate 0.010, ``max: 0.01``: fail 4.20% / 3.91%, pass 5.20% / 5.29%;
- error rate 0.011: pass 1.60% / 1.39% (a rule on the estimate: 29%); fail 12.6% / 11.9%;
- error rate 0.005: pass 92.5% / 93.3%, fail 0;
- 0.010 against a champion at 0.008, margin 0.002: non-inferior 5.50% / 5.29%;
- independent requests, rate at the limit: fail 10.1% (9.3% over 20,000);
- p95 at 200 ms, ``max: 200``: ICC 0.05 fail 1.05% / 0.89%, pass 2.95% / 3.17%;
  ICC 0.3 fail 1.65% / 1.65%, pass 3.80% / 3.65%;
- p95 at 220 ms: pass 0%; p95 at 150 ms: pass 100%.
"""

from __future__ import annotations

import functools
import hashlib
import math
import os
from collections.abc import Iterator
from datetime import UTC, datetime

import numpy as np
import pytest
from scipy import stats

from champion.analysis.aggregate import HISTOGRAM_EDGES
from champion.analysis.aggregates import AnalysisData, Health, LatencyHistogram, ServingStats
from champion.analysis.guardrails import check_guardrails
from champion.spec.models import Guardrail
from champion.stats import proportion_ci

RUNS = 2_000
LONG_RUNS = 20_000
UNITS = 500
BUCKETS = 64
BINS = len(HISTOGRAM_EDGES) - 1
ALPHA = 0.05
SIGMA = 0.5  # log-scale spread of latencies
Z95 = stats.norm.ppf(0.95)

LONG = os.environ.get("CHAMPION_VALIDITY_LONG") == "1"
long_only = pytest.mark.skipif(
    not LONG, reason="long variant: set CHAMPION_VALIDITY_LONG=1 (20,000 experiments per case)"
)

_HEALTH = Health(
    exposed_units=2 * UNITS,
    analysed_units=2 * UNITS,
    multiple_exposure_units=0,
    srm=(),
    first_exposure=None,
    last_exposure=None,
    last_outcome=None,
    outcomes={},
    units_in_window=0,
    as_of=datetime(2024, 5, 1, tzinfo=UTC),
)


def slack(p: float, runs: int) -> float:
    """2.5 Monte-Carlo standard errors of a rate p estimated from ``runs`` experiments."""
    return 2.5 * math.sqrt(p * (1 - p) / runs)


@functools.cache
def _buckets_of_ids(count: int) -> np.ndarray:
    """Buckets of unit ids "unit-0" .. as load_analysis_data computes them (MD5, mod 64)."""
    return np.array(
        [int(hashlib.md5(f"unit-{i}".encode()).hexdigest()[:2], 16) % BUCKETS for i in range(count)]
    )


def _unit_buckets(first_run: int, runs: int, total: int) -> np.ndarray:
    """Buckets of the units of runs ``first_run ..`` (run r has ids r * 500 .. r * 500 + 499)."""
    ids = _buckets_of_ids(total * UNITS)
    return ids[first_run * UNITS : (first_run + runs) * UNITS].reshape(runs, UNITS)


def error_runs(
    rate: float, runs: int, seed: int, icc: float = 0.05
) -> tuple[np.ndarray, np.ndarray]:
    """Per run and unit bucket: requests and failed requests, shape (runs, 64) each."""
    rng = np.random.default_rng(seed)
    a, b = rate * (1 - icc) / icc, (1 - rate) * (1 - icc) / icc
    requests = 1 + rng.poisson(9, (runs, UNITS))
    errors = rng.binomial(requests, rng.beta(a, b, (runs, UNITS)))
    where = (np.arange(runs)[:, None] * BUCKETS + _unit_buckets(0, runs, runs)).ravel()
    size = runs * BUCKETS
    n = np.bincount(where, requests.ravel(), size).reshape(runs, BUCKETS).astype(int)
    e = np.bincount(where, errors.ravel(), size).reshape(runs, BUCKETS).astype(int)
    return n, e


def latency_runs(
    p95: float, runs: int, seed: int, icc: float = 0.05, chunk: int = 100
) -> Iterator[tuple[tuple[tuple[int, int, int], ...], tuple[int, ...]]]:
    """Per run: the latency cells (bucket, bin, requests) and the pooled histogram, for a
    challenger whose true (marginal) p95 is ``p95`` ms."""
    rng = np.random.default_rng(seed)
    median = p95 / math.exp(SIGMA * Z95)
    for start in range(0, runs, chunk):
        k = min(chunk, runs - start)
        requests = 1 + rng.poisson(9, (k, UNITS))
        run_of = np.repeat(np.arange(k), requests.sum(axis=1))
        unit = np.repeat(np.arange(k * UNITS), requests.ravel())
        effect = rng.normal(0, SIGMA * math.sqrt(icc), k * UNITS)[unit]
        noise = rng.normal(0, SIGMA * math.sqrt(1 - icc), unit.size)
        latency = median * np.exp(effect + noise)
        bins = np.clip(np.floor(200 * np.log10(latency)).astype(int) + 400, 0, BINS - 1)
        bucket = _unit_buckets(start, k, runs).ravel()[unit]
        key = (run_of * BUCKETS + bucket) * BINS + bins
        cells, counts = np.unique(key, return_counts=True)
        run_index, rest = np.divmod(cells, BUCKETS * BINS)
        b, bin_ = np.divmod(rest, BINS)
        edges = np.searchsorted(run_index, np.arange(k + 1))
        for r in range(k):
            s = slice(edges[r], edges[r + 1])
            triples = tuple(zip(b[s].tolist(), bin_[s].tolist(), counts[s].tolist(), strict=True))
            pooled = np.bincount(bin_[s], weights=counts[s], minlength=BINS).astype(int)
            yield triples, tuple(pooled.tolist())


def data(
    requests: dict[str, np.ndarray],
    errors: dict[str, np.ndarray],
    latency: dict[str, tuple[tuple[tuple[int, int, int], ...], tuple[int, ...]]] | None = None,
) -> AnalysisData:
    """AnalysisData with the serving sums of one simulated experiment, per unit bucket."""
    latency = latency or {}
    if not requests:
        requests = {v: np.bincount([b for b, _, _ in cells], [c for *_, c in cells], BUCKETS)
                    for v, (cells, _) in latency.items()}  # fmt: skip
        errors = {v: np.zeros(BUCKETS, int) for v in latency}
    serving = ServingStats(
        requests={v: int(n.sum()) for v, n in requests.items()},
        errors={v: int(e.sum()) for v, e in errors.items()},
        latency=LatencyHistogram(HISTOGRAM_EDGES, {v: h for v, (_, h) in latency.items()}),
        unit_buckets=BUCKETS,
        bucket_requests={v: tuple(int(x) for x in n) for v, n in requests.items()},
        bucket_errors={v: tuple(int(x) for x in e) for v, e in errors.items()},
        bucket_latency={v: cells for v, (cells, _) in latency.items()},
    )
    return AnalysisData("guardrails", _HEALTH, {}, serving, ())


def statuses(guardrail: Guardrail, experiments: Iterator[AnalysisData]) -> np.ndarray:
    return np.array(
        [
            check_guardrails([guardrail], d, [], "v1", ["v2"], alpha=ALPHA)[0].status
            for d in experiments
        ]
    )


def error_statuses(rate: float, runs: int, seed: int) -> np.ndarray:
    """Status of ``max: 0.01`` on the challenger's error rate, per run."""
    n, e = error_runs(rate, runs, seed)
    g = Guardrail(name="error_rate", max=0.01)
    return statuses(g, (data({"v2": n[i]}, {"v2": e[i]}) for i in range(runs)))


def latency_statuses(p95: float, runs: int, seed: int, icc: float = 0.05) -> np.ndarray:
    g = Guardrail(name="latency_p95_ms", max=200)
    return statuses(g, (data({}, {}, {"v2": run}) for run in latency_runs(p95, runs, seed, icc)))


def report(label: str, found: np.ndarray) -> dict[str, float]:
    shares = {s: float(np.mean(found == s)) for s in ("pass", "warn", "fail")}
    print(f"{label}: " + ", ".join(f"{s} {v:.2%}" for s, v in shares.items()))
    return shares


# -- error rate -----------------------------------------------------------------------------


def _error_rate_at_the_limit(runs: int) -> None:
    found = report(f"error rate 0.010, max 0.01, {runs} runs", error_statuses(0.01, runs, 1))
    assert found["fail"] <= ALPHA + slack(ALPHA, runs)
    assert found["pass"] <= ALPHA + slack(ALPHA, runs)


def _error_rate_above_the_limit(runs: int) -> None:
    found = report(f"error rate 0.011, max 0.01, {runs} runs", error_statuses(0.011, runs, 2))
    assert found["pass"] <= ALPHA


def _error_rate_clearly_good(runs: int) -> None:
    found = report(f"error rate 0.005, max 0.01, {runs} runs", error_statuses(0.005, runs, 3))
    assert found["pass"] >= 0.90
    assert found["fail"] == 0


def _error_rate_worse_by_the_margin(runs: int) -> None:
    """Champion 0.008, challenger 0.010, margin 0.002: non-inferiority must rarely pass."""
    champion, challenger = error_runs(0.008, runs, 4), error_runs(0.010, runs, 5)
    g = Guardrail(name="error_rate", non_inferiority_margin=0.002)
    runs_data = (
        data({"v1": champion[0][i], "v2": challenger[0][i]},
             {"v1": champion[1][i], "v2": challenger[1][i]})
        for i in range(runs)
    )  # fmt: skip
    found = statuses(g, runs_data)
    shares = {s: float(np.mean(found == s)) for s in ("pass", "inconclusive", "fail")}
    print(f"error rate 0.010 vs 0.008, margin 0.002, {runs} runs: {shares}")
    assert shares["pass"] <= ALPHA + slack(ALPHA, runs)


def test_an_error_rate_at_the_limit_fails_and_passes_at_most_alpha():
    _error_rate_at_the_limit(RUNS)


def test_an_error_rate_ten_percent_over_the_limit_passes_at_most_alpha():
    _error_rate_above_the_limit(RUNS)


def test_an_error_rate_at_half_the_limit_passes_in_at_least_90_percent():
    _error_rate_clearly_good(RUNS)


def test_an_error_rate_worse_by_the_margin_is_rarely_non_inferior():
    _error_rate_worse_by_the_margin(RUNS)


def test_requests_taken_as_independent_fail_a_rate_at_the_limit_too_often():
    """The defect the per-unit variance fixes, on the same runs: Wilson's interval on the
    requests puts its lower bound above 0.01 in ~9% of runs (nominal 5%)."""
    n, e = error_runs(0.01, RUNS, 1)
    lower = np.array([proportion_ci(e[i].sum(), n[i].sum(), alpha=0.1).ci[0] for i in range(RUNS)])
    share = float(np.mean(lower > 0.01))
    print(f"independent requests, rate at the limit: fail {share:.2%}")
    assert share > ALPHA + slack(ALPHA, RUNS)


# -- latency p95 ----------------------------------------------------------------------------


def _p95(p95: float, runs: int, seed: int, icc: float = 0.05) -> dict[str, float]:
    return report(
        f"p95 {p95:g} ms, max 200, ICC {icc}, {runs} runs", latency_statuses(p95, runs, seed, icc)
    )


def test_a_p95_at_the_limit_fails_and_passes_at_most_alpha():
    found = _p95(200.0, RUNS, 11)
    assert found["fail"] <= ALPHA + slack(ALPHA, RUNS)
    assert found["pass"] <= ALPHA + slack(ALPHA, RUNS)


def test_a_strongly_clustered_p95_at_the_limit_passes_at_most_alpha():
    found = _p95(200.0, RUNS, 12, icc=0.3)
    assert found["fail"] <= ALPHA + slack(ALPHA, RUNS)
    assert found["pass"] <= ALPHA + slack(ALPHA, RUNS)


def test_a_p95_ten_percent_over_the_limit_passes_at_most_alpha():
    assert _p95(220.0, RUNS, 13)["pass"] <= ALPHA


def test_a_p95_at_three_quarters_of_the_limit_passes_in_at_least_90_percent():
    found = _p95(150.0, RUNS, 14)
    assert found["pass"] >= 0.90
    assert found["fail"] == 0


# -- the long variant -----------------------------------------------------------------------


@pytest.mark.slow
@long_only
def test_error_rate_rules_over_20000_runs():
    _error_rate_at_the_limit(LONG_RUNS)
    _error_rate_above_the_limit(LONG_RUNS)
    _error_rate_clearly_good(LONG_RUNS)
    _error_rate_worse_by_the_margin(LONG_RUNS)


@pytest.mark.slow
@long_only
@pytest.mark.parametrize("icc", [0.05, 0.3])
def test_p95_rules_over_20000_runs(icc):
    found = _p95(200.0, LONG_RUNS, 21, icc)
    assert found["fail"] <= ALPHA + slack(ALPHA, LONG_RUNS)
    assert found["pass"] <= ALPHA + slack(ALPHA, LONG_RUNS)
