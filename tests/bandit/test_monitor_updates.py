"""``champion monitor`` updates a running bandit every ``update_every``: the same update as
``champion bandit update``, published by the monitor."""

from __future__ import annotations

from datetime import timedelta

from champion.analysis.store import open_store
from champion.events import Exposure, Outcome, open_writer
from champion.monitor.loop import Monitor
from champion.registry import Registry
from tests.bandit._specs import bandit_spec


def test_the_monitor_publishes_new_weights_once_update_every_has_passed(tmp_path):
    db, folder = f"sqlite:///{tmp_path / 'r.db'}", tmp_path / "ev"
    with Registry(db) as reg:
        reg.create(bandit_spec(update_every="10m", holdout=0.0), by="t")
        state = reg.start("race", by="t")
    t0 = state.updated_at
    with open_writer(folder) as writer:  # b converts 40 of 100, a 5 of 100
        for i in range(200):
            arm = "a" if i < 100 else "b"
            ts = t0 + timedelta(seconds=i)
            writer.log(Exposure(
                experiment="race", unit_id=f"u{i}", variant=arm, model=arm,
                allocation_version=state.version, probability=0.5, ts=ts,
            ))  # fmt: skip
            if (arm == "a" and i < 5) or (arm == "b" and i < 140):
                writer.log(Outcome(unit_id=f"u{i}", metric="converted", value=1.0,
                                   ts=ts + timedelta(seconds=30)))  # fmt: skip
    with Registry(db) as reg:
        stores = lambda n: open_store(folder, experiment=n)  # noqa: E731
        monitor = Monitor(reg, stores, bandit_events=str(folder))
        monitor.tick(now=t0 + timedelta(minutes=5))  # too early: nothing published
        assert reg.get("race").version == state.version
        monitor.tick(now=t0 + timedelta(minutes=11))
        updated = reg.get("race")
        assert updated.version == state.version + 1
        assert updated.allocation["b"] > 0.9
        last = reg.history("race")[-1]
        assert (last.action, last.by) == ("reweight", "monitor")
        # the next update waits update_every after this one
        monitor.tick(now=updated.updated_at + timedelta(minutes=5))
        assert reg.get("race").version == updated.version
        monitor.tick(now=updated.updated_at + timedelta(minutes=11))
        assert reg.get("race").version == updated.version + 1
