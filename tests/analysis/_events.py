"""Experiments with known truth, logged through the real event writer.

``write_experiment(target, spec, ...)`` draws units, assigns them, serves them requests
(exposures with latency and errors) and logs what they later do (outcomes) for every
metric of ``spec``; it returns the :class:`Truth` the analysis should recover. The data has
the flaws real logs have, each switchable: duplicated events, units exposed to two
variants, logged requests outside the experiment, outcomes before the exposure and after
the window, missing segment attributes.

Per-unit values (what the analysis calls ``y``):
- proportion: converts with the variant's rate (one outcome of value 1 inside the window;
  some non-converters log a 0, which must not count);
- mean / quantile: with probability ``PURCHASE_SHARE`` a lognormal amount (split over one
  to three outcome rows inside the window), else nothing, so the mean per unit is the value;
- ratio: ``denominator`` ~ 1 + Poisson(2) rows of value 1, ``numerator`` = that count times
  a lognormal with mean the variant's value, so the ratio of means is the value.
A covariate metric gets a pre-period value driven by the same unit-level latent as the
in-window value (correlation ``covariate_correlation`` on the log scale).
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np

from champion.events import EventWriter, Exposure, Outcome, open_writer
from champion.spec.models import Experiment

__all__ = ["PURCHASE_SHARE", "Truth", "make_spec", "write_experiment"]

PURCHASE_SHARE = 0.7
_SIGMA = 0.6  # log-scale spread of amounts
_DEFAULT_VALUES = {"proportion": 0.1, "mean": 10.0, "quantile": 10.0, "ratio": 5.0}
_DEFAULT_SEGMENT_VALUES = ("a", "b")


@dataclass(frozen=True)
class Truth:
    """What was generated: assignments, expected values and effects, serving parameters.

    ``values[metric][variant]`` is the expected per-unit value (a rate for proportions, a
    mean per unit, the ratio of means for ratios) over the generated segment mix;
    ``effects[metric][challenger]`` is ``values[challenger] - values[champion]``.
    """

    experiment: str
    start: datetime
    end: datetime
    variant_of: dict[str, str]  # unit -> variant of its first exposure
    units: dict[str, int]  # variant -> units first exposed to it
    multiple: frozenset[str]  # units also exposed to another variant
    values: dict[str, dict[str, float]]
    effects: dict[str, dict[str, float]]
    split: dict[str, float]  # shares units were actually assigned with
    logged: dict[str, float]  # shares logged as each exposure's probability
    latency_ms: dict[str, float]  # median per variant
    error_rate: dict[str, float]
    exposures: int = 0
    outcomes: int = 0
    segment_values: dict[str, tuple[str, ...]] = field(default_factory=dict)


def _open(target: Any) -> tuple[list[EventWriter], list[EventWriter]]:
    """Writers for ``target`` (one or several), and those this module must close."""
    items = target if isinstance(target, Sequence) and not isinstance(target, str) else [target]
    writers, owned = [], []
    for item in items:
        if isinstance(item, EventWriter):
            writers.append(item)
        else:
            writer = open_writer(os.fspath(item), flush_events=50_000, max_buffer=1_000_000)
            writers.append(writer)
            owned.append(writer)
    return writers, owned


def _log(writers: list[EventWriter], event: Any) -> None:
    for writer in writers:
        if not writer.log(event):  # buffer full: let the thread catch up
            writer.flush()
            if not writer.log(event):
                raise RuntimeError("the event writer refused an event twice")


def _variant_values(
    spec: Experiment,
    values: Mapping[str, Mapping[str, float]],
    lift: Mapping[str, float],
) -> dict[str, dict[str, float]]:
    """metric -> variant -> value before segment lifts."""
    out: dict[str, dict[str, float]] = {}
    for m in spec.metrics.all():
        given = dict(values.get(m.name, {}))
        base = given.get(spec.champion, _DEFAULT_VALUES[m.kind])
        out[m.name] = {
            v: given.get(v, base if v == spec.champion else base * (1 + lift.get(m.name, 0.0)))
            for v in spec.variants
        }
    return out


def write_experiment(
    target: Any,
    spec: Experiment,
    *,
    units: int = 2_000,
    values: Mapping[str, Mapping[str, float]] | None = None,
    lift: Mapping[str, float] | None = None,
    segments: Mapping[str, Mapping[str, float]] | None = None,
    segment_lift: Mapping[tuple[str, str], float] | None = None,
    latency_ms: Mapping[str, float] | None = None,
    error_rate: Mapping[str, float] | None = None,
    split: Mapping[str, float] | None = None,
    days: float = 7,
    start: datetime = datetime(2024, 5, 1, tzinfo=UTC),
    requests_per_unit: float = 2.0,
    covariate_correlation: float = 0.6,
    multiple_exposure: float = 0.0,
    duplicates: float = 0.0,
    unexposed: float = 0.0,
    missing_attributes: float = 0.0,
    early_outcomes: float = 0.0,
    late_outcomes: float = 0.0,
    ties: float = 0.0,
    allocation_version: int = 1,
    unit_prefix: str = "u",
    seed: int = 0,
) -> Truth:
    """Log an experiment of ``units`` units into ``target`` and return its truth.

    ``target``: a folder, a ``postgresql://`` URL, an :class:`EventWriter`, or a list of them
    (the same events go to each). ``values[metric][variant]`` sets true values; ``lift``
    (metric -> relative lift) derives the challengers' from the champion's.
    ``segment_lift[(attribute, value)]`` adds to a challenger's relative lift inside that
    segment (a segment moving against the aggregate). ``split`` is how units are really
    assigned; exposures always log ``spec.allocation`` as their probability, so a split
    that differs is a sample-ratio mismatch. The shares ``multiple_exposure`` ...
    ``late_outcomes`` switch on the flaws described in the module docstring; ``ties`` logs
    a share of first requests twice at the same instant, the copy with an earlier request id
    and every attribute ``"tied"`` (so it is the first exposure). Metrics with
    ``sql`` get no outcomes: their rows live in the user's tables.
    """
    rng = np.random.default_rng(seed)
    variants = spec.variants
    logged = {v: float(spec.allocation[v]) for v in variants}
    real = dict(split or logged)
    shares = np.array([real[v] for v in variants], dtype=float)
    base_values = _variant_values(spec, values or {}, lift or {})
    seg_spec = {
        a: dict(segments[a])
        if segments and a in segments
        else dict.fromkeys(_DEFAULT_SEGMENT_VALUES, 0.5)
        for a in (list(segments) if segments else spec.segments)
    }
    seg_lift = dict(segment_lift or {})
    latency = {v: float((latency_ms or {}).get(v, 20.0)) for v in variants}
    errors = {v: float((error_rate or {}).get(v, 0.001)) for v in variants}

    ids = [f"{unit_prefix}{i}" for i in range(units)]
    arm = rng.choice(len(variants), size=units, p=shares / shares.sum())
    first = rng.uniform(0, days * 86_400, size=units)
    seg_draw = {
        a: rng.choice(len(opts), size=units, p=np.array(list(opts.values())) / sum(opts.values()))
        for a, opts in seg_spec.items()
    }
    latent = rng.standard_normal(units)
    writers, owned = _open(target)
    n_exposures = n_outcomes = 0
    multiple: set[str] = set()
    try:
        for i, unit in enumerate(ids):
            v = variants[arm[i]]
            t0 = start + timedelta(seconds=float(first[i]))
            attrs = {a: list(opts)[seg_draw[a][i]] for a, opts in seg_spec.items()}
            n_req = 1 + int(rng.poisson(max(requests_per_unit - 1, 0)))
            times = [t0] + [
                t0 + timedelta(seconds=float(s)) for s in rng.uniform(1, 86_400, n_req - 1)
            ]
            if rng.random() < ties:  # same instant as the first request, an earlier request id
                times.insert(0, t0)
            for k, ts in enumerate(times):
                shown = dict(attrs)
                if k == 0 and len(times) > 1 and times[1] == t0:
                    shown = dict.fromkeys(attrs, "tied")
                if shown and rng.random() < missing_attributes:
                    shown.pop(rng.choice(sorted(shown)))
                failed = rng.random() < errors[v]
                event = Exposure(
                    experiment=spec.name, unit_id=unit, variant=v, model=f"model-{v}",
                    allocation_version=allocation_version, probability=logged[v],
                    request_id=f"{unit}-r{k}" if k or times[1:2] != [t0] else f"{unit}-a",
                    latency_ms=float(latency[v] * math.exp(0.5 * rng.standard_normal())),
                    error="timeout" if failed else None, attributes=shown, ts=ts,
                )  # fmt: skip
                _log(writers, event)
                n_exposures += 1
                if rng.random() < duplicates:
                    _log(writers, event)
                    n_exposures += 1
            if len(variants) > 1 and rng.random() < multiple_exposure:
                other = variants[
                    (arm[i] + 1 + int(rng.integers(len(variants) - 1))) % len(variants)
                ]
                _log(writers, Exposure(
                    experiment=spec.name, unit_id=unit, variant=other, model=f"model-{other}",
                    allocation_version=allocation_version, probability=logged[other],
                    request_id=f"{unit}-x", latency_ms=latency[other], attributes=attrs,
                    ts=t0 + timedelta(hours=float(rng.uniform(1, 48))),
                ))  # fmt: skip
                n_exposures += 1
                multiple.add(unit)
            if rng.random() < unexposed:
                _log(writers, Exposure(
                    experiment=spec.name, unit_id=unit, variant=variants[-1], model="qa",
                    allocation_version=allocation_version, probability=1.0,
                    request_id=f"{unit}-qa", attributes={}, exposed=False,
                    ts=t0 - timedelta(hours=float(rng.uniform(0.01, 5))),
                ))  # fmt: skip
                n_exposures += 1
            mult = (
                1 + sum(seg_lift.get((a, val), 0.0) for a, val in attrs.items())
                if v != spec.champion
                else 1.0
            )
            for event in _unit_outcomes(
                spec, unit, v, t0, mult, float(latent[i]), base_values, rng,
                covariate_correlation=covariate_correlation,
                early=early_outcomes, late=late_outcomes,
            ):  # fmt: skip
                _log(writers, event)
                n_outcomes += 1
    finally:
        for writer in owned:
            writer.close()
    counts = {v: int((arm == j).sum()) for j, v in enumerate(variants)}
    expected = _expected(spec, base_values, seg_spec, seg_lift)
    return Truth(
        experiment=spec.name,
        start=start,
        end=start + timedelta(days=days),
        variant_of={u: variants[arm[i]] for i, u in enumerate(ids)},
        units=counts,
        multiple=frozenset(multiple),
        values=expected,
        effects={
            m: {c: vals[c] - vals[spec.champion] for c in spec.challengers}
            for m, vals in expected.items()
        },
        split={v: real[v] / float(shares.sum()) for v in variants},
        logged=logged,
        latency_ms=latency,
        error_rate=errors,
        exposures=n_exposures,
        outcomes=n_outcomes,
        segment_values={a: tuple(opts) for a, opts in seg_spec.items()},
    )


def _expected(
    spec: Experiment,
    base: dict[str, dict[str, float]],
    seg_spec: dict[str, dict[str, float]],
    seg_lift: dict[tuple[str, str], float],
) -> dict[str, dict[str, float]]:
    """Expected values over the segment mix (lifts add, so their mean is what counts)."""
    extra = 0.0
    for a, opts in seg_spec.items():
        total = sum(opts.values())
        extra += sum(share / total * seg_lift.get((a, val), 0.0) for val, share in opts.items())
    out = {}
    for m in spec.metrics.all():
        out[m.name] = {
            v: base[m.name][v] * (1.0 if v == spec.champion else 1 + extra) for v in spec.variants
        }
        if m.kind == "proportion":
            out[m.name] = {v: min(x, 1.0) for v, x in out[m.name].items()}
    return out


def _amount(rng: np.random.Generator, mean: float, z: float, rho: float) -> float:
    """A lognormal amount with the given mean whose log has correlation ``rho`` with ``z``."""
    noise = rho * z + math.sqrt(max(1 - rho * rho, 0.0)) * rng.standard_normal()
    return mean * math.exp(_SIGMA * noise - _SIGMA**2 / 2)


def _unit_outcomes(
    spec: Experiment,
    unit: str,
    variant: str,
    t0: datetime,
    mult: float,
    z: float,
    base: dict[str, dict[str, float]],
    rng: np.random.Generator,
    *,
    covariate_correlation: float,
    early: float,
    late: float,
) -> Iterable[Outcome]:
    """One unit's outcome rows for every metric (each outcome name generated once)."""

    def at(name: str, value: float, lo_days: float, hi_days: float) -> Outcome:
        offset = timedelta(days=float(rng.uniform(lo_days, hi_days)))
        return Outcome(unit_id=unit, metric=name, value=round(value, 4), ts=t0 + offset)

    done: set[str] = set()
    pre_done: set[str] = set()
    for m in spec.metrics.all():
        if m.sql:
            continue
        value = base[m.name][variant] * mult
        window = float(m.window_days)
        inside = (1e-4, window * 0.999)
        if m.kind == "ratio" and m.numerator and m.denominator:
            if m.denominator not in done and m.numerator not in done:
                done |= {m.denominator, m.numerator}
                sessions = 1 + int(rng.poisson(2.0))
                for _ in range(sessions):
                    yield at(m.denominator, 1.0, *inside)
                yield at(m.numerator, sessions * _amount(rng, value, z, 0.0), *inside)
        elif m.name not in done:
            done.add(m.name)
            if m.kind == "proportion":
                if rng.random() < min(value, 1.0):
                    yield at(m.name, 1.0, *inside)
                elif rng.random() < 0.3:
                    yield at(m.name, 0.0, *inside)
            elif rng.random() < PURCHASE_SHARE:
                total = _amount(rng, value / PURCHASE_SHARE, z, covariate_correlation)
                for part in rng.dirichlet(np.ones(int(rng.integers(1, 4)))):
                    yield at(m.name, total * float(part), *inside)
            if rng.random() < early:
                yield at(m.name, 1.0, -2.0, -1e-4)
            if rng.random() < late:
                yield at(m.name, 1.0, window + 1e-4, window + 3)
        if m.covariate and m.covariate not in pre_done:
            pre_done.add(m.covariate)
            lookback = float(m.lookback_days or m.window_days)
            if rng.random() < PURCHASE_SHARE:
                mean = base[m.name][spec.champion] / PURCHASE_SHARE
                yield at(m.covariate, _amount(rng, mean, z, 1.0), -lookback * 0.999, -1e-4)


def make_spec(**overrides: Any) -> Experiment:
    """A spec with one metric of each kind (and a CUPED covariate), two segments."""
    data: dict[str, Any] = {
        "name": "checkout-v2",
        "models": {v: {"kind": "python", "target": "models:score"} for v in ("v1", "v2")},
        "champion": "v1",
        "challengers": ["v2"],
        "allocation": {"v1": 0.5, "v2": 0.5},
        "metrics": {
            "primary": {"name": "converted", "kind": "proportion", "window_days": 3},
            "secondary": [
                {"name": "revenue", "kind": "mean", "covariate": "revenue", "lookback_days": 7},
                {
                    "name": "spend_per_visit",
                    "kind": "ratio",
                    "numerator": "spend",
                    "denominator": "visits",
                    "window_days": 2,
                },
                {"name": "load_seconds", "kind": "quantile", "quantile": 0.9, "window_days": 1.5},
            ],
            "guardrails": [{"name": "latency_p95_ms", "max": 200}],
        },
        "segments": ["country", "device"],
    }
    data.update(overrides)
    return Experiment.model_validate(data)
