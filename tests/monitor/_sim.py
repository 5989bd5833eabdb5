"""Simulated live experiments, window by window, judged by the monitor's own rules.

**The world** (:class:`Traffic`, whole-array numpy, one day of windows at a time):

- *Units arrive and return.* ``units`` units; ``returning_share`` of them are there from
  the start, the others arrive at a uniform window of the ``days``. Each unit has a visit
  rate drawn lognormal(0, ``activity_sigma``): heavy users come back often (with 1.2 the
  top 1% of units send about 13% of the requests). A window holds
  Poisson(``requests_per_window / visit_requests``) visits, each by an arrived unit picked
  in proportion to its rate, each of geometric(mean ``visit_requests``) requests. A unit
  keeps its hash (uniform in [0, 1): the challenger's when below the stage's share) and its
  unit bucket (one of 64) for the whole run.
- *Errors.* Each unit has its own error propensity, Beta with mean ``error_rate`` and
  concentration ``error_concentration`` (a + b), so a unit's requests fail alike and only
  the variance between unit buckets is honest (the 14-day error rate's design effect is
  about 20).
- *Latency.* Each unit has its own median, lognormal around ``latency_median_ms`` (log-sd
  ``unit_latency_sigma``); its requests are lognormal around it (log-sd
  ``request_latency_sigma``): p95 about 130 ms, 0.8% of requests above 200 ms.
- *A change* (:class:`Change`): from window ``t0`` on, every challenger unit's error
  propensity is multiplied by ``error_factor`` (1% -> 2%: 2) and ``latency_shift_ms`` is
  added to every challenger request (+300 ms moves the median by 300 ms). ``t0`` is 0
  (``when="start"``) or the world's random window (``"random"``), uniform over the first
  ``change_within_days`` days (at least a day, or half the run, of traffic follows it).

One world serves every :class:`Scenario` of a run: a stage's windows before ``t0`` are the
same with or without the change (the same uniform draws decide the errors), so a changed
scenario starts from the unchanged one's state at ``t0`` (its judgements until then are
the same), and both stages see the same units and requests, split by the stage's share.

**The monitor.** Each window's sums are those of ``champion.monitor.windows`` (per variant:
requests, errors and latency sums per unit bucket, the latency histogram over
``HISTOGRAM_EDGES``). At every closed window (a tick) the judge is asked what
``champion.monitor.tick.judge`` asks: :func:`monitor_judge` is ``judge_slo`` on the
trailing windows (it reads only the last ``stop_after`` windows with data; the ones passed
always include them) plus ``judge_comparative`` on the sums of every window since the start
(kept as a running total of the arrays it reads: the same float additions, in the same
order, as ``totals``; the latency bins, which it never reads, are not summed). The run
stops at the first tick where a rule's ``stop`` is true, as ``tick._decide`` does.

**The spec** (:func:`make_spec`; ``allocation`` is the stage), in YAML::

    champion: champion
    challengers: [challenger]
    metrics:
      guardrails:
        - {name: error_rate, non_inferiority_margin: 0.0}
        - {name: latency_p95_ms, max: 200}
    monitor: {window_minutes: 5, min_window_requests: 100}   # stop_after 3, alpha 0.01

**The traffic** (:data:`TRAFFIC`): 24,000 requests an hour in all, 2,000 per 5-minute window
(200 challenger requests a window at the 10% stage, 1,000 at 50%), about 8 million in 14
days, 40,000 units. :func:`scaled` keeps the hourly rate for another window length.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any, Literal

import numpy as np
from scipy import stats

from champion.analysis.aggregate import HISTOGRAM_EDGES, UNIT_BUCKETS
from champion.monitor.rules import (
    DEFAULTS,
    SCAN_WINDOWS,
    RuleStatus,
    family_size,
    judge_change,
    judge_comparative,
    judge_slo,
    monitored,
)
from champion.spec.models import Experiment
from champion.stats.clustered import cluster_ratio_stats
from champion.stats.ratio import ratio_variance

__all__ = [
    "CHALLENGER",
    "CHAMPION",
    "DETECT_WITHIN",
    "ERRORS",
    "ERRORS_FROM_START",
    "JUDGES",
    "LATENCY",
    "SCENARIOS",
    "STAGES",
    "TRAFFIC",
    "Change",
    "Judge",
    "Outcome",
    "Scenario",
    "Summary",
    "Traffic",
    "World",
    "make_spec",
    "monitor_judge",
    "naive_judge",
    "pooled_judge",
    "run",
    "scaled",
    "summarize",
]

CHAMPION, CHALLENGER = "champion", "challenger"
VARIANTS = (CHAMPION, CHALLENGER)
START = datetime(2026, 1, 5, tzinfo=UTC)
DETECT_WITHIN = 5_000  # challenger requests from the change
BINS = len(HISTOGRAM_EDGES) - 1
_LOW_K = round(200 * math.log10(HISTOGRAM_EDGES[0]))  # edges are 10^(k/200), k from -400
_BIN_KEYS = np.array([str(i) for i in range(BINS)], dtype=object)
_SUMMED = ("requests", "errors", "latency")
GUARDRAILS = (
    {"name": "error_rate", "non_inferiority_margin": 0.0},
    {"name": "latency_p95_ms", "max": 200},
)


def make_spec(window_minutes: float = 5, share: float = 0.1, **monitor: Any) -> Experiment:
    """The simulated experiment's spec (module docstring), ``monitor`` overriding."""
    return Experiment.model_validate({
        "name": "monitor-sim",
        "models": {v: {"kind": "python", "target": f"m:{v}"} for v in VARIANTS},
        "champion": CHAMPION, "challengers": [CHALLENGER],
        "allocation": {CHAMPION: 1 - share, CHALLENGER: share},
        "metrics": {"primary": {"name": "converted"}, "guardrails": list(GUARDRAILS)},
        "monitor": {"window_minutes": window_minutes, "min_window_requests": 100, **monitor},
    })  # fmt: skip


