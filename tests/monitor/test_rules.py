"""The monitor's rules: window statuses, k/K streaks, the alpha split, the always-valid
comparative rule and the verdict, against formulas and scipy computed here."""

import math

import numpy as np
import pytest
from scipy import stats

from champion.analysis.aggregate import HISTOGRAM_EDGES
from champion.monitor.rules import (
    INCONCLUSIVE,
    NO_DATA,
    PASS,
    SCAN_WINDOWS,
    TUNING_REQUESTS,
    VIOLATION,
    family_size,
    judge_change,
    judge_comparative,
    judge_slo,
    judge_stage,
    psi,
    scan_alpha,
    totals,
)
from champion.monitor.tick import verdict
from champion.spec.models import Experiment

BUCKETS = 64
EDGES = np.asarray(HISTOGRAM_EDGES)


def make_spec(guardrails, **monitor) -> Experiment:
    return Experiment.model_validate({
        "name": "exp",
        "models": {v: {"kind": "python", "target": f"m:{v}"} for v in ("a", "b")},
        "champion": "a", "challengers": ["b"], "allocation": {"a": 0.5, "b": 0.5},
        "metrics": {"primary": {"name": "converted"}, "guardrails": guardrails},
        "monitor": {"min_window_requests": 100, **monitor},
    })  # fmt: skip


def sums(errors_per_unit, latencies_per_unit=None):
    """Window sums of units (one list entry per unit, its requests' errors as 0/1 and
    latencies), unit i in bucket i % 64."""
    out = {"requests": [0] * BUCKETS, "errors": [0] * BUCKETS, "latency": [0.0] * BUCKETS,
           "bins": {}}  # fmt: skip
    for i, errs in enumerate(errors_per_unit):
        b = i % BUCKETS
        out["requests"][b] += len(errs)
        out["errors"][b] += int(sum(errs))
        lat = latencies_per_unit[i] if latencies_per_unit is not None else [50.0] * len(errs)
        out["latency"][b] += float(sum(lat))
        for x in lat:
            k = str(int(np.searchsorted(EDGES, x, side="right") - 1))
            out["bins"][k] = out["bins"].get(k, 0) + 1
    return out


def independent(n, rate, rng):
    """n units with one request each, errors at ``rate``."""
    return [[int(x)] for x in rng.random(n) < rate]


def window(b, a=None):
    return {"b": b, "a": a if a is not None else b}


def test_the_family_alpha_is_split_over_every_rule_and_challenger():
    spec = make_spec([
        {"name": "error_rate", "max": 0.02, "non_inferiority_margin": 0.0},
        {"name": "latency_p95_ms", "max": 200},
        {"name": "false_positive", "non_inferiority_margin": 0.01},  # outcomes: stage gates
    ], alpha=0.02)  # fmt: skip
    assert family_size(spec) == 3
    rules = judge_slo(spec, [window(sums(independent(500, 0.01, np.random.default_rng(1))))],
                      ["w"])  # fmt: skip
    assert [r.alpha for r in rules] == pytest.approx([0.02 / 3] * 2)


def test_an_error_window_violates_only_when_its_lower_bound_is_above_the_max():
    rng = np.random.default_rng(2)
    spec = make_spec([{"name": "error_rate", "max": 0.02}], alpha=0.05)
    bad = judge_slo(spec, [window(sums(independent(2_000, 0.06, rng)))], ["w"])[0]
    good = judge_slo(spec, [window(sums(independent(4_000, 0.005, rng)))], ["w"])[0]
    unclear = judge_slo(spec, [window(sums(independent(400, 0.02, rng)))], ["w"])[0]
    assert (bad.status, bad.k) == (VIOLATION, 1)
    assert bad.bound > 0.02  # the deciding bound is the lower one
    assert good.status == PASS
    assert good.bound <= 0.02
    assert unclear.status == INCONCLUSIVE
    # one request per unit: the bounds are close to the exact binomial (Clopper-Pearson)
    # bounds at one-sided alpha 0.05; the clustered variance adds little
    n, x = 2_000, round(bad.estimate * 2_000)
    exact_lower = stats.beta.ppf(0.05, x, n - x + 1)
    assert bad.bound == pytest.approx(exact_lower, rel=0.08)


