"""Group-sequential boundaries against published tables, Genz's multivariate normal integration
(scipy) and seeded simulations of A/A experiments."""

import math

import numpy as np
import pytest
from scipy import optimize, stats

from champion.stats import sequential
from champion.stats._gsd_grid import GRID_R, Crossing, _density_step, grid
from champion.stats.results import Status
from champion.stats.sequential import (
    SPENDING_FUNCTIONS,
    _clear_caches,
    _solve_boundaries,
    crossing_probabilities,
    drift_for_power,
    sequential_boundaries,
    sequential_decision,
    sequential_inflation,
    spending_function,
)

EQUAL5 = [0.2, 0.4, 0.6, 0.8, 1.0]
UNEQUAL = [0.2, 0.45, 0.7, 1.0]
Z975 = stats.norm.ppf(0.975)


def _mvn_stop_probability(upper, lower, t, drift=0.0):
    """P(some |Z_k| crosses by the last look): 1 - P(all Z_k inside), Genz's algorithm."""
    t = np.asarray(t, dtype=float)
    cov = np.sqrt(np.minimum.outer(t, t) / np.maximum.outer(t, t))
    inside = stats.multivariate_normal.cdf(
        np.asarray(upper, dtype=float),
        mean=drift * np.sqrt(t),
        cov=cov,
        lower_limit=np.asarray(lower, dtype=float),
        abseps=1e-8,
        releps=1e-8,
        maxpts=1_000_000,
        rng=np.random.default_rng(1),
    )
    return 1.0 - inside


def _simulate_z_paths(t, n_sims, seed, drift=0.0):
    """z statistics at each look of n_sims independent experiments (Brownian motion)."""
    rng = np.random.default_rng(seed)
    t = np.asarray(t, dtype=float)
    increments = rng.standard_normal((n_sims, t.size)) * np.sqrt(np.diff(t, prepend=0.0))
    score = np.cumsum(increments, axis=1) + drift * t
    return score / np.sqrt(t)


def _first_crossing_rate(z, bounds):
    """Fraction of paths stopped by each look under |Z_k| >= b_k."""
    crossed = np.abs(z) >= np.asarray(bounds)
    return (
        np.cumsum(
            np.bincount(np.argmax(crossed, axis=1)[crossed.any(axis=1)], minlength=z.shape[1])
        )
        / z.shape[0]
    )


# --- published values -------------------------------------------------------------------


def test_obrien_fleming_boundaries_match_gsdesign_k5():
    # gsDesign (K. Anderson), gsDesign(k=5, test.type=2, alpha=0.025, sfu=sfLDOF)$upper$bound:
    # 4.877, 3.357, 2.680, 2.290, 2.031 (two-sided 0.05, symmetric, equally spaced).
    b = sequential_boundaries(EQUAL5)
    np.testing.assert_allclose(b, [4.877, 3.357, 2.680, 2.290, 2.031], atol=1e-3)


def test_first_boundary_is_the_closed_form_quantile():
    # At the first look nothing has stopped yet: b_1 = z_{1 - a(t_1)} exactly.
    for spending in ("obrien-fleming", "pocock"):
        a1 = spending_function(0.2, alpha=0.025, spending=spending)
        assert sequential_boundaries(EQUAL5, spending=spending)[0] == pytest.approx(
            stats.norm.isf(a1), rel=1e-10
        )


@pytest.mark.parametrize(
    ("k", "c_pocock", "c_obf"),
    [(2, 2.178, 1.977), (3, 2.289, 2.004), (4, 2.361, 2.024), (5, 2.413, 2.040)],
)
def test_recursion_reproduces_classical_constants(k, c_pocock, c_obf):
    # Jennison & Turnbull (2000), Group Sequential Methods, Table 2.1 (Pocock C_P(K, 0.05)) and
    # Table 2.3 (O'Brien & Fleming C_B(K, 0.05)): two-sided 0.05, equally spaced looks.
    t = np.arange(1, k + 1) / k
    shape = np.sqrt(k / np.arange(1, k + 1))
    cp = optimize.brentq(lambda c: crossing_probabilities([c] * k, t).overall - 0.05, 1.5, 4)
    cb = optimize.brentq(lambda c: crossing_probabilities(c * shape, t).overall - 0.05, 1.5, 4)
    assert cp == pytest.approx(c_pocock, abs=6e-4)
    assert cb == pytest.approx(c_obf, abs=6e-4)


