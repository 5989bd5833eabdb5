"""Adaptive estimators against a per-request loop, scipy/statsmodels and seeded simulations."""

import math

import numpy as np
import pytest
from scipy import stats as sps
from scipy.optimize import brentq
from statsmodels.stats.weightstats import CompareMeans, DescrStatsW

from champion.stats.adaptive import (
    AdaptiveStats,
    adaptive_stats,
    arm_values,
    gain_over_uniform,
    holdout_comparison,
)
from champion.stats.adaptive_sim import simulate_adaptive


def _exposures(seed: int, arms: int = 3, batches: int = 6, size: int = 80, binary: bool = True):
    """Random exposures: each batch has random weights; a 20% holdout is served uniformly."""
    rng = np.random.default_rng(seed)
    rows = []
    for b in range(batches):
        weights = rng.dirichlet(np.ones(arms)) * 0.8 + 0.2 / arms
        for _ in range(size):
            held = rng.random() < 0.2
            p = np.full(arms, 1 / arms) if held else weights
            a = int(rng.choice(arms, p=p))
            y = float(rng.random() < 0.2 + 0.1 * a) if binary else float(rng.normal(a, 1 + a))
            rows.append((b, a, p[a], y, held, p))
    return rows


def _oracle(rows, arms: int, weighting: str = "stablevar"):
    """The estimator written per request, straight from Hadad et al. (2021)."""
    out = []
    for a in range(arms):
        num = den = 0.0
        scores, weights, parts = [], [], []
        for i, (b, served, _, y, _, p) in enumerate(rows):
            past = [r for r in rows[:i] if r[0] < b]
            own = [r[3] for r in past if r[1] == a]
            if own:
                m = sum(own) / len(own)
            elif past:
                m = sum(r[3] for r in past) / len(past)
            else:
                m = 0.0
            g = m + (served == a) / p[a] * (y - m)
            h = math.sqrt(p[a]) if weighting == "stablevar" else 1.0
            scores.append(g)
            weights.append(h)
            parts.append((h, p[a], m))
            num += h * g
            den += h
        q = num / den
        var = sum(h * h * (g - q) ** 2 for g, h in zip(scores, weights, strict=True)) / den**2
        ipw = sum(((s == a) / p[a]) * y for _, s, _, y, _, p in rows) / len(rows)
        out.append((q, math.sqrt(var), ipw, parts))
    return out


def _score_oracle(q, parts, alpha=0.05):
    """The score interval by root finding: the values v whose predictable variance
    Σ h² (v (1 - v) / e + (v - m)² (1 - e) / e) / (Σ h)² keeps (q - v)² within z² of it."""
    z = sps.norm.ppf(1 - alpha / 2)
    den = sum(h for h, _, _ in parts)

    def gap(v):
        var = sum(h * h * (v * (1 - v) / e + (v - m) ** 2 * (1 - e) / e) for h, e, m in parts)
        return (q - v) ** 2 - z * z * var / den**2

    lo = 0.0 if gap(0.0) <= 0 else brentq(gap, 0.0, q, xtol=1e-14)
    hi = 1.0 if gap(1.0) <= 0 else brentq(gap, q, 1.0, xtol=1e-14)
    return lo, hi


def _stats(rows, arms):
    b, a, p, y, h, _ = zip(*rows, strict=True)
    return adaptive_stats(b, np.array(a), p, y, holdout=h, arms=arms)


@pytest.mark.parametrize("weighting", ["stablevar", "uniform"])
@pytest.mark.parametrize("binary", [True, False])
def test_arm_values_match_the_per_request_formula(weighting, binary):
    rows = sorted(_exposures(1, binary=binary), key=lambda r: r[0])
    v = arm_values(_stats(rows, 3), weighting=weighting)
    assert v.interval == ("score" if binary else "wald")
    for a, (q, se, ipw, parts) in enumerate(_oracle(rows, 3, weighting)):
        assert v.estimate[a] == pytest.approx(q, rel=1e-10)
        assert v.std_error[a] == pytest.approx(se, rel=1e-9)
        assert v.ipw[a] == pytest.approx(ipw, rel=1e-10)
        lo, hi = v.ci[0][a], v.ci[1][a]
        if binary:
            assert (lo, hi) == pytest.approx(_score_oracle(q, parts), rel=1e-9)
        else:
            assert (lo + hi) / 2 == pytest.approx(q, rel=1e-10)
            assert (hi - lo) / 2 == pytest.approx(sps.norm.ppf(0.975) * se, rel=1e-9)


def test_the_wald_interval_is_there_on_request_and_score_needs_0_1_rewards():
    rows = sorted(_exposures(4), key=lambda r: r[0])
    v = arm_values(_stats(rows, 3), interval="wald")
    half = sps.norm.ppf(0.975) * v.std_error
    np.testing.assert_allclose(v.ci[0], v.estimate - half, rtol=1e-12)
    np.testing.assert_allclose(v.ci[1], v.estimate + half, rtol=1e-12)
    means = sorted(_exposures(4, binary=False), key=lambda r: r[0])
    with pytest.raises(ValueError, match="needs 0/1 rewards"):
        arm_values(_stats(means, 3), interval="score")
    with pytest.raises(ValueError, match="interval='exact' is invalid"):
        arm_values(_stats(rows, 3), interval="exact")


