"""Effect sizes against statsmodels and a direct computation on rows."""

import math

import numpy as np
import pytest
from statsmodels.stats.proportion import proportion_effectsize

from champion.stats.effect_size import cohens_d, cohens_h


@pytest.mark.parametrize(("p_c", "p_t"), [(0.5, 0.6), (0.031, 0.038), (0.9, 0.2)])
def test_cohens_h_matches_statsmodels(p_c, p_t):
    assert cohens_h(p_c, p_t) == pytest.approx(proportion_effectsize(p_t, p_c), rel=1e-12)


def test_cohens_d_from_stats_equals_the_row_computation():
    rng = np.random.default_rng(1)
    a, b = rng.normal(0, 1, 80), rng.normal(0.4, 1.5, 120)
    pooled_sd = math.sqrt(
        (np.sum((a - a.mean()) ** 2) + np.sum((b - b.mean()) ** 2)) / (a.size + b.size - 2)
    )
    expected = (b.mean() - a.mean()) / pooled_sd
    ours = cohens_d(a.mean(), a.var(ddof=1), a.size, b.mean(), b.var(ddof=1), b.size)
    assert ours == pytest.approx(expected, rel=1e-12)


def test_cohens_d_is_nan_without_spread():
    assert math.isnan(cohens_d(1.0, 0.0, 10, 2.0, 0.0, 10))


def test_cohens_h_rejects_rates_outside_unit_interval():
    with pytest.raises(ValueError, match=r"p_treatment=1.2.* proportion in \[0, 1\]"):
        cohens_h(0.5, 1.2)