def test_a_window_below_the_minimum_sample_is_no_data_never_a_pass():
    spec = make_spec([{"name": "error_rate", "max": 0.5}])
    rule = judge_slo(spec, [window(sums([[0]] * 99))], ["w"])[0]
    assert rule.status == NO_DATA
    assert verdict([rule]) == "inconclusive"
    assert verdict([]) == "inconclusive"


def test_k_counts_violating_windows_in_a_row_skipping_windows_without_data():
    rng = np.random.default_rng(3)
    spec = make_spec([{"name": "error_rate", "max": 0.02, "stop_after": 3}], alpha=0.05)
    v = window(sums(independent(2_000, 0.08, rng)))
    ok = window(sums(independent(4_000, 0.002, rng)))
    empty = window(sums([]))

    def judged(ws):
        return judge_slo(spec, ws, [str(i) for i in range(len(ws))])[0]

    assert (judged([v, v]).k, judged([v, v]).stop) == (2, False)
    assert (judged([v, v, empty, v]).k, judged([v, v, empty, v]).stop) == (3, True)
    assert judged([v, empty, v, v]).status == VIOLATION
    assert judged([v, v, ok, v]).k == 1  # a passing window ends the run
    last_empty = judged([v, v, v, empty])
    assert (last_empty.status, last_empty.k, last_empty.stop) == (NO_DATA, 3, True)
    assert verdict([judged([v, v, v])]) == "fail"


def test_the_default_stop_after_comes_from_the_monitor_block():
    spec = make_spec([{"name": "error_rate", "max": 0.02}], stop_after=2)
    assert judge_slo(spec, [window(sums([]))], ["w"])[0].stop_after == 2


def test_a_latency_quantile_window_uses_the_order_statistic_bounds():
    rng = np.random.default_rng(4)
    lat = rng.lognormal(math.log(150), 0.3, 3_000)
    spec = make_spec([{"name": "latency_p95_ms", "max": 200}], alpha=0.05)
    rule = judge_slo(spec, [window(sums([[0]] * 3_000, [[x] for x in lat]))], ["w"])[0]
    values = np.sort(lat)
    # one-sided 95 % bounds are the ends of the two-sided 90 % order-statistic interval
    lower = values[int(stats.binom.ppf(0.05, 3_000, 0.95)) - 1]
    bin_width = 10 ** (1 / 200)
    assert rule.estimate == pytest.approx(np.percentile(lat, 95), rel=bin_width - 1)
    assert rule.status == VIOLATION  # p95 of lognormal(150, 0.3) is about 245 ms
    assert lower / bin_width <= rule.bound <= lower * bin_width


def test_max_ratio_compares_the_challenger_with_the_champion_of_the_same_window():
    rng = np.random.default_rng(5)
    fast = [[x] for x in rng.lognormal(math.log(100), 0.2, 3_000)]
    slow = [[x] for x in rng.lognormal(math.log(140), 0.2, 3_000)]
    same = [[x] for x in rng.lognormal(math.log(100), 0.2, 3_000)]
    spec = make_spec([{"name": "latency_p99_ms", "max_ratio": 1.1}], alpha=0.05)
    zeros = [[0]] * 3_000
    slower = judge_slo(spec, [window(sums(zeros, slow), sums(zeros, fast))], ["w"])[0]
    alike = judge_slo(spec, [window(sums(zeros, same), sums(zeros, fast))], ["w"])[0]
    assert slower.status == VIOLATION
    assert slower.estimate == pytest.approx(1.4, rel=0.08)
    assert alike.status in (PASS, INCONCLUSIVE)
    assert alike.estimate == pytest.approx(1.0, rel=0.08)
    assert slower.rule == "max_ratio 1.1 x champion"


