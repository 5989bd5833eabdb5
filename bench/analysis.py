"""Analysis benchmark: champion's analysis against tea-tasting and a hand-written DuckDB floor.

The same Parquet event log (by default 10,000,000 exposures and 10,000,000 outcome rows, in
the event writer's layout and schema) is analysed three ways, each in a process of its own
so that each has its own peak memory:

- champion: ``open_store`` + ``load_analysis_data`` (the sufficient statistics, computed by
  DuckDB from the SQL that Ibis generates), then ``build_report`` (the read-out);
- tea-tasting (its Ibis backend on DuckDB, in ``bench/.venv-tea-tasting``): a per-unit table
  built from the raw events with Ibis, then ``Experiment(...).analyze`` overall and per segment;
- the floor: hand-written DuckDB SQL computing the sufficient statistics champion computes.

Data generation is not timed; the Parquet folder is cached under ``bench/out/`` by rows and
seed. Contenders take turns in each repeat, so a noisy neighbour hits all of them alike.

    .venv/bin/python bench/analysis.py                  # table; ~2 minutes (+ data once)
    .venv/bin/python bench/analysis.py --json           # last line: {"seconds", ...}
    .venv/bin/python bench/analysis.py --rows 1000000   # scaled down (or up)
    .venv/bin/python bench/analysis.py --explain        # EXPLAIN ANALYZE of champion's SQL
    .venv/bin/python bench/analysis.py --floor-capped   # + the floor under champion's memory limit
"""

from __future__ import annotations

import argparse
import hashlib
import itertools
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
import warnings
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
OUT = BENCH / "out"
VENV = BENCH / ".venv-tea-tasting"
REQUIREMENTS = BENCH / "requirements-tea-tasting.txt"
PEER = BENCH / "_peer_tea_tasting.py"
LAYOUT = 2  # bump when the generated data change, so cached folders are not reused

EXPERIMENT = "bench-checkout"
CHAMPION, CHALLENGER = "v1", "v2"
PLATFORMS = ("web", "ios", "android")  # the segment attribute's values
PLATFORM_SHARE = (0.5, 0.3, 0.2)
COUNTRIES = ("US", "DE", "IN", "BR", "FR")  # a second attribute nobody segments by
START_US = 1_740_960_000_000_000  # 2025-03-03T00:00Z
DAY_US = 86_400_000_000
DAYS = 14  # exposures run for two weeks
WINDOW_DAYS = 7  # every metric's attribution window, and the covariate's lookback
REQUESTS_PER_UNIT = 5  # exposures / units
CHUNK = 10_000_000  # rows generated at a time (~3.5 GB of memory)
OUTCOME_NAMES = ("converted", "revenue", "visits")  # what the metrics read
OTHER_OUTCOME = "support_ticket"  # in the log, read by no metric


def spec_dict() -> dict[str, Any]:
    """The experiment: a proportion, a mean with CUPED, a ratio; one segment attribute."""
    return {
        "name": EXPERIMENT,
        "models": {v: {"kind": "python", "target": "bench:model"} for v in (CHAMPION, CHALLENGER)},
        "champion": CHAMPION,
        "challengers": [CHALLENGER],
        "allocation": {CHAMPION: 0.5, CHALLENGER: 0.5},
        "metrics": {
            "primary": {"name": "converted", "kind": "proportion", "window_days": WINDOW_DAYS},
            "secondary": [
                {
                    "name": "revenue",
                    "kind": "mean",
                    "window_days": WINDOW_DAYS,
                    "covariate": "revenue",
                    "lookback_days": WINDOW_DAYS,
                },
                {
                    "name": "revenue_per_visit",
                    "kind": "ratio",
                    "numerator": "revenue",
                    "denominator": "visits",
                    "window_days": WINDOW_DAYS,
                },
            ],
            "guardrails": [{"name": "latency_p95_ms", "max": 500}],
        },
        "segments": ["platform"],
    }


# --- data ---------------------------------------------------------------------------------


