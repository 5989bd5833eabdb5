"""End to end: events with a known truth, logged through the real event writer, read out.

Each test writes an experiment into a Parquet folder with ``write_experiment`` (the real
event sink), then runs the analysis as a user does: ``open_store`` + ``load_analysis_data``
+ ``build_report``, or ``champion analyze ... --json``. The oracles are the generator's
truth (true effects, true split, true latency), the binomial law of false positives under
A/A, and champion.stats fed with sums recomputed in pandas from the raw Parquet rows.

Every read-out uses an ``as_of`` 60 days after the last exposure, so every metric's window
has closed and every unit counts.
"""

from __future__ import annotations

import json
import math
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.dataset as ds
import pytest
from scipy import stats as sps
from typer.testing import CliRunner

from champion.analysis import build_report, load_analysis_data, open_store
from champion.cli import app
from champion.spec import dump_spec
from champion.spec.models import Experiment
from champion.stats.cuped import cuped
from champion.stats.frequentist import proportion_test, welch_test
from champion.stats.ratio import ratio_test
from champion.stats.sufficient import CovariateStats, RatioStats
from tests.analysis._events import Truth, make_spec, write_experiment

ALPHA = 0.05
ROLLOUTS = ("rollout_full", "rollout_gradual")
DESIGN = {"mde": 0.2, "relative": True, "baseline": 0.1, "max_duration_days": 28}


def _as_of(truth: Truth) -> datetime:
    return truth.end + timedelta(days=60)  # longer than every metric's window


def _report(folder: Path, spec: Experiment, truth: Truth) -> dict:
    with open_store(folder, experiment=spec.name) as store:
        data = load_analysis_data(store, spec, as_of=_as_of(truth))
    return build_report(data, spec).to_dict()


def _proportion_spec(**overrides) -> Experiment:
    metrics = {
        "primary": {"name": "converted", "kind": "proportion", "window_days": 3},
        "guardrails": [{"name": "latency_p95_ms", "max": 200}],
    }
    return make_spec(metrics=metrics, design=DESIGN, **overrides)


def _contains(interval: list[float], value: float) -> bool:
    lo, hi = interval
    return lo <= value <= hi


# 1. Known true effects are recovered -------------------------------------------------------


@pytest.fixture(scope="module")
def lifted(tmp_path_factory):
    """+30% on the conversion rate, +1.0 (+10%) on revenue, +10% on spend per visit."""
    spec = make_spec(design=DESIGN)
    folder = tmp_path_factory.mktemp("lifted") / "events"
    truth = write_experiment(
        folder,
        spec,
        units=16_000,
        lift={"converted": 0.3, "spend_per_visit": 0.1},
        values={"revenue": {"v1": 10.0, "v2": 11.0}},
        seed=11,
    )
    return spec, truth, _report(folder, spec, truth)


@pytest.mark.parametrize("metric", ["converted", "revenue", "spend_per_visit"])
def test_true_effects_lie_inside_the_reported_intervals(lifted, metric):
    _, truth, report = lifted
    entry = report["metrics"][metric]["challengers"]["v2"]
    true_diff = truth.effects[metric]["v2"]
    true_lift = true_diff / truth.values[metric]["v1"]
    assert entry["status"] == "ok"
    assert _contains(entry["diff_ci"], true_diff), (entry["diff_ci"], true_diff)
    assert _contains(entry["rel_lift_ci"], true_lift), (entry["rel_lift_ci"], true_lift)
    assert entry["p_value"] < ALPHA
    assert entry["significant"]


def test_the_injected_effects_have_the_values_asked_for(lifted):
    _, truth, _ = lifted
    assert truth.effects["converted"]["v2"] == pytest.approx(0.1 * 0.3)
    assert truth.effects["revenue"]["v2"] == pytest.approx(1.0)
    assert truth.effects["spend_per_visit"]["v2"] == pytest.approx(5.0 * 0.1)


