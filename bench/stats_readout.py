"""Read-out benchmark: champion.stats against spotify-confidence on the same sufficient statistics.

One read-out is 2 arms x 10 metrics (5 proportions, 4 means, 1 mean with a pre-period
covariate) x 20 segments, at look 3 of 5 planned looks: per segment and metric the test with
its CI and relative-lift CI (CUPED where there is a covariate), the group-sequential decision,
the Bayesian chance to beat and expected loss; then Holm across segments and SRM per segment.

Each timed run reads a fresh seeded data set (so no cache carries a result from one run to the
next; the information fractions differ per segment and per run, as they do in production).
The peer runs in its own virtualenv (``bench/.venv-confidence``, made on first use from
``bench/requirements-confidence.txt``) and times itself in-process on the same statistics.

    .venv/bin/python bench/stats_readout.py [--runs 30] [--peer-runs 3] [--no-peer] [--json]
    .venv/bin/python bench/stats_readout.py --profile 20 --no-peer   # where champion's time goes
"""

from __future__ import annotations

import argparse
import cProfile
import hashlib
import json
import math
import os
import pstats
import shutil
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from rich.console import Console
from rich.table import Table

from champion.stats.bayes import chance_to_beat, chance_to_beat_mean
from champion.stats.contingency import srm
from champion.stats.cuped import cuped
from champion.stats.frequentist import proportion_test, welch_test
from champion.stats.multiple import adjust_p_values
from champion.stats.sequential import sequential_decision
from champion.stats.sufficient import CovariateStats, MeanStats

BENCH = Path(__file__).resolve().parent
VENV = BENCH / ".venv-confidence"
REQUIREMENTS = BENCH / "requirements-confidence.txt"
PEER = BENCH / "_peer_confidence.py"

SEGMENTS = 20
PROPORTIONS = ("conversion", "click", "signup", "retained_d1", "add_to_cart")
BASE_RATES = (0.031, 0.12, 0.018, 0.42, 0.085)
MEANS = ("revenue", "session_minutes", "items_viewed", "latency_ms")
MEAN_LEVEL = (2.4, 11.5, 7.2, 185.0)
MEAN_CV = (4.0, 1.3, 1.1, 0.6)  # sd / mean: revenue is the heavy one
CUPED_METRIC = "order_value"  # with last month's order value as the covariate
METRICS = len(PROPORTIONS) + len(MEANS) + 1
LOOK, LOOKS_PLANNED = 3, 5
SRM_SEGMENT = 7  # one segment really is off its 50/50 split (48.5/51.5)
ALPHA = 0.05
SEQ_ALPHA = ALPHA / (SEGMENTS * METRICS)  # Bonferroni over every monitored comparison
BETA_PRIOR = (0.5, 0.5)  # the peer's fixed prior, so the Bayesian numbers are comparable
WEIGHTS = (0.5, 0.5)

# Parts of a read-out; the ones the peer also does make up the like-for-like time.
PARTS = {
    "tests": "z/t tests, CIs, rel. lift CIs, CUPED; Holm (200)",
    "seq_prop": "sequential decision, proportions (100)",
    "seq_mean": "sequential decision, means + CUPED (100)",
    "bayes_prop": "Bayesian P(beat) + exp. loss, proportions (100)",
    "bayes_mean": "Bayesian P(beat) + exp. loss, means + CUPED (100)",
    "srm": "SRM per segment (20)",
}
PEER_PART = {"tests": "tests", "seq_prop": "sequential", "bayes_prop": "bayes", "srm": "srm"}
PEER_HOW = {
    "tests": "Experiment.difference abs + rel; z-test-linreg for CUPED",
    "seq_prop": "ZTest, looks 1-3 + final_expected_sample_size",
    "seq_mean": "cannot: sequential is z-test only",
    "bayes_prop": "BetaBinomial, Monte Carlo 500k draws/arm",
    "bayes_mean": "cannot: no normal model",
    "srm": "sample_ratio_test per segment",
}
LIKE_FOR_LIKE = tuple(PEER_PART)


# --- data ---------------------------------------------------------------------------------


