"""Request-level guardrails with per-unit variance, and the bound rule, against oracles.

Simulated requests come from units (1 + Poisson(9) each) whose requests are alike; the
serving sums are split into 64 unit buckets by the MD5 of the unit id, as
``load_analysis_data`` splits them. Oracles: statsmodels' cluster-robust variance (OLS on a
constant, clusters = buckets) and its Clopper-Pearson and Wilson intervals, scipy's t and
binomial quantiles, numpy's percentile on the rows.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from scipy import stats
from statsmodels.stats.proportion import proportion_confint

from champion.analysis.aggregates import LatencyHistogram, ServingStats
from champion.analysis.guardrails import check_guardrails
from champion.spec.models import Guardrail
from champion.stats import clustered_quantile, clustered_quantile_difference
from tests.analysis._sim import EDGES, Sim, analysis_data, histogram, spec

BUCKETS = 64
BINS = len(EDGES) - 1
T63 = stats.t.ppf(0.95, 63)  # one-sided 95% with 64 buckets
Z = stats.norm.ppf(0.95)


def requests_of(seed: int, units: dict[str, int], rate: dict[str, float], median: dict[str, float],
                icc: float = 0.2) -> pd.DataFrame:  # fmt: skip
    """Per request: variant, unit bucket, latency (lognormal, a unit effect with ``icc`` of
    the log-variance) and error (a Beta-distributed rate per unit, same ``icc``)."""
    rng = np.random.default_rng(seed)
    frames = []
    for variant, count in units.items():
        m = 1 + rng.poisson(9, count)
        unit = np.repeat(np.arange(count), m)
        ids = [f"{variant}-{u}" for u in range(count)]
        bucket = np.array([int(hashlib.md5(i.encode()).hexdigest()[:2], 16) % 64 for i in ids])
        p = rate[variant]
        unit_rate = rng.beta(p * (1 - icc) / icc, (1 - p) * (1 - icc) / icc, count)
        log = rng.normal(0, 0.5 * math.sqrt(icc), count)[unit]
        log = log + rng.normal(0, 0.5 * math.sqrt(1 - icc), unit.size)
        frames.append(
            pd.DataFrame(
                {
                    "variant": variant,
                    "bucket": bucket[unit],
                    "latency_ms": median[variant] * np.exp(log),
                    "error": rng.random(unit.size) < unit_rate[unit],
                }
            )
        )
    return pd.concat(frames, ignore_index=True)


def bins_of(latency: np.ndarray) -> np.ndarray:
    return np.clip(np.floor(200 * np.log10(latency)).astype(int) + 400, 0, BINS - 1)


def serving(requests: pd.DataFrame) -> ServingStats:
    """ServingStats per unit bucket, summed with pandas from the rows."""
    by = requests.assign(bin=bins_of(requests["latency_ms"].to_numpy()))
    sums = by.groupby(["variant", "bucket"]).agg(n=("error", "size"), e=("error", "sum"))
    cells = by.groupby(["variant", "bucket", "bin"]).size()
    variants = sorted(by["variant"].unique())
    per = {v: sums.loc[v].reindex(range(BUCKETS), fill_value=0) for v in variants}
    return ServingStats(
        requests={v: int(per[v]["n"].sum()) for v in variants},
        errors={v: int(per[v]["e"].sum()) for v in variants},
        latency=LatencyHistogram(EDGES, {v: histogram(latency(by, v)) for v in variants}),
        unit_buckets=BUCKETS,
        bucket_requests={v: tuple(int(x) for x in per[v]["n"]) for v in variants},
        bucket_errors={v: tuple(int(x) for x in per[v]["e"]) for v in variants},
        bucket_latency={
            v: tuple((int(b), int(k), int(c)) for (b, k), c in cells.loc[v].items())
            for v in variants
        },
    )


def latency(rows: pd.DataFrame, variant: str) -> np.ndarray:
    return rows.loc[rows["variant"] == variant, "latency_ms"].to_numpy()


def cluster_variance(values: np.ndarray, groups: np.ndarray) -> float:
    """statsmodels: cluster-robust variance of the mean of ``values``."""
    fit = sm.OLS(values, np.ones_like(values)).fit(cov_type="cluster", cov_kwds={"groups": groups})
    return float(fit.cov_params()[0, 0])


def check(requests: pd.DataFrame, *guardrails: Guardrail):
    data = replace(analysis_data(Sim(seed=1, n=2_000)), serving=serving(requests))
    return check_guardrails(guardrails, data, spec().metrics.all(), "v1_3", ["v2_0"], alpha=0.05)


UNITS = {"v1_3": 800, "v2_0": 800}
MEDIAN = {"v1_3": 80.0, "v2_0": 80.0}


@pytest.fixture(scope="module")
def rows() -> pd.DataFrame:
    return requests_of(1, UNITS, {"v1_3": 0.006, "v2_0": 0.008}, MEDIAN)


def test_the_error_rate_bound_is_clopper_pearson_at_the_effective_size_of_buckets(rows):
    (g,) = check(rows, Guardrail(name="error_rate", max=0.01))
    mine = rows[rows["variant"] == "v2_0"]
    failed, p = mine["error"].to_numpy(float), mine["error"].mean()
    variance = cluster_variance(failed, mine["bucket"].to_numpy())
    deff = variance / (p * (1 - p) / failed.size)
    n_eff = min(failed.size, failed.size / deff * (2 * Z / (2 * T63)) ** 2)
    assert g.value == pytest.approx(p, rel=1e-12)
    assert g.bound == pytest.approx(
        proportion_confint(p * n_eff, n_eff, alpha=0.1, method="beta"), rel=1e-9
    )
    assert deff > 1.5  # ICC 0.2 over ~10 requests per unit
    assert f"variance per unit from 64 unit buckets, design effect {deff:.2f}" in g.evidence


def test_an_estimate_inside_the_max_whose_bound_reaches_beyond_warns(rows):
    """Rule (bounds, not estimates): 0.8% errors under a 1% max, with the upper bound above
    it, is not a pass yet (the estimate alone used to pass it)."""
    (g,) = check(rows, Guardrail(name="error_rate", max=0.01))
    assert g.value < 0.01 < g.bound[1]
    assert g.status == "warn"
    assert "within the max 0.01, not yet with evidence" in g.evidence


def test_pass_needs_the_upper_bound_at_or_below_the_max(rows):
    (g,) = check(rows, Guardrail(name="error_rate", max=0.02))
    assert g.bound[1] <= 0.02
    assert g.status == "pass"
    assert f"its one-sided 95% upper bound {g.bound[1]:.4g} is at or below 0.02" in g.evidence


def test_fail_needs_the_lower_bound_above_the_max(rows):
    (g,) = check(rows, Guardrail(name="error_rate", max=0.002))
    assert g.bound[0] > 0.002
    assert g.status == "fail"
    assert f"its one-sided 95% lower bound {g.bound[0]:.4g} is above 0.002" in g.evidence


@pytest.mark.parametrize(
    ("minimum", "status"), [(0.1, "pass"), (0.2, "fail"), ("estimate", "warn")]
)
def test_a_min_passes_on_the_lower_bound_and_fails_on_the_upper(minimum, status):
    """On a per-unit proportion (fraud_caught, Wilson over units): pass when the lower bound
    is at or above the min, fail when the upper bound is below it, warn in between."""
    sim = Sim(seed=3, n=4_000)
    units = sim.units()
    data = analysis_data(sim, units)
    caught = units.loc[units["variant"] == "v2_0", "fraud_caught"]
    lo, hi = proportion_confint(caught.sum(), caught.size, alpha=0.1, method="wilson")
    limit = caught.mean() if minimum == "estimate" else minimum
    (g,) = check_guardrails(
        [Guardrail(name="fraud_caught", min=limit)],
        data, spec().metrics.all(), "v1_3", ["v2_0"], alpha=0.05,
    )  # fmt: skip
    assert g.bound == pytest.approx((lo, hi), rel=1e-9)
    assert g.status == status
    assert (lo >= limit) == (status == "pass")
    assert (hi < limit) == (status == "fail")


def test_the_p95_bound_is_the_clustered_order_statistic_interval(rows):
    (g,) = check(rows, Guardrail(name="latency_p95_ms", max=200))
    mine = rows[rows["variant"] == "v2_0"]
    counts = np.zeros((BUCKETS, BINS))
    np.add.at(counts, (mine["bucket"].to_numpy(), bins_of(mine["latency_ms"].to_numpy())), 1)
    expected = clustered_quantile(EDGES, counts, 0.95, alpha=0.1)
    assert g.bound == expected.ci
    assert g.value == pytest.approx(np.percentile(mine["latency_ms"], 95), rel=10 ** (1 / 200) - 1)
    assert g.status == "pass"  # p95 ~ 182 ms, upper bound below 200
    assert "design effect" in g.evidence


def test_the_latency_mean_bound_is_t_over_buckets_on_the_cluster_robust_variance(rows):
    (g,) = check(rows, Guardrail(name="latency_mean_ms", max=95))
    mine = rows[rows["variant"] == "v2_0"]
    edges = np.asarray(EDGES)
    mid = np.sqrt(edges[:-1] * edges[1:])
    value = mid[bins_of(mine["latency_ms"].to_numpy())]  # each request at its bin's middle
    se = math.sqrt(cluster_variance(value, mine["bucket"].to_numpy()))
    assert g.value == pytest.approx(value.mean(), rel=1e-12)
    assert g.bound == pytest.approx((value.mean() - T63 * se, value.mean() + T63 * se), rel=1e-9)
    assert "variance per unit from 64 unit buckets" in g.evidence


def test_error_rate_non_inferiority_uses_welch_over_unit_buckets(rows):
    (g,) = check(rows, Guardrail(name="error_rate", non_inferiority_margin=0.004))
    arms = {v: rows[rows["variant"] == v] for v in ("v1_3", "v2_0")}
    var = {v: cluster_variance(a["error"].to_numpy(float), a["bucket"].to_numpy())
           for v, a in arms.items()}  # fmt: skip
    diff = arms["v2_0"]["error"].mean() - arms["v1_3"]["error"].mean()
    se = math.sqrt(sum(var.values()))
    df = sum(var.values()) ** 2 / sum(v * v / 63 for v in var.values())  # Welch-Satterthwaite
    half = stats.t.ppf(0.95, df) * se
    assert g.value == pytest.approx(diff, rel=1e-9)
    assert g.bound == pytest.approx((diff - half, diff + half), rel=1e-9)
    assert g.status == ("pass" if diff + half < 0.004 else "inconclusive")
    assert "variance per unit from unit buckets" in g.evidence


def test_p95_non_inferiority_uses_the_clustered_standard_errors():
    rows = requests_of(2, UNITS, {"v1_3": 0.005, "v2_0": 0.005}, {"v1_3": 80.0, "v2_0": 90.0})
    (g,) = check(rows, Guardrail(name="latency_p95_ms", non_inferiority_margin=5))
    counts = {}
    for v in ("v1_3", "v2_0"):
        arm = rows[rows["variant"] == v]
        counts[v] = np.zeros((BUCKETS, BINS))
        np.add.at(counts[v], (arm["bucket"].to_numpy(), bins_of(arm["latency_ms"].to_numpy())), 1)
    r = clustered_quantile_difference(EDGES, counts["v1_3"], counts["v2_0"], 0.95, alpha=0.1)
    assert g.bound == pytest.approx(r.diff_ci, rel=1e-12)
    assert g.status == "fail"  # ~22 ms slower at p95 against a 5 ms margin
    assert g.bound[0] > 5


def test_serving_sums_without_buckets_are_read_as_independent_requests_and_say_so():
    sim = Sim(seed=4, n=2_000)
    data = analysis_data(sim)
    assert data.serving.unit_buckets == 0
    checks = check_guardrails(
        [Guardrail(name="error_rate", max=0.01), Guardrail(name="latency_p95_ms", max=200)],
        data, spec().metrics.all(), "v1_3", ["v2_0"], alpha=0.05,
    )  # fmt: skip
    assert all("requests taken as independent: no per-unit sums" in c.evidence for c in checks)
