"""Run the long validity variants and print a markdown table (docs/analysis.md).

    .venv/bin/python -m tests.validity.report              # every case, 2,000 runs each
    .venv/bin/python -m tests.validity.report --runs 200 --only "A/A"

Each case's runs are split over ``--jobs`` processes (run i always draws from seed
(0, i), so the numbers do not depend on the split). Rates are followed by their
Monte-Carlo standard error; coverage is over the runs whose deciding read-out had an
interval.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from concurrent.futures import ProcessPoolExecutor

from tests.validity._cases import AA, AB, ALL, POWER, failures
from tests.validity._harness import LEDGER, Case, Result, run

__all__ = ["main", "table"]


def _chunk(args: tuple[int, int, int]) -> Result:
    index, first, runs = args
    return run(ALL[index], runs, first=first)


def measure(case_index: int, runs: int, jobs: int, pool: ProcessPoolExecutor | None) -> Result:
    """``runs`` runs of ``ALL[case_index]``, split into ``jobs`` contiguous chunks."""
    size = math.ceil(runs / jobs)
    chunks = [(case_index, first, min(size, runs - first)) for first in range(0, runs, size)]
    parts = list(pool.map(_chunk, chunks)) if pool is not None else [_chunk(c) for c in chunks]
    out = parts[0]
    for part in parts[1:]:
        out = out.merge(part)
    return out


def _pct(rate: float, se: float | None = None) -> str:
    if math.isnan(rate):
        return "–"
    return f"{rate:.1%} ± {se:.1%}" if se is not None else f"{rate:.1%}"


def row(case: Case, r: Result) -> str:
    coverage = "–"
    if case in AB:
        coverage = _pct(r.coverage_rel, r.se(r.coverage_rel, r.intervals))
    diff = _pct(r.coverage_diff, r.se(r.coverage_diff, r.intervals)) if case in AB else "–"
    power = _pct(r.rollout, r.se(r.rollout)) if case in POWER else "–"
    lift = "–" if case.scenario.shift else f"{r.mean_lift:+.1%}"  # no lift over a zero mean
    between = f"{r.between_looks / r.runs:.0%}" if LEDGER else "–"
    holds = "–" if case not in (*AA, *AB) else ("no" if failures(case, r) else "yes")
    return (
        f"| {case.name} | {r.runs:,} | {_pct(r.rollout, r.se(r.rollout))} | "
        f"{_pct(r.rollback, r.se(r.rollback))} | {coverage} | {diff} | {power} | "
        f"{lift} | {r.mean_day:.1f} | {between} | {holds} |"
    )


HEADER = (
    "| scenario | runs | P(rollout_*) | P(rollback) | rel_lift_ci covers | diff_ci covers "
    "| power | mean lift read | mean day read | decided between looks | bounds hold |\n"
    "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|:---:|"
)


def table(rows: list[str]) -> str:
    return "\n".join([HEADER, *rows])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.validity.report")
    parser.add_argument("--runs", type=int, default=2_000, help="experiments per case")
    parser.add_argument("--jobs", type=int, default=2, help="processes")
    parser.add_argument("--only", default="", help="cases whose name contains this")
    args = parser.parse_args(argv)
    picked = [i for i, c in enumerate(ALL) if args.only in c.name]
    started = time.perf_counter()
    print(f"build_report with the look ledger: {LEDGER}", file=sys.stderr)
    rows = []
    pool = ProcessPoolExecutor(args.jobs) if args.jobs > 1 else None
    try:
        for i in picked:
            result = measure(i, args.runs, args.jobs, pool)
            rows.append(row(ALL[i], result))
            print(result.summary(), file=sys.stderr, flush=True)
    finally:
        if pool is not None:
            pool.shutdown()
    print(table(rows))
    print(f"\n{time.perf_counter() - started:.0f} s", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