def test_a_clear_thirty_percent_lift_is_a_full_rollout(lifted):
    _, _, report = lifted
    entry = report["metrics"]["converted"]["challengers"]["v2"]
    # Rules 6: significant, lift estimate above the 20% threshold, guardrails passing.
    assert entry["rel_lift"] > 0.20
    assert all(g["status"] == "pass" for g in report["guardrails"])
    assert not report["srm"]["mismatch"]
    assert report["decision"] == "rollout_full"
    assert report["decision_variant"] == "v2"
    assert any("converted" in reason for reason in report["reasons"])


def test_an_untouched_metric_stays_within_its_interval_of_zero(lifted):
    _, truth, report = lifted
    # load_seconds got no lift: its true difference is 0.
    assert truth.effects["load_seconds"]["v2"] == 0.0
    entry = report["metrics"]["load_seconds"]["challengers"]["v2"]
    assert _contains(entry["diff_ci"], 0.0)


# 2. A/A over repeated seeds ----------------------------------------------------------------

AA_SEEDS = 40


def test_a_over_a_false_positives_stay_within_alpha_over_seeds(tmp_path):
    spec = make_spec(design=DESIGN)
    p_values, significant, rollouts, srm_flags = [], [], [], 0
    for seed in range(AA_SEEDS):
        folder = tmp_path / f"aa{seed}"
        truth = write_experiment(folder, spec, units=1_500, seed=1_000 + seed)
        report = _report(folder, spec, truth)
        for metric in report["metrics"].values():
            entry = metric["challengers"]["v2"]
            assert entry["status"] == "ok"
            p_values.append(entry["p_value"])
            significant.append(entry["significant"])
        if report["decision"] in ROLLOUTS:
            primary = report["metrics"]["converted"]["challengers"]["v2"]
            rollouts.append((seed, primary["p_value"], primary["rel_lift"]))
            assert primary["significant"]  # only ever a false positive
            assert primary["rel_lift"] > 0
        srm_flags += report["srm"]["mismatch"]
    n = len(p_values)
    assert n == AA_SEEDS * 4
    print(f"A/A: {n} comparisons, share p < {ALPHA}: {np.mean(np.array(p_values) < ALPHA):.4f}")
    print(f"significant {np.mean(significant):.4f}, rollouts {rollouts}, srm {srm_flags}")
    share = float(np.mean(np.array(p_values) < ALPHA))
    se = math.sqrt(ALPHA * (1 - ALPHA) / n)
    # Binomial tolerance: at most alpha + 3 standard errors (0.102 for 160 comparisons).
    assert share <= ALPHA + 3 * se, share
    assert float(np.mean(significant)) <= share + 1e-12  # corrections only remove calls
    # The p-values are uniform under the null (not merely rarely small): Kolmogorov-Smirnov.
    assert sps.kstest(p_values, "uniform").pvalue > 0.001
    # A rollout needs a significant primary in the challenger's favour: under A/A that is a
    # one-sided false positive, chance alpha / 2 per run; at most that + 3 SE of 40 runs (3).
    half = ALPHA / 2
    assert len(rollouts) / AA_SEEDS <= half + 3 * math.sqrt(half * (1 - half) / AA_SEEDS), rollouts
    # SRM at 0.001: expected 0.04 false alarms in 40 runs; 3 or more has chance < 1e-5.
    assert srm_flags <= 2


# 3. An injected 52/48 split is an SRM ------------------------------------------------------


