"""Multiple-testing adjustments against statsmodels' multipletests, a published example and
closed forms for the Bonferroni intervals."""

import gc
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats
from statsmodels.stats.multitest import multipletests

from champion.stats.multiple import adjust_p_values, bonferroni_alpha, bonferroni_ci, reject

STATSMODELS = {"bonferroni": "bonferroni", "holm": "holm", "bh": "fdr_bh"}
METHODS = list(STATSMODELS)


@pytest.fixture(autouse=True, scope="module")
def _frozen_heap():
    """statsmodels' Holm runs gc.collect() on every call; frozen objects make that cheap."""
    gc.freeze()
    yield
    gc.unfreeze()


# Ties, exact 0 and 1, and values on common thresholds mixed with arbitrary ones.
p_value = st.one_of(
    st.floats(0.0, 1.0), st.sampled_from([0.0, 1.0, 0.001, 0.01, 0.02, 0.04, 0.05, 0.5])
)


@settings(max_examples=300, deadline=None)
@given(p=st.lists(p_value, min_size=1, max_size=40), method=st.sampled_from(METHODS))
def test_adjusted_p_values_match_statsmodels(p, method):
    _, expected, _, _ = multipletests(p, method=STATSMODELS[method])
    assert adjust_p_values(p, method) == pytest.approx(expected, rel=1e-12, abs=1e-300)


@settings(max_examples=300, deadline=None)
@given(
    p=st.lists(p_value, min_size=1, max_size=40),
    method=st.sampled_from(METHODS),
    alpha=st.sampled_from([0.01, 0.05, 0.1]),
)
def test_rejections_match_statsmodels_away_from_rounding_ties(p, method, alpha):
    expected, corrected, _, _ = multipletests(p, alpha=alpha, method=STATSMODELS[method])
    # statsmodels compares p with alpha/m (or k alpha/m); we compare the adjusted p with alpha.
    # The two agree except when they differ from alpha by a rounding error.
    clear = np.abs(corrected - alpha) > 1e-12
    assert np.array_equal(reject(p, method, alpha)[clear], expected[clear])


def test_many_seeded_random_vectors_match_statsmodels():
    rng = np.random.default_rng(1995)
    for m in rng.integers(1, 60, 300):
        # Rounded to 2 decimals: many ties; beta(0.3, 1) puts mass near 0 like real p-values.
        p = np.round(rng.beta(0.3, 1.0, m), 2)
        for method in METHODS:
            _, expected, _, _ = multipletests(p, method=STATSMODELS[method])
            np.testing.assert_allclose(adjust_p_values(p, method), expected, rtol=1e-12)


# Benjamini & Hochberg (1995), "Controlling the false discovery rate", JRSS B 57, section 4:
# 15 p-values from a thrombolysis trial (Neuhaus et al., 1992). At level 0.05 BH rejects the
# four smallest (as the paper reports). Holm and Bonferroni reject the three smallest: by hand,
# 0.0019 <= 0.05/13 but 0.0095 > 0.05/12 (Holm) and 0.0095 > 0.05/15 (Bonferroni).
BH_1995 = [0.0001, 0.0004, 0.0019, 0.0095, 0.0201, 0.0278, 0.0298, 0.0344, 0.0459, 0.3240,
           0.4262, 0.5719, 0.6528, 0.7590, 1.0]  # fmt: skip


@pytest.mark.parametrize(("method", "rejected"), [("bh", 4), ("holm", 3), ("bonferroni", 3)])
def test_benjamini_hochberg_1995_example(method, rejected):
    assert reject(BH_1995, method, 0.05).tolist() == [True] * rejected + [False] * (15 - rejected)


def test_results_come_back_in_the_input_order():
    p = [0.04, 0.001, 0.3, 0.02]
    # Holm by hand: sorted 0.001, 0.02, 0.04, 0.3 times 4, 3, 2, 1; running maximum.
    assert adjust_p_values(p, "holm") == pytest.approx([0.08, 0.004, 0.3, 0.06])


def test_nan_p_values_stay_nan_and_do_not_count_in_m():
    p = [0.01, math.nan, 0.04, 0.03, math.nan]
    for method in METHODS:
        out = adjust_p_values(p, method)
        _, expected, _, _ = multipletests([0.01, 0.04, 0.03], method=STATSMODELS[method])
        assert np.isnan(out[[1, 4]]).all()
        assert out[[0, 2, 3]] == pytest.approx(expected, rel=1e-12)


def test_nan_p_values_are_never_rejected():
    assert reject([math.nan, 0.0], "bonferroni", 0.05).tolist() == [False, True]


def test_adjusted_p_values_are_clipped_to_one():
    assert adjust_p_values([0.5, 0.9, 1.0], "bonferroni").tolist() == [1.0, 1.0, 1.0]


def test_empty_and_all_nan_inputs_return_nan_of_the_same_length():
    assert adjust_p_values([], "bh").shape == (0,)
    assert np.isnan(adjust_p_values([math.nan, math.nan], "holm")).all()