@dataclass(frozen=True)
class Traffic:
    """The world's knobs (module docstring)."""

    requests_per_window: float = 2_000.0
    window_minutes: float = 5.0
    days: float = 14.0
    units: int = 40_000
    returning_share: float = 0.3
    activity_sigma: float = 1.2
    visit_requests: float = 3.0
    error_rate: float = 0.01
    error_concentration: float = 50.0
    latency_median_ms: float = 50.0
    unit_latency_sigma: float = 0.3
    request_latency_sigma: float = 0.5
    change_within_days: float = 13.0

    @property
    def windows(self) -> int:
        """Closed windows (ticks) in ``days``."""
        return round(self.days * 24 * 60 / self.window_minutes)

    @property
    def windows_per_day(self) -> int:
        return round(24 * 60 / self.window_minutes)

    @property
    def change_windows(self) -> int:
        """A random change comes at a uniform one of these first windows: the first
        ``change_within_days`` days, and at least a day (half the run) before the end."""
        days = min(self.change_within_days, max(self.days - 1, self.days / 2))
        return max(1, round(days * self.windows_per_day))


TRAFFIC = Traffic()


def scaled(traffic: Traffic, **changes: Any) -> Traffic:
    """``traffic`` with ``changes``; a new ``window_minutes`` keeps the hourly request rate."""
    out = replace(traffic, **changes)
    if "window_minutes" in changes and "requests_per_window" not in changes:
        rate = traffic.requests_per_window / traffic.window_minutes
        out = replace(out, requests_per_window=rate * out.window_minutes)
    return out


@dataclass(frozen=True)
class Change:
    """What happens to the challenger from the change on, and when (module docstring)."""

    error_factor: float = 1.0
    latency_shift_ms: float = 0.0
    when: Literal["start", "random"] = "random"


