"""Seeded simulated experiments: unit rows in pandas, and the AnalysisData their sums make.

Tests compare the read-out (which sees only the sums) with oracles computed on the rows.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

import numpy as np
import pandas as pd

from champion.analysis.aggregates import (
    AnalysisData,
    Cell,
    CellKey,
    Health,
    LatencyHistogram,
    MetricAggregates,
    ServingStats,
    SrmCount,
)
from champion.spec import parse_spec

EDGES = tuple((10.0 ** (np.arange(-400, 1001) / 200)).tolist())
START = date(2024, 3, 1)

SPEC = """
name: fraud-detector-v2
models:
  v1_3: {kind: python, target: "m:a"}
  v2_0: {kind: python, target: "m:b"}
champion: v1_3
challengers: [v2_0]
allocation: {v1_3: 0.5, v2_0: 0.5}
metrics:
  primary: {name: fraud_caught, kind: proportion, direction: higher, window_days: 7}
  secondary:
    - {name: false_positive, kind: proportion, direction: lower, window_days: 7}
    - {name: review_minutes, kind: mean, direction: lower, window_days: 7,
       covariate: review_minutes}
  guardrails:
    - {name: latency_p95_ms, max: 200}
    - {name: error_rate, max: 0.01}
    - {name: false_positive, non_inferiority_margin: 0.005}
design:
  alpha: 0.05
  power: 0.8
  mde: 0.10
  relative: true
  baseline: 0.15
  looks: LOOKS
  max_duration_days: 14