def _ids(prefix: str, index: Any) -> Any:
    """``prefix`` + the decimal index, as an Arrow string array (no Python objects per row)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    return pc.binary_join_element_wise(prefix, pc.cast(pa.array(index), pa.string()), "")


def _write_partitions(table: Any, folder: Path, ts_us: Any, tag: str, schema: Any) -> None:
    """Rows sorted by time, one zstd Parquet file per UTC day (``<folder>/date=.../part-*``)."""
    import numpy as np
    import pyarrow.parquet as pq

    order = np.argsort(ts_us, kind="stable")
    table = table.take(order)
    days = ts_us[order] // DAY_US
    cuts = np.flatnonzero(np.diff(days)) + 1
    bounds = [0, *cuts.tolist(), len(days)]
    for lo, hi in itertools.pairwise(bounds):
        day = np.datetime64(int(days[lo]), "D").astype(str)
        part = folder / f"date={day}"
        part.mkdir(parents=True, exist_ok=True)
        piece = table.slice(lo, hi - lo).cast(schema)
        pq.write_table(piece, part / f"part-{tag}.parquet", compression="zstd")


def generate(root: Path, rows: int, seed: int) -> dict[str, int]:
    """``rows`` exposures and ``rows`` outcome rows, in chunks of at most :data:`CHUNK` rows
    (each chunk its own units and its own file per day), so memory stays bounded."""
    key = hashlib.sha256(f"{rows}:{seed}".encode()).hexdigest()[:12]
    total = {"exposures": 0, "outcomes": 0, "units": 0}
    for chunk, start in enumerate(range(0, rows, CHUNK)):
        size = min(CHUNK, rows - start)
        done = _generate_chunk(root, size, (seed, chunk), total["units"], start, f"{key}-{chunk}")
        for name in total:
            total[name] += done[name]
    total["files"] = sum(1 for _ in root.rglob("*.parquet"))
    return total


def _generate_chunk(
    root: Path, rows: int, seed: tuple[int, int], unit_offset: int, row_offset: int, tag: str
) -> dict[str, int]:
    """``rows`` exposures and ``rows`` outcome rows with known effects, in the writer's layout.

    Units (rows / 5) get a first exposure uniformly over two weeks, a variant (50/50), a
    platform and a latent spend level; their further requests follow within days (1% are
    ``exposed=false``; 0.1% of units see the other variant once). Outcomes: a conversion
    (10% vs 11%), revenue for converters (+3% in the challenger), pre-period revenue from the
    same spend level (the CUPED covariate), visits, and an outcome no metric reads. Some
    fall outside the windows. Timestamps within a unit never tie.
    """
    import numpy as np
    import pyarrow as pa

    from champion.events.schema import file_schema

    rng = np.random.default_rng(list(seed))
    units = max(rows // REQUESTS_PER_UNIT, 1)
    extra = rows - units

    # -- units
    t0 = START_US + rng.integers(0, DAYS * DAY_US, units)
    treated = rng.random(units) < 0.5
    platform = rng.choice(len(PLATFORMS), units, p=PLATFORM_SHARE)
    country = rng.integers(0, len(COUNTRIES), units)
    spend = rng.lognormal(0.0, 0.8, units)  # drives revenue before and after exposure

    # -- exposures: each unit's first request at t0, then `extra` more at random units
    who = np.concatenate([np.arange(units), rng.integers(0, units, extra)])
    gap = np.concatenate(
        [np.zeros(units, np.int64), 1 + rng.exponential(2.0 * DAY_US, extra).astype(np.int64)]
    )
    ts = np.minimum(t0[who] + gap, START_US + (DAYS + 3) * DAY_US)
    variant = treated[who].copy()
    flip = np.zeros(rows, bool)
    flip[units:] = rng.random(extra) < 0.001 * units / max(extra, 1)
    variant ^= flip
    exposed = np.ones(rows, bool)
    exposed[units:] = rng.random(extra) >= 0.01
    latency = rng.lognormal(np.log(np.where(variant, 62.0, 55.0)), 0.5)
    failed = rng.random(rows) < np.where(variant, 0.004, 0.003)
    names = pa.array([CHAMPION, CHALLENGER])
    keys = pa.array(["platform", "country"]).take(np.tile([0, 1], rows))
    pairs = np.empty(2 * rows, np.int64)
    pairs[0::2] = platform[who]
    pairs[1::2] = len(PLATFORMS) + country[who]
    values = pa.array([*PLATFORMS, *COUNTRIES]).take(pairs)
    offsets = pa.array(np.arange(0, 2 * rows + 1, 2, np.int32))
    attributes = pa.MapArray.from_arrays(offsets, keys, values)
    exposures = pa.table(
        {
            "ts": pa.array(ts, pa.int64()).cast(pa.timestamp("us", tz="UTC")),
            "unit_id": _ids("u", who + unit_offset),
            "variant": names.take(variant.astype(np.int8)),
            "model": pa.array(["model-a", "model-b"]).take(variant.astype(np.int8)),
            "request_id": _ids("r", rng.permutation(rows) + row_offset),
            "latency_ms": latency,
            "error": pa.array(np.where(failed, "timeout", None), pa.string()),
            "prediction": pa.nulls(rows, pa.string()),
            "score": rng.random(rows),
            "attributes": attributes,
            "allocation_version": pa.array(np.ones(rows, np.int32)),
            "probability": np.full(rows, 0.5),
            "exposed": exposed,
        }
    )
    folder = root / "exposures" / f"experiment={EXPERIMENT}"
    _write_partitions(exposures, folder, ts, tag, file_schema("exposures"))
    del exposures, attributes, keys, values, pairs

    # -- outcomes
    propensity = np.minimum(spend / np.exp(0.32), 5.0)  # spend / its mean, capped
    rate = np.where(treated, 0.11, 0.10) * np.array([1.0, 1.2, 0.8])[platform] * propensity
    converts = rng.random(units) < rate
    conv_units = np.flatnonzero(converts)
    conv_ts = t0[conv_units] + rng.integers(1, int(8.5 * DAY_US), conv_units.size)
    purchases = 1 + rng.poisson(0.5, conv_units.size)
    rev_units = np.repeat(conv_units, purchases)
    rev_ts = np.repeat(conv_ts, purchases) + rng.integers(0, DAY_US // 2, rev_units.size)
    lift = np.where(treated[rev_units], 1.03, 1.0)
    rev_value = np.round(spend[rev_units] * lift * rng.lognormal(3.0, 0.6, rev_units.size), 2)
    pre_units = np.flatnonzero(rng.random(units) < 0.3 * propensity)
    pre_ts = t0[pre_units] - rng.integers(1, 10 * DAY_US, pre_units.size)
    pre_value = np.round(spend[pre_units] * rng.lognormal(3.0, 0.6, pre_units.size), 2)
    taken = conv_units.size + rev_units.size + pre_units.size
    rest = max(rows - taken, 0)
    other = rest // 10
    visits = rest - other
    visit_units = rng.integers(0, units, visits)
    visit_ts = t0[visit_units] + rng.integers(-3 * DAY_US, 10 * DAY_US, visits)
    other_units = rng.integers(0, units, other)
    other_ts = t0[other_units] + rng.integers(-3 * DAY_US, 10 * DAY_US, other)
    o_units = np.concatenate([conv_units, rev_units, pre_units, visit_units, other_units])[:rows]
    o_ts = np.concatenate([conv_ts, rev_ts, pre_ts, visit_ts, other_ts])[:rows]
    o_value = np.concatenate(
        [np.ones(conv_units.size), rev_value, pre_value, np.ones(visits), np.ones(other)]
    )[:rows]
    o_metric = np.repeat(
        np.arange(4, dtype=np.int8),
        [conv_units.size, rev_units.size + pre_units.size, visits, other],
    )[:rows]
    outcomes = pa.table(
        {
            "ts": pa.array(o_ts, pa.int64()).cast(pa.timestamp("us", tz="UTC")),
            "unit_id": _ids("u", o_units + unit_offset),
            "metric": pa.array([*OUTCOME_NAMES, OTHER_OUTCOME]).take(o_metric),
            "value": o_value,
        }
    )
    _write_partitions(outcomes, root / "outcomes", o_ts, tag, file_schema("outcomes"))
    return {"exposures": rows, "outcomes": int(o_units.size), "units": units}


def dataset(rows: int, seed: int) -> Path:
    """The cached Parquet folder for (rows, seed), generated (untimed) when missing."""
    root = OUT / f"analysis-{rows}-{seed}-v{LAYOUT}"
    done = root / "done.json"
    if done.exists():
        return root
    if root.exists():
        shutil.rmtree(root)  # an interrupted generation
    print(f"generating {rows:,} exposures + {rows:,} outcomes in {root} (once)...", file=sys.stderr)
    t = time.perf_counter()
    info = generate(root, rows, seed)
    info["generation_seconds"] = time.perf_counter() - t
    info["bytes"] = sum(p.stat().st_size for p in root.rglob("*.parquet"))
    done.write_text(json.dumps(info))
    print(f"  done in {info['generation_seconds']:.0f} s, "
          f"{info['bytes'] / 2**20:,.0f} MiB", file=sys.stderr)  # fmt: skip
    return root


# --- the floor: hand-written DuckDB SQL ----------------------------------------------------

_SECONDS = WINDOW_DAYS * 86_400


def floor_queries(root: Path) -> dict[str, str]:
    """The sufficient statistics champion computes, written by hand for this spec and layout.

    ``cells``: per variant x allocation version x first-exposure day x platform (units seen
    in both variants folded together, as champion does) the unit count and, per metric, the
    sums of y, y², outcome rows, and for CUPED x, x², xy, for the ratio d, d², yd. ``serving``:
    requests, errors and the latency histogram bin counts per variant. Each unit's first
    exposure is its ``arg_min`` by ``ts`` (the data have no ties within a unit).
    """
    exposures = (
        f"read_parquet('{root}/exposures/experiment={EXPERIMENT}/**/*.parquet', "
        "hive_partitioning = true, hive_types = {'experiment': 'VARCHAR', 'date': 'DATE'})"
    )
    outcomes = (
        f"read_parquet('{root}/outcomes/**/*.parquet', "
        "hive_partitioning = true, hive_types = {'date': 'DATE'})"
    )
    window = f"INTERVAL '{_SECONDS} seconds'"
    names = ", ".join(f"'{n}'" for n in OUTCOME_NAMES)
    cells = f"""