def _analyze_cli(folder: Path, spec: Experiment, truth: Truth, tmp_path: Path) -> dict:
    spec_file = tmp_path / "spec.yaml"
    spec_file.write_text(dump_spec(spec), encoding="utf-8")
    args = ["analyze", spec.name, "--events", str(folder), "--spec", str(spec_file)]
    args += ["--json", "--as-of", _as_of(truth).isoformat()]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_a_52_48_split_is_flagged_as_srm_and_never_rolled_out(tmp_path):
    spec = _proportion_spec()
    folder = tmp_path / "events"
    # A true +30% lift that would otherwise roll out (compare the test above).
    truth = write_experiment(
        folder,
        spec,
        units=20_000,
        split={"v1": 0.52, "v2": 0.48},
        lift={"converted": 0.3},
        seed=23,
    )
    report = _analyze_cli(folder, spec, truth, tmp_path)
    srm = report["srm"]
    observed = [truth.units["v1"], truth.units["v2"]]
    oracle = sps.chisquare(observed, [sum(observed) / 2] * 2)
    assert srm["observed"] == truth.units
    assert srm["p_value"] == pytest.approx(oracle.pvalue, rel=1e-6)
    assert srm["p_value"] < 0.001
    assert srm["mismatch"] is True
    assert srm["reason"]
    assert report["decision"] not in ROLLOUTS
    assert report["decision"] == "keep"  # rule 3: more data does not repair the assignment
    assert any("SRM" in reason for reason in report["reasons"])


def test_the_same_experiment_with_a_fair_split_is_not_an_srm(tmp_path):
    spec = _proportion_spec()
    folder = tmp_path / "events"
    truth = write_experiment(folder, spec, units=20_000, lift={"converted": 0.3}, seed=23)
    report = _analyze_cli(folder, spec, truth, tmp_path)
    assert report["srm"]["mismatch"] is False
    assert report["srm"]["p_value"] > 0.001
    assert report["decision"] == "rollout_full"  # so the split alone made the keep above


# 4. A latency regression fails its guardrail -----------------------------------------------


def test_a_latency_regression_fails_its_guardrail_and_rolls_back(tmp_path):
    spec = _proportion_spec()
    folder = tmp_path / "events"
    # The challenger also converts better: the guardrail, not the metric, must decide.
    truth = write_experiment(
        folder,
        spec,
        units=6_000,
        lift={"converted": 0.3},
        latency_ms={"v1": 20.0, "v2": 400.0},
        seed=31,
    )
    report = _report(folder, spec, truth)
    (check,) = [g for g in report["guardrails"] if g["variant"] == "v2"]
    assert check["guardrail"] == "latency_p95_ms"
    assert check["status"] == "fail"
    lower, upper = check["bound"]
    assert lower > 200
    assert "200" in check["evidence"]
    assert "evidence" in check["evidence"]
    # Latency per request is lognormal: median 400 ms, log-sd 0.5 (tests/analysis/_events.py).
    true_p95 = 400.0 * math.exp(0.5 * sps.norm.ppf(0.95))
    assert lower <= true_p95 <= upper, (lower, true_p95, upper)
    raw = _rows(folder, "exposures")
    raw = raw[raw["exposed"] & (raw["variant"] == "v2")]["latency_ms"].to_numpy()
    assert check["value"] == pytest.approx(np.quantile(raw, 0.95), rel=0.012)  # one bin
    assert report["decision"] == "rollback"
    assert report["per_challenger"]["v2"]["decision"] == "rollback"
    assert any("latency_p95_ms" in reason for reason in report["reasons"])


# 5. Numbers agree with champion.stats on sums computed in pandas ---------------------------


def _rows(folder: Path, kind: str) -> pd.DataFrame:
    return ds.dataset(folder / kind, format="parquet", partitioning="hive").to_table().to_pandas()


def _units(folder: Path, spec: Experiment, as_of: datetime) -> pd.DataFrame:
    """Analysed units: first counted exposure's variant and ts; the doubly exposed stay in
    their first arm (intent to treat)."""
    ex = _rows(folder, "exposures")
    ex = ex[(ex["experiment"] == spec.name) & ex["exposed"] & (ex["ts"] <= as_of)]
    ex = ex.assign(rid=ex["request_id"].fillna(""))
    ordered = ex.sort_values(["unit_id", "ts", "rid", "variant"], kind="mergesort")
    return ordered.drop_duplicates("unit_id").set_index("unit_id")[["variant", "ts"]]