@pytest.mark.parametrize(
    ("k", "r_pocock", "r_obf"),
    [(2, 1.110, 1.008), (3, 1.166, 1.017), (4, 1.202, 1.024), (5, 1.229, 1.028)],
)
def test_drift_reproduces_classical_inflation_factors(k, r_pocock, r_obf):
    # Jennison & Turnbull (2000), Tables 2.2 and 2.4: R_P(K, 0.05, 0.2), R_B(K, 0.05, 0.2),
    # the maximum over the fixed sample size for power 0.8.
    t = np.arange(1, k + 1) / k
    fixed = Z975 + stats.norm.ppf(0.8)
    cp = optimize.brentq(lambda c: crossing_probabilities([c] * k, t).overall - 0.05, 1.5, 4)
    shape = np.sqrt(k / np.arange(1, k + 1))
    cb = optimize.brentq(lambda c: crossing_probabilities(c * shape, t).overall - 0.05, 1.5, 4)
    assert (drift_for_power([cp] * k, t) / fixed) ** 2 == pytest.approx(r_pocock, abs=6e-4)
    assert (drift_for_power(cb * shape, t) / fixed) ** 2 == pytest.approx(r_obf, abs=6e-4)


@pytest.mark.parametrize(
    ("k", "published"), [(2, 0.083), (3, 0.107), (5, 0.142), (10, 0.193), (20, 0.248)]
)
def test_naive_peeking_error_matches_armitage_table(k, published):
    # Armitage, McPherson & Rowe (1969), as tabulated in Jennison & Turnbull (2000) Table 1.1:
    # repeated two-sided tests at nominal 0.05 after each of K equal groups.
    p = crossing_probabilities([Z975] * k, np.arange(1, k + 1) / k)
    assert p.overall == pytest.approx(published, abs=6e-4)


# --- exactness: Genz's multivariate normal integration as the oracle -----------------------


@pytest.mark.parametrize("spending", ["obrien-fleming", "pocock"])
@pytest.mark.parametrize("fractions", [EQUAL5[:4], UNEQUAL])
def test_cumulative_type_one_error_equals_the_spending_function(spending, fractions):
    b = sequential_boundaries(fractions, spending=spending)
    spent = 2 * spending_function(np.asarray(fractions), alpha=0.025, spending=spending)
    for k in range(2, len(fractions) + 1):
        oracle = _mvn_stop_probability(b[:k], -b[:k], fractions[:k])
        assert oracle == pytest.approx(spent[k - 1], abs=2e-7)


def test_pocock_type_boundaries_k5():
    # Lan-DeMets Pocock type, K=5, two-sided 0.05: nearly flat, falling from 2.438 to 2.386.
    # The first value is the closed form z_{1 - 0.025 ln(1 + (e - 1) 0.2)}; the oracle for the
    # others is the level of the whole design by multivariate normal integration.
    b = sequential_boundaries(EQUAL5, spending="pocock")
    np.testing.assert_allclose(b, [2.4380, 2.4268, 2.4102, 2.3966, 2.3860], atol=1e-3)
    assert np.all(np.diff(b) < 0)
    # Genz's randomised rule in 5 dimensions with 1e6 points is good to a few 1e-6 here.
    assert _mvn_stop_probability(b, -b, EQUAL5) == pytest.approx(0.05, abs=5e-6)


def test_crossing_probabilities_under_drift_match_multivariate_normal():
    b = sequential_boundaries(UNEQUAL)
    p = crossing_probabilities(b, UNEQUAL, drift=2.5)
    assert p.overall == pytest.approx(_mvn_stop_probability(b, -b, UNEQUAL, drift=2.5), abs=1e-6)
    assert p.lower.sum() < 1e-4  # the wrong side is almost never crossed at this drift


def test_grid_is_converged():
    t = tuple(UNEQUAL)
    for spending in ("obrien-fleming", "pocock"):
        coarse = np.array(_solve_boundaries(t, 0.025, spending, True, GRID_R))
        fine = np.array(_solve_boundaries(t, 0.025, spending, True, 128))
        np.testing.assert_allclose(coarse, fine, atol=1e-6)


# --- the printed shortcut ------------------------------------------------------------------


def test_shortcut_obrien_fleming_boundaries_spend_more_than_alpha():
    # The seed documents print b_k = z_{0.975} / sqrt(t_k); that is not a level-0.05 design.
    shortcut = Z975 / np.sqrt(EQUAL5)
    exact_shortcut = crossing_probabilities(shortcut, EQUAL5).overall
    exact_lan_demets = crossing_probabilities(sequential_boundaries(EQUAL5), EQUAL5).overall
    assert exact_shortcut == pytest.approx(0.0610, abs=5e-4)
    assert exact_lan_demets == pytest.approx(0.05, abs=1e-7)
    z = _simulate_z_paths(EQUAL5, 200_000, seed=11)
    simulated = _first_crossing_rate(z, shortcut)[-1]
    se = math.sqrt(0.05 * 0.95 / z.shape[0])
    assert simulated > 0.05 + 10 * se
    assert simulated == pytest.approx(exact_shortcut, abs=4 * se)


