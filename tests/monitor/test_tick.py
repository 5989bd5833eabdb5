"""A monitor tick against a real SQLite registry and a real event folder: stops with
evidence, idempotence, restarts, two monitors at once, broken experiments, stage gates."""

import threading
from datetime import timedelta

import numpy as np
import pytest

from champion.analysis.store import open_store
from champion.events import Exposure, open_writer
from champion.monitor.tick import ACTOR, SETTLE_SECONDS, tick
from champion.monitor.windows import closed_windows
from champion.registry import Registry
from champion.spec.models import Experiment

GUARDRAILS = [
    {"name": "error_rate", "max": 0.03, "non_inferiority_margin": 0.0},
    {"name": "latency_p95_ms", "max": 200},
]


def make_spec(name="exp", rollout=None, **monitor) -> Experiment:
    data = {
        "name": name,
        "models": {v: {"kind": "python", "target": f"m:{v}"} for v in ("a", "b")},
        "champion": "a", "challengers": ["b"], "allocation": {"a": 0.9, "b": 0.1},
        "metrics": {"primary": {"name": "converted", "window_days": 1}, "guardrails": GUARDRAILS},
        "monitor": {"window_minutes": 1, "min_window_requests": 50, **monitor},
    }  # fmt: skip
    if rollout is not None:
        data["rollout"] = rollout
    return Experiment.model_validate(data)


def write(folder, name, version, start, minutes, *, rate_b, seed=0, per_minute=3_000):
    """Exposures over ``minutes`` from ``start``: a at 1 % errors, b at ``rate_b``."""
    rng = np.random.default_rng(seed)
    n = per_minute * minutes
    at = rng.uniform(0, minutes * 60, n)
    is_b = rng.random(n) < 0.1
    failed = rng.random(n) < np.where(is_b, rate_b, 0.01)
    with open_writer(folder) as writer:
        for i in range(n):
            v = "b" if is_b[i] else "a"
            writer.log(Exposure(
                experiment=name, unit_id=f"u{rng.integers(20_000)}", variant=v, model=v,
                allocation_version=version, probability=0.1 if is_b[i] else 0.9,
                request_id=f"{name}-{seed}-{i}", latency_ms=float(rng.lognormal(3.9, 0.3)),
                error="boom" if failed[i] else None, ts=start + timedelta(seconds=float(at[i])),
            ))  # fmt: skip


@pytest.fixture
def db(tmp_path):
    return f"sqlite:///{tmp_path / 'registry.db'}"


def opener(folder):
    return lambda name: open_store(folder, experiment=name)


def started(db, spec):
    with Registry(db) as reg:
        reg.create(spec)
        state = reg.start(spec.name)
    return state, state.updated_at


def test_a_failing_challenger_is_stopped_once_with_its_evidence(tmp_path, db):
    state, t0 = started(db, make_spec())
    write(tmp_path / "ev", "exp", state.version, t0, 6, rate_b=0.08)
    with Registry(db) as reg:
        early = tick(reg, opener(tmp_path / "ev"), now=t0 + timedelta(seconds=2))
        assert early[0].action is None  # no window has closed: nothing to judge yet
        (result,) = tick(reg, opener(tmp_path / "ev"), now=t0 + timedelta(minutes=6, seconds=10))
        assert result.action == "stop"
        assert result.applied
        assert result.new_windows > 0
        stopped = reg.get("exp")
        assert stopped.state.value == "stopped"
        assert stopped.allocation == {"a": 1.0, "b": 0.0}
        last = reg.history("exp")[-1]
        assert last.by == ACTOR
        assert last.reason.startswith("guardrail stop: error_rate")
        evidence = last.evidence["rules"][0]
        assert {"window", "estimate", "bound", "limit", "k", "stop_after"} <= set(evidence)
        assert evidence["bound"] > evidence["limit"]
        # the stopped experiment is no longer watched: a later tick changes nothing
        assert tick(reg, opener(tmp_path / "ev"), now=t0 + timedelta(minutes=8)) == []
        assert len(reg.history("exp")) == 3
    with Registry(db) as again:  # a restart finds it stopped
        assert again.get("exp").state.value == "stopped"