WITH units AS (
    SELECT unit_id,
           min(ts) AS first_ts,
           arg_min(variant, ts) AS variant,
           min(variant) <> max(variant) AS multiple,
           arg_min(allocation_version, ts) AS allocation_version,
           arg_min(probability, ts) AS probability,
           arg_min(coalesce(map_extract_value(attributes, 'platform'), '(none)'), ts) AS platform
    FROM {exposures}
    WHERE experiment = '{EXPERIMENT}' AND exposed
    GROUP BY unit_id
), joined AS (
    SELECT o.unit_id, o.ts, o.metric, o.value, o.ts >= u.first_ts AS after
    FROM units u JOIN {outcomes} o
      ON o.unit_id = u.unit_id
     AND o.ts >= u.first_ts - {window} AND o.ts < u.first_ts + {window}
    WHERE NOT u.multiple AND o.metric IN ({names})
), per_unit AS (
    SELECT unit_id,
           max(ts) AS last_outcome,
           max((value <> 0)::INTEGER) FILTER (after AND metric = 'converted') AS conv,
           count(*) FILTER (after AND metric = 'converted') AS conv_rows,
           sum(value) FILTER (after AND metric = 'revenue') AS rev,
           count(*) FILTER (after AND metric = 'revenue') AS rev_rows,
           sum(value) FILTER (NOT after AND metric = 'revenue') AS rev_pre,
           sum(value) FILTER (after AND metric = 'visits') AS visits,
           count(*) FILTER (after AND metric = 'visits') AS visit_rows
    FROM joined
    GROUP BY unit_id
)
SELECT variant, allocation_version, multiple,
       CASE WHEN multiple THEN NULL ELSE first_ts::DATE END AS day,
       CASE WHEN multiple THEN NULL ELSE platform END AS platform,
       count(*) AS n, sum(probability) AS probability, max(last_outcome) AS last_outcome,
       sum(conv) AS sy0, sum(conv) AS syy0, sum(conv_rows) AS c0,
       sum(rev) AS sy1, sum(rev * rev) AS syy1, sum(rev_rows) AS c1,
       sum(rev_pre) AS sx1, sum(rev_pre * rev_pre) AS sxx1, sum(rev_pre * rev) AS sxy1,
       sum(rev) AS sy2, sum(rev * rev) AS syy2, sum(rev_rows + visit_rows) AS c2,
       sum(visits) AS sd2, sum(visits * visits) AS sdd2, sum(rev * visits) AS syd2