def _normal_mixture_radius(v: float, tau2: float, alpha: float) -> float:
    """Howard et al. (2021) normal-mixture boundary, written out here as the oracle."""
    return math.sqrt(v * (1 + v / tau2) * (math.log(1 + tau2 / v) + 2 * math.log(1 / alpha)))


def test_the_comparative_rule_is_the_one_sided_always_valid_bound_on_the_difference():
    rng = np.random.default_rng(6)
    spec = make_spec([{"name": "error_rate", "non_inferiority_margin": 0.0}], alpha=0.01)
    champion = sums(independent(40_000, 0.01, rng))
    worse = sums(independent(5_000, 0.03, rng))
    rule = judge_comparative(spec, totals([window(worse, champion)]), "w")[0]
    p_t, p_c = sum(worse["errors"]) / 5_000, sum(champion["errors"]) / 40_000
    assert rule.estimate == pytest.approx(p_t - p_c)
    # variance: binomial is the floor; one request per unit keeps the buckets' close to it
    v = p_t * (1 - p_t) / 5_000 + p_c * (1 - p_c) / 40_000
    # half the rule's alpha (0.01: one rule) one-sided: the two-sided sequence at 0.01
    x = 2 * math.log(1 / 0.01)
    for _ in range(60):
        x = math.log1p(x) + 2 * math.log(1 / 0.01)
    tau2 = x * v * 5_000 / TUNING_REQUESTS
    lower = rule.estimate - _normal_mixture_radius(v, tau2, 0.01)
    assert rule.bound == pytest.approx(lower, rel=0.05)
    assert rule.status == VIOLATION
    assert rule.stop
    assert rule.k == 1
    assert rule.stop_after == 1


def test_the_comparative_rule_waits_for_data_and_passes_only_when_non_inferiority_shows():
    rng = np.random.default_rng(7)
    spec = make_spec([{"name": "error_rate", "non_inferiority_margin": 0.01}])
    few = judge_comparative(spec, totals([window(sums([[0]] * 50))]), "w")[0]
    assert few.status == NO_DATA
    same = sums(independent(30_000, 0.01, rng))
    fine = judge_comparative(spec, totals([window(same, sums(independent(30_000, 0.01, rng)))]),
                             "w")[0]  # fmt: skip
    assert fine.status == PASS
    assert fine.bound <= 0.01


def test_totals_add_windows_and_keep_units_in_their_buckets():
    rng = np.random.default_rng(8)
    w1, w2 = sums(independent(300, 0.1, rng)), sums(independent(300, 0.1, rng))
    both = totals([window(w1), window(w2)])["b"]
    assert both["requests"].tolist() == (np.add(w1["requests"], w2["requests"])).tolist()
    assert both["errors"].sum() == sum(w1["errors"]) + sum(w2["errors"])
    assert sum(both["bins"].values()) == 600


def test_the_stage_judges_the_pooled_windows():
    rng = np.random.default_rng(9)
    spec = make_spec([{"name": "error_rate", "max": 0.02}], alpha=0.01)
    parts = [window(sums(independent(400, 0.008, rng))) for _ in range(10)]
    one = judge_slo(spec, parts[:1], ["w"])[0]  # 4 errors in 400
    pooled = judge_stage(spec, totals(parts), "stage")[0]
    assert one.status == INCONCLUSIVE  # 1 % in 400 requests: not below 2 % at alpha 0.01
    assert pooled.status == PASS
    assert pooled.kind == "stage"
    assert pooled.n == 4_000
    assert verdict([one], [pooled]) == "pass"


# -- the change scan ---------------------------------------------------------------------