def test_a_score_interval_stays_inside_0_1_and_is_wider_above_a_low_estimate():
    # 2 successes in 400 requests at 10%: the Wald interval would dip below 0
    y = [1.0, 1.0] + [0.0] * 398
    s = adaptive_stats([0] * 400, np.array([0] * 40 + [1] * 360), [0.1] * 40 + [0.9] * 360,
                       [*y[:40], *y[40:]], arms=2)  # fmt: skip
    v = arm_values(s)
    lo, hi = v.ci[0][0], v.ci[1][0]
    assert 0.0 <= lo < v.estimate[0] < hi <= 1.0
    assert hi - v.estimate[0] > v.estimate[0] - lo


def test_naive_mean_and_its_se_match_statsmodels():
    rows = _exposures(2, binary=False)
    v = arm_values(_stats(rows, 3))
    for a in range(3):
        y = np.array([r[3] for r in rows if r[1] == a])
        d = DescrStatsW(y)
        assert v.naive[a] == pytest.approx(d.mean, rel=1e-12)
        assert v.naive_se[a] == pytest.approx(d.std_mean, rel=1e-10)


def test_constant_propensities_make_both_weightings_agree():
    rows = [r for r in _exposures(3) if r[4]]  # the holdout alone: always uniform
    s = _stats(rows, 3)
    a, b = arm_values(s), arm_values(s, weighting="uniform")
    np.testing.assert_allclose(a.estimate, b.estimate, rtol=1e-12)
    np.testing.assert_allclose(a.std_error, b.std_error, rtol=1e-12)


def test_an_arm_missing_from_a_version_takes_the_remaining_probability():
    s = adaptive_stats([0, 0, 1, 1], np.array([0, 1, 1, 1]), [0.5, 0.5, 0.9, 0.9], [1, 0, 1, 1])
    assert s.propensity.tolist() == [[0.5, 0.5], [pytest.approx(0.1), 0.9]]
    assert s.served.tolist() == [[1, 1], [0, 2]]


def test_two_arms_missing_from_a_version_are_refused():
    with pytest.raises(ValueError, match=r"arm='version 1' is invalid: two or more arms"):
        adaptive_stats([0, 0, 0, 1], np.array([0, 1, 2, 2]), [0.3, 0.3, 0.4, 0.5], [1, 0, 1, 1])


def test_different_probabilities_within_a_version_are_refused():
    with pytest.raises(ValueError, match=r"propensity='version 0' is invalid: differs between"):
        adaptive_stats([0, 0, 0], np.array([0, 0, 1]), [0.5, 0.4, 0.5], [1, 0, 1])


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"propensity": [0.0, 0.5]}, r"propensity=\[0.0\] is invalid: must be in \(0, 1\]"),
        ({"reward": [1.0, math.nan]}, r"reward=\[nan\] is invalid: must be finite"),
        ({"arm": np.array([0.0, 1.0])}, r"arm=\[0.0, 1.0\] is invalid: must be arm indices"),
        ({"batch": [0, 1, 2]}, r"arm=\(2,\) is invalid: must be one value per exposure"),
        ({"batch": ["v1", "v2"]}, r"batch=\['v1', 'v2'\] is invalid: must be integer allocation"),
    ],
)
def test_bad_exposures_are_refused_by_name(kwargs, match):
    args = {"batch": [0, 0], "arm": np.array([0, 1]), "propensity": [0.5, 0.5], "reward": [1, 0]}
    with pytest.raises(ValueError, match=match):
        adaptive_stats(**{**args, **kwargs})


def test_an_unknown_weighting_is_refused():
    s = adaptive_stats([0, 0], np.array([0, 1]), [0.5, 0.5], [1.0, 0.0])
    with pytest.raises(ValueError, match=r"weighting='sqrt' is invalid: must be one of stablevar"):
        arm_values(s, weighting="sqrt")


def test_an_arm_never_served_has_status_empty_arm():
    s = adaptive_stats([0, 0], np.array([0, 0]), [0.5, 0.5], [1.0, 0.0], arms=2)
    v = arm_values(s)
    assert v.status.tolist() == ["ok", "empty_arm"]
    assert math.isnan(v.estimate[1])
    assert math.isnan(v.ci[0][1])


def test_no_spread_has_status_zero_variance():
    s = adaptive_stats([0, 0, 0, 0], np.array([0, 1, 0, 1]), [0.5] * 4, [0.0] * 4)
    v = arm_values(s)
    assert v.status.tolist() == ["zero_variance", "zero_variance"]
    assert v.estimate.tolist() == [0.0, 0.0]


def _holdout_rows(seed):
    rng = np.random.default_rng(seed)
    n = 3000
    held = rng.random(n) < 0.1
    arm = np.where(held, rng.integers(0, 2, n), (rng.random(n) < 0.7).astype(int))
    p = np.where(held, 0.5, np.where(arm == 1, 0.7, 0.3))
    y = (rng.random(n) < np.where(arm == 1, 0.05, 0.03)).astype(float)
    return np.zeros(n, int), arm, p, y, held


