"""The simulator does what the validity suite relies on.

The oracle for ``World.analysis_data`` is the real analysis: the world's events, written
with champion's event writer, read back by ``load_analysis_data`` at the same instants.
The other tests check the world's mechanics on its rows: ramps move units one way,
crossovers are the returning (heavy) champion units, the baseline drifts, the truth is the
effect that was injected.
"""

from __future__ import annotations

import math
from datetime import timedelta

import numpy as np
import pytest
from scipy import stats

from champion.analysis import load_analysis_data, open_store
from tests.validity._harness import Case
from tests.validity._store import write_world
from tests.validity._world import ITT, START, Scenario, draw

RAMP = ((0, 0.10), (2, 0.25), (4, 0.50))


def _cells(data, metric: str) -> dict:
    return dict(data.metrics[metric].cells)


def _srm(data) -> set:
    return {(s.allocation_version, s.variant, s.units, round(s.share, 9)) for s in data.health.srm}


@pytest.fixture(scope="module", params=["proportion", "mean"])
def written(request, tmp_path_factory):
    """A small ramped world with heavy returning users, and its event folder."""
    kind = request.param
    scenario = Scenario(
        name=f"oracle {kind}",
        kind=kind,
        metric="converted" if kind == "proportion" else "margin",
        stages=RAMP,
        days=7,
        units_per_day=300,
        baseline=(0.10, 0.25) if kind == "proportion" else (-2.0, -1.0),
        lift=0.2,
        window_days=2.5,
    )
    world = draw(scenario, np.random.default_rng(7))
    folder = tmp_path_factory.mktemp(f"world-{kind}") / "events"
    write_world(world, folder, "validity")
    spec = Case(
        scenario,
        design_baseline=0.15 if kind == "proportion" else -1.5,
        design_std=(None if kind == "proportion" else 3.0),
    ).spec()
    return world, folder, spec


@pytest.mark.parametrize("as_of", [1.5, 3.0, 5.25, 9.5])
def test_the_world_reads_as_load_analysis_data_reads_its_events(written, as_of):
    world, folder, spec = written
    metric = spec.metrics.primary.name
    with open_store(folder, experiment="validity") as store:
        real = load_analysis_data(store, spec, as_of=START + timedelta(days=as_of))
    ours = world.analysis_data(as_of)
    real_cells, our_cells = _cells(real, metric), _cells(ours, metric)
    assert set(our_cells) == set(real_cells)
    for key, cell in our_cells.items():
        other = real_cells[key]
        assert cell.n == other.n, key
        assert cell.sum_y == pytest.approx(other.sum_y, rel=1e-9, abs=1e-9), key
        assert cell.sum_y_sq == pytest.approx(other.sum_y_sq, rel=1e-9, abs=1e-9), key
    h, r = ours.health, real.health
    assert _srm(ours) == _srm(real)
    for name in (
        "exposed_units",
        "analysed_units",
        "multiple_exposure_units",
        "units_in_window",
        "outcomes",
        "first_exposure",
        "last_exposure",
        "last_outcome",
        "as_of",
    ):
        assert getattr(h, name) == getattr(r, name), name
    if ITT:
        # a variant without crossovers may be listed with 0 or left out
        assert {v: n for v, n in h.crossovers.items() if n} == {
            v: n for v, n in r.crossovers.items() if n
        }
    assert ours.serving.requests == real.serving.requests
    assert ours.serving.latency.counts == real.serving.latency.counts


def test_the_oracle_world_has_crossovers_and_open_windows(written):
    # Otherwise the comparison above would prove little.
    world, _, _ = written
    data = world.analysis_data(5.25)
    assert data.health.multiple_exposure_units > 20
    assert data.health.units_in_window > 500
    later = world.analysis_data(9.5).metrics[world.scenario.metric].cells
    assert len({k.stratum for k, _ in later}) == (3 if ITT else 1)


def test_a_ramp_moves_champion_units_to_the_challenger_and_never_back():
    scenario = Scenario(stages=RAMP, days=10, units_per_day=5_000)
    w = draw(scenario, np.random.default_rng(1))
    crossed = np.isfinite(w.crossed_at)
    assert crossed.sum() > 1_000
    assert (w.arm[crossed] == 0).all()  # only champion units cross over
    # ... when they come back on a day after their first, once a ramp gave their bucket away
    assert (np.floor(w.crossed_at[crossed]) > w.day[crossed]).all()
    assert (w.crossed_at[crossed] >= 2).all()
    for version, (_, share) in enumerate(scenario.stages, start=1):
        arms = w.arm[w.version == version]
        # the challenger's share at each version is the stage's (binomial test)
        assert stats.binomtest(int(arms.sum()), arms.size, share).pvalue > 1e-4


def test_crossovers_are_mostly_the_heavy_users_who_return():
    scenario = Scenario(stages=((0, 0.10), (2, 0.50)), days=14, units_per_day=5_000)
    w = draw(scenario, np.random.default_rng(2))
    crossed = np.isfinite(w.crossed_at)
    # heavy users are a fifth of arrivals but more than twice that among those who come
    # back and cross over
    assert w.heavy.mean() == pytest.approx(0.2, abs=0.01)
    assert w.heavy[crossed].mean() > 0.4
    # and they convert more: dropping the crossovers would leave the champion worse
    champion = w.arm == 0
    assert w.y[champion & crossed].mean() > 1.5 * w.y[champion & ~crossed].mean()


def test_the_baseline_drifts_from_the_first_to_the_last_day():
    scenario = Scenario(baseline=(0.10, 0.20), days=10, units_per_day=20_000)
    w = draw(scenario, np.random.default_rng(3))
    champion = w.arm == 0
    first = w.y[champion & (w.day == 0)].mean()
    last = w.y[champion & (w.day == 9)].mean()
    assert first == pytest.approx(0.10, abs=0.01)
    assert last == pytest.approx(0.20, abs=0.01)


@pytest.mark.parametrize(
    ("kind", "baseline", "lift", "shift"),
    [("proportion", 0.15, 0.10, 0.0), ("mean", -2.0, 0.15, 0.0), ("mean", 0.0, 0.0, 0.3)],
)
def test_the_truth_is_the_injected_effect_within_each_stratum(kind, baseline, lift, shift):
    scenario = Scenario(
        kind=kind,
        stages=RAMP,
        days=8,
        units_per_day=40_000,
        baseline=(baseline, baseline),
        lift=lift,
        shift=shift,
        sd=1.0,
    )
    w = draw(scenario, np.random.default_rng(4))
    true_diff, true_rel = w.truth(100.0)
    for version in (1, 2, 3):
        s = w.version == version
        c, t = w.y[s & (w.arm == 0)], w.y[s & (w.arm == 1)]
        se = math.sqrt(c.var() / c.size + t.var() / t.size)
        assert t.mean() - c.mean() == pytest.approx(true_diff, abs=4 * se)
    if shift == 0:
        assert true_rel == lift
        # the engagement multipliers average 1 over arrivals (up to sampling)
        assert true_diff == pytest.approx(lift * abs(baseline), rel=0.01)
    else:
        assert math.isnan(true_rel)  # no relative lift over a zero mean
        assert true_diff == pytest.approx(shift)