def test_the_scan_spends_half_the_rules_alpha_over_every_tick_there_will_ever_be():
    settings = make_spec([]).monitor
    h = settings.horizon_days * 24 * 60 / settings.window_minutes  # 4,032 five-minute windows
    last = 100_000
    spent = sum(scan_alpha(settings, 0.01, t) for t in range(last + 1)) * len(SCAN_WINDOWS)
    tail = 0.005 * h / (last + 1 + h)  # what the telescoping sum leaves after the last
    assert spent + tail == pytest.approx(0.005, rel=1e-9)
    within = sum(scan_alpha(settings, 0.01, t) for t in range(int(h))) * len(SCAN_WINDOWS)
    assert within == pytest.approx(0.0025, rel=1e-3)  # half of it within the horizon
    assert scan_alpha(settings, 0.01, 0) == pytest.approx(0.005 / (h + 1) / len(SCAN_WINDOWS))


def _cum(windows):
    return totals(windows)


def test_the_scan_finds_a_change_in_the_recent_windows_the_since_start_rule_dilutes():
    """200 windows of 2,000 champion and 2,000 challenger requests at 1% errors, then 4
    windows with the challenger at 3%: the since-start sequence still passes, the scan
    violates on the lookback of 4 windows, at scipy's one-sided quantile."""
    rng = np.random.default_rng(11)
    spec = make_spec([{"name": "error_rate", "non_inferiority_margin": 0.0}], alpha=0.01)
    windows = [window(sums(independent(2_000, 0.01, rng)), sums(independent(2_000, 0.01, rng)))
               for _ in range(200)]  # fmt: skip
    windows += [window(sums(independent(2_000, 0.03, rng)), sums(independent(2_000, 0.01, rng)))
                for _ in range(4)]  # fmt: skip
    index = len(windows) - 1
    summed = _cum(windows)
    marks = {L: _cum(windows[: index + 1 - L]) for L in SCAN_WINDOWS if index >= L}
    since = judge_comparative(spec, summed, "w")[0]
    (scan,) = judge_change(spec, summed, marks, index, "w")
    assert since.status != VIOLATION
    assert scan.status == VIOLATION
    assert scan.stop
    assert scan.rule.endswith("change in the last 4 windows")
    assert scan.kind == "change"
    level = scan_alpha(spec.monitor, 0.01, index)
    z = stats.norm.isf(level)
    recent = _cum(windows[-4:])
    p_t = recent["b"]["errors"].sum() / 8_000
    p_c = recent["a"]["errors"].sum() / 8_000
    se = math.sqrt(p_t * (1 - p_t) / 8_000 + p_c * (1 - p_c) / 8_000)
    assert scan.estimate == pytest.approx(p_t - p_c)
    assert scan.bound == pytest.approx(p_t - p_c - z * se, rel=0.05)  # buckets ~ binomial
    assert scan.n == 8_000
    assert scan.alpha == pytest.approx(level)


def test_the_scan_says_nothing_before_a_lookback_has_data_and_passes_a_steady_challenger():
    rng = np.random.default_rng(12)
    spec = make_spec([{"name": "error_rate", "non_inferiority_margin": 0.0}])
    one = [window(sums(independent(2_000, 0.01, rng)), sums(independent(2_000, 0.01, rng)))]
    assert judge_change(spec, _cum(one), {}, 0, "w") == []
    few = [window(sums(independent(50, 0.01, rng)), sums(independent(50, 0.01, rng)))] * 2
    assert judge_change(spec, _cum(few), {1: _cum(few[:1])}, 1, "w") == []  # below 100
    steady = [window(sums(independent(2_000, 0.01, rng)), sums(independent(2_000, 0.01, rng)))
              for _ in range(20)]  # fmt: skip
    marks = {L: _cum(steady[: 20 - L]) for L in SCAN_WINDOWS if L <= 19}
    (scan,) = judge_change(spec, _cum(steady), marks, 19, "w")
    assert scan.status == PASS
    assert not scan.stop


# -- prediction drift (PSI) ------------------------------------------------------------------