@dataclass(frozen=True)
class Scenario:
    """A stage (the challenger's share of units) and what changes for the challenger."""

    name: str
    share: float
    change: Change | None = None


STAGES = (0.10, 0.50)
ERRORS = Change(error_factor=2.0)
ERRORS_FROM_START = Change(error_factor=2.0, when="start")
LATENCY = Change(latency_shift_ms=300.0)
SCENARIOS = tuple(
    Scenario(f"{label}, {share:.0%} stage", share, change)
    for share in STAGES
    for label, change in (
        ("A/A", None),
        ("errors 1% -> 2% at a random time", ERRORS),
        ("errors 1% -> 2% from the start", ERRORS_FROM_START),
        ("latency +300 ms at a random time", LATENCY),
    )
)


@dataclass(frozen=True)
class Outcome:
    """One run of one scenario: whether and when the judge stopped it.

    ``requests`` and ``minutes`` run from the change (the start without one) to the end of
    the stopping tick's window: the challenger's requests and the time. ``inf`` when
    nothing stopped, and when the stop came before the change (``before_change``: not a
    detection).
    """

    stopped: bool
    tick: int  # the stopping window, -1 when none
    t0: int  # the change's window, -1 without one
    requests: float
    minutes: float
    rules: tuple[str, ...] = ()  # "guardrail rule" of each stopping rule
    requests_before: int = 0  # the challenger's requests before the change

    @property
    def before_change(self) -> bool:
        return self.stopped and self.t0 >= 0 and self.tick < self.t0


# -- the world ------------------------------------------------------------------------------


@dataclass
class _Requests:
    """One day block of requests (one row per request)."""

    w0: int
    windows: int
    local: np.ndarray  # window - w0
    hash: np.ndarray  # the unit's: the challenger's when below the share
    bucket: np.ndarray  # the unit's
    propensity: np.ndarray  # the unit's error propensity
    uniform: np.ndarray  # an error when below the (changed) propensity
    latency: np.ndarray
    bins: np.ndarray
    cells: dict[Any, tuple[np.ndarray, ...]] = field(default_factory=dict)


def _bins(latency: np.ndarray) -> np.ndarray:
    """``champion.analysis.aggregate.histogram_bin``: floor(200 log10(ms)) from k = -400."""
    k = np.floor(np.log10(np.maximum(latency, HISTOGRAM_EDGES[0])) * 200) - _LOW_K
    return np.clip(k, 0, BINS - 1).astype(np.int64)


def _sums(requests: np.ndarray, errors: np.ndarray, latency: np.ndarray, hist: np.ndarray) -> dict:
    nz = np.flatnonzero(hist)
    return {
        "requests": requests.tolist(),
        "errors": errors.tolist(),
        "latency": latency.tolist(),
        "bins": dict(zip(_BIN_KEYS[nz].tolist(), hist[nz].tolist(), strict=True)),
    }


