"""An end-to-end run on embedded defaults: plan, shadow, A/B with ramps, outcomes, read-out.

Everything is real (registry, Router, event log, analysis); only the users are simulated:
each variant has a true rate for every metric, so the read-out can be checked against the
truth. The clock is simulated too, so two weeks of traffic take seconds.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import champion
from champion.decide import apply_decision
from champion.events import Outcome, open_writer
from champion.registry import Registry
from champion.serve import RegistrySource, Router
from champion.spec import Experiment, load_spec

__all__ = ["DemoResult", "Truth", "example_dir", "run_demo"]

SPEC_NAME = "fraud-detector.yaml"
SEGMENTS = {"country": ("US", "DE", "BR"), "device": ("ios", "android", "web")}


def example_dir() -> Path:
    """The example spec and models: packaged with a wheel, or the repository's examples/."""
    packaged = Path(champion.__file__).parent / "_examples"
    if (packaged / SPEC_NAME).exists():
        return packaged
    repository = Path(champion.__file__).resolve().parents[2] / "examples"
    if (repository / SPEC_NAME).exists():
        return repository
    raise FileNotFoundError("the example spec is not installed; reinstall champion")


@dataclass(frozen=True, slots=True)
class Truth:
    """What the simulated users really do under each variant (per unit, within 7 days)."""

    fraud_caught: dict[str, float] = field(default_factory=lambda: {"v1_3": 0.15, "v2_0": 0.18})
    false_positive: dict[str, float] = field(default_factory=lambda: {"v1_3": 0.030, "v2_0": 0.031})
    review_minutes: dict[str, float] = field(default_factory=lambda: {"v1_3": 12.0, "v2_0": 11.0})


@dataclass(frozen=True, slots=True)
class DemoResult:
    folder: Path
    experiment: Experiment
    units: int
    requests: int
    shadow: Any  # champion.shadow.ShadowReport
    report: Any  # champion.analysis.readout.Report
    action: str


@dataclass(slots=True)
class _Clock:
    now: datetime

    def __call__(self) -> datetime:
        return self.now


def _features(rng: random.Random) -> dict[str, float]:
    return {
        "amount": round(rng.lognormvariate(4.0, 1.0), 2),
        "new_device": float(rng.random() < 0.2),
        "foreign": float(rng.random() < 0.1),
    }


def _outcomes(
    unit: str, variant: str, first: datetime, truth: Truth, rng: random.Random
) -> Iterator[Outcome]:
    later = first + timedelta(hours=rng.uniform(1, 120))
    if rng.random() < truth.fraud_caught[variant]:
        yield Outcome(unit_id=unit, metric="fraud_caught", value=1.0, ts=later)
    if rng.random() < truth.false_positive[variant]:
        yield Outcome(unit_id=unit, metric="false_positive", value=1.0, ts=later)
    minutes = rng.expovariate(1.0 / truth.review_minutes[variant])
    yield Outcome(unit_id=unit, metric="review_minutes", value=round(minutes, 2), ts=later)


@contextmanager
def _world(folder: Path, models_dir: Path, clock: _Clock) -> Iterator[tuple[Registry, Any, Router]]:
    registry = Registry(f"sqlite:///{folder / 'champion.db'}")
    events = open_writer(folder / "events")
    router = Router(
        RegistrySource(registry), events=events, models_dir=models_dir, poll_interval=0,
        clock=clock, shadow_concurrency=4096,
    )  # fmt: skip
    try:
        yield registry, events, router
    finally:
        router.close()
        events.close()
        registry.close()


def run_demo(
    folder: str | Path,
    *,
    units_per_day: int = 3000,
    days: int = 10,
    seed: int = 7,
    truth: Truth | None = None,
    progress: Callable[[str, int, int], None] | None = None,
) -> DemoResult:
    """Run the whole story in ``folder`` (a registry, an event log, reports) and read it out."""
    from champion.analysis.aggregate import load_analysis_data
    from champion.analysis.readout import build_report
    from champion.analysis.store import open_store
    from champion.shadow import build_report as shadow_report

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    truth = truth or Truth()
    rng = random.Random(seed)
    source = example_dir()
    spec = load_spec(source / SPEC_NAME)
    name = spec.name
    # Traffic keeps flowing for one attribution window after the test's days, so that by
    # today (the read-out) every unit of those days has its final outcomes.
    settle = int(spec.metrics.primary.window_days)
    start = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    start -= timedelta(days=days + 1 + settle)
    clock = _Clock(start)
    step = progress or (lambda _label, _done, _total: None)
    # Ramps along the spec's rollout stages while the test runs: 5% (the spec), 10%, 25%.
    ramps = {1: None, max(2, days // 3): 10.0, max(3, 2 * days // 3): 25.0}
    requests = 0
    with _world(folder, source, clock) as (registry, events, router):
        registry.create(spec, reason="demo", by="demo")
        registry.start(name, shadow=True, reason="shadow first", by="demo")
        router.refresh()
        seen: dict[str, tuple[str, datetime]] = {}
        total_days = days + 1 + settle
        for day in range(total_days):
            if day in ramps:
                stage = ramps[day]
                if stage is None:
                    registry.start(
                        name, reason="shadow looked healthy: A/B at the spec's split", by="demo"
                    )
                else:
                    registry.ramp(name, stage, reason="next rollout stage", by="demo")
                router.refresh()
            running = day > 0
            for i in range(units_per_day):
                unit = f"user-{day}-{i}" if running else f"shadow-user-{i}"
                attributes = {k: rng.choice(v) for k, v in SEGMENTS.items()}
                clock.now = start + timedelta(days=day, seconds=86_400 * i / units_per_day)
                for _ in range(1 + (rng.random() < 0.3)):
                    out = router.predict(name, unit, _features(rng), attributes)
                    requests += 1
                if running and out.exposed and unit not in seen:
                    seen[unit] = (out.variant, clock.now)
                    for outcome in _outcomes(unit, out.variant, clock.now, truth, rng):
                        events.log(outcome)
            router.drain_shadows()  # simulated days pass faster than shadows can keep up
            step("simulating traffic", day + 1, total_days)
        router.drain_shadows()
        events.flush()
        state = registry.get(name)
        history = registry.history(name)
        step("reading out", 1, 1)
        shadow = shadow_report(folder / "events", name)
        as_of = start + timedelta(days=total_days)  # read out as the last day ends
        with open_store(str(folder / "events"), experiment=name) as store:
            data = load_analysis_data(store, spec, as_of=as_of)
        report = build_report(data, spec, state=state, history=history)
        action = _apply(registry, name, report)
    return DemoResult(folder, spec, len(seen), requests, shadow, report, action)


def _apply(registry: Registry, name: str, report: Any) -> str:
    """Do what the decision says, as ``champion decide apply`` does, and say what was done.

    The demo's days are simulated but the registry's clock is real, so each stage has been
    served seconds, not ``rollout.min_stage_hours``: the move is forced, and the audit log
    says why.
    """
    done = apply_decision(registry, name, report, force=True, by="demo",
                          reason="the demo simulates its days")  # fmt: skip
    if done.applied:
        return f"applied: {done.plan.summary}"
    return f"left the experiment running: {done.plan.summary}"
