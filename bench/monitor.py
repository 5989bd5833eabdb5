"""Monitor benchmark: one tick of ``champion monitor`` over a large event log.

One experiment has ``--exposures`` (default 10,000,000) logged exposures over the seven
days before T0 (one Parquet file per hour, the event writer's layout and schema) and
``--new`` (default 100,000) exposures in the five-minute window after T0 that no tick has
seen. The registry (SQLite) has the experiment running since before the log and a window
ledger filled up to T0 by one backfill tick (timed apart: ``backfill_s``). A measured tick
at T0 + window + settle reads only what is new, stores that window, judges every rule and
acts. Each repetition runs in a fresh process on a fresh copy of the warm registry, so its
peak RSS is the tick's own (the interpreter and libraries included).

The peer, in the same run and the same way: a naive stateless monitor that recomputes the
per-window serving sums (variant x unit bucket x window: requests, errors, latency) from
the whole log at every tick, in hand-written DuckDB SQL. Data generation is not timed; the
folder is cached under ``bench/out/``. The spec has no rollout: the stage gate's read-out
is a separate cost (bench/analysis.py).

    .venv/bin/python bench/monitor.py                  # table; about a minute (+ data once)
    .venv/bin/python bench/monitor.py --json           # last line: {"tick_p50_s", ...}
    .venv/bin/python bench/monitor.py --exposures 1000000 --repeat 3
"""

from __future__ import annotations

import argparse
import itertools
import json
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
OUT = BENCH / "out"
EXPERIMENT = "bench-monitor"
T0 = datetime(2025, 3, 10, tzinfo=UTC)  # the log runs for the 7 days before it
DAYS = 7
WINDOW_S = 300.0
LAYOUT = 1  # bump when the generated data change

SPEC = f"""
name: {EXPERIMENT}
models:
  v1: {{kind: python, target: "m:a"}}
  v2: {{kind: python, target: "m:b"}}
champion: v1
challengers: [v2]
allocation: {{v1: 0.9, v2: 0.1}}
metrics:
  primary: {{name: converted}}
  guardrails:
    - {{name: error_rate, max: 0.02, non_inferiority_margin: 0.002}}
    - {{name: latency_p95_ms, max: 200}}
monitor: {{window_minutes: 5}}
"""


def _ids(prefix: str, index: Any) -> Any:
    import pyarrow as pa
    import pyarrow.compute as pc

    return pc.binary_join_element_wise(prefix, pc.cast(pa.array(index), pa.string()), "")


def _write(folder: Path, rows: int, start_us: int, span_us: int, seed: int, tag: str) -> None:
    """``rows`` exposures in [start, start + span), one file per hour."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    from champion.events.schema import file_schema

    rng = np.random.default_rng(seed)
    ts = np.sort(start_us + rng.integers(0, span_us, rows))
    unit = rng.integers(0, max(rows // 5, 1), rows)
    challenger = (unit * 2654435761 % 100) < 10  # a stable 10 % of units
    failed = rng.random(rows) < 0.01
    table = pa.table({
        "ts": pa.array(ts, pa.int64()).cast(pa.timestamp("us", tz="UTC")),
        "unit_id": _ids("u", unit),
        "variant": pa.array(["v1", "v2"]).take(challenger.astype(np.int8)),
        "model": pa.array(["v1", "v2"]).take(challenger.astype(np.int8)),
        "request_id": _ids(f"r{tag}-", np.arange(rows)),
        "latency_ms": rng.lognormal(np.log(60.0), 0.4, rows),
        "error": pa.array(np.where(failed, "timeout", None), pa.string()),
        "prediction": pa.nulls(rows, pa.string()),
        "score": rng.random(rows),
        "attributes": pa.MapArray.from_arrays(pa.array(np.zeros(rows + 1, np.int32)),
                                              pa.array([], pa.string()), pa.array([], pa.string())),
        "allocation_version": pa.array(np.full(rows, 2, np.int32)),
        "probability": np.where(challenger, 0.1, 0.9),
        "exposed": np.ones(rows, bool),
    })  # fmt: skip
    hour = 3_600_000_000
    cuts = np.searchsorted(ts, np.arange(start_us, start_us + span_us + hour, hour))
    schema = file_schema("exposures")
    for lo, hi in itertools.pairwise(cuts):
        if hi <= lo:
            continue
        day = datetime.fromtimestamp(int(ts[lo]) / 1e6, UTC).date().isoformat()
        part = folder / f"date={day}"
        part.mkdir(parents=True, exist_ok=True)
        pq.write_table(table.slice(lo, hi - lo).cast(schema), part / f"part-{tag}-{lo}.parquet",
                       compression="zstd")  # fmt: skip


def data(exposures: int, new: int) -> Path:
    root = OUT / f"monitor-{exposures}-{new}-v{LAYOUT}"
    if (root / "done").exists():
        return root
    shutil.rmtree(root, ignore_errors=True)
    folder = root / "exposures" / f"experiment={EXPERIMENT}"
    t0_us = int(T0.timestamp() * 1e6)
    span = DAYS * 86_400_000_000
    chunk = 2_500_000
    for i, first in enumerate(range(0, exposures, chunk)):
        rows = min(chunk, exposures - first)
        part_span = span * rows // exposures
        offset = t0_us - span + span * first // exposures
        _write(folder, rows, offset, part_span, 1 + i, f"h{i}")
    new_root = root / "new" / "exposures" / f"experiment={EXPERIMENT}"
    _write(new_root, new, t0_us, int(WINDOW_S * 1e6), 99, "new")
    (root / "done").write_text("")
    return root


def warm_registry(root: Path, work: Path) -> Path:
    """A registry with the experiment started before the log and windows stored up to T0."""
    import sqlalchemy as sa

    from champion.analysis.store import open_store
    from champion.monitor.tick import tick
    from champion.registry import Registry
    from champion.registry.schema import audit_log
    from champion.spec import parse_spec

    path = work / "warm.db"
    url = f"sqlite:///{path}"
    with Registry(url) as reg:
        reg.create(parse_spec(SPEC, "bench"))
        reg.start(EXPERIMENT)
        with reg._writer.begin() as conn:  # the log begins 7 days before T0: so does traffic
            conn.execute(sa.update(audit_log).values(at=T0 - timedelta(days=DAYS, minutes=5)))
        started = time.perf_counter()
        tick(reg, lambda n: open_store(root, experiment=n), now=T0 + timedelta(seconds=3))
        print(f"backfill {time.perf_counter() - started:.2f} s", file=sys.stderr)
    return path


def _peak_rss_mb() -> float:
    """This process's peak RSS since its exec (VmHWM; ru_maxrss would carry the parent's)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _worker(kind: str, db: str, events: str) -> dict[str, Any]:
    """One tick in this fresh process; imports come first, as in a monitor that is running."""
    now = T0 + timedelta(seconds=WINDOW_S + 5)
    if kind == "champion":
        from champion.analysis.store import open_store
        from champion.monitor.tick import tick
        from champion.registry import Registry

        started = time.perf_counter()
        with Registry(db) as reg:
            results = tick(reg, lambda n: open_store(events, experiment=n), now=now)
            assert results, "no experiment was ticked"
            assert results[0].error is None, results[0].error
            assert results[0].new_windows == 2, results[0].new_windows  # one window, 2 arms
    else:
        import duckdb

        started = time.perf_counter()
        con = duckdb.connect()
        glob = f"{events}/**/*.parquet"
        con.sql(f"""
            SELECT floor(epoch(ts) / {WINDOW_S}) AS w, variant, hash(unit_id) % 64 AS bucket,
                   count(*) AS requests, count(error) AS errors, sum(latency_ms) AS latency
            FROM read_parquet('{glob}', hive_partitioning = true)
            WHERE experiment = '{EXPERIMENT}' AND exposed
            GROUP BY ALL
        """).fetchall()  # fmt: skip
    return {"seconds": time.perf_counter() - started, "rss_mb": _peak_rss_mb()}


