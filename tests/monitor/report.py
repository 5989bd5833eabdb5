"""Simulate the monitor's stopping rule (``tests.monitor._sim``) and print a markdown table.

    .venv/bin/python -m tests.monitor.report                          # 1,000 worlds, 15-min
    .venv/bin/python -m tests.monitor.report --runs 200 --window-minutes 5 --json

Every world runs every scenario (both stages; the changes at the world's random time, or
from the start), ticked through the monitor's own ``judge_slo`` / ``judge_comparative``.
World i always draws from seed ``(--seed, i)``, so the numbers do not depend on ``--jobs``.
The control rows run other judges on A/A worlds (``--control-runs`` of them) to show the
harness fails a rule that breaks the bound. Targets: an A/A run stops with probability at
most 1%; an error regression is stopped within 5,000 challenger requests of it, a latency
one within ``stop_after`` (3) windows, in at least 90% of runs.

A tick costs about 0.8 ms in the monitor's code (``judge_slo`` 0.5, ``judge_comparative``
0.2), and a world about 1 s to draw, so 1,000 worlds of 14 days at both stages take about
an hour of CPU with 15-minute windows (1,344 ticks a stage; the default): about 31 minutes
with ``--jobs 2`` on two idle cores. 5-minute windows (4,032 ticks) take about 2.5 times
as long.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict
from typing import Any

import numpy as np

from champion.monitor.rules import DEFAULTS
from tests.monitor._bound import bound as information_bound
from tests.monitor._sim import (
    DETECT_WITHIN,
    JUDGES,
    SCENARIOS,
    TRAFFIC,
    Outcome,
    Scenario,
    Summary,
    Traffic,
    run,
    scaled,
    summarize,
)

__all__ = ["CONTROLS", "main", "measure", "table"]

#: A/A worlds judged by rules that should break the bound: (row name, judge, share)
CONTROLS = (
    ("control: A/A, 10% stage, fixed-horizon z-test at 0.005 read every tick", "naive", 0.10),
    ("control: A/A, 10% stage, the monitor's rules with unit buckets merged", "pooled", 0.10),
)
AA_BOUND, DETECT_BOUND = 0.01, 0.90
STOP_AFTER = DEFAULTS.stop_after  # a latency regression: stopped after this many windows
#: when the random change came, in days of traffic before it
T0_DAYS = ((0, 1), (1, 4), (4, 13))


def _chunk(args: tuple[tuple[Scenario, ...], int, int, int, Traffic, str]) -> list[list[Outcome]]:
    scenarios, seed, first, count, traffic, judge = args
    return [
        run(scenarios, seed, i, traffic=traffic, judge=JUDGES[judge])
        for i in range(first, first + count)
    ]


def measure(
    scenarios: Sequence[Scenario], runs: int, *, seed: int = 0, traffic: Traffic = TRAFFIC,
    judge: str = "monitor", jobs: int = 1, pool: ProcessPoolExecutor | None = None,
) -> list[list[Outcome]]:  # fmt: skip
    """Per scenario, the outcomes of worlds ``0 .. runs - 1``; chunks of worlds go to
    ``pool`` (``jobs`` processes) when one is given."""
    size = max(1, min(25, math.ceil(runs / (4 * max(jobs, 1)))))
    chunks = [(tuple(scenarios), seed, first, min(size, runs - first), traffic, judge)
              for first in range(0, runs, size)]  # fmt: skip
    parts = pool.map(_chunk, chunks) if pool is not None else map(_chunk, chunks)
    worlds = [world for part in parts for world in part]
    return [[world[j] for world in worlds] for j in range(len(scenarios))]


def _pct(rate: float, se: float | None = None) -> str:
    if math.isnan(rate):
        return "–"
    return f"{rate:.1%} ± {se:.1%}" if se is not None else f"{rate:.1%}"


def _median(value: float, unit: str = "") -> str:
    if math.isnan(value):
        return "–"
    if math.isinf(value):
        return "never (half or more)"
    return f"{value:,.0f}{unit}"


def target(s: Scenario) -> str:
    if s.change is None:
        return f"P(stop) <= {AA_BOUND:.0%}"
    if s.change.latency_shift_ms:
        return f"P(stop within {STOP_AFTER} windows) >= {DETECT_BOUND:.0%}"
    return f"P(within {DETECT_WITHIN:,}) >= {DETECT_BOUND:.0%}"


def holds(s: Scenario, r: Summary) -> bool:
    if s.change is None:
        return r.p_stop <= AA_BOUND
    return (r.p_prompt if s.change.latency_shift_ms else r.p_detect) >= DETECT_BOUND


def row(name: str, s: Scenario, r: Summary) -> str:
    detect = "–" if s.change is None else _pct(r.p_detect, r.se(r.p_detect, r.runs))
    requests = "–" if s.change is None else _median(r.median_requests)
    minutes = "–" if s.change is None else _median(r.median_minutes, " min")
    ok = "yes" if holds(s, r) else "**no**"
    if s.change is not None and s.change.latency_shift_ms:
        ok += f" ({_pct(r.p_prompt, r.se(r.p_prompt, r.runs))})"
    return (
        f"| {name} | {r.runs:,} | {_pct(r.p_stop, r.se(r.p_stop, r.runs))} | {detect} | "
        f"{requests} | {minutes} | {target(s)}: {ok} |"
    )


HEADER = (
    f"| scenario | runs | P(stop) ± MC SE | P(stop within {DETECT_WITHIN:,} challenger "
    "requests) | median challenger requests to stop | median minutes to stop | target |\n"
    "|---|---:|---:|---:|---:|---:|---|"
)


def table(rows: Sequence[str]) -> str:
    return "\n".join([HEADER, *rows])


def by_t0(outcomes: Sequence[Outcome], windows_per_day: int) -> list[dict[str, Any]]:
    """Detection of a random change by how many days of traffic came before it."""
    out = []
    for lo, hi in T0_DAYS:
        mine = [o for o in outcomes if lo * windows_per_day <= o.t0 < hi * windows_per_day]
        r = summarize(mine)
        out.append({"days_before": [lo, hi], "runs": r.runs, "p_detect": r.p_detect if mine
                    else math.nan, "median_requests": r.median_requests,
                    "median_minutes": r.median_minutes,
                    "median_requests_before": float(np.median([o.requests_before for o in mine]))
                    if mine else math.nan})  # fmt: skip
    return out


def _finite(x: Any) -> Any:
    """JSON without Infinity/NaN: None."""
    if isinstance(x, float) and not math.isfinite(x):
        return None
    if isinstance(x, dict):
        return {k: _finite(v) for k, v in x.items()}
    if isinstance(x, list | tuple):
        return [_finite(v) for v in x]
    return x


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.monitor.report")
    parser.add_argument("--runs", type=int, default=1_000, help="worlds (experiments)")
    parser.add_argument("--control-runs", type=int, default=None,
                        help="A/A worlds for the control judges (default runs / 10)")  # fmt: skip
    parser.add_argument("--jobs", type=int, default=2, help="processes")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--window-minutes", type=float, default=15.0)
    parser.add_argument("--days", type=float, default=TRAFFIC.days)
    parser.add_argument("--json", action="store_true", help="one JSON object as the last line")
    args = parser.parse_args(argv)
    traffic = scaled(TRAFFIC, window_minutes=args.window_minutes, days=args.days)
    controls = args.control_runs if args.control_runs is not None else max(1, args.runs // 10)
    print(f"traffic: {traffic}", file=sys.stderr)
    started = time.perf_counter()
    pool = ProcessPoolExecutor(args.jobs) if args.jobs > 1 else None
    try:
        outcomes = measure(SCENARIOS, args.runs, seed=args.seed, traffic=traffic, jobs=args.jobs,
                           pool=pool)  # fmt: skip
        print(f"scenarios: {time.perf_counter() - started:.0f} s", file=sys.stderr, flush=True)
        control = [
            (name, Scenario(name, share), measure([Scenario(name, share)], controls,
                                                  seed=args.seed, traffic=traffic, judge=judge,
                                                  jobs=args.jobs, pool=pool)[0])
            for name, judge, share in CONTROLS
            if controls > 0
        ]  # fmt: skip
    finally:
        if pool is not None:
            pool.shutdown()
    seconds = time.perf_counter() - started
    named = [(s.name, s, o) for s, o in zip(SCENARIOS, outcomes, strict=True)] + control
    summaries = [(name, s, summarize(o)) for name, s, o in named]
    print(table([row(name, s, r) for name, s, r in summaries]))
    delays = []
    for s, o in zip(SCENARIOS, outcomes, strict=True):
        if s.change is not None and s.change.when == "random" and s.change.error_factor != 1:
            delays.append({"scenario": s.name, "by_days_before": by_t0(o, traffic.windows_per_day)})
    print(f"\nerrors 1% -> 2% at a random time, by days of traffic before the change "
          f"(P(stop within {DETECT_WITHIN:,}); median challenger requests to stop):")  # fmt: skip
    for d in delays:
        cells = ", ".join(
            f"days {b['days_before'][0]}-{b['days_before'][1]}: {_pct(b['p_detect'])}; "
            f"{_median(b['median_requests'])} ({b['runs']} runs)"
            for b in d["by_days_before"]
        )
        print(f"- {d['scenario']}: {cells}")
    bounds = []
    for s in SCENARIOS:
        if s.change is not None and s.change.error_factor != 1:
            b = information_bound(s, min(args.runs, 300), traffic, args.seed)
            bounds.append({"scenario": s.name, **asdict(b)})
    print(f"\nthe information bound: a test told when the change came, reading once at "
          f"{DETECT_WITHIN:,} challenger requests (tests/monitor/_bound.py):")  # fmt: skip
    for b in bounds:
        print(f"- {b['scenario']}: power {b['power']:.1%} at level {b['alpha']:.2g} "
              f"({b['blocks']:,.0f} blocks), median z {b['median_z']:.2f}")  # fmt: skip
    print(f"\n{seconds:.0f} s wall, --jobs {args.jobs}", file=sys.stderr)
    if args.json:
        rows = [
            {"scenario": name, "share": s.share, "change": asdict(s.change) if s.change else None,
             "target": target(s), "holds": holds(s, r), **asdict(r), "p_stop": r.p_stop,
             "se_stop": r.se(r.p_stop, r.runs), "p_detect": r.p_detect,
             "se_detect": r.se(r.p_detect, r.runs)}
            for name, s, r in summaries
        ]  # fmt: skip
        doc = {"traffic": asdict(traffic), "seed": args.seed, "jobs": args.jobs,
               "seconds": seconds, "rows": rows, "delays": delays,
               "bounds": bounds}  # fmt: skip
        print(json.dumps(_finite(doc)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
