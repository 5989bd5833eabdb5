"""One simulated experiment, day by day, as users really run them; and what the analysis reads.

:class:`Scenario` holds the knobs, :func:`draw` draws one experiment from them (whole-array
numpy, a few milliseconds for 20,000 units) and :meth:`World.analysis_data` turns the world
as of a read time into the :class:`~champion.analysis.aggregates.AnalysisData` that
``load_analysis_data`` would compute from the same events. Time is in days from
:data:`START`; day ``d`` is ``[d, d + 1)``; a read "on day t" sees what happened before
``START + t days``.

The world:

- **Arrivals.** Each day a Poisson(``units_per_day``) number of new units make their first
  visit at a uniform time of that day (their first exposure). A unit is heavy with chance
  ``heavy_share``, else light.
- **Buckets and ramps.** Each unit has a fixed bucket ``u`` in [0, 1) (its hash). Stage j
  of ``stages`` starts on day ``start_j`` and gives the challenger the share ``share_j``:
  a visit on a day of stage j sees the challenger when ``u < share_j``. Shares only grow,
  so a ramp moves champion units with ``share_before <= u < share_after`` to the
  challenger and never back. The allocation version of stage j is ``j + 1``; an exposure
  logs its variant's share at that version as its probability.
- **Returning users.** After its first day a unit comes back on each later day with the
  chance ``return_rate`` of its engagement (heavy users return more). A champion unit
  that comes back on a day when its bucket is the challenger's crosses over: it sees the
  challenger from then on (intent to treat keeps it in the champion's arm).
- **Outcomes.** The metric's value is decided by the arm of the unit's first exposure (the
  model that served it first), so the intent-to-treat effect is exactly ``lift``:
  proportion: converts with chance ``b(day) * k * (1 + lift)`` (challenger) or
  ``b(day) * k`` (champion), one outcome at a uniform time inside the window;
  mean: ``m * k + lift * |m * k| + shift`` for the challenger, plus normal noise of sd
  ``sd``, one outcome row inside the window. ``b(day)`` (or ``m``) drifts linearly from
  ``baseline[0]`` on the first day to ``baseline[1]`` on the last; ``k`` is the engagement
  multiplier (heavy users convert more; its mean over arrivals is 1, so ``baseline`` is the
  champion's mean over new units of a day).

What the analysis would read (``analysis_data``), both as the old ``load_analysis_data``
did (``itt=False``: units that saw two variants dropped from every metric, cells per
variant x day) and as the new one does (``itt=True``: every unit in the arm of its first
exposure, cells per variant x day x stratum, ``Health.crossovers``). The default follows
the code installed: ITT when ``CellKey`` has a ``stratum``.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import numpy as np

from champion.analysis.aggregate import HISTOGRAM_EDGES
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

__all__ = [
    "CHALLENGER",
    "CHAMPION",
    "ITT",
    "LATENCY_MS",
    "START",
    "Scenario",
    "World",
    "draw",
]

START = datetime(2024, 6, 3, tzinfo=UTC)
CHAMPION, CHALLENGER = "v1", "v2"
VARIANTS = (CHAMPION, CHALLENGER)
#: True when the installed analysis keeps crossovers in their first arm (intent to treat):
#: its cells carry the allocation version of first exposure (``CellKey.stratum``).
ITT = "stratum" in {f.name for f in dataclasses.fields(CellKey)}
_HEALTH_FIELDS = {f.name for f in dataclasses.fields(Health)}
#: Every request is served in LATENCY_MS: bin 660 of the histogram's log-spaced edges.
LATENCY_MS = 20.0
_LATENCY_BIN = 660


@dataclass(frozen=True)
class Scenario:
    """The knobs of one kind of experiment (see the module docstring for the model)."""

    name: str = "scenario"
    kind: str = "proportion"  # or "mean"
    metric: str = "converted"
    days: int = 14  # days of traffic (the design's max_duration_days)
    units_per_day: float = 1_400.0
    stages: tuple[tuple[int, float], ...] = ((0, 0.5),)  # (first day, challenger share)
    baseline: tuple[float, float] = (0.15, 0.15)  # champion value on the first / last day
    lift: float = 0.0  # true relative effect of the challenger (diff / |champion|)
    shift: float = 0.0  # mean metrics: an absolute effect added on top (a zero-mean champion)
    window_days: float = 3.0
    heavy_share: float = 0.2
    heavy_value: float = 2.75  # a heavy unit's value relative to the mean over arrivals
    return_rate: tuple[float, float] = (0.03, 0.5)  # daily return chance: light, heavy
    sd: float = 3.0  # mean metrics: noise around a unit's expected value

    def __post_init__(self) -> None:
        starts = [s for s, _ in self.stages]
        shares = [p for _, p in self.stages]
        if starts[0] != 0 or starts != sorted(starts) or shares != sorted(shares):
            raise ValueError(f"{self.name}: stages start on day 0 and only ramp up: {self.stages}")
        if not 0 <= self.heavy_share * self.heavy_value <= 1:
            raise ValueError(f"{self.name}: heavy_share * heavy_value must lie in [0, 1]")

    @property
    def versions(self) -> int:
        return len(self.stages)

    def share_on(self, day: np.ndarray) -> np.ndarray:
        """The challenger's share on each day (of its stage)."""
        starts = np.array([s for s, _ in self.stages])
        shares = np.array([p for _, p in self.stages])
        return shares[np.searchsorted(starts, day, side="right") - 1]

    def version_on(self, day: np.ndarray) -> np.ndarray:
        starts = np.array([s for s, _ in self.stages])
        return np.searchsorted(starts, day, side="right")  # 1-based

    def level(self, day: np.ndarray) -> np.ndarray:
        """The champion's mean value over the day's arrivals (linear drift)."""
        lo, hi = self.baseline
        span = max(self.days - 1, 1)
        return lo + (hi - lo) * np.asarray(day, dtype=float) / span

    def multipliers(self) -> tuple[float, float]:
        """(light, heavy) value multipliers whose mean over arrivals is 1."""
        h, k = self.heavy_share, self.heavy_value
        return (1.0 - h * k) / (1.0 - h), k


