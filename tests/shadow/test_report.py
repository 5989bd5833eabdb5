"""build_report's numbers against numpy/pandas/statsmodels on the very rows that were written."""

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from statsmodels.stats.contingency_tables import mcnemar
from statsmodels.stats.proportion import proportion_confint

from champion.shadow.report import ShadowReport, build_report
from tests.shadow._data import EXPERIMENT, START, ShadowData

MODELS = ("flaky", "noisy", "shifted")
Z = stats.norm.ppf(0.975)


@pytest.fixture(scope="module")
def report(shadow_data: ShadowData) -> ShadowReport:
    return build_report(shadow_data.root, EXPERIMENT)


def _first_served(data: ShadowData, keep: str = "first") -> pd.DataFrame:
    return data.served.sort_values("ts", kind="stable").drop_duplicates("request_id", keep=keep)


def pairs(data: ShadowData, model: str, keep: str = "first") -> pd.DataFrame:
    """The oracle's join: each shadow row with its served request (first exposure by ts)."""
    shadow = data.shadow[data.shadow.model == model]
    m = shadow.merge(
        _first_served(data, keep), on="request_id", how="left", suffixes=("_s", "_e"),
        indicator=True,
    )  # fmt: skip
    m["matched"] = (m["_merge"] == "both") & m.request_id.notna()
    m["answered"] = m.matched & m.error_s.isna() & m.error_e.isna()
    m["diff"] = (m.score_s - m.score_e).abs().where(m.answered)
    return m


def comparison(report: ShadowReport, model: str):
    (found,) = [c for c in report.shadows if c.model == model]
    return found


def test_every_shadow_model_is_reported_by_name(report):
    assert [c.model for c in report.shadows] == list(MODELS)


def test_calls_matched_and_unmatched_are_counted(report, shadow_data):
    for model in MODELS:
        m, c = pairs(shadow_data, model), comparison(report, model)
        assert (c.requests, c.matched, c.unmatched) == (len(m), m.matched.sum(), (~m.matched).sum())
    noisy = comparison(report, "noisy")
    assert (noisy.unmatched, noisy.no_request_id) == (10, 5)
    assert "10 of 4,010 shadow calls (0.2%) match no served request" in noisy.notes[0]


def test_a_retried_request_is_compared_with_its_first_answer(report, shadow_data):
    first = pairs(shadow_data, "noisy")
    last = pairs(shadow_data, "noisy", keep="last")
    ours = comparison(report, "noisy").score_diff.mean
    assert ours == pytest.approx(first["diff"].mean(), rel=1e-12)
    assert ours != pytest.approx(last["diff"].mean(), rel=1e-12)


@pytest.mark.parametrize("model", MODELS)
def test_agreement_is_the_share_of_equal_decisions_with_a_wilson_ci(report, shadow_data, model):
    m = pairs(shadow_data, model)
    a = m[m.answered]
    agree = int(((a.score_s >= 0.5) == (a.score_e >= 0.5)).sum())
    ours = comparison(report, model).agreement
    assert (ours.agree, ours.compared, ours.incomparable) == (agree, len(a), 0)
    assert ours.rate == agree / len(a)
    assert ours.ci == pytest.approx(proportion_confint(agree, len(a), method="wilson"), rel=1e-12)


@pytest.mark.parametrize("model", MODELS)
def test_score_difference_distribution_matches_numpy(report, shadow_data, model):
    d = pairs(shadow_data, model)["diff"].dropna().to_numpy()
    ours = comparison(report, model).score_diff
    p50, p90, p99 = np.percentile(d, [50, 90, 99], method="linear")
    assert ours.n == d.size
    assert (ours.mean, ours.max) == pytest.approx((d.mean(), d.max()), rel=1e-12)
    assert (ours.p50, ours.p90, ours.p99) == pytest.approx((p50, p90, p99), rel=1e-12)


@pytest.mark.parametrize("threshold", [0.05, 0.1, 0.2])
def test_share_above_threshold_has_a_wilson_ci(shadow_data, threshold):
    report = build_report(shadow_data.root, EXPERIMENT, threshold=threshold)
    d = pairs(shadow_data, "noisy")["diff"].dropna().to_numpy()
    above = int((d > threshold).sum())
    ours = comparison(report, "noisy").score_diff
    assert ours.threshold == threshold
    assert ours.share_above == above / d.size
    assert ours.share_above_ci == pytest.approx(
        proportion_confint(above, d.size, method="wilson"), rel=1e-12
    )


def _numpy_psi(served: np.ndarray, shadow: np.ndarray, eps: float = 1e-4) -> float:
    edges = np.unique(np.percentile(served, np.arange(10, 100, 10), method="linear"))
    k = edges.size + 1
    e = np.bincount(np.searchsorted(edges, served, side="right"), minlength=k) / served.size
    a = np.bincount(np.searchsorted(edges, shadow, side="right"), minlength=k) / shadow.size
    e, a = np.maximum(e, eps), np.maximum(a, eps)
    return float(np.sum((a - e) * np.log(a / e)))


@pytest.mark.parametrize("model", MODELS)
def test_psi_on_served_deciles_matches_a_direct_numpy_computation(report, shadow_data, model):
    m = pairs(shadow_data, model)
    a = m[m["diff"].notna()]
    ours = comparison(report, model)
    assert ours.psi_value == pytest.approx(_numpy_psi(a.score_e.to_numpy(), a.score_s.to_numpy()))
    assert ours.psi.bins == 10
    assert sum(ours.psi.expected) == pytest.approx(1.0)