# --- seeded simulations of A/A experiments ------------------------------------------------


def test_naive_peeking_at_five_looks_rejects_about_fourteen_percent():
    z = _simulate_z_paths(EQUAL5, 20_000, seed=1)
    rate = _first_crossing_rate(z, [1.96] * 5)[-1]
    assert 0.12 <= rate <= 0.16


@pytest.mark.parametrize("spending", ["obrien-fleming", "pocock"])
def test_lan_demets_holds_alpha_at_five_looks(spending):
    z = _simulate_z_paths(EQUAL5, 20_000, seed=2)
    rate = _first_crossing_rate(z, sequential_boundaries(EQUAL5, spending=spending))[-1]
    assert rate <= 0.055


@pytest.mark.parametrize("spending", ["obrien-fleming", "pocock"])
def test_simulated_spending_at_unequal_looks_follows_the_function(spending):
    # 200,000 A/A experiments: standard error of a 5% rate is 0.00049; tolerance 4 SE.
    z = _simulate_z_paths(UNEQUAL, 200_000, seed=3)
    rates = _first_crossing_rate(z, sequential_boundaries(UNEQUAL, spending=spending))
    spent = 2 * spending_function(np.asarray(UNEQUAL), alpha=0.025, spending=spending)
    tolerance = 4 * np.sqrt(spent * (1 - spent) / z.shape[0]) + 1e-6
    assert np.all(np.abs(rates - spent) <= tolerance)


# --- inflation ----------------------------------------------------------------------------


def test_one_look_has_no_inflation():
    assert sequential_inflation(1) == pytest.approx(1.0, abs=1e-9)


@pytest.mark.parametrize(("spending", "expected"), [("obrien-fleming", 1.0247), ("pocock", 1.2126)])
def test_inflated_sample_gives_the_planned_power(spending, expected):
    # The max sample size R * n_fixed must give power 0.8: simulate at drift sqrt(R) * δ_fixed.
    r = sequential_inflation(5, spending=spending)
    assert r == pytest.approx(expected, abs=1e-4)
    drift = math.sqrt(r) * (Z975 + stats.norm.ppf(0.8))
    z = _simulate_z_paths(EQUAL5, 100_000, seed=4, drift=drift)
    b = sequential_boundaries(EQUAL5, spending=spending)
    crossed_up = (z >= b).any(axis=1)
    assert crossed_up.mean() == pytest.approx(0.8, abs=4 * math.sqrt(0.16 / z.shape[0]))


def test_lan_demets_inflation_is_below_the_classical_designs():
    # Lan-DeMets O'Brien-Fleming ends at 2.031, below the classical 2.040 (J&T Table 2.3), so it
    # needs a smaller maximum sample than R_B = 1.028; likewise the Pocock type vs R_P = 1.229.
    assert sequential_inflation(5) < 1.028
    assert sequential_inflation(5, spending="pocock") < 1.229


# --- one-sided, partial designs, looks ------------------------------------------------------


def test_one_sided_design_spends_all_alpha_on_the_upper_side():
    b = sequential_boundaries(UNEQUAL, alternative="larger")
    assert b[0] == pytest.approx(stats.norm.isf(spending_function(0.2)), rel=1e-10)
    p = crossing_probabilities(b, UNEQUAL, alternative="larger")
    np.testing.assert_allclose(p.cumulative, spending_function(np.asarray(UNEQUAL)), atol=1e-9)
    inside = _mvn_stop_probability(b, np.full(4, -np.inf), UNEQUAL)
    assert inside == pytest.approx(0.05, abs=1e-6)


def test_smaller_is_the_mirror_of_larger():
    larger = sequential_boundaries(UNEQUAL, alternative="larger")
    np.testing.assert_array_equal(sequential_boundaries(UNEQUAL, alternative="smaller"), -larger)
    p = crossing_probabilities(-larger, UNEQUAL, drift=-1.0, alternative="smaller")
    q = crossing_probabilities(larger, UNEQUAL, drift=1.0, alternative="larger")
    np.testing.assert_allclose(p.lower, q.upper, atol=1e-15)


