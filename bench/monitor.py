"""Monitor benchmark: one tick of ``champion monitor`` against a naive rescan of the whole log.

One experiment has ``--exposures`` (default 10,000,000) exposures logged over the seven days
before T0 (one Parquet file per hour, more traffic by day than by night) and ``--new``
(default 100,000) in the five-minute window after T0, which no tick has seen yet; ~1% of
requests fail, latencies are log-normal. The files are written with pyarrow in the event
writer's layout and schema and cached under ``bench/out/``.

The registry is a SQLite file. The experiment is created and started at the log's first
instant (``Registry.start`` stamps the wall clock, so the bench moves the two audit rows
back to T0 - 7 days: the cached log keeps fixed dates), and one backfill tick at T0 stores
every window up to T0 in the window ledger (timed apart: ``backfill_s``). Each repetition then
copies that warm registry and, in a fresh process (imports done and the registry open
before the clock, as in a running monitor), times ``tick(registry, open_store, now=T0 +
window + settle)``: it reads the new window, stores it, judges every rule and acts. The
same process then ticks a second fresh copy: the steady state of a long-running monitor.

The peer, timed the same way: a stateless monitor without a ledger, which recomputes every
window's serving sums (variant x unit bucket: requests, errors, latency; variant x latency
bin) from the whole log at every tick in hand-written DuckDB SQL, then judges the same rules
on them. Both must reach the same rule statuses; the bench checks it.

The spec has no ``rollout``, so the stage gate's read-out does not run: that full read-out
is a separate cost, measured by bench/analysis.py.

    .venv/bin/python bench/monitor.py                     # table; about 1.3 minutes (+ data once)
    .venv/bin/python bench/monitor.py --json              # last line: {"tick_p50_s", ...}
    .venv/bin/python bench/monitor.py --exposures 1000000 --repeat 3
    .venv/bin/python bench/monitor.py --profile 25        # cProfile of one champion tick
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
OUT = BENCH / "out"
LAYOUT = 2  # bump when the generated data change, so cached folders are not reused

EXPERIMENT = "bench-monitor"
WINDOW_S = 300
SETTLE_S = 2.5  # the spec's default monitor.settle_seconds
DAYS = 7
T0 = datetime(2025, 3, 10, 14, 35, tzinfo=UTC)  # a window boundary in the afternoon
START = T0 - timedelta(days=DAYS)  # the log's first instant, and the experiment's start
NOW = T0 + timedelta(seconds=WINDOW_S + SETTLE_S)  # the measured tick: one window closed
HOUR_US = 3_600_000_000
CHALLENGER_SHARE = 0.1

SPEC = f"""
name: {EXPERIMENT}
models:
  v1: {{kind: python, target: "bench:champion"}}
  v2: {{kind: python, target: "bench:challenger"}}
champion: v1
challengers: [v2]
allocation: {{v1: {1 - CHALLENGER_SHARE:g}, v2: {CHALLENGER_SHARE:g}}}
metrics:
  primary: {{name: converted}}
  guardrails:
    - {{name: error_rate, max: 0.02, non_inferiority_margin: 0.002}}
    - {{name: latency_p95_ms, max: 200}}
