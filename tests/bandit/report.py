"""Run the bandit validity scenarios and print markdown tables (docs/bandits.md).

    .venv/bin/python -m tests.bandit.report               # 10,000 experiments per scenario
    .venv/bin/python -m tests.bandit.report --runs 1000   # the CI size

One process; each scenario's runs come from its own seed. Rates are followed by their
Monte-Carlo standard error.
"""

from __future__ import annotations

import argparse
import sys
import time

from tests.bandit._harness import (
    ALPHA,
    COVERAGE_MARGIN,
    FPR_MARGIN,
    LONG_RUNS,
    SCENARIOS,
    SETTINGS,
    Measured,
    measure,
    tolerance,
)

__all__ = ["arm_table", "holdout_table", "main"]


def _pct(rate: float, runs: int) -> str:
    return f"{rate:.1%} ± {Measured.se(rate, runs):.1%}"


def _pp(x: float) -> str:
    return f"{x * 100:+.3f}"


def arm_table(results: list[Measured]) -> str:
    lines = [
        (
            "| scenario | runs | arm | traffic | value | AW-AIPW covers | AW-AIPW bias (pts) "
            "| naive covers | naive bias (pts) | IPW covers | IPW bias (pts) | plain AIPW covers "
            "| AW-AIPW covers its weighted target | AW-AIPW Wald interval covers | holds |"
        ),
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|:---:|",
    ]
    for m in results:
        tol = tolerance(COVERAGE_MARGIN, 0.95, m.runs)
        for a in m.arms:
            holds = "yes" if abs(a.aw_cover - 0.95) <= tol else "no"
            lines.append(
                f"| {m.scenario.name} | {m.runs:,} | {a.arm} | {a.traffic:.0%} | {a.value:.2%} "
                f"| {_pct(a.aw_cover, m.runs)} | {_pp(a.aw_bias)} | {_pct(a.naive_cover, m.runs)} "
                f"| {_pp(a.naive_bias)} | {_pct(a.ipw_cover, m.runs)} | {_pp(a.ipw_bias)} "
                f"| {_pct(a.aipw_cover, m.runs)} | {_pct(a.aw_own_cover, m.runs)} "
                f"| {_pct(a.aw_wald_cover, m.runs)} | {holds} |"
            )
    return "\n".join(lines)


def holdout_table(results: list[Measured]) -> str:
    lines = [
        (
            "| scenario | runs | P(significant) | diff CI covers | mean gain over uniform "
            "(conversions) | holds |"
        ),
        "|---|---:|---:|---:|---:|:---:|",
    ]
    for m in results:
        if m.scenario.null:
            holds = m.holdout_reject <= ALPHA + tolerance(FPR_MARGIN, ALPHA, m.runs)
        else:
            holds = abs(m.holdout_cover - 0.95) <= tolerance(COVERAGE_MARGIN, 0.95, m.runs)
        lines.append(
            f"| {m.scenario.name} | {m.runs:,} | {_pct(m.holdout_reject, m.runs)} "
            f"| {_pct(m.holdout_cover, m.runs)} | {m.mean_gain:+.1f} | {'yes' if holds else 'no'} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.bandit.report")
    parser.add_argument("--runs", type=int, default=LONG_RUNS, help="experiments per scenario")
    parser.add_argument("--only", default="", help="scenarios whose name contains this")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    results = [measure(s, args.runs) for s in SCENARIOS if args.only in s.name]
    settings = ", ".join(f"{k}={v:g}" for k, v in SETTINGS.items())
    print(f"Bandit validity ({settings}; alpha {ALPHA:g})\n")
    print("Each arm's value (95% intervals; target: the arm's mean rate over the period)\n")
    print(arm_table(results))
    print("\nThe bandit against the uniform holdout (Welch difference in means)\n")
    print(holdout_table(results))
    print(f"\n{time.perf_counter() - started:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