def test_design_ending_before_full_information_spends_alpha_of_t_k():
    b = sequential_boundaries([0.3, 0.6, 0.8])
    assert crossing_probabilities(b, [0.3, 0.6, 0.8]).overall == pytest.approx(
        2 * spending_function(0.8, alpha=0.025), abs=1e-9
    )


def test_a_boundary_does_not_depend_on_later_looks():
    np.testing.assert_allclose(
        sequential_boundaries([0.3, 0.6]), sequential_boundaries([0.3, 0.6, 1.0])[:2]
    )


def test_tiny_first_look_spends_nothing():
    b = sequential_boundaries([0.001, 0.5, 1.0])
    assert math.isinf(b[0])
    assert crossing_probabilities(b, [0.001, 0.5, 1.0]).overall == pytest.approx(0.05, abs=1e-7)


def test_spending_functions_at_the_ends():
    for spending in ("obrien-fleming", "pocock"):
        assert spending_function(0.0, alpha=0.05, spending=spending) == 0.0
        assert spending_function(1.0, alpha=0.05, spending=spending) == pytest.approx(
            0.05, rel=1e-12
        )
    assert spending_function(0.5, spending="pocock") == pytest.approx(
        0.05 * math.log(1 + (math.e - 1) / 2)
    )


# --- decisions ----------------------------------------------------------------------------


def test_decision_crosses_above_the_boundary():
    d = sequential_decision(-3.5, 2, EQUAL5)
    assert d.crossed
    assert d.direction == "smaller"
    assert d.boundary == pytest.approx(3.357, abs=1e-3)
    assert d.nominal_alpha == pytest.approx(2 * stats.norm.sf(d.boundary), rel=1e-12)
    assert d.alpha_spent == pytest.approx(2 * spending_function(0.4, alpha=0.025), rel=1e-12)
    assert d.p_value <= d.nominal_alpha


def test_decision_continues_below_the_boundary():
    d = sequential_decision(2.5, 3, EQUAL5)
    assert not d.crossed
    assert d.direction == "none"
    assert d.p_value > d.nominal_alpha


def test_decision_on_missing_statistic_is_a_status():
    d = sequential_decision(float("nan"), 1, EQUAL5)
    assert d.status is Status.TOO_FEW
    assert not d.crossed
    assert math.isnan(d.p_value)


def test_one_sided_decision_ignores_the_other_side():
    assert not sequential_decision(-5.0, 5, EQUAL5, alternative="larger").crossed
    assert sequential_decision(-5.0, 5, EQUAL5, alternative="smaller").crossed


# --- the solver, the closed-form step and the design cache ----------------------------------


@pytest.mark.parametrize("alpha", [0.05, 2.5e-4, 1e-8])
@pytest.mark.parametrize("spending", SPENDING_FUNCTIONS)
@pytest.mark.parametrize("alternative", ["two-sided", "larger"])
def test_each_boundary_spends_exactly_its_increment(alpha, spending, alternative):
    # The root finder stops far inside the quadrature error: the recursion's own crossing
    # probability of each boundary equals the spending increment to 1e-10 (relative).
    t = [0.15, 0.3, 0.52, 0.74, 1.0]
    b = sequential_boundaries(t, alpha=alpha, spending=spending, alternative=alternative)
    p = crossing_probabilities(b, t, alternative=alternative)
    side = alpha / 2 if alternative == "two-sided" else alpha
    spent = spending_function(np.asarray(t), alpha=side, spending=spending)
    np.testing.assert_allclose(p.upper, np.diff(spent, prepend=0.0), rtol=1e-10, atol=0)


def test_mass_reaching_look_three_matches_the_bivariate_normal():
    # The density at look 2 is computed in closed form; the paths still running at look 3 are
    # those with |Z_1| < b_1 and |Z_2| < b_2, a bivariate normal rectangle (Genz, scipy).
    t, b, drift = [0.3, 0.55, 0.8], [2.2, 1.9, 1e-12], 0.7
    p = crossing_probabilities(b, t, drift=drift)
    inside = 1.0 - _mvn_stop_probability(b[:2], [-b[0], -b[1]], t[:2], drift=drift)
    assert p.total[2] == pytest.approx(inside, abs=1e-8)


def test_symmetric_density_step_equals_the_full_one():
    # Without drift and with symmetric boundaries the density is even: half the rows suffice.
    z, w = grid(0.0, -3.1, 3.1, GRID_R)
    crossing = Crossing(w * stats.norm.pdf(z), z * math.sqrt(0.4), math.sqrt(0.7), math.sqrt(0.3))
    znew, wnew = grid(0.0, -2.7, 2.7, GRID_R)
    half = _density_step(crossing, znew, wnew, symmetric=True)
    full = _density_step(crossing, znew, wnew, symmetric=False)
    np.testing.assert_allclose(half, full, rtol=1e-12, atol=0)