monitor: {{window_minutes: {WINDOW_S // 60}}}
"""


# --- data ----------------------------------------------------------------------------------


def _us(at: datetime) -> int:
    return int(at.timestamp()) * 1_000_000


def _write(folder: Path, rng: Any, rows: int, lo_us: int, hi_us: int, name: str) -> None:
    """``rows`` exposures with times in [lo, hi), sorted, as one zstd file in its day's folder."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    from champion.events.schema import file_schema

    def ids(prefix: str, index: Any) -> Any:
        return pc.binary_join_element_wise(prefix, pc.cast(pa.array(index), pa.string()), "")

    ts = np.sort(rng.integers(lo_us, hi_us, rows))
    unit = rng.integers(0, 2_000_000, rows)  # 2M users, most seen many times
    challenger = (unit * 2_654_435_761 % 1000) < 1000 * CHALLENGER_SHARE  # sticky per unit
    arm = challenger.astype(np.int8)
    failed = rng.random(rows) < np.where(challenger, 0.011, 0.010)
    empty = pa.array([], pa.string())
    table = pa.table(
        {
            "ts": pa.array(ts, pa.int64()).cast(pa.timestamp("us", tz="UTC")),
            "unit_id": ids("u", unit),
            "variant": pa.array(["v1", "v2"]).take(arm),
            "model": pa.array(["model-a", "model-b"]).take(arm),
            "request_id": ids(f"r{name}-", np.arange(rows)),
            "latency_ms": rng.lognormal(np.log(np.where(challenger, 62.0, 60.0)), 0.4),
            "error": pa.array(np.where(failed, "timeout", None), pa.string()),
            "prediction": pa.nulls(rows, pa.string()),
            "score": rng.random(rows),
            "attributes": pa.MapArray.from_arrays(
                pa.array(np.zeros(rows + 1, np.int32)), empty, empty
            ),
            "allocation_version": pa.array(np.full(rows, 2, np.int32)),
            "probability": np.where(challenger, CHALLENGER_SHARE, 1 - CHALLENGER_SHARE),
            "exposed": rng.random(rows) >= 0.01,  # 1% logged but not exposed: not counted
        }
    )
    day = datetime.fromtimestamp(lo_us / 1e6, UTC).date().isoformat()
    part = folder / f"date={day}"
    part.mkdir(parents=True, exist_ok=True)
    pq.write_table(
        table.cast(file_schema("exposures")), part / f"part-{name}.parquet", compression="zstd"
    )


def generate(root: Path, exposures: int, new: int) -> dict[str, Any]:
    """The history (one file per clock hour, busier by day) and the new window (one file per
    minute, as a writer's flushes land), in ``root/exposures/experiment=.../date=.../``."""
    import numpy as np

    rng = np.random.default_rng(20250310)
    folder = root / "exposures" / f"experiment={EXPERIMENT}"
    start, t0 = _us(START), _us(T0)
    cuts = [start, *range((start // HOUR_US + 1) * HOUR_US, t0, HOUR_US), t0]
    lo = np.array(cuts[:-1])
    length = np.diff(cuts)
    hour_of_day = (lo // HOUR_US) % 24
    weight = length * (1.0 + 0.6 * np.sin(2 * np.pi * (hour_of_day - 9) / 24))  # peak at 15:00
    rows = np.floor(exposures * weight / weight.sum()).astype(np.int64)
    rows[np.argsort(-weight)[: exposures - rows.sum()]] += 1  # the remainder, one each
    for a, b, n in zip(cuts[:-1], cuts[1:], rows.tolist(), strict=True):
        stamp = datetime.fromtimestamp(a / 1e6, UTC).strftime("%Y%m%dT%H%M")
        _write(folder, rng, n, a, b, stamp)
    minute = 60_000_000
    per_minute = np.diff(np.linspace(0, new, WINDOW_S // 60 + 1).round().astype(np.int64))
    for i, n in enumerate(per_minute.tolist()):
        a = t0 + i * minute
        _write(folder, rng, n, a, a + minute, f"new-{i}")
    files = sorted(folder.rglob("*.parquet"))
    return {
        "exposures": exposures,
        "new": new,
        "files": len(files),
        "bytes": sum(f.stat().st_size for f in files),
    }


def dataset(exposures: int, new: int) -> tuple[Path, dict[str, Any]]:
    """The cached Parquet folder for (exposures, new), generated (untimed) when missing."""
    root = OUT / f"monitor-{exposures}-{new}-v{LAYOUT}"
    done = root / "done.json"
    if not done.exists():
        shutil.rmtree(root, ignore_errors=True)  # an interrupted generation
        print(f"generating {exposures:,} + {new:,} exposures in {root} (once)...", file=sys.stderr)
        t = time.perf_counter()
        info = generate(root, exposures, new)
        info["generation_seconds"] = round(time.perf_counter() - t, 1)
        done.write_text(json.dumps(info))
        print(
            f"  done in {info['generation_seconds']:.0f} s, "
            f"{info['bytes'] / 2**20:,.0f} MiB in {info['files']} files",
            file=sys.stderr,
        )
    return root, json.loads(done.read_text())


# --- workers: each runs in a fresh process ---------------------------------------------------


def _peak_rss_mb() -> float:
    """This process's peak RSS (``VmHWM``): ``ru_maxrss`` would carry the parent's high-water
    mark across ``exec``, so a small child would report the bench's own peak."""
    import resource

    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _preload() -> None:
    """Import what a running monitor has imported after its first tick: Ibis loads its DuckDB
    backend on first use, and the backend's Arrow converter imports pandas (~0.5 s, once)."""
    import importlib

    for module in ("ibis.backends.duckdb.converter", "ibis.expr.types.groupby"):
        importlib.import_module(module)


def _opener(root: Path) -> Any:
    from champion.analysis.store import open_store

    return lambda name: open_store(root, experiment=name)


def worker_backfill(root: Path, db: Path) -> dict[str, Any]:
    """The warm registry: the experiment created and started at the log's first instant, then
    one tick at T0 (+ settle) that stores every window up to T0."""
    import sqlalchemy as sa

    from champion.monitor.tick import tick
    from champion.registry import Registry
    from champion.registry.schema import audit_log
    from champion.spec import parse_spec

    with Registry(str(db)) as reg:
        reg.create(parse_spec(SPEC, "bench/monitor.py"), by="bench")
        reg.start(EXPERIMENT, by="bench")
    engine = sa.create_engine(f"sqlite:///{db}")  # the bench's own file, not the Registry's API
    with engine.begin() as conn:
        conn.execute(
            sa.update(audit_log).where(audit_log.c.experiment == EXPERIMENT).values(at=START)
        )
    engine.dispose()
    with Registry(str(db)) as reg:
        started = [e.at for e in reg.history(EXPERIMENT) if e.action == "start"]
        assert started == [START], started
        t, cpu = time.perf_counter(), time.process_time()
        results = tick(reg, _opener(root), now=T0 + timedelta(seconds=SETTLE_S))
        seconds, cpu = time.perf_counter() - t, time.process_time() - cpu
    (r,) = results
    assert r.error is None, r.error
    return {
        "seconds": seconds,
        "cpu_seconds": cpu,
        "new_windows": r.new_windows,
        "peak_rss_mb": _peak_rss_mb(),
    }


def worker_champion(root: Path, db: Path, work: Path) -> dict[str, Any]:
    """Two ticks, each on its own copy of the warm registry: the first in this process (the
    peak RSS is read after it), then the steady state of a monitor that keeps running."""
    from champion.monitor.tick import tick
    from champion.registry import Registry

    _preload()
    out: dict[str, Any] = {}
    for run in ("first", "second"):
        copy = work / f"tick-{os.getpid()}-{run}.db"
        shutil.copyfile(db, copy)
        with Registry(str(copy)) as reg:
            reg.snapshot()  # the connection pool is warm, as in a running monitor
            before = set(sys.modules)
            t, cpu = time.perf_counter(), time.process_time()
            results = tick(reg, _opener(root), now=NOW)
            seconds, cpu = time.perf_counter() - t, time.process_time() - cpu
            imported = sorted(set(sys.modules) - before)
        copy.unlink()
        (r,) = results
        assert r.error is None, r.error
        assert r.new_windows == 2, f"expected one new window x 2 variants, got {r.new_windows}"
        if run == "first":
            out.update(
                seconds=seconds,
                cpu_seconds=cpu,
                peak_rss_mb=_peak_rss_mb(),
                rules=[x.to_dict() for x in r.rules],
                action=r.action,
                imported=imported,  # modules the tick imported: should be none
            )
        else:
            out["second_seconds"] = seconds
    return out


def naive_queries(root: Path, since: datetime, until: datetime) -> dict[str, str]:
    """Every window's serving sums since ``since``, from the whole log: what champion's
    ``read_windows`` computes for the new windows only (same unit bucket, same latency bins)."""
    from champion.analysis.aggregate import HISTOGRAM_EDGES, UNIT_BUCKETS

    low_k = round(200 * math.log10(HISTOGRAM_EDGES[0]))  # the edges are 10^(k/200)
    log = (
        f"read_parquet('{root}/exposures/experiment={EXPERIMENT}/**/*.parquet', "
        "hive_partitioning = true, hive_types = {'experiment': 'VARCHAR', 'date': 'DATE'})"
    )
    rows = (
        f"FROM {log} WHERE experiment = '{EXPERIMENT}' AND exposed "
        f"AND ts >= '{since.isoformat()}'::TIMESTAMPTZ AND ts < '{until.isoformat()}'::TIMESTAMPTZ"
    )
    w = f"epoch_us(ts) // {WINDOW_S * 1_000_000}"
    bin_ = (
        f"least(greatest(floor(log10(greatest(latency_ms, {HISTOGRAM_EDGES[0]!r})) * 200) "
        f"- ({low_k}), 0), {len(HISTOGRAM_EDGES) - 2})::BIGINT"
    )
    return {
        "buckets": f"SELECT {w} AS w, variant, hash(unit_id) % {UNIT_BUCKETS} AS bucket, "
        f"count(*) AS requests, count(error) AS errors, sum(latency_ms) AS latency {rows} "
        "GROUP BY ALL",
        "bins": f"SELECT {w} AS w, variant, {bin_} AS bin, count(*) AS requests {rows} "
        "AND latency_ms IS NOT NULL GROUP BY ALL",
    }


def worker_naive(root: Path) -> dict[str, Any]:
    """A monitor without a ledger: every window's sums from the whole log, then the rules."""
    from collections import defaultdict

    import duckdb

    from champion.monitor.rules import (
        SCAN_WINDOWS,
        judge_change,
        judge_comparative,
        judge_slo,
        totals,
    )
    from champion.monitor.windows import closed_windows, empty_sums
    from champion.spec import parse_spec

    spec = parse_spec(SPEC, "bench/monitor.py")
    starts = closed_windows(START, NOW, WINDOW_S, SETTLE_S)
    queries = naive_queries(root, starts[0], starts[-1] + timedelta(seconds=WINDOW_S))
    t, cpu = time.perf_counter(), time.process_time()
    con = duckdb.connect()
    fetched = {name: con.sql(sql).fetchall() for name, sql in queries.items()}
    con.close()
    query_seconds = time.perf_counter() - t
    sums: dict[tuple[int, str], dict[str, Any]] = defaultdict(empty_sums)
    for w, variant, bucket, requests, errors, latency in fetched["buckets"]:
        cell = sums[(w, variant)]
        cell["requests"][bucket] += requests
        cell["errors"][bucket] += errors
        cell["latency"][bucket] += latency or 0.0
    for w, variant, b, requests in fetched["bins"]:
        sums[(w, variant)]["bins"][str(b)] = requests
    windows = [
        {v: sums.get((round(s.timestamp()) // WINDOW_S, v)) or empty_sums() for v in spec.variants}
        for s in starts
    ]
    labels = [s.isoformat() for s in starts]
    summed, index = totals(windows), len(windows) - 1
    marks = {n: totals(windows[: index + 1 - n]) for n in SCAN_WINDOWS if n <= index}
    rules = [
        *judge_slo(spec, windows, labels),
        *judge_comparative(spec, summed, labels[-1]),
        *judge_change(spec, summed, marks, index, labels[-1]),
    ]
    return {
        "seconds": time.perf_counter() - t,
        "cpu_seconds": time.process_time() - cpu,
        "query_seconds": query_seconds,
        "peak_rss_mb": _peak_rss_mb(),
        "rows_fetched": sum(len(r) for r in fetched.values()),
        "rules": [r.to_dict() for r in rules],
    }


def worker_profile(root: Path, db: Path, work: Path, top: int) -> None:
    """cProfile of the two ticks ``worker_champion`` times, each on a copy of the warm registry."""
    import cProfile
    import pstats

    from champion.monitor.tick import tick
    from champion.registry import Registry

    _preload()
    for run in ("first", "second"):
        copy = work / f"profile-{run}.db"
        shutil.copyfile(db, copy)
        with Registry(str(copy)) as reg:
            reg.snapshot()
            prof = cProfile.Profile()
            t = time.perf_counter()
            prof.runcall(tick, reg, _opener(root), now=NOW)
            print(
                f"\n=== the {run} tick in this process, under cProfile: "
                f"{time.perf_counter() - t:.2f} s"
            )
        for key in ("cumulative", "tottime"):
            pstats.Stats(prof).sort_stats(key).print_stats(top)


# --- the parent ------------------------------------------------------------------------------


def spawn(*args: str) -> dict[str, Any]:
    """One worker in a fresh interpreter; its JSON answer (the last line it prints)."""
    command = [sys.executable, str(Path(__file__).resolve()), *args]
    proc = subprocess.run(command, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        sys.exit(f"{' '.join(args[:2])} failed (exit {proc.returncode}):\n{proc.stderr[-4000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _p99(values: list[float]) -> float:
    if len(values) < 2:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[98]


def agreement(champion: list[dict[str, Any]], naive: list[dict[str, Any]]) -> dict[str, Any]:
    """Whether both monitors reached the same statuses, and how far their estimates differ."""
    key = ("guardrail", "variant", "rule", "kind")
    theirs = {tuple(r[k] for k in key): r for r in naive}
    same, worst = True, 0.0
    for r in champion:
        other = theirs.get(tuple(r[k] for k in key))
        if other is None or (r["status"], r["n"]) != (other["status"], other["n"]):
            same = False
            continue
        for field in ("estimate", "bound"):
            a, b = r[field], other[field]
            if a is not None and b is not None:
                worst = max(worst, abs(a - b) / max(abs(b), 1e-12))
    return {"same_statuses": same and len(champion) == len(naive), "max_rel_diff": worst}


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument(
        "--exposures",
        type=int,
        default=10_000_000,
        help="exposures logged before T0 (default 10,000,000)",
    )
    ap.add_argument(
        "--new",
        type=int,
        default=100_000,
        help="exposures in the window after T0, not yet in the ledger (default 100,000)",
    )
    ap.add_argument("--repeat", type=int, default=7, help="timed ticks of each (default 7)")
    ap.add_argument("--no-peer", action="store_true", help="champion only")
    ap.add_argument("--json", action="store_true", help="print one JSON object as the last line")
    ap.add_argument(
        "--profile", type=int, metavar="N", help="cProfile of one champion tick (top N)"
    )
    ap.add_argument(
        "--worker", choices=("backfill", "champion", "naive", "profile"), help=argparse.SUPPRESS
    )
    ap.add_argument("--data", type=Path, help=argparse.SUPPRESS)
    ap.add_argument("--db", type=Path, help=argparse.SUPPRESS)
    ap.add_argument("--work", type=Path, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.worker:
        warnings.simplefilter("ignore", DeprecationWarning)
        if args.worker == "backfill":
            result = worker_backfill(args.data, args.db)
        elif args.worker == "champion":
            result = worker_champion(args.data, args.db, args.work)
        elif args.worker == "profile":
            worker_profile(args.data, args.db, args.work, args.profile)
            return
        else:
            result = worker_naive(args.data)
        print(json.dumps(result))
        return
    if args.exposures < 1000 or args.new < 1000 or args.repeat < 1:
        ap.error("--exposures and --new must be >= 1000, --repeat >= 1")

    load = os.getloadavg()[0]  # before this process adds its own
    began = time.perf_counter()
    root, info = dataset(args.exposures, args.new)
    data = ["--data", str(root)]
    with tempfile.TemporaryDirectory(prefix="bench-monitor-") as tmp:
        work, db = Path(tmp), Path(tmp) / "warm.db"
        backfill = spawn("--worker", "backfill", *data, "--db", str(db))
        windows = len(closed_windows_before_t0())
        assert backfill["new_windows"] == 2 * windows, backfill
        print(
            f"backfill: {windows:,} windows x 2 variants in {backfill['seconds']:.1f} s",
            file=sys.stderr,
        )
        if args.profile:
            me = [sys.executable, str(Path(__file__).resolve()), "--worker", "profile"]
            subprocess.run(
                [*me, *data, "--db", str(db), "--work", str(work), "--profile", str(args.profile)],
                check=True,
            )
            return
        kinds = ["champion"] if args.no_peer else ["champion", "naive"]
        runs: dict[str, list[dict[str, Any]]] = {k: [] for k in kinds}
        for i in range(args.repeat):
            for kind in kinds[i % len(kinds) :] + kinds[: i % len(kinds)]:  # take turns
                extra = ["--db", str(db), "--work", str(work)] if kind == "champion" else []
                runs[kind].append(spawn("--worker", kind, *data, *extra))
                print(
                    f"  {i + 1}/{args.repeat} {kind}: {runs[kind][-1]['seconds']:.3f} s, "
                    f"peak RSS {runs[kind][-1]['peak_rss_mb']:.0f} MiB",
                    file=sys.stderr,
                )
    out = report(runs, info, backfill, load, args.repeat)
    out["bench_seconds"] = round(time.perf_counter() - began, 1)
    if args.json:
        print(json.dumps(out))


def closed_windows_before_t0() -> list[datetime]:
    from champion.monitor.windows import closed_windows

    return closed_windows(START, T0 + timedelta(seconds=SETTLE_S), WINDOW_S, SETTLE_S)


def report(
    runs: dict[str, list[dict[str, Any]]],
    info: dict[str, Any],
    backfill: dict[str, Any],
    load: float,
    repeat: int,
) -> dict[str, Any]:
    from rich.console import Console
    from rich.table import Table

    console = Console() if sys.stdout.isatty() else Console(width=120)
    stats = {}
    for kind, rs in runs.items():
        secs = [r["seconds"] for r in rs]
        stats[kind] = {
            "p50": statistics.median(secs),
            "p99": _p99(secs),
            "min": min(secs),
            "max": max(secs),
            "rss": max(r["peak_rss_mb"] for r in rs),
            "cpu": statistics.median(r["cpu_seconds"] for r in rs),
        }
    champ, naive = stats["champion"], stats.get("naive")
    table = Table(
        title=f"One monitor tick over {info['exposures']:,} logged exposures "
        f"({info['files']} files) + {info['new']:,} new, {repeat} runs each"
    )
    for col in ("", "p50 s", "p99 s", "min s", "max s", "CPU s", "peak RSS MiB", "x champion"):
        table.add_column(col, justify="left" if not col else "right")

    def row(label: str, s: dict[str, float], rss: bool = True) -> None:
        table.add_row(
            label,
            f"{s['p50']:.3f}",
            f"{s['p99']:.3f}",
            f"{s['min']:.3f}",
            f"{s['max']:.3f}",
            f"{s['cpu']:.2f}" if "cpu" in s else "",
            f"{s['rss']:,.0f}" if rss else "",
            f"{s['p50'] / champ['p50']:.2f}",
        )

    row("champion: one tick (window ledger)", champ)
    second = [r["second_seconds"] for r in runs["champion"]]
    row(
        "  the same tick, 2nd in its process",
        {
            "p50": statistics.median(second),
            "p99": _p99(second),
            "min": min(second),
            "max": max(second),
        },
        rss=False,
    )
    if naive:
        row("naive: rescan of the whole log + rules", naive)
        q = [r["query_seconds"] for r in runs["naive"]]
        row(
            "  of which its two DuckDB queries",
            {"p50": statistics.median(q), "p99": _p99(q), "min": min(q), "max": max(q)},
            rss=False,
        )
    console.print(table)
    late = sorted({m for r in runs["champion"] for m in r["imported"]})
    if late:
        console.print(
            f"[yellow]the first tick imported {len(late)} modules: {', '.join(late[:8])}[/]"
        )
    cores = os.cpu_count() or 1
    if load > 0.5 * cores:
        console.print(
            f"[yellow]load average {load:.1f} on {cores} cores before the runs: "
            "timings are inflated and noisy[/]"
        )
    console.print(
        f"backfill (one tick storing {backfill['new_windows']:,} window rows up to T0): "
        f"{backfill['seconds']:.1f} s, peak RSS {backfill['peak_rss_mb']:,.0f} MiB"
    )
    console.print(
        "no rollout in the spec: the stage gate's read-out is not in the tick "
        "(its cost: bench/analysis.py)"
    )
    ok_time, ok_rss = champ["p50"] < 1.0, champ["rss"] < 500
    console.print(
        f"target: tick p50 < 1 s: {'met' if ok_time else 'MISSED'} ({champ['p50']:.3f} s);"
        f" peak RSS < 500 MB: {'met' if ok_rss else 'MISSED'} ({champ['rss']:.0f} MiB)"
    )
    out: dict[str, Any] = {
        "tick_p50_s": round(champ["p50"], 4),
        "tick_p99_s": round(champ["p99"], 4),
        "exposures": info["exposures"],
        "new_events": info["new"],
        "rss_mb": round(champ["rss"], 1),
        "backfill_s": round(backfill["seconds"], 2),
        "peer_tick_p50_s": round(naive["p50"], 4) if naive else None,
        "ratio": round(naive["p50"] / champ["p50"], 3) if naive else None,
        "tick_second_p50_s": round(statistics.median(second), 4),
        "tick_cpu_s": round(champ["cpu"], 3),
        "peer_tick_p99_s": round(naive["p99"], 4) if naive else None,
        "peer_rss_mb": round(naive["rss"], 1) if naive else None,
        "backfill_rss_mb": round(backfill["peak_rss_mb"], 1),
        "targets_met": {"tick_p50_under_1s": ok_time, "rss_under_500mb": ok_rss},
        "runs": {k: [round(r["seconds"], 4) for r in rs] for k, rs in runs.items()},
        "tick_imported_modules": late,
        "files": info["files"],
        "repeat": repeat,
        "load_average": load,
        "action": runs["champion"][0]["action"],
    }
    if naive:
        agree = agreement(runs["champion"][0]["rules"], runs["naive"][0]["rules"])
        out["agreement"] = agree
        console.print(
            f"naive / champion: {out['ratio']:.2f}x; same rule statuses: "
            f"{agree['same_statuses']}, estimates within {agree['max_rel_diff']:.1e}"
        )
    return out


if __name__ == "__main__":
    main()