def test_a_healthy_challenger_is_left_alone_and_windows_are_read_once(tmp_path, db):
    state, t0 = started(db, make_spec())
    write(tmp_path / "ev", "exp", state.version, t0, 6, rate_b=0.01)
    with Registry(db) as reg:
        (first,) = tick(reg, opener(tmp_path / "ev"), now=t0 + timedelta(minutes=4, seconds=10))
        (second,) = tick(reg, opener(tmp_path / "ev"), now=t0 + timedelta(minutes=4, seconds=10))
        (third,) = tick(reg, opener(tmp_path / "ev"), now=t0 + timedelta(minutes=6, seconds=10))
        closed = [
            len(closed_windows(t0, t0 + timedelta(minutes=m, seconds=10), 60, SETTLE_SECONDS))
            for m in (4, 6)
        ]
        assert first.action is None
        assert first.new_windows == 2 * closed[0]  # two variants per closed window
        assert second.new_windows == 0  # a restarted monitor reads nothing twice
        assert third.new_windows == 2 * (closed[1] - closed[0])
        assert [r.status for r in third.rules if r.kind == "slo"] != ["violation"] * 2
        assert reg.get("exp").state.value == "running"


def test_a_dry_run_judges_but_writes_nothing(tmp_path, db):
    state, t0 = started(db, make_spec())
    write(tmp_path / "ev", "exp", state.version, t0, 6, rate_b=0.08)
    with Registry(db) as reg:
        (result,) = tick(reg, opener(tmp_path / "ev"), now=t0 + timedelta(minutes=6, seconds=10),
                         dry_run=True)  # fmt: skip
        assert result.action == "stop"
        assert not result.applied
        assert reg.get("exp").state.value == "running"
        assert reg.windows("exp") == []