def _events_view(root: Path, work: Path) -> Path:
    """The log as a tick at T0 + window sees it: the history plus the new window's file."""
    view = work / "events"
    if not view.exists():
        shutil.copytree(root / "exposures", view / "exposures", copy_function=_link)
        shutil.copytree(root / "new" / "exposures", view / "exposures", dirs_exist_ok=True,
                        copy_function=_link)  # fmt: skip
    return view


def _link(src: str, dst: str) -> None:
    Path(dst).hardlink_to(src)


def run(kind: str, db: Path, events: Path, work: Path) -> dict[str, Any]:
    fresh = work / f"{kind}.db"
    shutil.copy(db, fresh)
    argv = [sys.executable, __file__, "--worker", kind, "--db", f"sqlite:///{fresh}",
            "--events", str(events)]  # fmt: skip
    out = subprocess.run(argv, capture_output=True, text=True, check=False)
    if out.returncode != 0:
        raise SystemExit(f"{kind} failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bench/monitor.py")
    parser.add_argument("--exposures", type=int, default=10_000_000)
    parser.add_argument("--new", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--worker", choices=["champion", "naive"])
    parser.add_argument("--db")
    parser.add_argument("--events")
    args = parser.parse_args(argv)
    if args.worker:
        print(json.dumps(_worker(args.worker, args.db, args.events)))
        return 0
    started = time.perf_counter()
    root = data(args.exposures, args.new)
    print(f"data ready ({time.perf_counter() - started:.0f} s)", file=sys.stderr)
    with tempfile.TemporaryDirectory(prefix="bench-monitor-") as tmp:
        work = Path(tmp)
        began = time.perf_counter()
        db = warm_registry(root, work)
        backfill = time.perf_counter() - began
        events = _events_view(root, work)
        runs: dict[str, list[dict[str, Any]]] = {"champion": [], "naive": []}
        for _ in range(args.repeat):  # take turns: a noisy neighbour hits both alike
            for kind in runs:
                runs[kind].append(run(kind, db, events, work))
    med = {k: statistics.median(r["seconds"] for r in v) for k, v in runs.items()}
    p99 = {k: max(r["seconds"] for r in v) for k, v in runs.items()}  # the worst of the runs
    rss = {k: max(r["rss_mb"] for r in v) for k, v in runs.items()}
    print(f"\n| tick over {args.exposures:,} exposures + {args.new:,} new | median s | "
          f"worst s | peak RSS MB |\n|---|---:|---:|---:|")  # fmt: skip
    for kind, label in (("champion", "champion monitor (window ledger)"),
                        ("naive", "naive rescan of the whole log (DuckDB SQL)")):  # fmt: skip
        print(f"| {label} | {med[kind]:.3f} | {p99[kind]:.3f} | {rss[kind]:.0f} |")
    ratio = med["champion"] / med["naive"]
    print(f"\nchampion / naive: {ratio:.2f}x; backfill of the ledger {backfill:.1f} s (once)")
    if args.json:
        print(json.dumps({
            "tick_p50_s": round(med["champion"], 4), "tick_p99_s": round(p99["champion"], 4),
            "exposures": args.exposures, "new_events": args.new,
            "rss_mb": round(rss["champion"], 1), "backfill_s": round(backfill, 2),
            "peer_tick_p50_s": round(med["naive"], 4), "ratio": round(ratio, 3),
            "repeat": args.repeat,
        }))  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
