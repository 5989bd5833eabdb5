"""A simulated experiment written as events through champion's own event writer.

Each unit logs its first exposure (variant, allocation version, the variant's share at that
version as its probability) and, if a ramp moved it, the exposure to the other variant when
it came back; an outcome row carries its metric value (converters only, for proportions).
Every request is served in :data:`~tests.validity._world.LATENCY_MS`.
"""

from __future__ import annotations

import math
import os
from datetime import timedelta

from champion.events import EventWriter, Exposure, Outcome, open_writer
from tests.validity._world import LATENCY_MS, START, VARIANTS, World

__all__ = ["write_world"]


def _log(writer: EventWriter, event: object) -> None:
    if not writer.log(event):  # buffer full: let the writer's thread catch up
        writer.flush()
        if not writer.log(event):
            raise RuntimeError("the event writer refused an event twice")


def write_world(
    world: World, folder: os.PathLike | str, experiment: str, *, first_version: int = 1
) -> int:
    """Log ``world`` into the Parquet folder; stage j is allocation version
    ``first_version + j``. Returns the number of events written."""
    sc = world.scenario
    shares = [p for _, p in sc.stages]
    writer = open_writer(os.fspath(folder), flush_events=50_000, max_buffer=1_000_000)
    written = 0

    def exposure(unit: str, arm: int, stage: int, at: float, k: int) -> Exposure:
        share = shares[stage]
        return Exposure(
            experiment=experiment, unit_id=unit, variant=VARIANTS[arm], model=VARIANTS[arm],
            allocation_version=first_version + stage,
            probability=share if arm else 1.0 - share, request_id=f"{unit}-{k}",
            latency_ms=LATENCY_MS, ts=START + timedelta(days=float(at)),
        )  # fmt: skip

    try:
        for i in range(world.units):
            unit = f"u{i}"
            arm = int(world.arm[i])
            _log(writer, exposure(unit, arm, int(world.version[i]) - 1, world.first[i], 0))
            written += 1
            crossed = float(world.crossed_at[i])
            if math.isfinite(crossed):
                stage = int(sc.version_on(math.floor(crossed))) - 1
                _log(writer, exposure(unit, 1 - arm, stage, crossed, 1))
                written += 1
            if math.isfinite(world.outcome_at[i]):
                at = START + timedelta(days=float(world.outcome_at[i]))
                _log(
                    writer, Outcome(unit_id=unit, metric=sc.metric, value=float(world.y[i]), ts=at)
                )
                written += 1
    finally:
        writer.close()
    return written