@pytest.mark.parametrize(
    ("p", "method", "message"),
    [
        ([0.1], "fdr_bh", r"method='fdr_bh' is invalid: must be one of bonferroni, holm, bh"),
        ([0.1, 1.5], "bh", r"p_values\[1\]=1\.5 is invalid: must lie in \[0, 1\]"),
        ([-0.0001], "holm", r"p_values\[0\]=-0\.0001 is invalid: must lie in \[0, 1\]"),
        ([math.inf], "holm", r"p_values\[0\]=inf is invalid: must lie in \[0, 1\]"),
        ([[0.1, 0.2]], "holm", r"p_values=\[\[0\.1, 0\.2\]\] is invalid: must be one-dimensional"),
        (["a"], "holm", r"p_values=\['a'\] is invalid: must be a sequence of numbers"),
    ],
)
def test_bad_arguments_raise_naming_the_argument(p, method, message):
    with pytest.raises(ValueError, match=message):
        adjust_p_values(p, method)


def test_reject_checks_alpha():
    with pytest.raises(ValueError, match=r"alpha=5 is invalid: must lie strictly between 0 and 1"):
        reject([0.1], "holm", 5)


def test_bonferroni_alpha_divides_by_the_number_of_tests():
    assert bonferroni_alpha(0.05, 10) == pytest.approx(0.005)


@pytest.mark.parametrize(
    ("m", "message"),
    [(0, r"m=0 is invalid: must be >= 1"), (2.5, r"m=2\.5 is invalid: must be a whole number")],
)
def test_bonferroni_alpha_needs_a_whole_number_of_tests(m, message):
    with pytest.raises(ValueError, match=message):
        bonferroni_alpha(0.05, m)


def test_bonferroni_ci_half_width_is_the_normal_quantile_at_alpha_over_2m():
    est, se = np.array([0.5, -0.2, 1.0, 0.0]), np.array([0.1, 0.3, 0.2, 0.05])
    ci = bonferroni_ci(est, se, alpha=0.1)
    z = stats.norm.ppf(1 - 0.1 / (2 * 4))
    np.testing.assert_allclose(ci, np.column_stack([est - z * se, est + z * se]), rtol=1e-12)


@pytest.mark.parametrize(("alternative", "side"), [("larger", 0), ("smaller", 1)])
def test_one_sided_bonferroni_ci_spends_alpha_over_m_on_one_end(alternative, side):
    est, se = np.array([0.5, -0.2, 1.0]), np.array([0.1, 0.3, 0.2])
    ci = bonferroni_ci(est, se, alternative=alternative)
    z = stats.norm.ppf(1 - 0.05 / 3)
    bound = est - z * se if side == 0 else est + z * se
    np.testing.assert_allclose(ci[:, side], bound, rtol=1e-12)
    assert np.isinf(ci[:, 1 - side]).all()


def test_bonferroni_ci_nan_rows_stay_nan_and_do_not_count_in_m():
    ci = bonferroni_ci([0.5, math.nan, 1.0], [0.1, 0.2, 0.2])
    z = stats.norm.ppf(1 - 0.05 / 4)  # m = 2
    assert np.isnan(ci[1]).all()
    np.testing.assert_allclose(ci[[0, 2], 1], [0.5 + z * 0.1, 1.0 + z * 0.2], rtol=1e-12)


def test_bonferroni_intervals_cover_jointly_as_the_closed_form_says():
    # Ten independent estimates: joint coverage is (1 - alpha/m)^m = 0.95111 exactly.
    rng = np.random.default_rng(23)
    m, sims = 10, 20_000
    truth, se = np.linspace(-1, 1, m), np.linspace(0.1, 1.0, m)
    ci = bonferroni_ci(truth, se)
    half = (ci[:, 1] - ci[:, 0]) / 2
    errors = rng.standard_normal((sims, m)) * se
    covered = np.mean(np.all(np.abs(errors) <= half, axis=1))
    # Monte Carlo SE over 20,000 families is 0.0015: allow 4 SE.
    assert covered == pytest.approx((1 - 0.05 / m) ** m, abs=0.006)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"ses": [0.1]}, r"ses=\[0\.1\] is invalid: must have one se per estimate \(2\)"),
        ({"ses": [0.1, -0.2]}, r"ses=\[0\.1, -0\.2\] is invalid: must be >= 0"),
        ({"estimates": [math.inf, 0.0]}, r"estimates=\[inf, 0\.0\] is invalid: must be finite"),
        ({"alternative": "greater"}, r"alternative='greater' is invalid"),
    ],
)
def test_bonferroni_ci_bad_arguments_raise_naming_the_argument(kwargs, message):
    args = {"estimates": [0.5, 1.0], "ses": [0.1, 0.2]} | kwargs
    with pytest.raises(ValueError, match=message):
        bonferroni_ci(**args)