FROM units LEFT JOIN per_unit USING (unit_id)
GROUP BY ALL
"""
    serving = f"""
SELECT variant,
       least(greatest(floor(log10(greatest(latency_ms, 0.01)) * 200) + 400, 0), 1399)::BIGINT
           AS bin,
       count(*) AS requests, count(error) AS errors, min(ts) AS first, max(ts) AS last
FROM {exposures}
WHERE experiment = '{EXPERIMENT}' AND exposed
GROUP BY ALL
"""
    return {"cells": cells, "serving": serving}


# --- the contenders, each run in a process of its own --------------------------------------


def _peak_rss_mb() -> float:
    """This process's peak resident set (VmHWM), in MiB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def worker_champion(root: Path) -> dict[str, Any]:
    """``champion analyze``'s computation: open the store, sum the events, read them out."""
    from champion.analysis.aggregate import load_analysis_data
    from champion.analysis.readout import build_report
    from champion.analysis.store import open_store
    from champion.spec.models import Experiment

    spec = Experiment.model_validate(spec_dict())
    clock = time.perf_counter
    cpu0 = time.process_time()
    t0 = clock()
    with open_store(root, experiment=spec.name) as store:
        data = load_analysis_data(store, spec)
        queries, fetched = store.queries, store.rows_fetched
    t1 = clock()
    report = build_report(data, spec)
    t2 = clock()
    cpu = time.process_time() - cpu0
    check: dict[str, Any] = {"units": data.health.analysed_units, "sums": {}}
    for m in report.metrics:
        test = m.challengers[CHALLENGER].comparison.test
        check[m.name] = {
            "control": test.control,
            "treatment": test.treatment,
            "diff": test.diff,
            "p_value": test.p_value,
        }
        for variant, cell in data.metrics[m.name].overall().items():
            sums = check["sums"].setdefault(variant, {"n": cell.n})
            sums |= {f"{m.name}.y": cell.sum_y, f"{m.name}.x": cell.sum_x}
            sums |= {f"{m.name}.d": cell.sum_d}
    return {
        "load_seconds": t1 - t0,
        "readout_seconds": t2 - t1,
        "seconds": t2 - t0,
        "cpu_seconds": cpu,
        "queries": queries,
        "rows_fetched": fetched,
        "decision": report.decision.decision,
        "check": check,
    }