def _sum_in(
    units: pd.DataFrame, out: pd.DataFrame, name: str, lo_days: float, hi_days: float, fn: str
) -> pd.Series:
    """Per unit, ``fn`` of outcome ``name``'s values with ts in [first + lo, first + hi)."""
    rows = out[out["metric"] == name].merge(units["ts"].rename("first").reset_index(), on="unit_id")
    inside = rows[
        (rows["ts"] >= rows["first"] + timedelta(days=lo_days))
        & (rows["ts"] < rows["first"] + timedelta(days=hi_days))
    ]
    values = inside["value"] != 0 if fn == "any" else inside["value"]
    return values.groupby(inside["unit_id"]).agg(fn).astype(float).reindex(units.index).fillna(0.0)


def _arms(frame: pd.DataFrame, champion: str, challenger: str):
    return frame[frame["variant"] == champion], frame[frame["variant"] == challenger]


@pytest.fixture(scope="module")
def flawed(tmp_path_factory):
    """Every metric kind, with the flaws real logs have, and pandas' own per-unit values."""
    base = make_spec()
    metrics = base.metrics.model_dump()
    metrics["secondary"].append({"name": "basket", "kind": "mean", "window_days": 5})
    spec = make_spec(metrics=metrics)
    folder = tmp_path_factory.mktemp("flawed") / "events"
    truth = write_experiment(
        folder,
        spec,
        units=5_000,
        lift={"converted": 0.1, "revenue": 0.05, "basket": -0.05, "spend_per_visit": 0.05},
        multiple_exposure=0.02,
        duplicates=0.02,
        unexposed=0.05,
        missing_attributes=0.1,
        early_outcomes=0.1,
        late_outcomes=0.1,
        ties=0.02,
        seed=47,
    )
    as_of = _as_of(truth)
    report = _report(folder, spec, truth)
    units = _units(folder, spec, as_of)
    out = _rows(folder, "outcomes")
    out = out[out["ts"] <= as_of]
    return spec, truth, report, units, out


def _agree(entry: dict, expected) -> None:
    assert entry["diff"] == pytest.approx(expected.diff, rel=1e-9, abs=1e-12)
    assert entry["diff_ci"] == pytest.approx(list(expected.diff_ci), rel=1e-9, abs=1e-12)
    assert entry["p_value"] == pytest.approx(expected.p_value, rel=1e-9, abs=1e-15)
    assert entry["rel_lift"] == pytest.approx(expected.rel_lift, rel=1e-9, abs=1e-12)


def test_the_flawed_log_really_has_its_flaws(flawed):
    _, truth, report, units, _ = flawed
    assert truth.multiple
    assert report["health"]["multiple_exposure_units"] == len(truth.multiple)
    assert report["health"]["analysed_units"] == len(units)


def test_a_proportion_matches_proportion_test_on_pandas_sums(flawed):
    _, _, report, units, out = flawed
    frame = units.assign(y=_sum_in(units, out, "converted", 0, 3, "any"))
    c, t = _arms(frame, "v1", "v2")
    expected = proportion_test(
        c["y"].sum(), len(c), t["y"].sum(), len(t), alpha=ALPHA, pooled=False
    )  # unpooled: the variance the planner sizes with
    entry = report["metrics"]["converted"]["challengers"]["v2"]
    assert (entry["control_n"], entry["n"]) == (len(c), len(t))
    _agree(entry, expected)


def test_a_plain_mean_matches_welch_test_on_pandas_values(flawed):
    _, _, report, units, out = flawed
    frame = units.assign(y=_sum_in(units, out, "basket", 0, 5, "sum"))
    c, t = _arms(frame, "v1", "v2")
    expected = welch_test(
        c["y"].mean(), c["y"].var(ddof=1), len(c), t["y"].mean(), t["y"].var(ddof=1), len(t)
    )
    _agree(report["metrics"]["basket"]["challengers"]["v2"], expected)


