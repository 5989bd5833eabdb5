"""chi_square against scipy.stats.chi2_contingency; srm against scipy.stats.chisquare."""

import math

import numpy as np
import pytest
from scipy import stats

from champion.stats.contingency import chi_square, srm
from champion.stats.results import Status

TABLES = [
    [[180, 1620], [210, 1590]],
    [[5, 95], [15, 85]],
    [[120, 30, 50], [100, 45, 55]],
    [[3, 7, 0, 12], [8, 2, 5, 9]],
]


@pytest.mark.parametrize("table", TABLES)
@pytest.mark.parametrize("correction", [True, False])
def test_chi_square_matches_scipy(table, correction):
    ours = chi_square(table, correction=correction)
    oracle = stats.chi2_contingency(table, correction=correction)
    assert ours.statistic == pytest.approx(oracle.statistic, rel=1e-12)
    assert ours.p_value == pytest.approx(oracle.pvalue, rel=1e-10)
    assert ours.dof == oracle.dof


def test_seed_chi_square_example_is_not_significant():
    # Seed 000 ships the model on [[180, 1620], [210, 1590]]; with Yates' correction
    # (scipy's default, which the seed used) p = 0.1199: not significant at 0.05.
    r = chi_square([[180, 1620], [210, 1590]])
    assert r.p_value == pytest.approx(0.11992, abs=1e-5)
    assert r.p_value > 0.05


def test_uncorrected_two_by_two_chi_square_equals_pooled_z_squared():
    from champion.stats.frequentist import proportion_test

    z = proportion_test(180, 1800, 210, 1800).statistic
    assert chi_square([[180, 1620], [210, 1590]], correction=False).statistic == pytest.approx(z**2)


def test_empty_column_is_a_status():
    r = chi_square([[0, 10], [0, 12]])
    assert r.status is Status.ZERO_VARIANCE
    assert math.isnan(r.p_value)


@pytest.mark.parametrize("table", [[[1, 2]], [1, 2, 3], [[1, -2], [3, 4]]])
def test_chi_square_rejects_malformed_tables(table):
    with pytest.raises(ValueError, match="table="):
        chi_square(table)


@pytest.mark.parametrize(
    ("observed", "weights"),
    [([5200, 4800], [0.5, 0.5]), ([9430, 570], [0.95, 0.05]), ([3300, 3350, 3350], [1 / 3] * 3)],
)
def test_srm_matches_scipy_chisquare(observed, weights):
    ours = srm(observed, weights)
    oracle = stats.chisquare(observed, np.asarray(weights) * sum(observed))
    assert ours.statistic == pytest.approx(oracle.statistic, rel=1e-12)
    assert ours.p_value == pytest.approx(oracle.pvalue, rel=1e-10)


def test_srm_flags_a_52_48_split_and_passes_a_fair_one():
    assert srm([5200, 4800], [0.5, 0.5]).mismatch()
    assert not srm([5030, 4970], [0.5, 0.5]).mismatch()


def test_srm_false_alarm_rate_is_alpha_on_correct_splits():
    rng = np.random.default_rng(5)
    counts = rng.multinomial(20_000, [0.95, 0.05], size=10_000)
    alarms = np.mean([srm(c, [0.95, 0.05]).p_value < 0.05 for c in counts])
    assert 0.04 <= alarms <= 0.06


@pytest.mark.parametrize(
    ("weights", "message"),
    [
        ([0.6, 0.6], "must sum to 1"),
        ([1.0, 0.0], "each weight must be > 0"),
        ([1.0], "at least two"),
    ],
)
def test_srm_rejects_bad_weights(weights, message):
    with pytest.raises(ValueError, match=message):
        srm([10] * len(weights), weights)


def test_srm_with_no_units_is_a_status():
    r = srm([0, 0], [0.5, 0.5])
    assert r.status is Status.EMPTY_ARM
    assert not r.mismatch()