# champion's names for the floor's columns, for the cross-check
_FLOOR_SUMS = {
    "n": "n",
    "converted.y": "sy0",
    "revenue.y": "sy1",
    "revenue.x": "sx1",
    "revenue_per_visit.y": "sy2",
    "revenue_per_visit.d": "sd2",
}


def worker_floor(root: Path, memory_limit: str | None = None) -> dict[str, Any]:
    """The hand-written queries through DuckDB's own Python client, results as Arrow.

    With ``memory_limit``, DuckDB is held to it as champion's store holds its own (and
    spills to a temporary folder beyond it).
    """
    import tempfile

    import duckdb

    queries = floor_queries(root)
    clock = time.perf_counter
    cpu0 = time.process_time()
    t0 = clock()
    con = duckdb.connect()
    con.execute("SET enable_progress_bar = false")
    spill = tempfile.TemporaryDirectory(prefix="bench-floor-")
    if memory_limit:
        con.execute(f"SET memory_limit = '{memory_limit}'")
        con.execute(f"SET temp_directory = '{spill.name}'")
    parts, results = {}, {}
    for name, sql in queries.items():
        t = clock()
        results[name] = con.sql(sql).to_arrow_table()
        parts[f"{name}_seconds"] = clock() - t
    con.close()
    seconds = clock() - t0
    cpu = time.process_time() - cpu0
    spill.cleanup()
    sums: dict[str, dict[str, float]] = {}
    for r in results["cells"].to_pylist():
        if not r["multiple"]:
            acc = sums.setdefault(r["variant"], dict.fromkeys(_FLOOR_SUMS, 0.0))
            for name, column in _FLOOR_SUMS.items():
                acc[name] += float(r[column] or 0)
    return {
        "seconds": seconds,
        "cpu_seconds": cpu,
        **parts,
        "rows_fetched": sum(t.num_rows for t in results.values()),
        "check": {"sums": sums},
    }


# --- running the contenders ----------------------------------------------------------------


def peer_python() -> Path:
    """tea-tasting's interpreter; (re)creates its virtualenv when the pinned requirements change."""
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