def test_two_monitors_at_once_stop_it_once(tmp_path, db):
    state, t0 = started(db, make_spec())
    write(tmp_path / "ev", "exp", state.version, t0, 6, rate_b=0.08)
    now = t0 + timedelta(minutes=6, seconds=10)
    results = []

    def monitor():
        with Registry(db) as reg:
            results.extend(tick(reg, opener(tmp_path / "ev"), now=now))

    threads = [threading.Thread(target=monitor) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    with Registry(db) as reg:
        stops = [e for e in reg.history("exp") if e.action == "stop"]
        assert len(stops) == 1
        assert len(reg.windows("exp")) == len({(w.start, w.variant) for w in reg.windows("exp")})
    assert sum(r.applied for r in results) <= 1


def test_a_broken_experiment_is_reported_and_the_others_are_still_judged(tmp_path, db):
    good, t0 = started(db, make_spec("good"))
    started(db, make_spec("broken"))
    write(tmp_path / "ev", "good", good.version, t0, 6, rate_b=0.08)

    def open_one(name):
        if name == "broken":
            raise OSError("the event folder of 'broken' is unreadable")
        return open_store(tmp_path / "ev", experiment=name)

    with Registry(db) as reg:
        results = {
            r.name: r for r in tick(reg, open_one, now=t0 + timedelta(minutes=6, seconds=10))
        }
        assert "unreadable" in results["broken"].error
        assert results["good"].action == "stop"
        missing = tick(reg, open_one, ["nope"], now=t0)
        assert missing[0].error == "no experiment named 'nope'"


def test_an_experiment_without_events_is_no_data_never_a_pass(tmp_path, db):
    _, t0 = started(db, make_spec())
    (tmp_path / "ev").mkdir()
    with Registry(db) as reg:
        (result,) = tick(reg, opener(tmp_path / "ev"), now=t0 + timedelta(minutes=5))
    assert result.error is None
    assert {r.status for r in result.rules} == {"no_data"}
    assert result.to_dict()["verdict"] == "inconclusive"


def _fixed(decision):
    return lambda state, spec, now: (decision, [f"read-out says {decision}"], True, False)


def test_the_stage_gates_advance_a_healthy_rollout(tmp_path, db):
    rollout = {"stages": [10, 25, 50, 100], "min_stage_hours": 0, "on_inconclusive": "extend"}
    state, t0 = started(db, make_spec(rollout=rollout))
    write(tmp_path / "ev", "exp", state.version, t0, 6, rate_b=0.01)
    now = t0 + timedelta(minutes=6, seconds=10)
    units = lambda state, spec, now: {"a": 500, "b": 500}  # noqa: E731
    with Registry(db) as reg:
        (advanced,) = tick(reg, opener(tmp_path / "ev"), now=now, units=units,
                           read_out=_fixed("extend"))  # fmt: skip
        assert (advanced.action, advanced.applied) == ("advance", True)
        assert reg.get("exp").allocation["b"] == 0.25
        assert reg.history("exp")[-1].action == "ramp"
        assert reg.history("exp")[-1].by == ACTOR


def test_a_harmful_read_out_at_a_gate_rolls_back(tmp_path, db):
    rollout = {"stages": [10, 50, 100], "min_stage_hours": 0, "on_fail": "rollback"}
    state, t0 = started(db, make_spec(rollout=rollout))
    write(tmp_path / "ev", "exp", state.version, t0, 6, rate_b=0.01)
    units = lambda state, spec, now: {"a": 500, "b": 500}  # noqa: E731
    with Registry(db) as reg:
        (result,) = tick(reg, opener(tmp_path / "ev"), now=t0 + timedelta(minutes=6, seconds=10),
                         units=units, read_out=_fixed("rollback"))  # fmt: skip
        assert (result.action, result.applied) == ("rollback", True)
        assert reg.get("exp").state.value == "rolled_back"
        assert reg.history("exp")[-1].evidence["decision"] == "rollback"


def test_the_change_scan_reads_its_marks_from_the_window_ledger(tmp_path, db):
    """After 40 one-minute windows, each lookback's mark is the running total up to the
    window before the newest L, whether it was among the windows just read or one read
    back from the ledger."""
    from champion.monitor.rules import SCAN_WINDOWS, totals
    from champion.monitor.tick import change_marks, recent_windows

    spec = make_spec()
    state, t0 = started(db, spec)
    write(tmp_path / "ev", "exp", state.version, t0, 41, rate_b=0.01, per_minute=600)
    with Registry(db) as reg:
        for minute in range(1, 42):  # a tick a minute: the ledger grows window by window
            tick(reg, opener(tmp_path / "ev"), now=t0 + timedelta(minutes=minute, seconds=10))
        stored = reg.windows("exp")
        recent = recent_windows(reg, "exp", spec, t0)
        marks, index = change_marks(reg, "exp", spec, t0, recent)
    starts = sorted({w.start for w in stored})
    assert index == len(starts) - 1 >= 39
    assert sorted(marks) == [L for L in SCAN_WINDOWS if index >= L]
    assert max(marks) > len({w.start for w in recent})  # some came back from the ledger
    for lookback, mark in marks.items():
        before = [{w.variant: w.sums for w in stored if w.start == s}
                  for s in starts[: index + 1 - lookback]]  # fmt: skip
        expected = totals(before)
        for variant in ("a", "b"):
            assert mark[variant]["requests"] == pytest.approx(expected[variant]["requests"])
            assert mark[variant]["errors"] == pytest.approx(expected[variant]["errors"])


def test_a_challenger_whose_scores_drift_is_stopped_by_the_psi_rule(tmp_path, db):
    """Scores logged with the exposures: the challenger's from another distribution than
    the champion's; two violating windows of prediction_psi stop it, with the PSI and its
    bound in the evidence."""
    spec = Experiment.model_validate({
        **make_spec().model_dump(mode="json", exclude_none=True),
        "metrics": {"primary": {"name": "converted", "window_days": 1},
                    "guardrails": [{"name": "prediction_psi", "max": 0.1, "stop_after": 2}]},
    })  # fmt: skip
    state, t0 = started(db, spec)
    rng = np.random.default_rng(5)
    n = 6_000
    at, is_b = rng.uniform(0, 180, n), rng.random(n) < 0.5
    score = np.where(is_b, rng.beta(2, 2, n), rng.beta(2, 5, n))
    with open_writer(tmp_path / "ev") as writer:
        for i in range(n):
            v = "b" if is_b[i] else "a"
            writer.log(Exposure(
                experiment="exp", unit_id=f"u{i}", variant=v, model=v,
                allocation_version=state.version, probability=0.5, request_id=f"r{i}",
                latency_ms=20.0, score=float(score[i]), ts=t0 + timedelta(seconds=float(at[i])),
            ))  # fmt: skip
    with Registry(db) as reg:
        (result,) = tick(reg, opener(tmp_path / "ev"), now=t0 + timedelta(minutes=3, seconds=10))
        assert reg.get("exp").state.value == "stopped"
        (entry,) = [e for e in reg.history("exp") if e.action == "stop"]
    assert result.action == "stop"
    (rule,) = [r for r in result.rules if r.guardrail == "prediction_psi"]
    assert rule.status == "violation"
    assert rule.k == 2
    assert rule.estimate > 0.1
    assert rule.bound > 0.1
    assert "prediction_psi max 0.1" in entry.reason
