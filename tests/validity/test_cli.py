"""End to end: a ramped A/A experiment through the event store, the registry and the CLI.

The world is a trap for a read-out that pools: 10% of traffic to the challenger on days
1-2, 50% from day 3, while the conversion rate climbs from 5% to 30%, and heavy users who
come back after the ramp see the challenger. Its events go through champion's event writer
into a Parquet folder; the experiment is registered in a SQLite registry and ramped there
(allocation versions 2 and 3); ``champion analyze NAME --events DIR --registry DB --as-of
DAY --json`` runs once per simulated day and once after the last window has closed, and
records its decision points in the registry's look ledger. The oracles: the world's own
counts (crossovers, strata), the ledger against the looks the JSON reports, and the pooled
read-out of the same world, which ships where the valid one must not.
"""

from __future__ import annotations

import json
from datetime import timedelta

import numpy as np
import pytest
from typer.testing import CliRunner

from champion.analysis import build_report
from champion.cli import app
from champion.registry import Registry
from tests.validity._harness import ROLLOUTS, Case
from tests.validity._store import write_world
from tests.validity._world import CHALLENGER, CHAMPION, START, Scenario, draw

SCENARIO = Scenario(
    name="cli trap",
    stages=((0, 0.10), (2, 0.50)),
    days=6,
    units_per_day=1_000,
    baseline=(0.05, 0.30),
    window_days=1,
)
# A design whose planned sample (about 420 units per arm) is reached within the six days,
# so the read-out reaches its decision point.
CASE = Case(SCENARIO, looks=1, mde=0.5, allocation_stage=0, rollout=True)
FIRST_VERSION = 2  # create is version 1, start (10%) 2, the ramp to 50% 3
FIELDS = ("diff", "diff_ci", "p_value", "rel_lift", "rel_lift_ci", "strata", "look")


@pytest.fixture(scope="module")
def experiment(tmp_path_factory):
    root = tmp_path_factory.mktemp("cli")
    world = draw(SCENARIO, np.random.default_rng(2024))
    events = root / "events"
    write_world(world, events, "validity", first_version=FIRST_VERSION)
    registry = root / "registry.db"
    spec = CASE.spec()
    with Registry(str(registry)) as reg:
        reg.create(spec, by="validity", reason="A/A ramp")
        reg.start("validity", by="validity", reason="10% first")
        reg.ramp("validity", 50, by="validity", reason="day 3: 50%")
    reports = {}
    for day in (*range(1, SCENARIO.days + 1), SCENARIO.days + SCENARIO.window_days):
        as_of = (START + timedelta(days=day)).isoformat()
        args = ["analyze", "validity", "--events", str(events), "--registry", str(registry)]
        result = CliRunner().invoke(app, [*args, "--as-of", as_of, "--json"])
        assert result.exit_code == 0, (day, result.output)
        reports[day] = json.loads(result.stdout)
    with Registry(str(registry)) as reg:
        ledger = reg.looks("validity")
    return world, reports, ledger


def test_every_daily_read_out_has_the_fields_users_read(experiment):
    _, reports, _ = experiment
    for day, r in reports.items():
        for key in ("decision", "reasons", "srm", "crossovers", "metrics"):
            assert key in r, (day, key)
        assert r["reasons"], day
        entry = r["metrics"]["converted"]["challengers"][CHALLENGER]
        for key in FIELDS:
            assert key in entry, (day, key)


def test_the_read_outs_count_crossovers_and_strata_as_the_world_has_them(experiment):
    world, reports, _ = experiment
    for day, r in reports.items():
        data = world.analysis_data(float(day))
        assert r["crossovers"].get(CHAMPION, 0) == data.health.crossovers[CHAMPION], day
        assert r["crossovers"].get(CHALLENGER, 0) == 0, day
        assert r["health"]["exposed_units"] == data.health.exposed_units, day
    last = reports[max(reports)]
    assert last["crossovers"][CHAMPION] > 100  # the trap is set: returning champion users
    strata = last["metrics"]["converted"]["challengers"][CHALLENGER]["strata"]
    assert [s["allocation_version"] for s in strata] == [FIRST_VERSION, FIRST_VERSION + 1]
    cells = world.analysis_data(float(max(reports))).metrics["converted"].strata()
    for s in strata:
        arms = cells[s["allocation_version"] - FIRST_VERSION + 1]
        assert s["n_control"] == arms[CHAMPION].n
        assert s["n_treatment"] == arms[CHALLENGER].n


def test_decision_points_are_recorded_once_in_the_registry_ledger(experiment):
    _, reports, ledger = experiment
    points = [
        (day, look)
        for day, r in reports.items()
        for look in [r["metrics"]["converted"]["challengers"][CHALLENGER]["look"]]
        if look is not None and look["decision_point"]
    ]
    assert points, "the design's planned sample is reached: at least one decision point"
    new = [k for r in reports.values() for k in r["new_looks"]]
    assert [k["index"] for k in new] == [k.index for k in ledger]
    assert [k.index for k in ledger] == list(range(1, len(ledger) + 1))
    assert all(k.variant == CHALLENGER for k in ledger)
    # a fixed design decides once: one decision point, the final one, on the day the JSON
    # said so; later read-outs repeat its verdict without spending another look
    assert len(ledger) == CASE.looks == 1
    assert ledger[0].final
    (day, _), *later = points
    assert not later, points
    assert ledger[0].at == START + timedelta(days=day)


def test_an_a_a_ramp_does_not_ship(experiment):
    _, reports, _ = experiment
    decisions = {day: r["decision"] for day, r in reports.items()}
    assert not set(decisions.values()) & set(ROLLOUTS), decisions


def test_the_same_world_pooled_would_have_shipped(experiment):
    # What the old analysis computed: crossovers dropped, one stratum. The trap is real.
    world, reports, _ = experiment
    end = float(max(reports))
    pooled = build_report(world.analysis_data(end, itt=False), CASE.spec())
    test = pooled.primary.challengers[CHALLENGER].comparison.test
    assert test.rel_lift > 0.2
    assert pooled.decision.decision in ROLLOUTS