def spawn(command: list[str], stdin: str = "") -> tuple[dict[str, Any], float]:
    """Run one contender in a process of its own: its JSON answer and its peak RSS in MiB.

    The peak is the process's own high-water mark (``VmHWM``, read by the process as it
    ends), not ``ru_maxrss``: Linux carries the parent's high-water mark into a child across
    ``exec``, so a small child would report this bench's own peak.
    """
    proc = subprocess.run(
        command, input=stdin, capture_output=True, text=True, check=False, cwd=BENCH.parent
    )
    if proc.returncode != 0:
        sys.exit(f"{' '.join(command[:3])} failed (exit {proc.returncode}):\n{proc.stderr[-4000:]}")
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    return result, float(result["peak_rss_mb"])


def warm_page_cache(root: Path) -> None:
    """Read every file once, so the first timed run does not pay for the disk alone."""
    for path in root.rglob("*.parquet"):
        with open(path, "rb") as f:
            while f.read(1 << 24):
                pass


def champion_memory_limit() -> str | None:
    """The DuckDB memory limit champion's store sets on an event folder, if it sets one."""
    from champion.analysis import store

    default = getattr(store, "DEFAULT_MEMORY_LIMIT", None)
    return os.environ.get("CHAMPION_DUCKDB_MEMORY_LIMIT") or default


def contenders(root: Path, peer: bool, capped: bool) -> dict[str, tuple[list[str], str]]:
    me = [sys.executable, str(Path(__file__).resolve())]
    floor = [*me, "--worker", "floor", "--data", str(root)]
    runs = {
        "champion": ([*me, "--worker", "champion", "--data", str(root)], ""),
        "floor": (floor, ""),
    }
    limit = champion_memory_limit()
    if capped and limit:
        runs["floor, capped"] = ([*floor, "--memory-limit", limit], "")
    if peer:
        cfg = {
            "root": str(root),
            "experiment": EXPERIMENT,
            "window_days": WINDOW_DAYS,
            "champion": CHAMPION,
            "challenger": CHALLENGER,
        }
        runs["tea-tasting"] = ([str(peer_python()), str(PEER)], json.dumps(cfg))
    return runs


def measure(
    root: Path, repeats: int, peer: bool, capped: bool
) -> dict[str, list[tuple[dict[str, Any], float]]]:
    """``repeats`` rounds; each round runs every contender once, the order rotating per round."""
    plan = contenders(root, peer, capped)
    names = list(plan)
    runs: dict[str, list[tuple[dict[str, Any], float]]] = {n: [] for n in names}
    for i in range(repeats):
        order = names[i % len(names) :] + names[: i % len(names)]
        for name in order:
            command, stdin = plan[name]
            result, rss = spawn(command, stdin)
            runs[name].append((result, rss))
            print(f"  round {i + 1}/{repeats}: {name} {result['seconds']:.2f} s, "
                  f"peak RSS {rss:,.0f} MiB", file=sys.stderr)  # fmt: skip
    return runs


# --- report --------------------------------------------------------------------------------

METRICS = ("converted", "revenue", "revenue_per_visit")


def agreement(champ: dict[str, Any], floor: dict[str, Any], peer: dict[str, Any] | None) -> dict:
    """How far the contenders' numbers are apart (first round): sums, means, p-values."""
    out: dict[str, float] = {}
    worst = 0.0
    for variant, sums in floor["sums"].items():
        for key, value in sums.items():
            mine = champ["sums"][variant][key]
            worst = max(worst, abs(mine - value) / max(abs(value), 1.0))
    out["floor_sums_rel"] = worst
    if peer is not None:
        means = pvals = 0.0
        for m in METRICS:
            for side in ("control", "treatment"):
                a, b = champ[m][side], peer[m][side]
                means = max(means, abs(a - b) / max(abs(b), 1e-12))
            a, b = champ[m]["p_value"], peer[m]["p_value"]
            pvals = max(pvals, abs(a - b) / max(b, 1e-300))
        out["tea_tasting_means_rel"] = means
        out["tea_tasting_p_value_rel"] = pvals
    return out


def _stats(runs: list[tuple[dict[str, Any], float]], key: str = "seconds") -> tuple[float, ...]:
    values = [r[key] for r, _ in runs]
    return statistics.median(values), min(values), max(values)


