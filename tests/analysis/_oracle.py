"""The analysis' sums recomputed in pandas, straight from the Parquet rows, rule by rule.

Independent of the SQL layer: it reads the files with pyarrow and follows the rules of
docs/analysis.md ("Data") with sorts, merges and group-bys. Tests compare its numbers
with :func:`champion.analysis.aggregate.load_analysis_data` cell by cell; end-to-end tests
can feed its cells to champion.stats.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.dataset as ds

from champion.analysis.aggregates import Cell, CellKey
from champion.spec.models import Experiment

__all__ = ["Oracle", "compute", "histogram_bins", "read_events"]

NONE = "(none)"


@dataclass
class Oracle:
    cells: dict[str, dict[CellKey, Cell]]
    exposed_units: int
    multiple_exposure_units: int
    srm: dict[tuple[int, str], tuple[int, float]]  # (version, variant) -> (units, share)
    first_exposure: datetime
    last_exposure: datetime
    last_outcome: datetime | None
    outcomes: dict[str, int]
    units_in_window: int
    requests: dict[str, int]
    errors: dict[str, int]
    latency_bins: dict[str, dict[int, int]]  # variant -> bin -> requests
    unit_bins: dict[str, dict[str, dict[int, int]]]  # quantile metric -> variant -> bin -> units
    # quantile metric -> (attribute, value) -> variant -> bin -> units
    segment_unit_bins: dict[str, dict[tuple[str, str], dict[str, dict[int, int]]]]
    groups: int = 0  # (variant, day, version, segment values) of units, windows closed or not
    payloads: int = 0  # distinct (variant, version, probability, segment values) exposed
    packed_groups: int = 0  # (payload, day, crossed over or not) of every unit
    payload_unit_bins: dict[str, int] | None = None  # quantile metric -> (payload, bin) groups


def histogram_bins(values: np.ndarray) -> np.ndarray:
    """Bin index under edges 10^(k/200), k = -400..1000 (first and last bins open)."""
    k = np.floor(200 * np.log10(np.maximum(values.astype(float), 0.01))) + 400
    return np.clip(k, 0, 1399).astype(int)


def read_events(root: Path, kind: str) -> pd.DataFrame:
    folder = Path(root) / kind
    if not folder.is_dir():
        return pd.DataFrame()
    table = ds.dataset(folder, format="parquet", partitioning="hive").to_table()
    return table.to_pandas()


def compute(
    root: Path,
    spec: Experiment,
    *,
    as_of: datetime,
    sql_rows: dict[str, pd.DataFrame] | None = None,
) -> Oracle:
    """Everything ``load_analysis_data(store, spec, as_of=as_of)`` returns, from the rows.

    ``sql_rows[name]`` (unit_id, ts, value) replaces outcome events named ``name``.
    """
    ex = read_events(root, "exposures")
    ex = ex[(ex["experiment"].astype(str) == spec.name) & ex["exposed"] & (ex["ts"] <= as_of)]
    ex = ex.copy()
    for i, seg in enumerate(spec.segments):
        ex[f"s{i}"] = [dict(a).get(seg, NONE) for a in ex["attributes"]]
    ex["tie"] = ex["request_id"].fillna("")
    segs = [f"s{i}" for i in range(len(spec.segments))]
    order = ["unit_id", "ts", "tie", "variant", "allocation_version", "probability", *segs]
    first = ex.sort_values(order, kind="mergesort").groupby("unit_id", sort=False).head(1)
    first = first.set_index("unit_id")
    first["multiple"] = ex.groupby("unit_id")["variant"].nunique() > 1
    first["last_ts"] = ex.groupby("unit_id")["ts"].max()
    analysed = first  # intent to treat: every unit, in the arm of its first exposure

    out = read_events(root, "outcomes")
    out = out[out["ts"] <= as_of][["unit_id", "metric", "ts", "value"]]
    for name, rows in (sql_rows or {}).items():
        out = out[out["metric"] != name]
        extra = rows.assign(metric=name)[["unit_id", "metric", "ts", "value"]]
        extra = extra[extra["ts"] <= as_of]
        out = pd.concat([out, extra], ignore_index=True)

    day = analysed["ts"].dt.date
    keys = pd.DataFrame(
        {
            "variant": analysed["variant"],
            "day": day,
            "stratum": analysed["allocation_version"].astype(int),
            **{s: analysed[s] for s in segs},
        }
    )
    metrics = spec.metrics.all()
    windows = [float(m.window_days) for m in metrics]
    lookbacks = [float(m.lookback_days or m.window_days) for m in metrics if m.covariate]
    lo = analysed["ts"] - timedelta(days=max(lookbacks, default=0.0))
    hi = analysed["ts"] + timedelta(days=max(windows))
    joined = out.merge(
        pd.DataFrame(
            {
                "unit_id": analysed.index,
                "first_ts": analysed["ts"].array,
                "lo": lo.array,
                "hi": hi.array,
            }
        ),
        on="unit_id",
    )
    joined = joined[(joined["ts"] >= joined["lo"]) & (joined["ts"] < joined["hi"])]

    cells: dict[str, dict[CellKey, Cell]] = {}
    counts: dict[str, int] = {}
    unit_bins: dict[str, dict[str, dict[int, int]]] = {}
    segment_unit_bins: dict[str, dict[tuple[str, str], dict[str, dict[int, int]]]] = {}
    payload_unit_bins: dict[str, int] = {}
    for m in metrics:
        w = timedelta(days=float(m.window_days))
        inside = joined[
            (joined["ts"] >= joined["first_ts"]) & (joined["ts"] < joined["first_ts"] + w)
        ]
        y_name = m.numerator if m.kind == "ratio" else m.name
        ys = inside[inside["metric"] == y_name]
        if m.kind == "proportion":
            y = (ys["value"] != 0).groupby(ys["unit_id"]).any().astype(float)
        else:
            y = ys.groupby("unit_id")["value"].sum()
        frame = keys.copy()
        frame["y"] = y.reindex(analysed.index).fillna(0.0).values
        names = {y_name}
        if m.kind == "ratio":
            ds_ = inside[inside["metric"] == m.denominator]
            frame["d"] = (
                ds_.groupby("unit_id")["value"].sum().reindex(analysed.index).fillna(0.0).values
            )
            names.add(m.denominator)
        else:
            frame["d"] = 0.0
        if m.covariate:
            back = timedelta(days=float(m.lookback_days or m.window_days))
            pre = joined[
                (joined["metric"] == m.covariate)
                & (joined["ts"] >= joined["first_ts"] - back)
                & (joined["ts"] < joined["first_ts"])
            ]
            frame["x"] = (
                pre.groupby("unit_id")["value"].sum().reindex(analysed.index).fillna(0.0).values
            )
        else:
            frame["x"] = 0.0
        counts[m.name] = int(inside["metric"].isin(names).sum())
        frame = frame.assign(
            yy=frame.y**2,
            xx=frame.x**2,
            xy=frame.x * frame.y,
            dd=frame.d**2,
            yd=frame.y * frame.d,
            n=1.0,
        )
        # Only units whose window has closed at as_of count for the metric.
        frame = frame[(analysed["ts"] + w <= as_of).to_numpy()]
        sums = frame.groupby(["variant", "day", "stratum", *segs], dropna=False)[
            ["n", "y", "yy", "x", "xx", "xy", "d", "dd", "yd"]
        ].sum()
        cells[m.name] = {
            CellKey(
                idx[0], idx[1], tuple(zip(spec.segments, idx[3:], strict=True)), int(idx[2])
            ): Cell(*row)
            for idx, row in zip(sums.index, sums.itertuples(index=False), strict=True)
        }
        if m.kind == "quantile":
            bins = histogram_bins(frame["y"].to_numpy())
            tally = (
                pd.Series(1, index=pd.MultiIndex.from_arrays([frame["variant"], bins]))
                .groupby(level=[0, 1])
                .sum()
            )
            unit_bins[m.name] = {}
            for (v, b), c in tally.items():
                unit_bins[m.name].setdefault(v, {})[int(b)] = int(c)
            by_segment: dict[tuple[str, str], dict[str, dict[int, int]]] = {}
            for attribute, seg in zip(spec.segments, segs, strict=True):
                for (value, v, b), c in frame.groupby([seg, "variant", bins]).size().items():
                    by_segment.setdefault((attribute, value), {}).setdefault(v, {})[int(b)] = c
            segment_unit_bins[m.name] = by_segment
            payload = ["variant", "allocation_version", "probability", *segs]
            rows = analysed.loc[frame.index, payload].assign(bin=bins)
            payload_unit_bins[m.name] = len(rows.drop_duplicates())

    srm = {}
    for (version, variant), g in first.groupby(["allocation_version", "variant"]):
        srm[(int(version), variant)] = (len(g), float(g["probability"].mean()))
    primary = timedelta(days=float(spec.metrics.primary.window_days))
    latency_bins: dict[str, dict[int, int]] = {}
    timed = ex[ex["latency_ms"].notna()]
    for (v, b), c in (
        pd.Series(
            1,
            index=pd.MultiIndex.from_arrays(
                [timed["variant"], histogram_bins(timed["latency_ms"].to_numpy())]
            ),
        )
        .groupby(level=[0, 1])
        .sum()
        .items()
    ):
        latency_bins.setdefault(v, {})[int(b)] = int(c)
    last_outcome = joined["ts"].max() if len(joined) else None
    payload = ["variant", "allocation_version", "probability", *segs]
    return Oracle(
        cells=cells,
        exposed_units=len(first),
        multiple_exposure_units=int(first["multiple"].sum()),
        srm=srm,
        first_exposure=ex["ts"].min().to_pydatetime(),
        last_exposure=ex["ts"].max().to_pydatetime(),
        last_outcome=None if last_outcome is None else last_outcome.to_pydatetime(),
        outcomes=counts,
        units_in_window=int((analysed["ts"] + primary > as_of).sum()),
        requests=ex.groupby("variant").size().astype(int).to_dict(),
        errors=ex.groupby("variant")["error"].count().astype(int).to_dict(),
        latency_bins=latency_bins,
        unit_bins=unit_bins,
        segment_unit_bins=segment_unit_bins,
        payload_unit_bins=payload_unit_bins,
        groups=len(keys.drop_duplicates()),
        payloads=len(ex[payload].drop_duplicates()),
        packed_groups=len(
            analysed[payload].assign(day=day, multiple=analysed["multiple"]).drop_duplicates()
        ),
    )


def close(a: float, b: float, tol: float = 1e-9) -> bool:
    return math.isclose(a, b, rel_tol=tol, abs_tol=tol)
