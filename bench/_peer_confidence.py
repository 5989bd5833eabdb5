"""The spotify-confidence half of ``bench/stats_readout.py``; runs in ``bench/.venv-confidence``.

Reads ``{"alpha", "seed", "runs": {part: count}, "datasets": [...]}`` as JSON on stdin (the
sufficient statistics that ``stats_readout.py`` generates), builds the peer's input DataFrames
outside the clock, times each part of the read-out in-process on the first ``count`` data sets
(interpreter start-up and imports are not counted) and prints one JSON line: the timings in ms
per part, their medians (``total`` is the sum of the part medians), the package versions, and
from the first data set the numbers the bench cross-checks against champion.

Not imported by champion: it needs pandas < 3, which champion's dev environment does not have.
"""

from __future__ import annotations

import json
import statistics
import sys
import time
import warnings
from importlib.metadata import version

import numpy as np
import pandas as pd
import spotify_confidence as conf
from spotify_confidence.analysis.frequentist.sample_ratio_test import sample_ratio_test

ARMS = ("control", "treatment")
LOOK = 3  # the current look; the data hold looks 1..LOOK cumulatively
PARTS = ("tests", "sequential", "bayes", "srm")


def _frames(d: dict) -> dict[str, pd.DataFrame]:
    """The peer's input tables: one row per (segment, metric, arm[, look]) of sufficient stats."""
    segs, props, means = d["segments"], d["proportion_metrics"], d["mean_metrics"]
    cov = d["cov"]
    fixed, seq, srm = [], [], []
    nan = float("nan")
    for s, seg in enumerate(segs):
        for a, arm in enumerate(ARMS):
            n = d["n"][s][LOOK - 1][a]
            srm.append({"segment": seg, "variant": arm, "n": n})
            for m, metric in enumerate(props):
                x = d["prop_x"][m][s][LOOK - 1][a]
                fixed.append(
                    {"segment": seg, "metric": metric, "variant": arm, "n": n, "num": x,
                     "num_sq": x, "method": "z-test", "x": nan, "x_sq": nan, "xy": nan}
                )  # fmt: skip
                for look in range(1, LOOK + 1):
                    x_k = d["prop_x"][m][s][look - 1][a]
                    seq.append(
                        {"segment": seg, "metric": metric, "variant": arm, "look": look,
                         "n": d["n"][s][look - 1][a], "num": x_k, "planned_n": d["planned_n"][s],
                         "method": "z-test"}
                    )  # fmt: skip
            for m, metric in enumerate(means):
                fixed.append(
                    {"segment": seg, "metric": metric, "variant": arm, "n": n,
                     "num": d["mean_sum"][m][s][a], "num_sq": d["mean_sum_sq"][m][s][a],
                     "method": "t-test", "x": nan, "x_sq": nan, "xy": nan}
                )  # fmt: skip
            fixed.append(
                {"segment": seg, "metric": d["cuped_metric"], "variant": arm, "n": n,
                 "num": cov["sum_y"][s][a], "num_sq": cov["sum_y_sq"][s][a],
                 "method": "z-test-linreg", "x": cov["sum_x"][s][a],
                 "x_sq": cov["sum_x_sq"][s][a], "xy": cov["sum_xy"][s][a]}
            )  # fmt: skip
    fixed_df = pd.DataFrame(fixed)
    return {
        "fixed": fixed_df,
        "bayes": fixed_df[fixed_df["method"] == "z-test"].reset_index(drop=True),
        "seq": pd.DataFrame(seq),
        "srm": pd.DataFrame(srm),
    }


def _tests(f: pd.DataFrame, alpha: float) -> tuple[pd.DataFrame, pd.DataFrame]:
    """z-tests (proportions), Welch t-tests (means), z-test-linreg (CUPED), Holm; abs + rel."""
    exp = conf.Experiment(
        f,
        numerator_column="num",
        numerator_sum_squares_column="num_sq",
        denominator_column="n",
        categorical_group_columns=["variant", "segment"],
        metric_column="metric",
        treatment_column="variant",
        method_column="method",
        correction_method="holm",
        interval_size=1 - alpha,
        feature_column="x",
        feature_sum_squares_column="x_sq",
        feature_cross_sum_column="xy",
        power=None,  # no powered-effect (MDE) search: champion's read-out does not compute one
    )
    by = ["segment", "metric"]
    absolute = exp.difference("control", "treatment", groupby=by, absolute=True)
    relative = exp.difference("control", "treatment", groupby=by, absolute=False)
    return absolute, relative