def report(
    runs: dict[str, list[tuple[dict[str, Any], float]]], info: dict, load: float, repeats: int
) -> dict[str, Any]:
    from rich.console import Console
    from rich.table import Table

    console = Console()
    if not console.is_terminal:
        console = Console(width=132)
    champ, floor = runs["champion"], runs["floor"]
    peer = runs.get("tea-tasting")
    full, _, _ = _stats(champ)
    load_s, _, _ = _stats(champ, "load_seconds")
    readout_s, _, _ = _stats(champ, "readout_seconds")
    floor_s, _, _ = _stats(floor)
    peer_s = _stats(peer)[0] if peer else None
    rss = {name: max(r for _, r in rs) for name, rs in runs.items()}

    title = (
        f"Analysis of {info['exposures']:,} exposures + {info['outcomes']:,} outcome rows "
        f"({info['units']:,} units, 3 metrics, 3 segments), median of {repeats}"
    )
    table = Table(title=title)
    cols = ("contender", "median s", "min s", "max s", "CPU s", "peak RSS MiB", "x champion")
    for col in cols:
        table.add_column(col, justify="left" if col == "contender" else "right")

    def row(label: str, rs: list, key: str = "seconds") -> None:
        med, lo, hi = _stats(rs, key)
        whole = key == "seconds"
        table.add_row(
            label,
            f"{med:.2f}",
            f"{lo:.2f}",
            f"{hi:.2f}",
            f"{_stats(rs, 'cpu_seconds')[0]:.2f}" if whole else "",
            f"{max(r for _, r in rs):,.0f}" if whole else "",
            f"{med / full:.2f}" if whole else "",
        )

    row("champion: open_store + load_analysis_data + build_report", champ)
    row("  of which open_store + load_analysis_data", champ, "load_seconds")
    row("  of which build_report (read-out)", champ, "readout_seconds")
    if peer:
        row("tea-tasting: per-unit table (Ibis) + analyze x4", peer)
        row("  of which the per-unit table, cached", peer, "table_seconds")
        row("  of which analyze, overall", peer, "overall_seconds")
        row("  of which analyze, 3 segments", peer, "segments_seconds")
    row("floor: hand-written DuckDB SQL", floor)
    row("  of which the cells query", floor, "cells_seconds")
    row("  of which the serving query", floor, "serving_seconds")
    capped = runs.get("floor, capped")
    if capped:
        row(f"floor under champion's memory limit ({champion_memory_limit()})", capped)
    console.print(table)

    speedup = peer_s / full if peer_s else None
    to_floor, load_to_floor = full / floor_s, load_s / floor_s
    ok_speed = bool(speedup and speedup >= 1.5)
    ok_floor, ok_rss = to_floor <= 1.5, rss["champion"] < 1024
    cores = os.cpu_count() or 1
    if load > 0.5 * cores:
        console.print(f"[yellow]load average {load:.1f} on {cores} cores before the runs: "
                      "timings are inflated and noisy[/]")  # fmt: skip
    if speedup:
        console.print(f"target: >= 1.5x faster than tea-tasting: "
                      f"{'met' if ok_speed else 'MISSED'} ({speedup:.2f}x)")  # fmt: skip
    console.print(f"target: within 1.5x of the floor: {'met' if ok_floor else 'MISSED'} "
                  f"({to_floor:.2f}x; without the read-out {load_to_floor:.2f}x)")  # fmt: skip
    console.print(f"target: peak memory < 1 GiB: {'met' if ok_rss else 'MISSED'} "
                  f"({rss['champion']:,.0f} MiB)")  # fmt: skip
    agree = agreement(
        champ[0][0]["check"], floor[0][0]["check"], peer[0][0]["check"] if peer else None
    )
    console.print("agreement (max relative difference, round 1): " +
                  ", ".join(f"{k} {v:.1e}" for k, v in agree.items()))  # fmt: skip
    if peer:
        console.print(f"tea-tasting {peer[0][0]['versions']}")
    return {
        "seconds": full,
        "load_seconds": load_s,
        "readout_seconds": readout_s,
        "tea_tasting_seconds": peer_s,
        "floor_seconds": floor_s,
        "peak_rss_mb": rss["champion"],
        "tea_tasting_peak_rss_mb": rss.get("tea-tasting"),
        "floor_peak_rss_mb": rss["floor"],
        "speedup_vs_tea_tasting": speedup,
        "ratio_to_floor": to_floor,
        "load_ratio_to_floor": load_to_floor,
        "targets_met": {
            "1.5x_faster_than_tea_tasting": ok_speed if peer else None,
            "within_1.5x_of_floor": ok_floor,
            "peak_rss_under_1gb": ok_rss,
        },
        "cpu_seconds": _stats(champ, "cpu_seconds")[0],
        "tea_tasting_cpu_seconds": _stats(peer, "cpu_seconds")[0] if peer else None,
        "floor_cpu_seconds": _stats(floor, "cpu_seconds")[0],
        "floor_capped_seconds": _stats(capped)[0] if capped else None,
        "floor_capped_peak_rss_mb": rss.get("floor, capped"),
        "runs": {name: [r["seconds"] for r, _ in rs] for name, rs in runs.items()},
        "peak_rss_runs_mb": {name: [m for _, m in rs] for name, rs in runs.items()},
        "rows": info["exposures"],
        "outcome_rows": info["outcomes"],
        "units": info["units"],
        "repeats": repeats,
        "agreement": agree,
        "decision": champ[0][0]["decision"],
        "load_average": load,
    }


