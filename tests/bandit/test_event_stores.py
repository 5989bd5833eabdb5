"""A bandit reads the same events alike from a Parquet folder and from PostgreSQL, and its
read-out equals the statistics computed on the test's own record of what was served."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
from typer.testing import CliRunner

from champion.bandit import bandit_readout, read_unit_rewards
from champion.cli import app
from champion.events.parquet import ParquetSink
from champion.events.postgres import PostgresSink
from champion.events.schema import BANDIT_HOLDOUT_ATTRIBUTE, Exposure, Outcome
from champion.registry import Registry
from champion.stats.adaptive import adaptive_stats, arm_values, gain_over_uniform
from tests.bandit._specs import bandit_spec

START = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
AS_OF = START + timedelta(days=3)


def _record(seed: int = 5) -> tuple[list[Exposure | Outcome], list[dict]]:
    """Three allocation versions of a two-arm bandit with a 20% holdout; b converts more.

    Some units return (a second exposure that must not count), some outcomes fall after the
    window (must not count), some units are exposed too late for their window to close."""
    rng = np.random.default_rng(seed)
    events: list[Exposure | Outcome] = []
    record: list[dict] = []
    weights = {1: 0.5, 2: 0.3, 3: 0.1}  # arm a's share per version
    for i in range(600):
        version = 1 + i // 200
        ts = START + timedelta(minutes=2 * i)
        held = rng.random() < 0.2
        share_a = 0.5 if held else weights[version]
        arm = "a" if rng.random() < share_a else "b"
        p = share_a if arm == "a" else 1 - share_a
        attributes = {BANDIT_HOLDOUT_ATTRIBUTE: "holdout"} if held else {}
        unit = f"u{i:04d}"
        events.append(Exposure(experiment="race", unit_id=unit, variant=arm, model=arm,
                               allocation_version=version, probability=p,
                               attributes=attributes, ts=ts))  # fmt: skip
        if rng.random() < 0.1:  # a returning unit, later and on another arm: ignored
            events.append(Exposure(experiment="race", unit_id=unit, variant="b", model="b",
                                   allocation_version=3, probability=0.9,
                                   ts=ts + timedelta(hours=1)))  # fmt: skip
        converted = rng.random() < (0.2 if arm == "a" else 0.45)
        if converted:
            events.append(Outcome(unit_id=unit, metric="converted", value=1.0,
                                  ts=ts + timedelta(hours=3)))  # fmt: skip
        elif rng.random() < 0.2:  # converts after the 1-day window: not a reward
            events.append(Outcome(unit_id=unit, metric="converted", value=1.0,
                                  ts=ts + timedelta(days=1, hours=1)))  # fmt: skip
        closed = ts + timedelta(days=1) <= AS_OF
        record.append({"unit": unit, "version": version, "arm": arm, "p": p, "held": held,
                       "reward": float(converted), "closed": closed})  # fmt: skip
    late = START + timedelta(days=2, hours=12)  # its window is still open at AS_OF
    events.append(Exposure(experiment="race", unit_id="late", variant="a", model="a",
                           allocation_version=3, probability=0.1, ts=late))  # fmt: skip
    record.append({"unit": "late", "version": 3, "arm": "a", "p": 0.1, "held": False,
                   "reward": 0.0, "closed": False})  # fmt: skip
    return events, record


@pytest.fixture(scope="module")
def record() -> tuple[list[Exposure | Outcome], list[dict]]:
    return _record()


def _spec():
    return bandit_spec(holdout=0.2)


def _write(sink, events) -> None:
    for kind in (Exposure, Outcome):
        sink.write([e for e in events if isinstance(e, kind)], batch_id=kind.kind)
    sink.close()


def test_parquet_and_postgresql_give_the_same_units_and_the_oracles_read_out(
    tmp_path, postgres_url, record
):
    events, kept = record
    folder = tmp_path / "events"
    _write(ParquetSink(folder), events)
    _write(PostgresSink(postgres_url), events)
    spec = _spec()
    from_files = read_unit_rewards(folder, spec, as_of=AS_OF)
    from_db = read_unit_rewards(postgres_url, spec, as_of=AS_OF)
    expected = {r["unit"]: r for r in kept}
    for data in (from_files, from_db):
        assert len(data) == len(kept)
        for i, unit in enumerate(data.unit_id.tolist()):
            r = expected[unit]
            assert (data.arms[data.arm[i]], data.version[i], bool(data.holdout[i])) == (
                r["arm"], r["version"], r["held"])  # fmt: skip
            assert data.probability[i] == pytest.approx(r["p"])
            assert (data.reward[i], bool(data.closed[i])) == (r["reward"], r["closed"]), unit
    closed = [r for r in kept if r["closed"]]
    versions = sorted({r["version"] for r in closed})
    stats = adaptive_stats([versions.index(r["version"]) for r in closed],
                           [0 if r["arm"] == "a" else 1 for r in closed],
                           [r["p"] for r in closed], [r["reward"] for r in closed],
                           holdout=[r["held"] for r in closed], arms=2)  # fmt: skip
    oracle = arm_values(stats).to_dict()
    gain = gain_over_uniform(stats).to_dict()
    for target in (str(folder), postgres_url):
        out = bandit_readout(target, spec, as_of=AS_OF)
        assert out["units_with_reward"] == len(closed)
        for key in ("estimate", "ci_lower", "ci_upper", "naive", "ipw"):
            assert out["arm_values"][key] == pytest.approx(oracle[key], rel=1e-9), key
        assert out["arm_values"]["interval"] == "score"
        assert out["bandit_vs_holdout"]["diff_ci"] == pytest.approx(gain["diff_ci"], rel=1e-9)


def test_champion_bandit_report_reads_a_postgresql_event_store(tmp_path, postgres_url, record):
    events, _ = record
    _write(PostgresSink(postgres_url), events)
    db = f"sqlite:///{tmp_path / 'registry.db'}"
    with Registry(db) as registry:
        registry.create(_spec(), by="test")
        registry.start("race", by="test")
    args = ["--registry", db, "--events", postgres_url, "--as-of", AS_OF.isoformat(), "--json"]
    done = CliRunner().invoke(app, ["bandit", "report", "race", *args])
    assert done.exit_code == 0, done.output
    out = json.loads(done.output)
    assert out["status"] == "ok"
    assert out["arm_values"]["estimate"] == pytest.approx(
        bandit_readout(postgres_url, _spec(), as_of=AS_OF)["arm_values"]["estimate"], rel=1e-12
    )
