"""Fieller's interval for a relative lift: the read-out's, because it agrees with the test
of the difference at any critical value (an always-valid one included)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from tests.analysis._events import make_spec, write_experiment

from champion.analysis.aggregate import load_analysis_data
from champion.analysis.readout import build_report
from champion.analysis.store import open_store
from champion.stats._normal import fieller_rel_ci


@pytest.mark.parametrize(
    ("c", "vc", "t", "vt", "z"),
    [(0.1376, 1.16e-4, 0.0594, 2.2e-4, 3.468), (10.0, 0.04, 11.0, 0.05, 1.96),
     (0.02, 1.3e-5, 0.015, 9.9e-6, 2.576), (-3.0, 0.2, -2.0, 0.3, 1.645)],
)  # fmt: skip
def test_each_end_solves_fiellers_equation(c, vc, t, vt, z):
    lo, hi = fieller_rel_ci(c, vc, t, vt, z)
    for r in (lo + 1.0, hi + 1.0):
        assert (t - r * c) ** 2 == pytest.approx(z * z * (vt + r * r * vc), rel=1e-9)
    assert lo < t / c - 1.0 < hi


def test_it_leaves_out_zero_exactly_when_the_difference_test_rejects():
    """20,000 random cases, at critical values from 1 to 5, whose control level is more
    than ``critical`` standard errors from 0 (else the set is unbounded: tested below)."""
    rng = np.random.default_rng(3)
    agree = 0
    n = 20_000
    for _ in range(n):
        c, t = rng.uniform(0.01, 1.0, 2)
        vc, vt = rng.uniform(1e-5, 0.02, 2)
        z = rng.uniform(1.0, 5.0)
        if c * c <= z * z * vc:
            vc = 0.5 * (c / z) ** 2
        lo, hi = fieller_rel_ci(c, vc, t, vt, z)
        rejects = abs(t - c) > z * math.sqrt(vc + vt)
        agree += rejects == (lo > 0 or hi < 0)
    assert agree == n


def test_a_control_level_indistinguishable_from_zero_gives_an_unbounded_interval():
    assert fieller_rel_ci(0.01, 1e-4, 0.05, 1e-4, 1.96) == (-math.inf, math.inf)
    # a proportion whose treatment level is clear of 0: a lower bound alone, and it solves
    # Fieller's equation
    lo, hi = fieller_rel_ci(0.01, 1e-4, 0.05, 1e-4, 1.96, positive=True)
    assert hi == math.inf
    r = lo + 1.0
    assert (0.05 - r * 0.01) ** 2 == pytest.approx(1.96**2 * (1e-4 + r * r * 1e-4))
    # ... and both levels unclear of 0: every ratio
    assert fieller_rel_ci(0.01, 1e-4, 0.01, 1e-4, 1.96, positive=True) == (-1.0, math.inf)


def test_for_proportions_it_agrees_with_the_test_whatever_the_control_level():
    """20,000 random proportions, the control's level often within z SEs of 0."""
    rng = np.random.default_rng(8)
    n = 20_000
    agree = 0
    for _ in range(n):
        c, t = rng.uniform(0.0, 0.2, 2)
        vc, vt = rng.uniform(1e-5, 5e-3, 2)
        z = rng.uniform(1.0, 5.0)
        lo, hi = fieller_rel_ci(c, vc, t, vt, z, positive=True)
        rejects = abs(t - c) > z * math.sqrt(vc + vt)
        agree += rejects == (lo > 0 or hi < 0)
    assert agree == n


def test_a_proportions_interval_stays_above_minus_100_percent():
    lo, _ = fieller_rel_ci(0.02, 2e-5, 0.001, 2e-5, 1.96, positive=True)
    assert lo == -1.0


def test_it_covers_the_true_ratio_95_percent_of_the_time():
    """Seeded: 4,000 experiments of 1,500 units per arm at 2% against 1.5%; the binomial SE
    of the coverage is 0.0034, so 0.95 ± 0.015 is a 4.4-SE band."""
    rng = np.random.default_rng(17)
    runs, n, p_c, p_t = 4_000, 1_500, 0.02, 0.015
    x_c, x_t = rng.binomial(n, p_c, runs) / n, rng.binomial(n, p_t, runs) / n
    truth = p_t / p_c - 1.0
    covered = 0
    for c, t in zip(x_c, x_t, strict=True):
        lo, hi = fieller_rel_ci(c, c * (1 - c) / n, t, t * (1 - t) / n, 1.959964, positive=True)
        covered += lo <= truth <= hi
    assert covered / runs == pytest.approx(0.95, abs=0.015)


def test_the_read_outs_relative_interval_agrees_with_its_difference_interval(tmp_path):
    """A large harm: the difference's interval leaves out 0, and so does the relative one."""
    spec = make_spec()
    events = tmp_path / "events"
    write_experiment(events, spec, units=1_500, values={"converted": {"v1": 0.14, "v2": 0.06}},
                     seed=5)  # fmt: skip
    with open_store(str(events), experiment=spec.name) as store:
        report = build_report(load_analysis_data(store, spec), spec)
    for metric in report.metrics:
        for result in metric.challengers.values():
            t = result.comparison.test
            if math.isnan(t.diff_ci[0]):
                continue
            diff_excludes = t.diff_ci[0] > 0 or t.diff_ci[1] < 0
            rel_excludes = t.rel_lift_ci[0] > 0 or t.rel_lift_ci[1] < 0
            assert diff_excludes == rel_excludes, (metric.name, t.diff_ci, t.rel_lift_ci)
            assert t.rel_lift_ci[0] >= -1.0 or metric.kind != "proportion"
    primary = report.metrics[0].challengers["v2"].comparison.test
    assert primary.diff_ci[1] < 0
    assert primary.rel_lift_ci[1] < 0