def make_dataset(seed: int) -> dict:
    """Realistic sufficient statistics, drawn from their sampling distributions (no rows).

    Segments differ in size (log-normal, ~4k to ~400k planned units); looks 1..3 sit near 20%,
    40%, 60% of the plan. Sample means and variances of the mean metrics are drawn as normal and
    scaled chi-square; the covariate metric's scatter matrix is Wishart (Bartlett decomposition).
    """
    rng = np.random.default_rng(seed)
    planned = np.maximum(np.round(np.exp(rng.normal(np.log(60_000), 0.9, SEGMENTS))), 4_000)
    frac = np.arange(1, LOOK + 1) / LOOKS_PLANNED * rng.normal(1.0, 0.04, (SEGMENTS, LOOK))
    cum = np.round(planned[:, None] * np.sort(frac, axis=1)).astype(np.int64)
    step = np.diff(cum, axis=1, prepend=0)
    share = np.full((SEGMENTS, 1), 0.5)
    share[SRM_SEGMENT] = 0.515
    step_t = rng.binomial(step, share)
    n = np.stack([step - step_t, step_t], axis=-1).cumsum(axis=1)  # segment, look, arm
    now = n[:, LOOK - 1, :].astype(float)  # segment, arm

    base = np.log(np.array(BASE_RATES) / (1 - np.array(BASE_RATES)))
    logit = base[:, None] + rng.normal(0.0, 0.25, (len(PROPORTIONS), SEGMENTS))
    lift = rng.normal(0.02, 0.03, (len(PROPORTIONS), 1)) + rng.normal(0.0, 0.02, logit.shape)
    rate = 1 / (1 + np.exp(-np.stack([logit, logit + lift], axis=-1)))  # metric, segment, arm
    x = rng.binomial(np.broadcast_to(np.diff(n, axis=1, prepend=0), (len(PROPORTIONS), *n.shape)),
                     rate[:, :, None, :]).cumsum(axis=2)  # fmt: skip

    level = np.array(MEAN_LEVEL)[:, None] * rng.normal(1.0, 0.1, (len(MEANS), SEGMENTS))
    mean_lift = rng.normal(0.01, 0.02, (len(MEANS), 1)) + rng.normal(0.0, 0.01, level.shape)
    mu = np.stack([level, level * (1 + mean_lift)], axis=-1)  # metric, segment, arm
    sd = np.array(MEAN_CV)[:, None, None] * mu
    mean = rng.normal(mu, sd / np.sqrt(now))
    var = sd**2 * rng.chisquare(now - 1, mu.shape) / (now - 1)
    mean_sum, mean_sum_sq = now * mean, (now - 1) * var + now * mean**2

    sx, sy, rho = 25.0, 27.0, 0.65
    mx = 18.0 * rng.normal(1.0, 0.1, (SEGMENTS, 1))
    my = np.concatenate([mx + 1.0, (mx + 1.0) * (1 + rng.normal(0.015, 0.01, (SEGMENTS, 1)))], 1)
    z1, z2 = rng.standard_normal((2, SEGMENTS, 2))
    mean_x = mx + sx * z1 / np.sqrt(now)
    mean_y = my + sy * (rho * z1 + math.sqrt(1 - rho**2) * z2) / np.sqrt(now)
    # Bartlett: A = [[c1, 0], [u, c2]], S = L A A' L' with L the Cholesky factor of Sigma.
    c1, c2 = np.sqrt(rng.chisquare(now - 1)), np.sqrt(rng.chisquare(now - 2))
    u = rng.standard_normal(now.shape)
    l11, l21, l22 = sx, rho * sy, sy * math.sqrt(1 - rho**2)
    s_xx = (l11 * c1) ** 2
    s_xy = l11 * c1 * (l21 * c1 + l22 * u)
    s_yy = (l21 * c1 + l22 * u) ** 2 + (l22 * c2) ** 2
    return {
        "segments": [f"seg{s:02d}" for s in range(SEGMENTS)],
        "proportion_metrics": list(PROPORTIONS),
        "mean_metrics": list(MEANS),
        "cuped_metric": CUPED_METRIC,
        "planned_n": planned.tolist(),
        "n": n.tolist(),
        "prop_x": x.tolist(),
        "mean_sum": mean_sum.tolist(),
        "mean_sum_sq": mean_sum_sq.tolist(),
        "cov": {
            "sum_y": (now * mean_y).tolist(),
            "sum_y_sq": (s_yy + now * mean_y**2).tolist(),
            "sum_x": (now * mean_x).tolist(),
            "sum_x_sq": (s_xx + now * mean_x**2).tolist(),
            "sum_xy": (s_xy + now * mean_x * mean_y).tolist(),
        },
    }


@dataclass(frozen=True, slots=True)
class Inputs:
    """One data set as champion's analysis layer would hand it over: counts and stats objects."""

    planned: list[float]
    looks: list[list[float]]  # per segment: units in both arms at looks 1..LOOK
    now: list[tuple[float, float]]  # per segment: units per arm at this look
    props: list[list[tuple[float, float, float, float]]]  # metric, segment: x_c, n_c, x_t, n_t
    means: list[list[tuple[MeanStats, MeanStats]]]  # metric, segment
    covs: list[tuple[CovariateStats, CovariateStats]]  # segment


