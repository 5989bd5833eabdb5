"""What the database hands the statistics: sufficient statistics per variant, segment and day.

The aggregation layer (SQL through Ibis, where the data lives) fills these; the read-out
turns them into tests. Cells add, so one fine-grained GROUP BY (variant x day x segment
values) rolls up in Python to the overall numbers, per segment and cumulatively per day,
without touching rows again.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, fields
from datetime import date, datetime

from champion.stats.sufficient import CovariateStats, MeanStats, ProportionStats, RatioStats

__all__ = [
    "AnalysisData",
    "Cell",
    "CellKey",
    "Health",
    "LatencyHistogram",
    "MetricAggregates",
    "ServingStats",
    "SrmCount",
]


@dataclass(frozen=True, slots=True)
class Cell:
    """One metric's sums over the units of one variant in one slice.

    ``y`` is the unit's metric value (0/1 for proportions, the numerator for ratios); ``x``
    its pre-exposure covariate (CUPED; zeros without one); ``d`` a ratio's denominator.
    """

    n: float = 0.0
    sum_y: float = 0.0
    sum_y_sq: float = 0.0
    sum_x: float = 0.0
    sum_x_sq: float = 0.0
    sum_xy: float = 0.0
    sum_d: float = 0.0
    sum_d_sq: float = 0.0
    sum_yd: float = 0.0

    def __add__(self, other: Cell) -> Cell:
        return Cell(*(getattr(self, f.name) + getattr(other, f.name) for f in fields(Cell)))

    def proportion(self) -> ProportionStats:
        return ProportionStats(self.n, self.sum_y)

    def mean(self) -> MeanStats:
        return MeanStats(self.n, self.sum_y, self.sum_y_sq)

    def covariate(self) -> CovariateStats:
        return CovariateStats(
            self.n, self.sum_y, self.sum_y_sq, self.sum_x, self.sum_x_sq, self.sum_xy
        )

    def ratio(self) -> RatioStats:
        return RatioStats(self.n, self.sum_y, self.sum_y_sq, self.sum_d, self.sum_d_sq, self.sum_yd)


@dataclass(frozen=True, slots=True)
class CellKey:
    """Where a cell sits: ``segments`` holds (attribute, value) pairs of the unit's first exposure.

    The finest grain has every declared segment attribute; an empty tuple is everyone.
    ``day`` is the UTC date of the unit's first exposure; ``stratum`` the allocation version
    it was first exposed under (arms are compared within a stratum, then combined).
    """

    variant: str
    day: date
    segments: tuple[tuple[str, str], ...] = ()
    stratum: int = 1


@dataclass(frozen=True, slots=True)
class MetricAggregates:
    """All cells of one metric at the finest grain, with roll-ups computed in Python.

    ``histogram`` (quantile metrics only): per-variant counts of the units' values;
    ``segment_histograms`` the same per (attribute, value) of the declared segments.
    """

    metric: str
    kind: str
    cells: tuple[tuple[CellKey, Cell], ...]
    histogram: LatencyHistogram | None = None
    segment_histograms: tuple[tuple[tuple[str, str], LatencyHistogram], ...] = ()

    def segment_histogram(self, attribute: str, value: str) -> LatencyHistogram | None:
        """Per-variant counts of the values of units whose first exposure had
        ``attribute == value`` (quantile metrics), or None."""
        return dict(self.segment_histograms).get((attribute, value))

    def _sum(self, keep: Iterable[tuple[CellKey, Cell]]) -> dict[str, Cell]:
        out: dict[str, Cell] = {}
        for key, cell in keep:
            out[key.variant] = out.get(key.variant, Cell()) + cell
        return out

    def overall(self) -> dict[str, Cell]:
        """variant -> cell over every unit."""
        return self._sum(self.cells)

    def strata(self) -> dict[int, dict[str, Cell]]:
        """allocation version -> variant -> cell over the units first exposed under it."""
        out: dict[int, dict[str, Cell]] = {}
        for key, cell in self.cells:
            arms = out.setdefault(key.stratum, {})
            arms[key.variant] = arms.get(key.variant, Cell()) + cell
        return dict(sorted(out.items()))

    def by_segment_strata(self, attribute: str, value: str) -> dict[int, dict[str, Cell]]:
        """:meth:`strata` over the units whose first exposure had ``attribute == value``."""
        keep = [(k, c) for k, c in self.cells if (attribute, value) in k.segments]
        return MetricAggregates(self.metric, self.kind, tuple(keep)).strata()

    def segment_values(self, attribute: str) -> list[str]:
        return sorted({v for key, _ in self.cells for a, v in key.segments if a == attribute})

    def by_segment(self, attribute: str, value: str) -> dict[str, Cell]:
        """variant -> cell over units whose first exposure had ``attribute == value``."""
        return self._sum((k, c) for k, c in self.cells if (attribute, value) in k.segments)

    def days(self) -> list[date]:
        return sorted({key.day for key, _ in self.cells})

    def cumulative(self) -> Iterator[tuple[date, dict[int, dict[str, Cell]]]]:
        """(day, stratum -> variant -> cell over units first exposed up to that day)."""
        running: dict[int, dict[str, Cell]] = {}
        by_day: dict[date, list[tuple[CellKey, Cell]]] = {}
        for key, cell in self.cells:
            by_day.setdefault(key.day, []).append((key, cell))
        for day in sorted(by_day):
            for key, cell in by_day[day]:
                arms = running.setdefault(key.stratum, {})
                arms[key.variant] = arms.get(key.variant, Cell()) + cell
            yield day, {s: dict(arms) for s, arms in sorted(running.items())}


@dataclass(frozen=True, slots=True)
class LatencyHistogram:
    """Per-variant counts of served latencies in fixed log-spaced bins (shared ``edges``).

    Bin i holds latencies in [edges[i], edges[i+1]); the first and last bins are open-ended.
    Quantiles and their CIs come from these counts, so rows never leave the database.
    """

    edges: tuple[float, ...]
    counts: dict[str, tuple[int, ...]]


@dataclass(frozen=True, slots=True)
class ServingStats:
    """Per variant: exposed requests, requests whose model failed, latency distribution.

    A unit's requests are alike (one user's network, one user's inputs), so request-level
    guardrails need their variance per unit. Units are split into ``unit_buckets`` buckets
    by a hash of ``unit_id``; each bucket sums independent units, so the spread between
    buckets gives a variance that respects the clustering. Per variant and bucket:
    ``bucket_requests[v][b]``, ``bucket_errors[v][b]``, and ``bucket_latency[v]`` as
    (bucket, bin, requests) triples of the non-empty cells of the latency histogram.
    ``unit_buckets == 0``: no per-bucket sums (requests can only be taken as independent).
    """

    requests: dict[str, int]
    errors: dict[str, int]
    latency: LatencyHistogram
    unit_buckets: int = 0
    bucket_requests: dict[str, tuple[int, ...]] = field(default_factory=dict)
    bucket_errors: dict[str, tuple[int, ...]] = field(default_factory=dict)
    bucket_latency: dict[str, tuple[tuple[int, int, int], ...]] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class SrmCount:
    """Units first exposed under one allocation version, and the share they were given."""

    allocation_version: int
    variant: str
    units: int
    share: float


@dataclass(frozen=True, slots=True)
class Health:
    """Counts behind the health checks. Every exposed unit is analysed in the arm of its
    first exposure (intent to treat); ``crossovers`` counts, per that arm, the units that
    later saw another variant too (``multiple_exposure_units`` is their total)."""

    exposed_units: int  # distinct units with at least one counted exposure
    analysed_units: int  # units in the metrics: every exposed unit (intent to treat)
    multiple_exposure_units: int
    srm: tuple[SrmCount, ...]
    first_exposure: datetime | None
    last_exposure: datetime | None
    last_outcome: datetime | None
    outcomes: dict[str, int]  # outcome rows attributed, per metric
    units_in_window: int  # analysed units whose primary metric's window is still open
    as_of: datetime
    crossovers: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class AnalysisData:
    """Everything the read-out needs, computed where the data lives."""

    experiment: str
    health: Health
    metrics: dict[str, MetricAggregates]
    serving: ServingStats
    segments: tuple[str, ...] = field(default=())