def test_a_cuped_mean_matches_cuped_on_pandas_sums(flawed):
    spec, _, report, units, out = flawed
    m = spec.metrics.secondary[0]
    assert (m.name, m.covariate, m.lookback_days) == ("revenue", "revenue", 7)
    window = float(m.window_days)
    frame = units.assign(
        y=_sum_in(units, out, "revenue", 0, window, "sum"),
        x=_sum_in(units, out, "revenue", -7, 0, "sum"),
    )

    def sums(arm: pd.DataFrame) -> CovariateStats:
        y, x = arm["y"], arm["x"]
        return CovariateStats(
            len(arm), y.sum(), (y * y).sum(), x.sum(), (x * x).sum(), (x * y).sum()
        )

    c, t = _arms(frame, "v1", "v2")
    expected = cuped(sums(c), sums(t), alpha=ALPHA)
    entry = report["metrics"]["revenue"]["challengers"]["v2"]
    _agree(entry, expected.test)
    _agree(entry["cuped"]["unadjusted"], expected.unadjusted)
    assert entry["cuped"]["variance_reduction"] == pytest.approx(
        expected.variance_reduction, rel=1e-9
    )
    assert entry["cuped"]["variance_reduction"] > 0  # the covariate is informative


def test_a_ratio_matches_ratio_test_on_pandas_sums(flawed):
    _, _, report, units, out = flawed
    frame = units.assign(
        y=_sum_in(units, out, "spend", 0, 2, "sum"), d=_sum_in(units, out, "visits", 0, 2, "sum")
    )

    def sums(arm: pd.DataFrame) -> RatioStats:
        y, d = arm["y"], arm["d"]
        return RatioStats(len(arm), y.sum(), (y * y).sum(), d.sum(), (d * d).sum(), (y * d).sum())

    c, t = _arms(frame, "v1", "v2")
    _agree(
        report["metrics"]["spend_per_visit"]["challengers"]["v2"],
        ratio_test(sums(c), sums(t), alpha=ALPHA),
    )


# 6. A segment moving against the aggregate -------------------------------------------------


def test_a_segment_moving_against_the_aggregate_is_warned_about(tmp_path):
    spec = _proportion_spec(segments=["device"])
    folder = tmp_path / "events"
    # v2: desktop 0.1 * 1.4 = 0.14, mobile 0.1 * 1.4 * 0.5 = 0.07; overall +19% (70/30 mix).
    truth = write_experiment(
        folder,
        spec,
        units=20_000,
        lift={"converted": 0.4},
        segments={"device": {"desktop": 0.7, "mobile": 0.3}},
        segment_lift={("device", "mobile"): -0.5},
        seed=59,
    )
    report = _report(folder, spec, truth)
    overall = report["metrics"]["converted"]["challengers"]["v2"]
    assert overall["diff"] > 0
    assert _contains(overall["diff_ci"], truth.effects["converted"]["v2"])
    by_value = {
        s["value"]: s
        for s in report["segments"]
        if (s["metric"], s["attribute"], s["variant"]) == ("converted", "device", "v2")
    }
    assert set(by_value) == {"desktop", "mobile"}
    mobile, desktop = by_value["mobile"], by_value["desktop"]
    assert mobile["against"] is True
    assert mobile["diff_ci"][1] < 0
    assert _contains(mobile["diff_ci"], 0.1 * 1.4 * 0.5 - 0.1)  # the true mobile effect
    assert desktop["against"] is False
    assert _contains(desktop["diff_ci"], 0.1 * 1.4 - 0.1)
    warnings = [w for w in report["warnings"] if "moves against the aggregate" in w]
    assert len(warnings) == 1
    assert "device=mobile" in warnings[0]