def _score_hist(scores):
    """The windows' score histogram: bins of floor(200 sign(x) log10(1 + |x|))."""
    k = np.floor(200 * np.sign(scores) * np.log10(1 + np.abs(scores))).astype(int)
    keys, counts = np.unique(k, return_counts=True)
    return {str(a): int(b) for a, b in zip(keys, counts, strict=True)}


def test_psi_is_the_textbook_formula_on_the_references_deciles():
    """Ten fine bins holding 10% of the reference each: PSI is sum (p - q) ln(p / q) over
    them, with half a count of smoothing, written out here."""
    reference = {str(k): 100 for k in range(10)}
    mine = {str(k): c for k, c in enumerate([50, 50, 80, 100, 100, 100, 120, 120, 140, 140])}
    value, n_eff, dof = psi(mine, reference)
    p = (np.array([50, 50, 80, 100, 100, 100, 120, 120, 140, 140]) + 0.5) / (1_000 + 5)
    q = (np.full(10, 100) + 0.5) / (1_000 + 5)
    assert value == pytest.approx(float(np.sum((p - q) * np.log(p / q))))
    assert n_eff == pytest.approx(500.0)
    assert dof == 9


def test_psi_under_no_drift_is_chi_square_scaled_by_the_effective_n():
    """Seeded: 2,000 windows of 1,000 and 3,000 scores from one beta distribution; the share
    of n_eff PSI above chi-square's 99% quantile is 1% within 0.5 point."""
    rng = np.random.default_rng(21)
    above = 0
    runs = 2_000
    for _ in range(runs):
        value, n_eff, dof = psi(
            _score_hist(rng.beta(2, 5, 1_000)), _score_hist(rng.beta(2, 5, 3_000))
        )
        above += n_eff * value > stats.chi2.isf(0.01, dof)
    assert abs(above / runs - 0.01) < 0.005


def test_the_drift_rule_violates_on_shifted_scores_and_passes_alike_ones():
    rng = np.random.default_rng(22)
    spec = make_spec([{"name": "prediction_psi", "max": 0.1, "stop_after": 2}], alpha=0.01)
    same = sums(independent(2_000, 0.01, rng))

    def w(challenger_scores, champion_scores):
        b, a = dict(same), dict(same)
        b["scores"], a["scores"] = _score_hist(challenger_scores), _score_hist(champion_scores)
        return window(b, a)

    drifted = [w(rng.beta(2, 2, 2_000), rng.beta(2, 5, 2_000)) for _ in range(2)]
    alike = [w(rng.beta(2, 5, 2_000), rng.beta(2, 5, 2_000)) for _ in range(2)]
    tiny = [w(rng.beta(2, 2, 50), rng.beta(2, 5, 50))]
    bad = judge_slo(spec, drifted, ["w1", "w2"])[0]
    fine = judge_slo(spec, alike, ["w1", "w2"])[0]
    (none,) = judge_slo(spec, tiny, ["w"])
    assert bad.status == VIOLATION
    assert bad.stop
    value, n_eff, dof = psi(drifted[-1]["b"]["scores"], drifted[-1]["a"]["scores"])
    assert bad.estimate == pytest.approx(value)
    assert bad.bound == pytest.approx(value - stats.chi2.isf(bad.alpha, dof) / n_eff)
    assert fine.status == PASS
    assert fine.estimate < 0.1
    assert none.status == NO_DATA


def test_psi_takes_only_max_and_the_read_out_leaves_it_to_the_monitor():
    from champion.errors import SpecError
    from champion.spec import parse_spec

    base = make_spec([{"name": "prediction_psi", "max": 0.2}])
    assert base.metrics.guardrails[0].name == "prediction_psi"
    text = """
name: exp
models: {a: {kind: python, target: "m:a"}, b: {kind: python, target: "m:b"}}
champion: a
challengers: [b]
allocation: {a: 0.5, b: 0.5}
metrics:
  primary: {name: converted}
  guardrails: [{name: prediction_psi, max: 0.2, min: 0.01}]
"""
    with pytest.raises(SpecError, match="prediction_psi takes only max"):
        parse_spec(text)
