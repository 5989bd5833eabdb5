"""What the read-out says must match its numbers: a proportion's relative lift never below
-100%, "smaller than the MDE" only when the interval shows it, and "significant" saying
whether the change is good or bad."""

from __future__ import annotations

import math

import pytest
from rich.console import Console
from statsmodels.stats.proportion import confint_proportions_2indep
from tests.analysis._events import make_spec, write_experiment

from champion.analysis.decision import Evidence, decide_one
from champion.analysis.readout import build_report
from champion.spec.models import DecisionRules
from champion.stats import proportion_test
from champion.stats._normal import delta_rel_ci


@pytest.mark.parametrize(
    ("x_c", "n_c", "x_t", "n_t"),
    [(20, 200, 4, 200), (3, 150, 1, 140), (180, 1800, 210, 1800), (50, 1000, 20, 900)],
)
def test_a_proportions_relative_lift_ci_is_the_log_ratio_interval(x_c, n_c, x_t, n_t):
    r = proportion_test(x_c, n_c, x_t, n_t)
    lo, hi = confint_proportions_2indep(x_t, n_t, x_c, n_c, method="log", compare="ratio")
    assert r.rel_lift_ci == pytest.approx((lo - 1, hi - 1), rel=1e-10)
    assert r.rel_lift_ci[0] > -1


def test_the_small_sample_case_would_fall_below_minus_100_percent_by_the_delta_method():
    """The case the log interval exists for: 3/150 against 1/140."""
    p_c, p_t = 3 / 150, 1 / 140
    _, (delta_lo, _) = delta_rel_ci(
        p_c, p_c * (1 - p_c) / 150, p_t, p_t * (1 - p_t) / 140, 0.05, "two-sided"
    )
    assert delta_lo < -1
    assert proportion_test(3, 150, 1, 140).rel_lift_ci[0] > -1


def test_the_log_interval_covers_the_true_ratio_95_percent_of_the_time():
    """Seeded simulation: 4,000 experiments at 2% against 1.5%, 1,500 units per arm; the
    binomial SE of the coverage is 0.0034, so 0.95 ± 0.015 is a 4.4-SE band."""
    rng = __import__("numpy").random.default_rng(13)
    runs, n, p_c, p_t = 4_000, 1_500, 0.02, 0.015
    x_c, x_t = rng.binomial(n, p_c, runs), rng.binomial(n, p_t, runs)
    truth = p_t / p_c - 1
    covered = sum(
        lo <= truth <= hi
        for lo, hi in (
            proportion_test(c, n, t, n).rel_lift_ci for c, t in zip(x_c, x_t, strict=True)
        )
        if not math.isnan(lo)
    )
    assert covered / runs == pytest.approx(0.95, abs=0.015)


def _final(ci: tuple[float, float], mde: float) -> str:
    e = Evidence(variant="v2", metric="converted", improvement=(ci[0] + ci[1]) / 2,
                 improvement_ci=ci, p_value=0.4, significant=False, worse=False, final=True,
                 mde=mde)  # fmt: skip
    decision, reasons = decide_one(e, DecisionRules())
    assert decision == "keep"
    return " ".join(reasons)


def test_a_wide_interval_is_not_called_smaller_than_the_mde():
    text = _final((-0.609, 0.806), mde=0.10)
    assert "smaller than the MDE" not in text
    assert "still holds effects as large as the MDE (+10.0% either way)" in text


def test_an_interval_inside_the_mde_rules_out_effects_that_large():
    text = _final((-0.04, 0.06), mde=0.10)
    assert "the interval rules out effects as large as the MDE (+10.0% either way)" in text


@pytest.fixture(scope="module")
def worse_text(tmp_path_factory) -> str:
    """v2 converts at 10% against 20% for v1 (higher is better): significant, and bad."""
    spec = make_spec()
    events = tmp_path_factory.mktemp("worse") / "events"
    write_experiment(events, spec, units=4_000, values={"converted": {"v1": 0.2, "v2": 0.1}},
                     seed=8)  # fmt: skip
    from champion.analysis.aggregate import load_analysis_data
    from champion.analysis.store import open_store

    with open_store(str(events), experiment=spec.name) as store:
        data = load_analysis_data(store, spec)
    console = Console(width=200, record=True, color_system=None)
    from champion.report import render_terminal

    render_terminal(build_report(data, spec), console)
    return console.export_text()


def test_significant_in_the_bad_direction_says_worse(worse_text):
    rows = (line.strip("│ ") for line in worse_text.splitlines())
    row = next(line for line in rows if line.startswith("converted *"))
    assert "yes, WORSE" in row
    assert "yes, better" not in row