@dataclass(frozen=True)
class World:
    """One drawn experiment: a row per unit, as arrays (times in days from START)."""

    scenario: Scenario
    first: np.ndarray  # instant of the first exposure
    day: np.ndarray  # its day
    version: np.ndarray  # allocation version of the first exposure (1-based)
    arm: np.ndarray  # 0 champion, 1 challenger: the variant of the first exposure
    heavy: np.ndarray
    crossed_at: np.ndarray  # first exposure to the other variant (inf: never)
    y: np.ndarray  # the metric's value once the window has closed
    expected: np.ndarray  # the champion's expected value for this unit (the truth's base)
    outcome_at: np.ndarray  # instant of the unit's outcome row (inf: no row)

    @property
    def units(self) -> int:
        return int(self.first.size)

    def truth(self, as_of: float) -> tuple[float, float]:
        """(true diff, true relative lift) over the units counted at ``as_of``.

        The diff is the average effect over those units (every unit weighs the same), the
        relative lift that over ``|champion's mean|``: ``lift`` itself whatever the weights
        when ``shift`` is 0 (every unit's effect is ``lift * |its champion value|``).
        """
        sc = self.scenario
        base = self.expected[self.first + sc.window_days <= as_of]
        if not base.size:
            return math.nan, math.nan
        diff = float(sc.lift * np.abs(base).mean() + sc.shift)
        mean = abs(float(base.mean()))
        if sc.shift == 0:
            return diff, sc.lift
        return diff, (diff / mean if mean > 0 else math.nan)

    def analysis_data(
        self, as_of: float, *, itt: bool | None = None, latency: bool = True
    ) -> AnalysisData:
        """What ``load_analysis_data(store, spec, as_of=START + as_of days)`` returns.

        Exposures and outcomes after ``as_of`` do not exist yet; a unit counts in the
        metric once ``first + window_days <= as_of``; SRM counts every exposed unit by the
        allocation version and variant of its first exposure. ``latency=False`` leaves the
        latency histogram empty: without a latency guardrail it changes no decision, and
        the read-out then skips six quantiles (half its time in the harness).
        """
        itt = ITT if itt is None else itt
        sc = self.scenario
        versions = sc.versions
        exposed = self.first < as_of
        crossed = exposed & (self.crossed_at < as_of)
        analysed = exposed if itt else exposed & ~crossed
        counted = analysed & (self.first + sc.window_days <= as_of)
        # cells: variant x day x stratum (ITT) or variant x day (old)
        strata = versions if itt else 1
        stratum = (self.version - 1) if itt else np.zeros_like(self.version)
        key = (self.arm * sc.days + self.day) * strata + stratum
        size = 2 * sc.days * strata
        k = key[counted]
        y = self.y[counted]
        n = np.bincount(k, minlength=size)
        sy = np.bincount(k, weights=y, minlength=size)
        syy = np.bincount(k, weights=y * y, minlength=size)
        cells = []
        for index in np.flatnonzero(n):
            arm_day, s = divmod(int(index), strata)
            arm, d = divmod(arm_day, sc.days)
            when = (START + timedelta(days=d)).date()
            cell_key = _key(VARIANTS[arm], when, s + 1, itt)
            cells.append(
                (
                    cell_key,
                    Cell(n=float(n[index]), sum_y=float(sy[index]), sum_y_sq=float(syy[index])),
                )
            )
        metric = MetricAggregates(sc.metric, sc.kind, tuple(cells))

        # SRM: every exposed unit by (version, variant) of its first exposure
        srm_key = (self.version[exposed] - 1) * 2 + self.arm[exposed]
        srm_n = np.bincount(srm_key, minlength=2 * versions)
        shares = [p for _, p in sc.stages]
        srm = tuple(
            SrmCount(v + 1, VARIANTS[a], int(srm_n[2 * v + a]), shares[v] if a else 1 - shares[v])
            for v in range(versions)
            for a in (0, 1)
            if srm_n[2 * v + a]
        )
        cross_n = np.bincount(self.arm[crossed], minlength=2)
        requests = np.bincount(self.arm[exposed], minlength=2) + cross_n[::-1]
        outcomes = int(np.count_nonzero(analysed & (self.outcome_at < as_of)))
        last_outcome = self.outcome_at[analysed & (self.outcome_at < as_of)]
        spans = np.concatenate([self.first[exposed], self.crossed_at[crossed]])
        total = int(np.count_nonzero(exposed))
        values = {
            "exposed_units": total,
            "analysed_units": int(np.count_nonzero(analysed)),
            "multiple_exposure_units": int(np.count_nonzero(crossed)),
            "srm": srm,
            "first_exposure": _at(spans.min()) if spans.size else None,
            "last_exposure": _at(spans.max()) if spans.size else None,
            "last_outcome": _at(last_outcome.max()) if last_outcome.size else None,
            "outcomes": {sc.metric: outcomes},
            "units_in_window": int(np.count_nonzero(analysed & ~counted)),
            "as_of": _at(as_of),
        }
        if "crossovers" in _HEALTH_FIELDS:
            values["crossovers"] = {VARIANTS[a]: int(cross_n[a]) for a in (0, 1)}
        bins = len(HISTOGRAM_EDGES) - 1
        histogram = {}
        for a, v in enumerate(VARIANTS if latency else ()):
            counts = [0] * bins
            counts[_LATENCY_BIN] = int(requests[a])
            histogram[v] = tuple(counts)
        return AnalysisData(
            experiment="validity",
            health=Health(**values),
            metrics={sc.metric: metric},
            serving=ServingStats(
                requests={v: int(requests[a]) for a, v in enumerate(VARIANTS)},
                errors=dict.fromkeys(VARIANTS, 0),
                latency=LatencyHistogram(HISTOGRAM_EDGES, histogram),
            ),
        )


