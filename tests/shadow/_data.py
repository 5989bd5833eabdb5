"""Shadow and served events with known properties, written through the real event writer.

Every event written is also kept as a row of a pandas frame (``served`` and ``shadow``), so
the tests compute their oracles in numpy/pandas on exactly the rows the report read.

Experiment ``fraud``, served model ``v1`` (scores ~ Beta(2, 5), 1% errors), three shadows:

- ``noisy``: every request; score = served + N(0, 0.05) clipped to [0, 1]; plus calls that
  match nothing (an unknown request_id, or none);
- ``flaky``: half of the requests; an independent Beta(2, 5) draw (same distribution);
  fails 10% of the time, a third of those by timeout;
- ``shifted``: every request; Beta(5, 2) scores (a large shift), five times slower.

One request is logged twice by the served side (a retry, later): the first one counts.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd

from champion.events import Exposure, Shadow, open_writer

__all__ = ["EXPERIMENT", "START", "ShadowData", "write_shadow_data"]

EXPERIMENT = "fraud"
START = datetime(2024, 5, 1, tzinfo=UTC)

_EXPOSURE_FIELDS = ("ts", "request_id", "model", "prediction", "score", "latency_ms", "error")
_SHADOW_FIELDS = (*_EXPOSURE_FIELDS, "served_score")


@dataclass(frozen=True)
class ShadowData:
    root: Path
    served: pd.DataFrame  # one row per exposure written
    shadow: pd.DataFrame  # one row per shadow event written


def _json_number(x: float) -> str:
    return repr(float(x))


def write_shadow_data(root: Path, n: int = 4_000, seed: int = 7) -> ShadowData:
    rng = np.random.default_rng(seed)
    exposures: list[Exposure] = []
    shadows: list[Shadow] = []
    served = rng.beta(2, 5, n)
    served_err = rng.random(n) < 0.01
    served_lat = rng.gamma(4.0, 2.0, n)
    ts = [START + timedelta(seconds=7 * i) for i in range(n)]
    for i in range(n):
        failed = bool(served_err[i])
        exposures.append(
            Exposure(
                experiment=EXPERIMENT,
                unit_id=f"u{i}",
                variant="champion",
                model="v1",
                allocation_version=1,
                probability=1.0,
                request_id=f"r{i}",
                latency_ms=float(served_lat[i]),
                error="upstream answered 503" if failed else None,
                prediction=None if failed else _json_number(served[i]),
                score=None if failed else float(served[i]),
                ts=ts[i],
            )
        )
    # a retry of r5, logged later with another answer: the report keeps the first
    exposures.append(
        Exposure(
            experiment=EXPERIMENT,
            unit_id="u5",
            variant="champion",
            model="v1",
            allocation_version=1,
            probability=1.0,
            request_id="r5",
            latency_ms=50.0,
            prediction="0.99",
            score=0.99,
            ts=ts[5] + timedelta(seconds=3),
        )
    )

    def shadow(i: int, model: str, score: float | None, latency: float, error=None):
        return Shadow(
            experiment=EXPERIMENT, unit_id=f"u{i}", model=model, request_id=f"r{i}",
            prediction=None if score is None else _json_number(score), score=score,
            latency_ms=float(latency), error=error,
            served_score=None if served_err[i] else float(served[i]),
            ts=ts[i] + timedelta(milliseconds=float(latency)),
        )  # fmt: skip

    noisy = np.clip(served + rng.normal(0.0, 0.05, n), 0.0, 1.0)
    noisy_lat = rng.gamma(4.0, 2.5, n)
    shadows.extend(shadow(i, "noisy", float(noisy[i]), noisy_lat[i]) for i in range(n))
    for k in range(5):  # calls the served log does not know
        shadows.append(
            Shadow(
                experiment=EXPERIMENT,
                unit_id=f"ghost{k}",
                model="noisy",
                request_id=f"ghost-{k}",
                prediction="0.3",
                score=0.3,
                latency_ms=9.0,
                ts=ts[k],
            )
        )
        shadows.append(
            Shadow(
                experiment=EXPERIMENT,
                unit_id=f"anon{k}",
                model="noisy",
                request_id=None,
                prediction="0.3",
                score=0.3,
                latency_ms=9.0,
                ts=ts[k],
            )
        )

    sampled = np.flatnonzero(rng.random(n) < 0.5)
    flaky = rng.beta(2, 5, n)
    fails = rng.random(n)
    flaky_lat = rng.gamma(4.0, 2.0, n)
    for i in sampled:
        if fails[i] < 0.1 / 3:
            shadows.append(shadow(i, "flaky", None, 200.0, "timeout after 200 ms"))
        elif fails[i] < 0.1:
            shadows.append(shadow(i, "flaky", None, flaky_lat[i], "ValueError: bad feature"))
        else:
            shadows.append(shadow(i, "flaky", float(flaky[i]), flaky_lat[i]))

    shifted = rng.beta(5, 2, n)
    slow_lat = 5.0 * rng.gamma(4.0, 2.0, n)
    shadows.extend(shadow(i, "shifted", float(shifted[i]), slow_lat[i]) for i in range(n))

    with open_writer(root) as writer:
        for event in (*exposures, *shadows):
            writer.log(event)
    return ShadowData(
        root=root,
        served=pd.DataFrame([{f: getattr(e, f) for f in _EXPOSURE_FIELDS} for e in exposures]),
        shadow=pd.DataFrame([{f: getattr(e, f) for f in _SHADOW_FIELDS} for e in shadows]),
    )