class World:
    """One experiment's units and traffic. :meth:`window` gives a window's sums at a stage,
    with or without a change."""

    def __init__(self, traffic: Traffic, key: tuple[int, ...]) -> None:
        t, n = traffic, traffic.units
        self.traffic, self.key = traffic, key
        rng = np.random.default_rng((*key, 0))
        arrival = np.where(rng.random(n) < t.returning_share, 0, rng.integers(0, t.windows, n))
        arrival.sort()  # units in the order they arrive; their other draws are iid
        self.present = np.searchsorted(arrival, np.arange(t.windows), side="right")
        self.cum_rate = np.cumsum(rng.lognormal(0.0, t.activity_sigma, n))
        self.hash = rng.random(n)
        self.bucket = rng.integers(0, UNIT_BUCKETS, n)
        a = t.error_rate * t.error_concentration
        self.propensity = rng.beta(a, t.error_concentration - a, n)
        self.median = t.latency_median_ms * rng.lognormal(0.0, t.unit_latency_sigma, n)
        self.t0 = int(rng.integers(0, t.change_windows))
        self._block: _Requests | None = None

    def t0_of(self, change: Change | None) -> int:
        """The change's window (-1 without one)."""
        if change is None:
            return -1
        return 0 if change.when == "start" else self.t0

    def _requests(self, w: int) -> _Requests:
        """The day block holding window ``w``: the same draws whenever it is drawn."""
        b = self._block
        if b is not None and b.w0 <= w < b.w0 + b.windows:
            return b
        t = self.traffic
        w0 = w - w % t.windows_per_day
        rng = np.random.default_rng((*self.key, 1, w0 // t.windows_per_day))
        k = min(t.windows_per_day, t.windows - w0)
        visits = rng.poisson(t.requests_per_window / t.visit_requests, k)
        window = np.repeat(np.arange(w0, w0 + k), visits)
        total = self.cum_rate[self.present[window] - 1]
        unit = np.searchsorted(self.cum_rate, rng.random(window.size) * total, side="right")
        size = rng.geometric(1.0 / t.visit_requests, window.size)
        unit, local = np.repeat(unit, size), np.repeat(window - w0, size)
        uniform = rng.random(unit.size)
        latency = self.median[unit] * rng.lognormal(0.0, t.request_latency_sigma, unit.size)
        self._block = _Requests(
            w0, k, local, self.hash[unit], self.bucket[unit], self.propensity[unit], uniform,
            latency, _bins(latency),
        )  # fmt: skip
        return self._block

    def _cells(self, b: _Requests, share: float, change: Change | None) -> tuple[np.ndarray, ...]:
        """(requests, errors, latency) per (window, variant, bucket) and the histogram per
        (window, variant, bin) of block ``b`` at ``share`` with ``change``."""
        t0 = self.t0_of(change)
        key = (share, change if t0 >= 0 and b.w0 + b.windows > t0 else None)
        if key in b.cells:
            return b.cells[key]
        k, p = b.windows, b.propensity
        arm = (b.hash < share).astype(np.int64)
        if key[1] is None:
            rows = slice(None)
            errors, latency, bins = b.uniform < p, b.latency, b.bins
        else:  # the champion's cells are the unchanged ones; the challenger's again
            assert change is not None
            base = self._cells(b, share, None)
            rows = arm == 1
            after = b.local[rows] + b.w0 >= t0
            p = np.where(after, np.minimum(1.0, change.error_factor * p[rows]), p[rows])
            errors = b.uniform[rows] < p
            latency = b.latency[rows] + np.where(after, change.latency_shift_ms, 0.0)
            bins = _bins(latency) if change.latency_shift_ms else b.bins[rows]
        window = b.local[rows] * 2 + arm[rows]
        cell = window * UNIT_BUCKETS + b.bucket[rows]
        shape, size = (k, 2, UNIT_BUCKETS), k * 2 * UNIT_BUCKETS
        out = [
            np.bincount(cell, minlength=size).reshape(shape),
            np.bincount(cell, weights=errors, minlength=size).astype(np.int64).reshape(shape),
            np.bincount(cell, weights=latency, minlength=size).reshape(shape),
            np.bincount(window * BINS + bins, minlength=k * 2 * BINS).reshape(k, 2, BINS),
        ]  # fmt: skip
        if key[1] is not None:
            for mine, theirs in zip(out, base, strict=True):
                mine[:, 0] = theirs[:, 0]
        b.cells[key] = tuple(out)
        return b.cells[key]

    def window(self, w: int, share: float, change: Change | None = None) -> _Window:
        """Window ``w``'s sums at ``share`` (the challenger's share of units)."""
        b = self._requests(w)
        cells = self._cells(b, share, change)
        i = w - b.w0
        arrays = {v: tuple(c[i, j] for c in cells) for j, v in enumerate(VARIANTS)}
        return _Window(arrays, (START + w * timedelta(minutes=self.traffic.window_minutes)))


@dataclass
class _Window:
    arrays: dict[str, tuple[np.ndarray, ...]]
    start: datetime
    _sums: dict[str, dict[str, Any]] | None = None

    @property
    def sums(self) -> dict[str, dict[str, Any]]:
        """The variant -> sums mapping the registry stores for this window."""
        if self._sums is None:
            self._sums = {v: _sums(*a) for v, a in self.arrays.items()}
        return self._sums

    def requests(self, variant: str) -> int:
        return int(self.arrays[variant][0].sum())


# -- the judges -----------------------------------------------------------------------------

Judge = Callable[..., list[RuleStatus]]
Marks = dict[int, dict[str, dict[str, Any]]]


def monitor_judge(
    spec: Experiment, recent: Sequence[dict[str, dict[str, Any]]], starts: Sequence[str],
    summed: dict[str, dict[str, Any]], last: str, *, marks: Marks | None = None, tick: int = 0,
) -> list[RuleStatus]:  # fmt: skip
    """``tick.judge``: the SLO rules on the trailing windows, the comparative ones on the
    sums since the start, and their change scan on the running totals ``marks``."""
    return [
        *judge_slo(spec, recent, starts),
        *judge_comparative(spec, summed, last),
        *judge_change(spec, summed, marks or {}, tick, last),
    ]


def naive_judge(
    spec: Experiment, recent: Sequence[dict[str, dict[str, Any]]], starts: Sequence[str],
    summed: dict[str, dict[str, Any]], last: str, *, alpha: float | None = None, **_: Any,
) -> list[RuleStatus]:  # fmt: skip
    """A rule that must break the A/A bound: the fixed-horizon one-sided z-test of the
    cumulative error-rate difference (the same unit-bucket variance and binomial floor as
    the monitor's), at ``alpha`` (default the monitor's per-rule alpha), read at every tick
    as if it were the only look."""
    settings = spec.monitor or DEFAULTS
    alpha = settings.alpha / family_size(spec) if alpha is None else alpha
    est, var, n = [], [], []
    for v in (CHALLENGER, CHAMPION):
        arm = cluster_ratio_stats(summed[v]["errors"], summed[v]["requests"])
        requests = max(arm.sum_den, 1.0)
        rate = arm.sum_num / requests
        floor = max(rate * (1 - rate), 1.0 / requests) / requests
        spread = ratio_variance(arm)
        est.append(rate)
        var.append(max(spread, floor) if math.isfinite(spread) else floor)
        n.append(arm.sum_den)
    z = (est[0] - est[1]) / math.sqrt(var[0] + var[1])
    reject = min(n) >= settings.min_window_requests and z > stats.norm.ppf(1 - alpha)
    return [RuleStatus("error_rate", CHALLENGER, f"fixed-horizon z-test at {alpha:g}",
                       "comparative", "violation" if reject else "pass", est[0] - est[1], z,
                       0.0, int(reject), 1, int(n[0]), last, alpha)]  # fmt: skip


def pooled_judge(
    spec: Experiment, recent: Sequence[dict[str, dict[str, Any]]], starts: Sequence[str],
    summed: dict[str, dict[str, Any]], last: str, *, marks: Marks | None = None, tick: int = 0,
) -> list[RuleStatus]:  # fmt: skip
    """The monitor's own rules with the unit buckets of the running totals merged into one:
    the comparative rules are left with their binomial variance floor, as if each request
    were its own unit. Shows what the unit-bucket variance is worth with heavy users."""

    def merge(sums: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
        return {
            v: {k: np.r_[np.sum(a), np.zeros(len(a) - 1)] for k, a in arrays.items()}
            for v, arrays in sums.items()
        }

    marked = {lookback: merge(m) for lookback, m in (marks or {}).items()}
    return monitor_judge(spec, recent, starts, merge(summed), last, marks=marked, tick=tick)


#: judges by name (the report's processes look them up)
JUDGES: dict[str, Judge] = {
    "monitor": monitor_judge,
    "naive": naive_judge,  # at the monitor's per-rule alpha
    "dashboard": partial(naive_judge, alpha=0.05),  # "the one-sided 95% bound is above 0"
    "pooled": pooled_judge,
}


# -- a run ----------------------------------------------------------------------------------


class _Path:
    """The monitor's state along one scenario: the running sums and the trailing windows."""

    def __init__(self, spec: Experiment, judge: Judge) -> None:
        settings = spec.monitor or DEFAULTS
        self.spec, self.judge, self.minimum = spec, judge, settings.min_window_requests
        self.keep = max((g.stop_after or settings.stop_after for g in monitored(spec)), default=1)
        self.summed = {v: {k: np.zeros(UNIT_BUCKETS) for k in _SUMMED} for v in VARIANTS}
        self.recent: deque[tuple[_Window, bool]] = deque()
        self.running: deque[dict[str, dict[str, Any]]] = deque(maxlen=max(SCAN_WINDOWS) + 1)
        self.stopped: tuple[int, tuple[str, ...]] | None = None

    def fork(self) -> _Path:
        out = _Path.__new__(_Path)
        out.__dict__.update(self.__dict__)
        out.summed = {v: {k: a.copy() for k, a in s.items()} for v, s in self.summed.items()}
        out.recent = deque(self.recent)
        out.running = deque(self.running, maxlen=self.running.maxlen)
        return out

    def tick(self, w: int, window: _Window) -> None:
        for v, arrays in window.arrays.items():
            acc = self.summed[v]
            for k, a in zip(_SUMMED, arrays, strict=False):
                acc[k] += a  # totals(): float64 sums, window by window
        data = all(window.requests(v) >= self.minimum for v in VARIANTS)
        self.recent.append((window, data))
        while sum(d for _, d in list(self.recent)[1:]) >= self.keep:  # never read again
            self.recent.popleft()
        starts = [x.start.isoformat() for x, _ in self.recent]
        recent = [x.sums for x, _ in self.recent]
        # the running totals up to the window before the last L (tick.change_marks)
        marks = {L: self.running[-L] for L in SCAN_WINDOWS if len(self.running) >= L}
        rules = self.judge(self.spec, recent, starts, self.summed, starts[-1], marks=marks, tick=w)
        self.running.append(
            {v: {k: a.copy() for k, a in s.items()} for v, s in self.summed.items()}
        )
        stopping = tuple(f"{r.guardrail} {r.rule}" for r in rules if r.stop)
        if stopping:
            self.stopped = (w, stopping)


def _outcome(path: _Path, t0: int, windows: Sequence[_Window], minutes: float) -> Outcome:
    """``windows``: the challenger's windows from the start up to the last tick."""
    before = sum(x.requests(CHALLENGER) for x in windows[: max(t0, 0)])
    if path.stopped is None:
        return Outcome(False, -1, t0, math.inf, math.inf, (), before)
    w, rules = path.stopped
    start = max(t0, 0)
    if w < start:
        return Outcome(True, w, t0, math.inf, math.inf, rules, before)
    after = sum(x.requests(CHALLENGER) for x in windows[start : w + 1])
    return Outcome(True, w, t0, after, (w + 1 - start) * minutes, rules, before)


def run(
    scenarios: Sequence[Scenario], seed: int, i: int, *, traffic: Traffic = TRAFFIC,
    judge: Judge = monitor_judge, spec: Callable[[Traffic, float], Experiment] | None = None,
) -> list[Outcome]:  # fmt: skip
    """World ``i`` (random numbers from ``(seed, i)``) under every scenario, ticked at every
    closed window until the judge stops it or ``traffic.days`` have passed."""
    world = World(traffic, (seed, i))
    make = spec or (lambda t, share: make_spec(t.window_minutes, share))
    stages = [
        _Stage(world, share, [s for s in scenarios if s.share == share], make(traffic, share),
               judge)
        for share in dict.fromkeys(s.share for s in scenarios)
    ]  # fmt: skip
    for w in range(traffic.windows):
        live = [stage for stage in stages if not stage.done]
        if not live:
            break
        for stage in live:
            stage.step(w)
    out = {s: o for stage in stages for s, o in stage.outcomes().items()}
    return [out[s] for s in scenarios]


class _Stage:
    """Every scenario of one stage: the unchanged path, and one fork per changed scenario
    from the unchanged path's state at its change."""

    def __init__(
        self, world: World, share: float, scenarios: Sequence[Scenario], spec: Experiment,
        judge: Judge,
    ) -> None:  # fmt: skip
        self.world, self.share, self.scenarios = world, share, scenarios
        self.base = _Path(spec, judge)
        self.t0 = {s: world.t0_of(s.change) for s in scenarios}
        aa = any(s.change is None for s in scenarios)
        self.needed = max([*self.t0.values(), world.traffic.windows if aa else 0]) + 1
        self.paths: dict[Scenario, _Path] = {}
        self.seen: dict[Scenario, list[_Window]] = {}
        self.history: list[_Window] = []  # the unchanged windows
        self.done = False

    def step(self, w: int) -> None:
        unchanged = self.world.window(w, self.share)
        for s, t0 in self.t0.items():
            if t0 == w:
                self.paths[s], self.seen[s] = self.base.fork(), list(self.history)
        self.history.append(unchanged)
        if w < self.needed and self.base.stopped is None:
            self.base.tick(w, unchanged)
        for s, path in self.paths.items():
            if path.stopped is None:
                window = self.world.window(w, self.share, s.change)
                self.seen[s].append(window)
                path.tick(w, window)
        base_done = self.base.stopped is not None or w + 1 >= self.needed
        forks = sum(t0 >= 0 for t0 in self.t0.values())
        forks_done = len(self.paths) == forks and all(
            p.stopped is not None for p in self.paths.values()
        )
        self.done = base_done and forks_done

    def outcomes(self) -> dict[Scenario, Outcome]:
        minutes = self.world.traffic.window_minutes
        out = {}
        for s in self.scenarios:
            if s in self.paths:
                out[s] = _outcome(self.paths[s], self.t0[s], self.seen[s], minutes)
            else:  # no change, or the run ended (stopped) before it
                out[s] = _outcome(self.base, self.t0[s], self.history, minutes)
        return out


# -- summaries ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Summary:
    """One scenario over many runs."""

    runs: int
    stops: int
    detected: int  # stops within DETECT_WITHIN challenger requests of the change
    prompt: int  # stops within ``windows`` windows of the change (the SLO rules' stop_after)
    before_change: int
    median_requests: float  # inf when half the runs or more never stopped after the change
    median_minutes: float

    @property
    def p_stop(self) -> float:
        return self.stops / self.runs

    @property
    def p_detect(self) -> float:
        return self.detected / self.runs

    @property
    def p_prompt(self) -> float:
        return self.prompt / self.runs

    @staticmethod
    def se(rate: float, runs: int) -> float:
        """Monte-Carlo standard error of a rate over ``runs`` runs."""
        return math.sqrt(max(rate * (1 - rate), 0.0) / runs) if runs else math.nan


def summarize(outcomes: Iterable[Outcome], windows: int = DEFAULTS.stop_after) -> Summary:
    """Rates and medians of ``outcomes``; ``prompt`` counts stops within ``windows``."""
    o = list(outcomes)
    requests = np.array([x.requests for x in o], float)
    minutes = np.array([x.minutes for x in o], float)
    prompt = sum(x.stopped and 0 <= x.tick - max(x.t0, 0) < windows for x in o)
    return Summary(
        len(o), sum(x.stopped for x in o), int((requests <= DETECT_WITHIN).sum()), prompt,
        sum(x.before_change for x in o),
        float(np.median(requests)) if o else math.nan,
        float(np.median(minutes)) if o else math.nan,
    )  # fmt: skip