# --- where champion's time goes --------------------------------------------------------------


def explain(root: Path) -> None:
    """EXPLAIN ANALYZE of each statement ``load_analysis_data`` runs, as Ibis writes it.

    The statements are caught on their way to DuckDB (``EventStore._run``: the fetched
    queries and the temporary tables of the steps), so this shows what champion runs
    today, whatever its internals.
    """
    import ibis

    from champion.analysis.aggregate import load_analysis_data
    from champion.analysis.store import open_store
    from champion.spec.models import Experiment

    spec = Experiment.model_validate(spec_dict())
    with open_store(root, experiment=spec.name) as store:
        raw = store.con.con
        raw.execute("SET enable_progress_bar = false")
        limit = raw.sql("SELECT current_setting('memory_limit')").fetchall()[0][0]
        print(f"-- DuckDB memory_limit: {limit}\n")
        run = store._run
        count = itertools.count(1)

        def profiled(call: Any, query: Any) -> Any:
            sql = query if isinstance(query, str) else ibis.to_sql(query, dialect="duckdb")
            i = next(count)
            print(f"-- statement {i}, as generated\n{sql}\n")
            t = time.perf_counter()
            plan = raw.sql(f"EXPLAIN ANALYZE {sql}").fetchall()
            print(f"-- statement {i}: {time.perf_counter() - t:.2f} s with profiling\n"
                  f"{plan[0][1]}\n")  # fmt: skip
            return run(call, query)

        store._run = profiled  # type: ignore[method-assign]
        load_analysis_data(store, spec)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=10_000_000,
                    help="exposures, and outcome rows (default 10,000,000)")  # fmt: skip
    ap.add_argument("--seed", type=int, default=20240611)
    ap.add_argument("--repeats", type=int, default=3, help="timed rounds (default 3)")
    ap.add_argument("--no-peer", action="store_true", help="champion and the floor only")
    ap.add_argument("--json", action="store_true", help="print one JSON object as the last line")
    ap.add_argument("--explain", action="store_true", help="EXPLAIN ANALYZE champion's SQL")
    ap.add_argument("--worker", choices=("champion", "floor"), help=argparse.SUPPRESS)
    ap.add_argument(
        "--floor-capped",
        action="store_true",
        help="also time the floor under champion's DuckDB memory limit",
    )
    ap.add_argument("--data", type=Path, help=argparse.SUPPRESS)
    ap.add_argument("--memory-limit", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.worker:
        warnings.simplefilter("ignore", DeprecationWarning)
        if args.worker == "champion":
            result = worker_champion(args.data)
        else:
            result = worker_floor(args.data, args.memory_limit)
        result["peak_rss_mb"] = _peak_rss_mb()
        print(json.dumps(result, default=str))
        return
    if args.rows < 10 or args.repeats < 1:
        ap.error("--rows must be >= 10 and --repeats >= 1")

    load = os.getloadavg()[0]  # before this process adds its own
    root = dataset(args.rows, args.seed)
    if args.explain:
        explain(root)
        return
    info = json.loads((root / "done.json").read_text())
    if not args.no_peer:
        peer_python()
    warm_page_cache(root)
    runs = measure(root, args.repeats, not args.no_peer, args.floor_capped)
    out = report(runs, info, load, args.repeats)
    if args.json:
        print(json.dumps(out))


if __name__ == "__main__":
    main()