rollout: {stages: [10, 25, 50, 100]}
segments: [device]
"""


def spec(looks: int = 1, **replacements: str):
    text = SPEC.replace("LOOKS", str(looks))
    for old, new in replacements.items():
        text = text.replace(old, new)
    return parse_spec(text, "test-spec")


@dataclass
class Sim:
    """Knobs of a simulated experiment; ``units()`` draws the rows."""

    seed: int = 0
    n: int = 40_000
    shares: dict[str, float] = field(default_factory=lambda: {"v1_3": 0.5, "v2_0": 0.5})
    days: int = 10
    fraud_rate: float = 0.15
    fraud_lift: float = 0.0  # relative, challenger
    mobile_lift: float | None = None  # relative lift for mobile users (None: same as others)
    fp_rate: float = 0.03
    fp_delta: float = 0.0
    review_effect: float = 0.0
    latency_ms: dict[str, float] = field(default_factory=lambda: {"v1_3": 80.0, "v2_0": 80.0})
    error_rate: dict[str, float] = field(default_factory=lambda: {"v1_3": 0.002, "v2_0": 0.002})
    requests_per_unit: int = 3

    def units(self) -> pd.DataFrame:
        rng = np.random.default_rng(self.seed)
        names = list(self.shares)
        variant = rng.choice(names, size=self.n, p=list(self.shares.values()))
        challenger = variant != names[0]
        day = rng.integers(0, self.days, self.n)
        mobile = rng.random(self.n) < 0.4
        lift = np.where(challenger, self.fraud_lift, 0.0)
        if self.mobile_lift is not None:
            lift = np.where(challenger & mobile, self.mobile_lift, lift)
        fraud = rng.random(self.n) < self.fraud_rate * (1 + lift)
        fp = rng.random(self.n) < self.fp_rate + np.where(challenger, self.fp_delta, 0.0)
        pre = rng.gamma(4.0, 2.5, self.n)
        review = (
            0.8 * pre + rng.normal(2.0, 3.0, self.n) + np.where(challenger, self.review_effect, 0)
        )
        return pd.DataFrame(
            {
                "variant": variant,
                "day": [START + timedelta(days=int(d)) for d in day],
                "device": np.where(mobile, "mobile", "desktop"),
                "fraud_caught": fraud.astype(float),
                "false_positive": fp.astype(float),
                "review_minutes": review,
                "review_pre": pre,
            }
        )

    def requests(self, units: pd.DataFrame) -> pd.DataFrame:
        rng = np.random.default_rng(self.seed + 1)
        variant = np.repeat(units["variant"].to_numpy(), self.requests_per_unit)
        median = np.array([self.latency_ms[v] for v in variant])
        latency = median * np.exp(0.4 * rng.standard_normal(variant.size))
        err = rng.random(variant.size) < np.array([self.error_rate[v] for v in variant])
        return pd.DataFrame({"variant": variant, "latency_ms": latency, "error": err})


def aggregates(
    units: pd.DataFrame,
    metric: str,
    kind: str,
    covariate: str | None = None,
    denominator: str | None = None,
    segments: tuple[str, ...] = ("device",),
) -> MetricAggregates:
    y = units[metric]
    x = units[covariate] if covariate else pd.Series(0.0, index=units.index)
    d = units[denominator] if denominator else pd.Series(0.0, index=units.index)
    frame = pd.DataFrame(
        {
            "n": 1.0,
            "sum_y": y,
            "sum_y_sq": y * y,
            "sum_x": x,
            "sum_x_sq": x * x,
            "sum_xy": x * y,
            "sum_d": d,
            "sum_d_sq": d * d,
            "sum_yd": y * d,
        }
    )
    keys = ["variant", "day", *segments]
    for k in keys:
        frame[k] = units[k]
    grouped = frame.groupby(keys, sort=True).sum()
    cells = []
    for key, row in grouped.iterrows():
        variant, day, *values = key
        seg = tuple(zip(segments, values, strict=True))
        cells.append(
            (CellKey(variant, day, seg), Cell(**{k: float(row[k]) for k in Cell.__slots__}))
        )
    return MetricAggregates(metric, kind, tuple(cells))


def histogram(values: np.ndarray) -> tuple[int, ...]:
    bins = len(EDGES) - 1
    index = np.clip(np.floor(200 * np.log10(values)).astype(int) + 400, 0, bins - 1)
    return tuple(np.bincount(index, minlength=bins).tolist())


def serving(requests: pd.DataFrame) -> ServingStats:
    counts = {v: histogram(g["latency_ms"].to_numpy()) for v, g in requests.groupby("variant")}
    return ServingStats(
        requests={v: int(n) for v, n in requests.groupby("variant").size().items()},
        errors={v: int(g["error"].sum()) for v, g in requests.groupby("variant")},
        latency=LatencyHistogram(EDGES, counts),
    )


def health(
    units: pd.DataFrame,
    shares: dict[str, float],
    *,
    srm: tuple[SrmCount, ...] | None = None,
    multiple: int = 0,
    units_in_window: int = 0,
    outcomes: dict[str, int] | None = None,
    days: int | None = None,
) -> Health:
    counts = units.groupby("variant").size()
    if srm is None:
        srm = tuple(SrmCount(1, v, int(counts.get(v, 0)), s) for v, s in shares.items())
    first = datetime.combine(min(units["day"]), datetime.min.time(), UTC)
    last = datetime.combine(max(units["day"]), datetime.min.time(), UTC) + timedelta(hours=23)
    if outcomes is None:
        outcomes = {m: int(units[m].astype(bool).sum()) for m in ("fraud_caught", "false_positive")}
        outcomes["review_minutes"] = len(units)
    return Health(
        exposed_units=len(units) + multiple,
        analysed_units=len(units),
        multiple_exposure_units=multiple,
        srm=srm,
        first_exposure=first,
        last_exposure=last,
        last_outcome=last,
        outcomes=outcomes,
        units_in_window=units_in_window,
        as_of=last + timedelta(hours=1),
    )


def analysis_data(sim: Sim, units: pd.DataFrame | None = None, **health_options) -> AnalysisData:
    units = sim.units() if units is None else units
    return AnalysisData(
        experiment="fraud-detector-v2",
        health=health(units, sim.shares, **health_options),
        metrics={
            "fraud_caught": aggregates(units, "fraud_caught", "proportion"),
            "false_positive": aggregates(units, "false_positive", "proportion"),
            "review_minutes": aggregates(units, "review_minutes", "mean", covariate="review_pre"),
        },
        serving=serving(sim.requests(units)),
        segments=("device",),
    )


def days_between(units: pd.DataFrame) -> float:
    """What the read-out takes as elapsed days (first to last exposure, at least 1)."""
    return max((max(units["day"]) - min(units["day"])).days + 23 / 24, 1.0)


def ceil(x: float) -> int:
    return math.ceil(x - 1e-9)