def to_inputs(d: dict) -> Inputs:
    now = [(float(s[LOOK - 1][0]), float(s[LOOK - 1][1])) for s in d["n"]]
    props = [
        [(float(seg[LOOK - 1][0]), nc, float(seg[LOOK - 1][1]), nt)
         for seg, (nc, nt) in zip(metric, now, strict=True)]
        for metric in d["prop_x"]
    ]  # fmt: skip
    means = [
        [(MeanStats(nc, s[0], q[0]), MeanStats(nt, s[1], q[1]))
         for (nc, nt), s, q in zip(now, sums, sqs, strict=True)]
        for sums, sqs in zip(d["mean_sum"], d["mean_sum_sq"], strict=True)
    ]  # fmt: skip
    cov = d["cov"]
    fields = ("sum_y", "sum_y_sq", "sum_x", "sum_x_sq", "sum_xy")
    covs = [
        tuple(CovariateStats(now[s][a], *(cov[f][s][a] for f in fields)) for a in (0, 1))
        for s in range(SEGMENTS)
    ]
    looks = [[float(c + t) for c, t in seg] for seg in d["n"]]
    return Inputs(d["planned_n"], looks, now, props, means, covs)  # type: ignore[arg-type]


# --- champion's read-out --------------------------------------------------------------------


def _decisions(rows: list[list], fractions: list[tuple[float, ...]]) -> list[list]:
    """The decision at this look per segment, at that segment's own information fractions."""
    return [
        [
            sequential_decision(r.statistic, LOOK, f, alpha=SEQ_ALPHA)
            for r, f in zip(row, fractions, strict=True)
        ]
        for row in rows
    ]


def champion_readout(inp: Inputs) -> tuple[dict[str, float], dict]:
    """The whole read-out through champion's public functions; ms per part and the results."""
    clock = time.perf_counter
    t0 = clock()
    prop = [
        [proportion_test(xc, nc, xt, nt, alpha=ALPHA, pooled=False) for xc, nc, xt, nt in row]
        for row in inp.props
    ]
    mean = [
        [welch_test(c.mean, c.variance, c.n, t.mean, t.variance, t.n, alpha=ALPHA) for c, t in row]
        for row in inp.means
    ]
    cup = [cuped(c, t, alpha=ALPHA) for c, t in inp.covs]
    numeric = [*mean, [r.test for r in cup]]
    holm = [adjust_p_values([r.p_value for r in row], "holm") for row in (*prop, *numeric)]
    t1 = clock()
    fractions = [
        tuple(k / planned for k in looks)
        for looks, planned in zip(inp.looks, inp.planned, strict=True)
    ]
    seq_prop = _decisions(prop, fractions)
    t2 = clock()
    seq_mean = _decisions(numeric, fractions)
    t3 = clock()
    bayes_prop = [
        [chance_to_beat(xc, nc, xt, nt, prior=BETA_PRIOR, alpha=ALPHA) for xc, nc, xt, nt in row]
        for row in inp.props
    ]
    t4 = clock()
    bayes_mean = [
        [chance_to_beat_mean(c.mean, c.variance, c.n, t.mean, t.variance, t.n, alpha=ALPHA)
         for c, t in row]
        for row in (*inp.means, [(c.y, t.y) for c, t in inp.covs])
    ]  # fmt: skip
    t5 = clock()
    srms = [srm(counts, WEIGHTS) for counts in inp.now]
    t6 = clock()
    ms = {
        "tests": t1 - t0,
        "seq_prop": t2 - t1,
        "seq_mean": t3 - t2,
        "bayes_prop": t4 - t3,
        "bayes_mean": t5 - t4,
        "srm": t6 - t5,
        "total": t6 - t0,
    }
    results = {
        "prop": prop,
        "mean": mean,
        "cuped": cup,
        "holm": holm,
        "seq_prop": seq_prop,
        "seq_mean": seq_mean,
        "bayes_prop": bayes_prop,
        "bayes_mean": bayes_mean,
        "srm": srms,
    }
    return {k: v * 1e3 for k, v in ms.items()}, results


def time_champion(inputs: list[Inputs], warmup: Inputs) -> list[dict[str, float]]:
    champion_readout(warmup)  # first calls pay for imports and lazy scipy set-up
    runs = []
    for inp in inputs:
        ms, _ = champion_readout(inp)
        ms["like_for_like"] = sum(ms[p] for p in LIKE_FOR_LIKE)
        runs.append(ms)
    return runs


