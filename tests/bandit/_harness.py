"""The bandit validity harness: scenarios, the estimators run on simulated experiments, rates.

Every scenario is a seeded batch of bandit experiments (:func:`simulate_adaptive`: floored
Thompson weights, a uniform holdout that never trains the policy). Each run is analysed as a
real experiment would be: :func:`arm_values` per arm and :func:`holdout_comparison` for the
bandit against the holdout. The oracle is the simulator's truth:

- an arm's value: its mean rate over the experiment's requests (the period mean);
- the holdout comparison: the expected reward per request of the bandit's requests (under the
  weights it served) minus that of the holdout's.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from champion.stats.adaptive import arm_values, holdout_comparison
from champion.stats.adaptive_sim import AdaptiveSimulation, simulate_adaptive

__all__ = [
    "ALPHA",
    "CI_RUNS",
    "COVERAGE_MARGIN",
    "FPR_MARGIN",
    "LONG_RUNS",
    "SCENARIOS",
    "SETTINGS",
    "ArmRow",
    "Measured",
    "Scenario",
    "measure",
    "tolerance",
]

ALPHA = 0.05
LONG_RUNS = 10_000  # the long variant's experiments per scenario
CI_RUNS = 2_000  # the CI variant's
COVERAGE_MARGIN = 0.015  # the 95% intervals must cover 95% ± 1.5 points
FPR_MARGIN = 0.01  # the holdout comparison's false-positive rate <= alpha + 1 point
SETTINGS = {"n_requests": 10_000, "batch_size": 250, "min_share": 0.05, "holdout": 0.1}


@dataclass(frozen=True, slots=True)
class Scenario:
    name: str
    start: tuple[float, float]  # arm rates in the first batch
    end: tuple[float, float]  # and in the last (linear in between)
    seed: int

    def rates(self, n_batches: int) -> np.ndarray:
        f = np.linspace(0.0, 1.0, n_batches)[:, None]
        rates: np.ndarray = (1 - f) * np.asarray(self.start) + f * np.asarray(self.end)
        return rates

    @property
    def null(self) -> bool:
        return self.start[0] == self.start[1] and self.end[0] == self.end[1]


SCENARIOS = (
    Scenario("no difference", (0.035, 0.035), (0.035, 0.035), seed=11),
    Scenario("small gap", (0.031, 0.038), (0.031, 0.038), seed=12),
    # both arms rise by 1.2 points over the experiment; period means stay 3.1% and 3.8%
    Scenario("drifting reward", (0.025, 0.032), (0.037, 0.044), seed=13),
)


def tolerance(margin: float, rate: float, runs: int) -> float:
    """``margin`` for LONG_RUNS or more runs; for fewer, widened by 2 Monte-Carlo SEs."""
    if runs >= LONG_RUNS:
        return margin
    return margin + 2 * math.sqrt(rate * (1 - rate) / runs)


def simulate(scenario: Scenario, runs: int) -> AdaptiveSimulation:
    n_batches = math.ceil(SETTINGS["n_requests"] / SETTINGS["batch_size"])
    return simulate_adaptive(
        scenario.rates(int(n_batches)),
        n_requests=int(SETTINGS["n_requests"]),
        batch_size=int(SETTINGS["batch_size"]),
        min_share=SETTINGS["min_share"],
        holdout=SETTINGS["holdout"],
        n_runs=runs,
        seed=scenario.seed,
    )


@dataclass(frozen=True, slots=True)
class ArmRow:
    """One arm of one scenario: coverage (share of runs whose 95% CI holds the target) and
    bias (mean estimate minus target) of each estimator."""

    arm: int
    value: float
    aw_cover: float
    aw_bias: float
    aw_own_cover: float  # against the stable-var estimator's own weighted target
    aw_wald_cover: float  # the same estimate with a Wald interval (Q ± z SE)
    aipw_cover: float  # uniform weights (plain AIPW)
    ipw_cover: float
    ipw_bias: float
    naive_cover: float
    naive_bias: float
    traffic: float  # mean share of the arm's requests


@dataclass(frozen=True, slots=True)
class Measured:
    scenario: Scenario
    runs: int
    arms: tuple[ArmRow, ...]
    holdout_reject: float  # share of runs where the holdout comparison is significant
    holdout_cover: float  # share whose diff CI holds the true bandit - holdout difference
    mean_gain: float  # mean estimated conversions gained over uniform on the bandit's requests

    @staticmethod
    def se(rate: float, runs: int) -> float:
        return math.sqrt(rate * (1 - rate) / runs)


def _covers(lo: np.ndarray, hi: np.ndarray, target: np.ndarray) -> np.ndarray:
    covered: np.ndarray = ((lo <= target) & (target <= hi)).mean(axis=0)
    return covered


def measure(scenario: Scenario, runs: int) -> Measured:
    sim = simulate(scenario, runs)
    z = 1.959963984540054
    target = sim.arm_value
    aw = arm_values(sim.stats, alpha=ALPHA)
    plain = arm_values(sim.stats, alpha=ALPHA, weighting="uniform")
    wald = arm_values(sim.stats, alpha=ALPHA, interval="wald")
    own = sim.weighted_arm_value("stablevar")
    served = sim.stats.served.sum(axis=1)
    traffic = (served / served.sum(axis=-1, keepdims=True)).mean(axis=0)
    naive_ci = (aw.naive - z * aw.naive_se, aw.naive + z * aw.naive_se)
    ipw_ci = (aw.ipw - z * aw.ipw_se, aw.ipw + z * aw.ipw_se)
    cover = {
        "aw": _covers(*aw.ci, target),
        "own": _covers(*aw.ci, own),
        "wald": _covers(*wald.ci, target),
        "aipw": _covers(*plain.ci, target),
        "ipw": _covers(*ipw_ci, target),
        "naive": _covers(*naive_ci, target),
    }
    rows = [
        ArmRow(
            arm=k,
            value=float(target[k]),
            aw_cover=float(cover["aw"][k]),
            aw_bias=float(np.mean(aw.estimate[:, k]) - target[k]),
            aw_own_cover=float(cover["own"][k]),
            aw_wald_cover=float(cover["wald"][k]),
            aipw_cover=float(cover["aipw"][k]),
            ipw_cover=float(cover["ipw"][k]),
            ipw_bias=float(np.mean(aw.ipw[:, k]) - target[k]),
            naive_cover=float(cover["naive"][k]),
            naive_bias=float(np.nanmean(aw.naive[:, k]) - target[k]),
            traffic=float(traffic[k]),
        )
        for k in range(target.size)
    ]
    truth = sim.bandit_value - sim.holdout_value
    reject = covered = 0
    gains = []
    for i in range(runs):
        stats = sim.run(i)
        r = holdout_comparison(stats, alpha=ALPHA)
        reject += r.significant
        covered += r.diff_ci[0] <= truth[i] <= r.diff_ci[1]
        gains.append(r.diff * float(stats.served[~stats.holdout].sum()))
    return Measured(
        scenario, runs, tuple(rows), reject / runs, covered / runs, float(np.mean(gains))
    )