def _sequential(f: pd.DataFrame, alpha: float) -> pd.DataFrame:
    """Group-sequential z-tests at looks 1..3 of a planned sample size (Bonferroni only)."""
    exp = conf.ZTest(
        f,
        numerator_column="num",
        numerator_sum_squares_column=None,
        denominator_column="n",
        categorical_group_columns=["variant", "segment"],
        ordinal_group_column="look",
        metric_column="metric",
        treatment_column="variant",
        correction_method="bonferroni",
        interval_size=1 - alpha,
        power=None,  # as in _tests
    )
    return exp.difference(
        "control",
        "treatment",
        groupby=["segment", "metric", "look"],
        final_expected_sample_size_column="planned_n",
        verbose=True,
    )


def _bayes(f: pd.DataFrame) -> pd.DataFrame:
    """Beta-binomial P(treatment > control) and expected losses (the peer's Monte Carlo)."""
    model = conf.BetaBinomial(
        f,
        numerator_column="num",
        denominator_column="n",
        categorical_group_columns=["variant", "segment", "metric"],
    )
    return model.difference("control", "treatment", groupby=["segment", "metric"])


def _srm(f: pd.DataFrame) -> dict[str, float]:
    """Pearson goodness-of-fit of the arm counts to 50/50, one test per segment."""
    expected = {"control": 0.5, "treatment": 0.5}
    return {
        seg: float(sample_ratio_test(g, ["variant"], "n", expected)[0])
        for seg, g in f.groupby("segment", sort=False)
    }


def _run(frames: dict[str, pd.DataFrame], alpha: float, parts: list[str]) -> tuple[dict, dict]:
    """Time the given parts of one read-out; ms per part and the peer's results."""
    calls = {
        "tests": lambda: _tests(frames["fixed"], alpha),
        "sequential": lambda: _sequential(frames["seq"], alpha),
        "bayes": lambda: _bayes(frames["bayes"]),
        "srm": lambda: _srm(frames["srm"]),
    }
    times, out = {}, {}
    for part in parts:
        t0 = time.perf_counter()
        out[part] = calls[part]()
        times[part] = (time.perf_counter() - t0) * 1e3
    return times, out


def _check(out: dict) -> dict:
    """Per ``segment|metric``: what champion's read-out also reports, for the agreement check."""
    absolute, relative = out["tests"]
    rel = relative.set_index(["segment", "metric"])["difference"]
    columns = ["segment", "metric", "difference", "ci_lower", "ci_upper", "p-value"]
    tests = {
        f"{seg}|{metric}": {
            "diff": diff,
            "ci": [lo, hi],
            "p": p,
            "rel": float(rel[(seg, metric)]),
        }
        for seg, metric, diff, lo, hi, p in absolute[columns].itertuples(index=False, name=None)
    }
    seq = out["sequential"]
    last = seq[seq["look"] == LOOK]
    sequential = {
        f"{r['segment']}|{r['metric']}": {
            "nominal_alpha": float(r["adjusted_alpha"]),
            "crossed": bool(r["is_significant"]),
        }
        for _, r in last.iterrows()
    }
    bayes = {
        f"{r['segment']}|{r['metric']}": {
            "chance_to_beat": float(r["P(level_2 > level_1)"]),
            "expected_loss": float(-r["level_2 potential loss"]),
        }
        for _, r in out["bayes"].iterrows()
    }
    return {"tests": tests, "sequential": sequential, "bayes": bayes, "srm": out["srm"]}


def main() -> None:
    payload = json.load(sys.stdin)
    alpha = float(payload["alpha"])
    counts = {part: int(payload["runs"][part]) for part in PARTS}
    warnings.simplefilter("ignore")  # the peer warns on Holm CIs; nothing here reads warnings
    conf.options.set_option("randomization_seed", int(payload.get("seed", 1)))
    runs: dict[str, list[float]] = {part: [] for part in PARTS}
    check = {}
    for i, d in enumerate(payload["datasets"]):
        frames = _frames(d)  # outside the clock, as champion's stats objects are
        times, out = _run(frames, alpha, [p for p in PARTS if i < counts[p]])
        for part, ms in times.items():
            runs[part].append(ms)
        if i == 0:
            check = _check(out)
    medians = {part: statistics.median(ms) for part, ms in runs.items()}
    result = {
        "runs": runs,
        "median_ms": {**medians, "total": sum(medians.values())},
        "versions": {
            name: version(name) for name in ("spotify-confidence", "pandas", "numpy", "scipy")
        },
        "check": check,
    }
    print(json.dumps(result, default=float))


if __name__ == "__main__":
    np.seterr(all="ignore")
    main()