# --- the peer ------------------------------------------------------------------------------


def peer_python() -> Path:
    """The peer's interpreter; (re)creates its virtualenv when the pinned requirements change."""
    python = VENV / "bin" / "python"
    stamp = VENV / ".requirements.sha256"
    digest = hashlib.sha256(REQUIREMENTS.read_bytes()).hexdigest()
    if python.exists() and stamp.exists() and stamp.read_text() == digest:
        return python
    base = shutil.which("python3") or sys.executable
    print(f"creating {VENV.relative_to(BENCH.parent)} (once)...", file=sys.stderr)
    subprocess.run([base, "-m", "venv", "--clear", str(VENV)], check=True)
    pip = [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
    subprocess.run([*pip, "-r", str(REQUIREMENTS)], check=True)
    stamp.write_text(digest)
    return python


def run_peer(datasets: list[dict], seed: int, runs: int, bayes_runs: int) -> dict:
    """Time the peer in its own interpreter; its Monte Carlo Bayesian part may run fewer times."""
    counts = {"tests": runs, "sequential": runs, "bayes": bayes_runs, "srm": runs}
    payload = {"alpha": ALPHA, "seed": seed, "runs": counts, "datasets": datasets}
    proc = subprocess.run(
        [str(peer_python()), str(PEER)],
        input=json.dumps(payload),
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode != 0:
        sys.exit(f"peer failed (exit {proc.returncode}):\n{proc.stderr[-4000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def agreement(results: dict, d: dict, check: dict) -> dict[str, float]:
    """Largest absolute differences between champion's and the peer's numbers on one data set."""
    segs = d["segments"]
    tests, bayes, srm_p = check["tests"], check["bayes"], check["srm"]
    p_diff = ci_diff = rel_diff = ctb_diff = loss_diff = 0.0
    for names, rows in ((PROPORTIONS, results["prop"]), (MEANS, results["mean"])):
        for metric, row in zip(names, rows, strict=True):
            for seg, r in zip(segs, row, strict=True):
                peer = tests[f"{seg}|{metric}"]
                p_diff = max(p_diff, abs(r.p_value - peer["p"]))
                ci_diff = max(
                    ci_diff, *(abs(a - b) for a, b in zip(r.diff_ci, peer["ci"], strict=True))
                )
                rel_diff = max(rel_diff, abs(r.rel_lift - peer["rel"]))
    for metric, row in zip(PROPORTIONS, results["bayes_prop"], strict=True):
        for seg, r in zip(segs, row, strict=True):
            peer = bayes[f"{seg}|{metric}"]
            ctb_diff = max(ctb_diff, abs(r.chance_to_beat - peer["chance_to_beat"]))
            loss_diff = max(loss_diff, abs(r.expected_loss_treatment - peer["expected_loss"]))
    srm_diff = max(abs(r.p_value - srm_p[s]) for s, r in zip(segs, results["srm"], strict=True))
    return {
        "p_value": p_diff,
        "diff_ci": ci_diff,
        "rel_lift": rel_diff,
        "chance_to_beat": ctb_diff,
        "expected_loss": loss_diff,
        "srm_p_value": srm_diff,
    }


# --- report --------------------------------------------------------------------------------


def _med(runs: list[dict[str, float]], key: str) -> float:
    return statistics.median(r[key] for r in runs)


def _fmt(ms: float | None) -> str:
    if ms is None:
        return "—"
    return f"{ms:,.0f}" if ms >= 100 else f"{ms:.2f}"


def report(
    champ: list[dict[str, float]], peer: dict | None, agree: dict | None, load: float
) -> dict:
    console = Console()
    if not console.is_terminal:
        console = Console(width=132)
    full, lfl = _med(champ, "total"), _med(champ, "like_for_like")
    peer_total = peer["median_ms"]["total"] if peer else None
    table = Table(title=f"Read-out of 2 arms x {METRICS} metrics x {SEGMENTS} segments (median ms)")
    for col in ("part", "champion", "spotify-confidence", "peer / champion", "peer does it as"):
        numeric = col in ("champion", "spotify-confidence", "peer / champion")
        table.add_column(col, justify="right" if numeric else "left")
    parts_json = {}
    for key, label in PARTS.items():
        c = _med(champ, key)
        p = peer["median_ms"][PEER_PART[key]] if peer and key in PEER_PART else None
        ratio = f"{p / c:,.0f}x" if p is not None and c > 0 else "—"
        table.add_row(label, _fmt(c), _fmt(p), ratio, PEER_HOW[key])
        parts_json[key] = {"champion_ms": c, "peer_ms": p}
    table.add_section()
    ratio = peer_total / lfl if peer_total else None
    table.add_row(
        "like-for-like (parts the peer does)",
        _fmt(lfl),
        _fmt(peer_total),
        f"{ratio:,.0f}x" if ratio else "—",
        "",
        style="bold",
    )
    table.add_row("full read-out (champion)", _fmt(full), "", "", "", style="bold")
    console.print(table)
    lo, hi = min(r["total"] for r in champ), max(r["total"] for r in champ)
    console.print(f"champion full read-out over {len(champ)} runs: median {full:.2f} ms, "
                  f"min {lo:.2f}, max {hi:.2f}")  # fmt: skip
    if peer:
        spans = ", ".join(
            f"{part} {min(ms):,.0f}-{max(ms):,.0f} ({len(ms)} runs)"
            for part, ms in peer["runs"].items()
        )
        vs = ", ".join(f"{k} {v}" for k, v in peer["versions"].items())
        console.print(f"peer min-max ms: {spans}; total = sum of part medians ({vs})")
    cores = os.cpu_count() or 1
    if load > 0.5 * cores:
        console.print(f"[yellow]load average {load:.1f} on {cores} cores before the runs: "
                      "timings are inflated[/]")  # fmt: skip
    ok_time = full < 50
    console.print(
        f"target: full read-out < 50 ms: {'met' if ok_time else 'MISSED'} ({full:.1f} ms)"
    )
    if ratio:
        verdict = "met" if ratio >= 10 else "MISSED"
        console.print(
            f"target: >= 10x faster than the peer, like for like: {verdict} ({ratio:.0f}x)"
        )
    if agree:
        console.print(
            "agreement with the peer (max abs diff, first data set): "
            + ", ".join(f"{k} {v:.1e}" for k, v in agree.items())
        )
    return {
        "median_ms": full,
        "min_ms": lo,
        "max_ms": hi,
        "like_for_like_median_ms": lfl,
        "peer_median_ms": peer_total,
        "ratio": ratio,
        "runs": len(champ),
        "peer_runs": {k: len(v) for k, v in peer["runs"].items()} if peer else {},
        "parts": parts_json,
        "targets_met": {"under_50_ms": ok_time, "10x_peer": bool(ratio and ratio >= 10)},
        "agreement": agree,
        "load_average": load,
    }


def profile(inputs: list[Inputs], top: int = 25) -> None:
    """cProfile over the read-outs: which champion functions the time goes to."""
    champion_readout(inputs[0])
    prof = cProfile.Profile()
    prof.enable()
    for inp in inputs:
        champion_readout(inp)
    prof.disable()
    stats = pstats.Stats(prof).strip_dirs()
    stats.sort_stats("tottime").print_stats(top)
    stats.sort_stats("cumulative").print_stats(top)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=30, help="champion read-outs timed (default 30)")
    ap.add_argument("--peer-runs", type=int, default=3, help="peer read-outs timed (default 3)")
    ap.add_argument(
        "--peer-bayes-runs",
        type=int,
        default=1,
        help="peer Monte Carlo Bayesian parts timed (default 1: ~20 s each)",
    )
    ap.add_argument("--no-peer", action="store_true", help="time champion only")
    ap.add_argument("--seed", type=int, default=20240611)
    ap.add_argument("--json", action="store_true", help="print one JSON object as the last line")
    ap.add_argument("--profile", type=int, metavar="N", help="profile N read-outs and exit")
    args = ap.parse_args(argv)
    if min(args.runs, args.peer_runs, args.peer_bayes_runs) < 1:
        ap.error("--runs, --peer-runs and --peer-bayes-runs must be >= 1")

    load = os.getloadavg()[0]  # before this process adds its own
    # Data set 0 warms champion up; 1..runs are timed; the peer reads 1..peer_runs.
    peer_count = max(args.peer_runs, args.peer_bayes_runs)
    count = max(args.runs, peer_count, args.profile or 0) + 1
    datasets = [make_dataset(args.seed + i) for i in range(count)]
    inputs = [to_inputs(d) for d in datasets]
    if args.profile:
        profile(inputs[1 : args.profile + 1])
        return
    champ = time_champion(inputs[1 : args.runs + 1], inputs[0])
    peer = agree = None
    if not args.no_peer:
        peer = run_peer(
            datasets[1 : peer_count + 1], args.seed, args.peer_runs, args.peer_bayes_runs
        )
        _, results = champion_readout(inputs[1])  # the peer's check comes from its first data set
        agree = agreement(results, datasets[1], peer["check"])
    out = report(champ, peer, agree, load)
    if args.json:
        print(json.dumps(out))


if __name__ == "__main__":
    main()
