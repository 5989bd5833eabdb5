"""The tea-tasting side of ``bench/analysis.py``; runs in ``bench/.venv-tea-tasting``.

Reads ``{"root", "experiment", "window_days", "champion", "challenger"}`` as JSON on stdin,
analyses the Parquet event log there the way a tea-tasting user would with its Ibis backend
on DuckDB, and prints one JSON line: seconds (in total and per step), the results the bench
cross-checks, and the package versions. Imports are done before the clock starts.

tea-tasting wants one row per unit with a column per metric. The attribution is the one
champion documents: counted exposures (``exposed``) of the experiment; a unit's first
exposure fixes its variant and platform; units seen in two variants are left out; outcomes
count in ``[first_ts, first_ts + window)``, the covariate in ``[first_ts - window, first_ts)``.
That table is built with Ibis from the raw events (timed), materialised once (``.cache()``),
then analysed overall and per platform with a proportion, a mean with CUPED, a ratio of means
and the sample ratio check.
"""

from __future__ import annotations

import json
import sys
import time
import warnings
from importlib.metadata import version

import ibis
import tea_tasting as tt

# Ibis 12 reads DuckDB schemas through a cursor method DuckDB 2 deprecates: a warning only.
warnings.simplefilter("ignore", DeprecationWarning)


def per_unit_table(con: ibis.BaseBackend, cfg: dict) -> ibis.Table:
    """One row per analysed unit: variant, platform and the metric columns, from raw events."""
    root, name = cfg["root"], cfg["experiment"]
    window = ibis.interval(seconds=int(cfg["window_days"] * 86_400))
    exposures = con.read_parquet(
        f"{root}/exposures/experiment={name}/**/*.parquet", hive_partitioning=True
    )
    outcomes = con.read_parquet(f"{root}/outcomes/**/*.parquet", hive_partitioning=True)

    e = exposures.filter(exposures.experiment == name, exposures.exposed)
    units = e.group_by("unit_id").aggregate(
        first_ts=e.ts.min(),
        variant=e.variant.argmin(e.ts),
        variants=e.variant.nunique(),
        platform=e.attributes["platform"].argmin(e.ts),
    )
    units = units.filter(units.variants == 1).drop("variants")

    o = outcomes.filter(outcomes.metric.isin(["converted", "revenue", "visits"]))
    j = units.join(o, "unit_id").filter(
        lambda t: (t.ts >= t.first_ts - window) & (t.ts < t.first_ts + window)
    )
    after = j.ts >= j.first_ts
    sums = j.group_by("unit_id").aggregate(
        converted=((j.metric == "converted") & after & (j.value != 0)).any(),
        revenue=j.value.sum(where=(j.metric == "revenue") & after),
        visits=j.value.sum(where=(j.metric == "visits") & after),
        revenue_pre=j.value.sum(where=(j.metric == "revenue") & ~after),
    )
    data = units.left_join(sums, "unit_id")
    return data.select(
        "variant",
        platform=data.platform.fill_null("(none)"),
        converted=data.converted.fill_null(False).cast("int64"),
        revenue=data.revenue.fill_null(0.0),
        visits=data.visits.fill_null(0.0),
        revenue_pre=data.revenue_pre.fill_null(0.0),
    )


def peak_rss_mb() -> float:
    """This process's peak resident set (VmHWM), in MiB."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def experiment() -> tt.Experiment:
    return tt.Experiment(
        sample_ratio=tt.SampleRatio(),
        converted=tt.Proportion("converted"),
        revenue=tt.Mean("revenue", covariate="revenue_pre"),
        revenue_per_visit=tt.RatioOfMeans("revenue", "visits"),
    )


def main() -> None:
    cfg = json.loads(sys.stdin.read())
    control = cfg["champion"]
    clock = time.perf_counter
    cpu0 = time.process_time()
    t0 = clock()
    con = ibis.duckdb.connect()
    data = per_unit_table(con, cfg).cache()
    t1 = clock()
    exp = experiment()
    overall = exp.analyze(data, control=control)
    t2 = clock()
    platforms = sorted(data.select("platform").distinct().to_pyarrow()["platform"].to_pylist())
    by_platform = {
        p: exp.analyze(data.filter(data.platform == p), control=control) for p in platforms
    }
    t3 = clock()
    cpu = time.process_time() - cpu0
    check = {}
    for metric in ("converted", "revenue", "revenue_per_visit"):
        r = overall[metric]
        check[metric] = {
            "control": r.control,
            "treatment": r.treatment,
            "diff": r.effect_size,
            "p_value": r.pvalue,
        }
    print(
        json.dumps(
            {
                "seconds": t3 - t0,
                "cpu_seconds": cpu,
                "table_seconds": t1 - t0,
                "overall_seconds": t2 - t1,
                "segments_seconds": t3 - t2,
                "segments": len(by_platform),
                "sample_ratio_p_value": overall["sample_ratio"].pvalue,
                "check": check,
                "peak_rss_mb": peak_rss_mb(),
                "versions": {p: version(p) for p in ("tea-tasting", "ibis-framework", "duckdb")},
            }
        )
    )


if __name__ == "__main__":
    main()