def test_holdout_comparison_is_welch_as_in_scipy_and_statsmodels():
    b, arm, p, y, held = _holdout_rows(4)
    r = holdout_comparison(adaptive_stats(b, arm, p, y, holdout=held))
    t = sps.ttest_ind(y[~held], y[held], equal_var=False)
    assert r.diff == pytest.approx(y[~held].mean() - y[held].mean(), rel=1e-12)
    assert r.p_value == pytest.approx(t.pvalue, rel=1e-8)
    ci = CompareMeans(DescrStatsW(y[~held]), DescrStatsW(y[held])).tconfint_diff(usevar="unequal")
    assert r.diff_ci == pytest.approx(ci, rel=1e-8)


def test_gain_over_uniform_scales_the_difference_to_the_bandit_requests():
    b, arm, p, y, held = _holdout_rows(5)
    g = gain_over_uniform(adaptive_stats(b, arm, p, y, holdout=held))
    n = int((~held).sum())
    assert g.requests == n
    assert g.gain == pytest.approx(n * (y[~held].mean() - y[held].mean()), rel=1e-12)
    assert g.ci == pytest.approx(tuple(n * x for x in g.per_request.diff_ci), rel=1e-12)
    assert g.regret == -g.gain


def test_holdout_comparison_without_a_holdout_is_empty():
    s = adaptive_stats([0, 0], np.array([0, 1]), [0.5, 0.5], [1.0, 0.0])
    assert holdout_comparison(s).status == "empty_arm"


def test_holdout_comparison_wants_a_single_run():
    sim = simulate_adaptive([0.1, 0.2], n_requests=500, n_runs=2)
    with pytest.raises(ValueError, match=r"stats=\(2, 4\) is invalid: must hold one run"):
        holdout_comparison(sim.stats)


def test_strata_out_of_time_order_are_refused():
    z = np.zeros((2, 2))
    with pytest.raises(ValueError, match="strata must be in time order"):
        AdaptiveStats(np.array([1, 0]), np.array([False, False]), np.zeros(2), z, z, z, z)


@pytest.mark.slow
def test_ipw_is_unbiased_where_the_naive_mean_is_not():
    # The seed's gap, 600 runs of 10,000 requests: the starved arm's naive mean is pulled down
    # (seen: -0.095 points, 6.1 SE), IPW is unbiased (seen: -0.02 points, 1.0 SE).
    sim = simulate_adaptive([0.031, 0.038], n_runs=600, seed=21)
    v = arm_values(sim.stats)
    ipw_err = v.ipw[:, 0] - 0.031
    naive_err = v.naive[:, 0] - 0.031
    se = lambda x: x.std(ddof=1) / math.sqrt(x.size)  # noqa: E731
    assert abs(ipw_err.mean()) < 4 * se(ipw_err)
    assert naive_err.mean() < -4 * se(naive_err)


def test_an_arm_served_at_probability_zero_is_refused():
    s = adaptive_stats([0, 0], np.array([0, 1]), [0.5, 0.5], [1.0, 0.0])
    e = np.array([[1.0, 0.0]])
    bad = AdaptiveStats(s.batch, s.holdout, s.requests, e, s.served, s.reward_sum, s.reward_sq_sum)
    with pytest.raises(ValueError, match=r"propensity=0.0 is invalid: an arm was served"):
        arm_values(bad)


def test_an_arm_at_probability_zero_gets_no_weight_under_stablevar():
    # Version 1 never serves arm 0: stable-var ignores that stratum for arm 0; IPW is undefined.
    s = adaptive_stats([0, 0, 0, 0, 1, 1], np.array([0, 1, 0, 1, 1, 1]), [0.5] * 4 + [1.0] * 2,
                       [1.0, 0.0, 0.0, 1.0, 1.0, 1.0], arms=2)  # fmt: skip
    v = arm_values(s)
    assert v.estimate[0] == pytest.approx(0.5)
    assert math.isnan(v.ipw[0])
    assert math.isnan(arm_values(s, weighting="uniform").estimate[0])


def test_one_experiment_reads_out_as_plain_json_with_what_each_number_is_valid_for():
    import json

    b, arm, p, y, held = _holdout_rows(6)
    s = adaptive_stats(b, arm, p, y, holdout=held)
    values = json.loads(json.dumps(arm_values(s).to_dict(), allow_nan=False))
    assert values["status"] == ["ok", "ok"]
    assert "stationary" in values["valid_for"]["arm_value"]
    assert "not valid" in values["valid_for"]["naive"]
    gain = json.loads(json.dumps(gain_over_uniform(s).to_dict(), allow_nan=False))
    assert "launch decision" in gain["valid_for"]
    assert gain["gain"] == pytest.approx(gain["requests"] * gain["diff"])


def test_to_dict_wants_a_single_run():
    sim = simulate_adaptive([0.1, 0.2], n_requests=500, n_runs=2)
    with pytest.raises(ValueError, match=r"estimate=\(2, 2\) is invalid: to_dict needs a single"):
        arm_values(sim.stats).to_dict()
