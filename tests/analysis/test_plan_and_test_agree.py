"""The planner sizes for the test the read-out runs: at the planned sample, the read-out's
own test reaches the planned power, also for an unequal split (the unpooled variance)."""

import numpy as np
import pytest

from champion.analysis.aggregates import Cell
from champion.analysis.comparison import compare_cells
from champion.planner import PlanRequest, make_plan

RUNS = 20_000


@pytest.mark.parametrize(
    ("baseline", "mde", "ratio"),
    [(0.15, -0.10, 0.05 / 0.95), (0.15, 0.10, 1.0), (0.05, 0.20, 0.25)],
)
def test_the_read_out_test_reaches_the_planned_power_at_the_planned_sample(baseline, mde, ratio):
    plan = make_plan(PlanRequest(baseline=baseline, mde=mde, relative=True, ratio=ratio))
    rng = np.random.default_rng(2026)
    x_c = rng.binomial(plan.n_control, baseline, RUNS)
    x_t = rng.binomial(plan.n_treatment, baseline * (1 + mde), RUNS)
    rejected = 0
    for c, t in zip(x_c, x_t, strict=True):
        result = compare_cells(
            "m", "proportion", "higher",
            Cell(n=plan.n_control, sum_y=float(c), sum_y_sq=float(c)),
            Cell(n=plan.n_treatment, sum_y=float(t), sum_y_sq=float(t)),
            bayes=False,
        )  # fmt: skip
        rejected += result.test.p_value < 0.05
    power = rejected / RUNS
    # Monte-Carlo standard error sqrt(0.8 * 0.2 / 20,000) = 0.0028; 3.5 of them. The pooled
    # statistic at 95/5 reaches 0.779 here: outside.
    assert power == pytest.approx(0.80, abs=0.01)