def test_psi_is_near_zero_for_one_distribution_and_large_for_a_shift(report):
    # flaky draws afresh from the served scores' Beta(2, 5): only sampling noise,
    # about (bins - 1)(1/n_served + 1/n_shadow) = 0.01 here; shifted draws from Beta(5, 2).
    assert comparison(report, "flaky").psi_value < 0.03
    assert comparison(report, "flaky").psi_reading == "stable"
    assert comparison(report, "noisy").psi_reading == "stable"
    assert comparison(report, "shifted").psi_value > 1.0
    assert comparison(report, "shifted").psi_reading == "large shift"


def test_error_rates_and_their_paired_difference(report, shadow_data):
    m = pairs(shadow_data, "flaky")
    m = m[m.matched]
    s_err, e_err = m.error_s.notna().to_numpy(int), m.error_e.notna().to_numpy(int)
    d = s_err - e_err
    se = d.std(ddof=0) / math.sqrt(d.size)
    ours = comparison(report, "flaky").errors
    assert ours.requests == d.size
    assert (ours.served.rate, ours.shadow.rate) == (e_err.mean(), s_err.mean())
    assert ours.diff == pytest.approx(d.mean(), abs=1e-15)
    assert ours.diff_ci == pytest.approx((d.mean() - Z * se, d.mean() + Z * se), rel=1e-12)
    table = pd.crosstab(e_err, s_err).to_numpy()
    assert ours.p_value == pytest.approx(
        mcnemar(table, exact=False, correction=False).pvalue, rel=1e-10
    )
    assert 0.08 < ours.shadow.rate < 0.12  # the 10% failure rate that was written


def test_timeouts_are_the_failures_that_say_so(report, shadow_data):
    shadow = shadow_data.shadow[shadow_data.shadow.model == "flaky"]
    ours = comparison(report, "flaky").errors
    assert ours.timeouts == shadow.error.str.contains("timeout", na=False).sum() > 0
    assert (ours.calls, ours.failed) == (len(shadow), shadow.error.notna().sum())
    assert comparison(report, "noisy").errors.timeouts == 0


@pytest.mark.parametrize("model", MODELS)
def test_latency_percentiles_match_numpy(report, shadow_data, model):
    m = pairs(shadow_data, model)
    shadow = m.latency_ms_s.dropna().to_numpy()
    served = m.latency_ms_e[m.matched].dropna().to_numpy()
    ours = comparison(report, model)
    q = [50, 95, 99]
    got_s = (ours.latency_shadow.p50, ours.latency_shadow.p95, ours.latency_shadow.p99)
    got_e = (ours.latency_served.p50, ours.latency_served.p95, ours.latency_served.p99)
    assert got_s == pytest.approx(tuple(np.percentile(shadow, q, method="linear")), rel=1e-12)
    assert got_e == pytest.approx(tuple(np.percentile(served, q, method="linear")), rel=1e-12)
    assert ours.latency_shadow.mean == pytest.approx(shadow.mean(), rel=1e-12)


def test_slow_shadow_is_about_five_times_slower(report):
    slow = comparison(report, "shifted")
    assert 4 < slow.latency_shadow.p50 / slow.latency_served.p50 < 6


def test_coverage_is_the_share_of_served_requests_that_reached_the_shadow(report, shadow_data):
    m = pairs(shadow_data, "flaky")
    matched = m[m.matched]
    served = _first_served(shadow_data)
    span = served[served.ts.between(matched.ts_e.min(), matched.ts_e.max())]
    ours = comparison(report, "flaky")
    assert ours.coverage == matched.request_id.nunique() / len(span)
    assert ours.coverage == pytest.approx(0.5, abs=0.03)  # sampled at 50%
    assert comparison(report, "noisy").coverage == 1.0


def test_time_range_is_the_first_and_last_shadow_call(report, shadow_data):
    shadow = shadow_data.shadow[shadow_data.shadow.model == "shifted"]
    ours = comparison(report, "shifted")
    assert (ours.first_ts, ours.last_ts) == (shadow.ts.min(), shadow.ts.max())
    assert ours.first_ts >= START


def test_served_summary_counts_every_exposure(report, shadow_data):
    served = shadow_data.served
    s = report.served
    assert s.models == (("v1", len(served)),)
    assert (s.requests, s.with_request_id) == (len(served), len(served))
    assert s.errors.successes == served.error.notna().sum()
    lat = served.latency_ms.to_numpy()
    assert (s.latency.p50, s.latency.p95, s.latency.p99) == pytest.approx(
        tuple(np.percentile(lat, [50, 95, 99], method="linear")), rel=1e-12
    )
    assert (s.first_ts, s.last_ts) == (served.ts.min(), served.ts.max())


def test_to_dict_has_the_documented_shape(report):
    data = report.to_dict()
    assert {"experiment", "served", "shadows"} <= data.keys()
    shadow = data["shadows"][0]
    assert {"model", "requests", "agreement", "score_diff", "psi", "errors", "latency_ms"} <= (
        shadow.keys()
    )
    assert shadow["agreement"].keys() >= {"rate", "ci"}
    assert shadow["score_diff"].keys() >= {
        "mean", "p50", "p90", "p99", "max", "share_above", "share_above_ci", "threshold",
    }  # fmt: skip
    assert isinstance(shadow["psi"], float)


@pytest.mark.parametrize("threshold", [0, -0.1, float("nan"), "0.1"])
def test_threshold_must_be_a_positive_number(shadow_data, threshold):
    with pytest.raises(ValueError, match=r"threshold=.* is invalid: must be a number > 0"):
        build_report(shadow_data.root, EXPERIMENT, threshold=threshold)