def test_cached_decision_equals_a_fresh_computation():
    t, kwargs = (0.21, 0.43, 0.62), {"alpha": 0.01, "spending": "pocock"}
    _clear_caches()
    fresh = sequential_decision(2.9, 3, list(t), **kwargs)
    assert sequential_decision(2.9, 3, t, **kwargs) == fresh
    assert sequential_decision(2.9, 3, np.array(t), **kwargs) == fresh
    # Each field against its definition, the boundary from an uncached solve.
    assert fresh.boundary == pytest.approx(
        _solve_boundaries(t, 0.005, "pocock", True, GRID_R)[2], abs=1e-12
    )
    assert fresh.alpha_spent == pytest.approx(
        2 * spending_function(0.62, alpha=0.005, spending="pocock"), rel=1e-14
    )
    assert fresh.nominal_alpha == pytest.approx(2 * stats.norm.sf(fresh.boundary), rel=1e-12)


def test_cache_keeps_designs_apart():
    # Every argument is part of the key: computed in one order, then afresh in the reverse
    # order, the decisions agree, and no two designs share a boundary.
    t = [0.25, 0.5, 0.75]
    combos = [
        {"alpha": a, "spending": s, "alternative": alt}
        for a in (0.05, 0.01)
        for s in SPENDING_FUNCTIONS
        for alt in ("two-sided", "larger", "smaller")
    ]
    first = [sequential_decision(2.2, 3, t, **c) for c in combos]
    _clear_caches()
    second = [sequential_decision(2.2, 3, t, **c) for c in reversed(combos)][::-1]
    assert first == second
    assert len({d.boundary for d in first}) == len(combos)


def test_a_cached_design_still_refuses_bad_arguments():
    sequential_decision(1.0, 2, EQUAL5)
    with pytest.raises(ValueError, match=r"look=0 is invalid: must be an integer look"):
        sequential_decision(1.0, 0, EQUAL5)
    with pytest.raises(ValueError, match=r"look=True is invalid"):
        sequential_decision(1.0, True, EQUAL5)
    with pytest.raises(ValueError, match=r"alpha=1\.5 is invalid"):
        sequential_decision(1.0, 2, EQUAL5, alpha=1.5)


def test_design_cache_is_bounded(monkeypatch):
    monkeypatch.setattr(sequential, "_DESIGNS_MAX", 3)
    _clear_caches()
    for i in range(5):
        sequential_decision(1.0, 1, [0.1 + 0.1 * i, 1.0])
    assert len(sequential._designs) == 3
    assert sequential_decision(1.0, 1, [0.5, 1.0]).boundary == pytest.approx(
        stats.norm.isf(spending_function(0.5, alpha=0.025)), rel=1e-12
    )


# --- performance and validation --------------------------------------------------------------


@pytest.mark.parametrize(
    "fractions",
    [[], [0.5, 0.5], [0.6, 0.3], [0.0, 1.0], [0.5, 1.2], [0.5, float("nan")], [[0.5]], "abc"],
)
def test_bad_information_fractions_are_refused(fractions):
    with pytest.raises(
        ValueError, match=r"information_fractions=.* strictly increasing numbers in \(0, 1\]"
    ):
        sequential_boundaries(fractions)


def test_unknown_spending_is_refused():
    with pytest.raises(
        ValueError, match="spending='hsd' is invalid: must be one of obrien-fleming, pocock"
    ):
        sequential_boundaries(EQUAL5, spending="hsd")


def test_bad_alpha_is_refused():
    with pytest.raises(ValueError, match=r"alpha=1\.5 is invalid"):
        sequential_boundaries(EQUAL5, alpha=1.5)


def test_look_out_of_range_is_refused():
    with pytest.raises(
        ValueError, match=r"look=6 is invalid: must be an integer look number in 1..5"
    ):
        sequential_decision(1.0, 6, EQUAL5)


def test_spending_function_refuses_fractions_above_one():
    with pytest.raises(
        ValueError, match=r"t=1.5 is invalid: information fractions must lie in \[0, 1\]"
    ):
        spending_function(1.5)


def test_boundaries_of_wrong_length_are_refused():
    with pytest.raises(ValueError, match=r"boundaries=.* must give one number per look \(5\)"):
        crossing_probabilities([2.0, 2.0], EQUAL5)
