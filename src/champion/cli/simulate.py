"""``champion simulate``: the bandit race, a fixed split against Thompson sampling, simulated.

Cumulative regret (mean ± Monte-Carlo SE over runs), the share of traffic to the best arm over
time and the request from which the bandit sends more than 90% of a batch to it. ``--json``
prints one JSON object on the last line; ``--html FILE`` writes the curves as a plotly page.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from champion.cli._output import console, err_console, user_errors, write_html_file
from champion.stats.race import Race, race

__all__ = ["simulate"]

_POLICIES = {"fixed": ("fixed",), "thompson": ("thompson",), "both": ("fixed", "thompson")}
_CHECKPOINTS = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0)


def _rates(text: str) -> list[float]:
    parts = [p.strip() for p in text.split(",")]
    try:
        rates = [float(p) for p in parts]
    except ValueError:
        raise ValueError(
            f"--rates {text!r}: give two or more conversion rates separated by commas, "
            "e.g. --rates 0.031,0.038"
        ) from None
    bad = [p for p, r in zip(parts, rates, strict=True) if not (0 <= r <= 1)]
    if bad:
        raise ValueError(
            f"--rates {text!r}: {', '.join(bad)} is not a rate; each must lie in [0, 1] "
            "(3.1% is 0.031)"
        )
    if len(rates) < 2:
        raise ValueError(f"--rates {text!r}: a race needs two or more arms, e.g. 0.031,0.038")
    return rates


def _check(requests: int, runs: int, batch: int, min_share: float, arms: int) -> None:
    for flag, value in (("--requests", requests), ("--runs", runs), ("--batch", batch)):
        if value < 1:
            raise ValueError(f"{flag} {value}: must be a whole number >= 1")
    if not (0 <= min_share <= 1 / arms):
        raise ValueError(
            f"--min-share {min_share:g}: must lie in [0, {1 / arms:.4g}] with {arms} arms "
            "(every arm keeps this share; together at most all the traffic)"
        )


def _share(x: float) -> str:
    return "–" if math.isnan(x) else f"{x:.1%}"


def _render(result: Race) -> None:
    runs = result.policies[0].runs
    rates = ", ".join(f"{r:.2%}" for r in result.rates)
    console.print(
        f"[bold]Bandit race[/]: arms at {rates}; {result.requests:,} requests, {runs:,} runs "
        f"per policy, weights updated every {result.batch_size:,} requests, floor "
        f"{result.min_share:g}",
        highlight=False,
    )
    summary = Table(header_style="bold")
    for col in ("policy", "regret (mean ± SE)", "to the best arm, last 20%", "> 90% to it from"):
        summary.add_column(col, justify="right")
    for p in result.policies:
        first = "not reached" if p.first_over is None else f"request {p.first_over:,}"
        late = p.share_between(int(result.requests * 0.8), result.requests)
        summary.add_row(
            p.policy, f"{p.final_regret:.2f} ± {p.final_regret_se:.2f}", _share(late), first
        )
    console.print(summary)
    over_time = Table(title="Over time", header_style="bold")
    over_time.add_column("requests", justify="right")
    for p in result.policies:
        over_time.add_column(f"{p.policy} regret", justify="right")
        over_time.add_column(f"{p.policy} to best", justify="right")
    previous = 0
    for fraction in _CHECKPOINTS:
        at = max(1, round(result.requests * fraction))
        cells = [f"{at:,}"]
        for p in result.policies:
            i = min(int(p.batch_ends.searchsorted(at)), p.batch_ends.size - 1)
            cells += [f"{p.regret[i]:.1f}", _share(p.share_between(previous, at))]
        over_time.add_row(*cells)
        previous = at
    console.print(over_time)
    saved = result.saved
    if saved is not None:
        console.print(
            f"Thompson loses {saved[0]:.1f} ± {saved[1]:.1f} fewer conversions than the fixed "
            "split (regret: conversions lost against always serving the best arm).",
            highlight=False,
        )
    if result.winner is None:
        console.print("No arm is best (the top rate is shared): every policy has zero regret.")


def _json_line(payload: dict[str, Any]) -> None:
    typer.echo(json.dumps(payload, allow_nan=False, separators=(",", ":")))


def simulate(
    rates: Annotated[
        str, typer.Option(help="True conversion rate of each arm, comma-separated.")
    ] = "0.031,0.038",
    requests: Annotated[int, typer.Option(help="Requests per simulated experiment.")] = 10_000,
    runs: Annotated[int, typer.Option(help="Simulated experiments per policy.")] = 1000,
    policy: Annotated[
        str, typer.Option(help="fixed (equal split), thompson, or both.", metavar="POLICY")
    ] = "both",
    batch: Annotated[
        int, typer.Option(help="Requests between two updates of the bandit's weights.")
    ] = 100,
    min_share: Annotated[
        float, typer.Option("--min-share", help="Floor on every arm's share under Thompson.")
    ] = 0.0,
    seed: Annotated[int, typer.Option(help="Seed of the simulation.")] = 0,
    json_output: Annotated[bool, typer.Option("--json", help="Print JSON (one line).")] = False,
    html_file: Annotated[
        Path | None, typer.Option("--html", help="Write the curves to this HTML page.")
    ] = None,
) -> None:
    """Race a fixed split against Thompson sampling: regret and traffic to the best arm."""
    with user_errors():
        arm_rates = _rates(rates)
        if policy not in _POLICIES:
            raise ValueError(f"--policy {policy!r}: must be one of fixed, thompson, both")
        _check(requests, runs, batch, min_share, len(arm_rates))
        if html_file is not None and not html_file.parent.is_dir():
            raise ValueError(
                f"--html {html_file}: folder {html_file.parent} does not exist; create it first"
            )
        with Progress(
            TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
            TimeElapsedColumn(), console=err_console, transient=True,
            disable=runs * requests < 2_000_000,
        ) as bar:  # fmt: skip
            tasks: dict[str, Any] = {}

            def progress(name: str, done: int, total: int) -> None:
                if name not in tasks:
                    tasks[name] = bar.add_task(f"{name} runs", total=total)
                bar.update(tasks[name], completed=done)

            result = race(
                arm_rates, n_requests=requests, n_runs=runs, policies=_POLICIES[policy],
                batch_size=batch, min_share=min_share, seed=seed, progress=progress,
            )  # fmt: skip
        if html_file is not None:
            from champion.report.bandit_html import write_race_html

            write_html_file(write_race_html, result, html_file)
    if json_output:
        payload = result.to_dict()
        if html_file is not None:
            payload["html"] = str(html_file)
        _json_line(payload)
    else:
        _render(result)
        if html_file is not None:
            console.print(f"Wrote {html_file}", highlight=False)