def _key(variant: str, day: date, stratum: int, itt: bool) -> CellKey:
    return CellKey(variant, day, (), stratum) if itt else CellKey(variant, day, ())


def _at(days: float) -> datetime:
    return START + timedelta(days=float(days))


def draw(scenario: Scenario, rng: np.random.Generator) -> World:
    """One experiment of ``scenario`` drawn with ``rng`` (whole arrays, no Python loop)."""
    sc = scenario
    per_day = rng.poisson(sc.units_per_day, sc.days)
    day = np.repeat(np.arange(sc.days), per_day)
    n = day.size
    first = day + rng.random(n)
    heavy = rng.random(n) < sc.heavy_share
    bucket = rng.random(n)
    arm = (bucket < sc.share_on(day)).astype(np.int64)
    version = sc.version_on(day)
    # Crossover: a champion unit's first return on or after the first day its bucket is the
    # challenger's (and after its own first day), while traffic still flows.
    starts = np.array([s for s, _ in sc.stages] + [sc.days], dtype=float)
    shares = np.array([p for _, p in sc.stages] + [np.inf])
    moved = np.searchsorted(shares, bucket, side="right")  # first stage whose share > u
    moved_on = np.where(moved < len(sc.stages), starts[np.minimum(moved, len(sc.stages))], np.inf)
    light_rate, heavy_rate = sc.return_rate
    rate = np.where(heavy, heavy_rate, light_rate)
    earliest = np.maximum(day + 1.0, moved_on)
    back_on = earliest + rng.geometric(np.clip(rate, 1e-12, 1.0)) - 1
    crossed_at = np.where(
        (arm == 0) & (back_on < sc.days) & (rate > 0), back_on + rng.random(n), np.inf
    )
    k_light, k_heavy = sc.multipliers()
    base = sc.level(day) * np.where(heavy, k_heavy, k_light)
    effect = arm * (sc.lift * np.abs(base) + sc.shift)
    inside = first + sc.window_days * rng.random(n)
    if sc.kind == "proportion":
        p = np.clip(base + effect, 0.0, 1.0)
        y = (rng.random(n) < p).astype(float)
        outcome_at = np.where(y > 0, inside, np.inf)
    elif sc.kind == "mean":
        y = base + effect + sc.sd * rng.standard_normal(n)
        outcome_at = inside
    else:
        raise ValueError(f"kind must be proportion or mean, got {sc.kind!r}")
    return World(sc, first, day, version, arm, heavy, crossed_at, y, base, outcome_at)
