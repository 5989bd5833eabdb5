"""load_analysis_data against a pandas oracle, across engines, and on what it fetches."""

from __future__ import annotations

import hashlib
import math
from dataclasses import fields
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from champion.analysis.aggregate import HISTOGRAM_EDGES, UNIT_BUCKETS, load_analysis_data
from champion.analysis.aggregates import AnalysisData, Cell
from champion.analysis.store import open_store
from champion.errors import InvalidArgument, NoExposures
from champion.events import Exposure, Outcome, open_writer
from tests.analysis._events import Truth, make_spec, write_experiment
from tests.analysis._oracle import Oracle, close, compute, histogram_bins, read_events

SPEC = make_spec()
AS_OF = datetime(2024, 5, 6, 12, tzinfo=UTC)  # mid-experiment: later events are ignored
FLAWS = {
    "multiple_exposure": 0.03,
    "duplicates": 0.05,
    "unexposed": 0.05,
    "missing_attributes": 0.1,
    "early_outcomes": 0.1,
    "late_outcomes": 0.1,
    "ties": 0.03,
}


@pytest.fixture(scope="module")
def flawed(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Truth]:
    """A flawed experiment, and units of another experiment (same ids) in the same folder."""
    root = tmp_path_factory.mktemp("events")
    truth = write_experiment(
        root, SPEC, units=1500, lift={"converted": 0.2, "revenue": 0.1}, seed=1, **FLAWS
    )
    write_experiment(root, make_spec(name="other-test"), units=300, seed=2)
    return root, truth


@pytest.fixture(scope="module")
def loaded(flawed: tuple[Path, Truth]) -> tuple[AnalysisData, Oracle, int, int]:
    root, _ = flawed
    with open_store(root) as store:
        data = load_analysis_data(store, SPEC, as_of=AS_OF)
        queries, rows = store.queries, store.rows_fetched
    return data, compute(root, SPEC, as_of=AS_OF), queries, rows


def _assert_cells_equal(mine: dict, theirs: dict, tol: float = 1e-9) -> None:
    assert set(mine) == set(theirs)
    for key, cell in mine.items():
        for f in fields(Cell):
            a, b = getattr(cell, f.name), getattr(theirs[key], f.name)
            assert close(a, b, tol), (key, f.name, a, b)


@pytest.mark.parametrize("metric", [m.name for m in SPEC.metrics.all()])
def test_every_cell_matches_the_pandas_oracle(loaded, metric: str) -> None:
    data, oracle, _, _ = loaded
    assert (
        data.metrics[metric].kind
        == SPEC.metrics.all()[[m.name for m in SPEC.metrics.all()].index(metric)].kind
    )
    _assert_cells_equal(dict(data.metrics[metric].cells), oracle.cells[metric])


def test_the_data_exercises_every_rule(loaded) -> None:
    """Guards the oracle test against passing on data without the hard cases."""
    data, oracle, _, _ = loaded
    keys = [k for k, _ in data.metrics["converted"].cells]
    values = {v for k in keys for _, v in k.segments}
    assert {"(none)", "tied"} <= values  # missing attributes, ties broken by request_id
    assert oracle.multiple_exposure_units > 10
    # first exposures from May 1 to 6, cut at AS_OF; only units whose window closed count
    assert {k.day for k in keys} == {k.day for k in oracle.cells["converted"]}
    assert len({k.day for k in keys}) >= 3
    cov = data.metrics["revenue"].overall()
    assert all(c.sum_x > 0 and c.sum_xy > 0 for c in cov.values())
    ratio = data.metrics["spend_per_visit"].overall()
    assert all(c.sum_d > c.n for c in ratio.values())


def test_health_matches_the_oracle(loaded) -> None:
    data, oracle, _, _ = loaded
    h = data.health
    assert h.exposed_units == oracle.exposed_units
    assert h.multiple_exposure_units == oracle.multiple_exposure_units
    assert h.analysed_units == oracle.exposed_units  # intent to treat: nobody is dropped
    assert {(s.allocation_version, s.variant): (s.units, s.share) for s in h.srm} == oracle.srm
    assert (h.first_exposure, h.last_exposure) == (oracle.first_exposure, oracle.last_exposure)
    assert h.last_outcome == oracle.last_outcome
    assert h.outcomes == oracle.outcomes
    assert h.units_in_window == oracle.units_in_window > 0
    assert h.as_of == AS_OF


def test_serving_stats_match_the_oracle(loaded) -> None:
    data, oracle, _, _ = loaded
    s = data.serving
    assert s.requests == oracle.requests
    assert s.errors == oracle.errors
    assert s.latency.edges == HISTOGRAM_EDGES
    for variant, counts in s.latency.counts.items():
        assert {i: c for i, c in enumerate(counts) if c} == oracle.latency_bins[variant]


def _bucket(unit_id: str) -> int:
    """A unit's bucket on engines other than DuckDB: the first two hex digits of MD5(unit_id),
    modulo 64 (by hand)."""
    return int(hashlib.md5(unit_id.encode()).hexdigest()[:2], 16) % 64


def _duckdb_buckets(unit_ids: pd.Series) -> list[int]:
    """A unit's bucket on DuckDB: DuckDB's own hash of the id, modulo 64, asked of DuckDB
    directly (not through the analysis' SQL)."""
    con = duckdb.connect()
    con.register("ids", pd.DataFrame({"unit_id": unit_ids.astype(str).to_numpy()}))
    rows = con.sql("SELECT hash(unit_id) % 64 AS b FROM ids").fetchnumpy()["b"]
    con.close()
    return [int(b) for b in rows]


@pytest.fixture(scope="module")
def requests_by_bucket(flawed: tuple[Path, Truth]) -> pd.DataFrame:
    """The counted requests (the oracle's rule) with their unit's bucket and latency bin."""
    ex = read_events(flawed[0], "exposures")
    ex = ex[(ex["experiment"].astype(str) == SPEC.name) & ex["exposed"] & (ex["ts"] <= AS_OF)]
    timed = ex["latency_ms"].notna()
    bins = pd.Series(pd.NA, index=ex.index, dtype="Int64")
    bins[timed] = histogram_bins(ex.loc[timed, "latency_ms"].to_numpy())
    return pd.DataFrame(
        {
            "variant": ex["variant"].astype(str),
            "bucket": _duckdb_buckets(ex["unit_id"]),
            "bin": bins,
            "error": ex["error"].notna(),
        }
    )


def test_serving_sums_per_unit_bucket_match_the_oracle(loaded, requests_by_bucket) -> None:
    s = loaded[0].serving
    frame = requests_by_bucket
    assert s.unit_buckets == UNIT_BUCKETS == 64
    per_bucket = frame.groupby(["variant", "bucket"]).agg(n=("error", "size"), e=("error", "sum"))
    for variant in frame["variant"].unique():
        expected = per_bucket.loc[variant].reindex(range(64), fill_value=0)
        assert s.bucket_requests[variant] == tuple(expected["n"])
        assert s.bucket_errors[variant] == tuple(expected["e"])
        assert sum(s.bucket_requests[variant]) == s.requests[variant]
        cells = frame[frame["bin"].notna() & (frame["variant"] == variant)]
        counted = cells.groupby(["bucket", "bin"]).size()
        assert s.bucket_latency[variant] == tuple((b, k, c) for (b, k), c in counted.items())
    assert len({b for b, _, _ in s.bucket_latency["v1"]}) > 50  # units spread over buckets


def test_a_quantile_metric_carries_a_histogram_of_unit_values(loaded) -> None:
    data, oracle, _, _ = loaded
    hist = data.metrics["load_seconds"].histogram
    assert hist is not None
    for variant, counts in hist.counts.items():
        assert {i: c for i, c in enumerate(counts) if c} == oracle.unit_bins["load_seconds"][
            variant
        ]
    assert data.metrics["converted"].histogram is None


def test_a_quantile_metric_carries_a_histogram_per_segment_value(loaded) -> None:
    data, oracle, _, _ = loaded
    agg = data.metrics["load_seconds"]
    expected = oracle.segment_unit_bins["load_seconds"]
    assert {key for key, _ in agg.segment_histograms} == set(expected)
    assert len(expected) > len(SPEC.segments)  # several values per attribute
    for (attribute, value), by_variant in expected.items():
        hist = agg.segment_histogram(attribute, value)
        assert hist is not None
        for variant, bins in by_variant.items():
            assert {i: c for i, c in enumerate(hist.counts[variant]) if c} == bins
    assert data.metrics["converted"].segment_histograms == ()


def test_only_aggregated_rows_are_fetched(loaded, requests_by_bucket) -> None:
    """On DuckDB three queries plus one per quantile metric, each row a group: a distinct
    payload (the packed plan's dictionary), a (payload, day) cell of analysed units or a
    payload of units seen in two variants, a (variant, unit bucket, latency bin) of requests
    or a unit-value bin."""
    _, oracle, queries, rows = loaded
    serving = requests_by_bucket.groupby(["variant", "bucket", "bin"], dropna=False).ngroups
    unit_bins = oracle.payload_unit_bins["load_seconds"]
    assert queries == 4
    assert rows == oracle.payloads + oracle.packed_groups + serving + unit_bins
    days = len({key.day for key in oracle.cells["revenue"]})
    bound = oracle.payloads * (2 + days) + 2 * len(HISTOGRAM_EDGES) * (1 + UNIT_BUCKETS)
    assert rows <= bound  # whatever the units


def test_without_as_of_nothing_is_ignored_and_windows_are_judged_now(flawed) -> None:
    root, truth = flawed
    before = datetime.now(UTC)
    with open_store(root, experiment=SPEC.name) as store:
        data = load_analysis_data(store, SPEC)
    assert before <= data.health.as_of <= datetime.now(UTC)
    assert data.health.exposed_units == len(truth.variant_of)
    assert data.health.multiple_exposure_units == len(truth.multiple)
    assert data.health.units_in_window == 0  # windows of 2024 closed long ago
    oracle = compute(root, SPEC, as_of=datetime.now(UTC))
    _assert_cells_equal(dict(data.metrics["revenue"].cells), oracle.cells["revenue"])


def test_recovers_the_true_conversion_rates(tmp_path: Path) -> None:
    truth = write_experiment(
        tmp_path, SPEC, units=4000, values={"converted": {"v1": 0.3, "v2": 0.4}}, seed=5
    )
    with open_store(tmp_path) as store:
        overall = load_analysis_data(store, SPEC).metrics["converted"].overall()
    for variant, cell in overall.items():
        rate, n = truth.values["converted"][variant], cell.n
        assert cell.n == truth.units[variant]
        assert abs(cell.sum_y / n - rate) < 4 * math.sqrt(rate * (1 - rate) / n)


def test_an_experiment_without_exposures_is_named_with_those_that_have_some(flawed) -> None:
    root, _ = flawed
    with (
        open_store(root) as store,
        pytest.raises(NoExposures, match=r"'nope'.*checkout-v2, other-test"),
    ):
        load_analysis_data(store, make_spec(name="nope"))


def test_as_of_must_be_timezone_aware(flawed) -> None:
    with open_store(flawed[0]) as store, pytest.raises(InvalidArgument, match="as_of="):
        load_analysis_data(store, SPEC, as_of=datetime(2024, 5, 6))


def test_a_store_opened_for_another_experiment_is_refused(flawed) -> None:
    with (
        open_store(flawed[0], experiment="other-test") as store,
        pytest.raises(InvalidArgument, match="opened for experiment 'other-test'"),
    ):
        load_analysis_data(store, SPEC)


def test_units_first_exposed_after_as_of_are_not_counted(flawed) -> None:
    root, _ = flawed
    early = AS_OF - timedelta(days=3)
    with open_store(root) as store:
        data = load_analysis_data(store, SPEC, as_of=early)
    assert data.health.last_exposure is not None
    assert data.health.last_exposure <= early
    assert data.health.exposed_units == compute(root, SPEC, as_of=early).exposed_units


def _assert_same(a: AnalysisData, b: AnalysisData, *, same_buckets: bool = True) -> None:
    """Equal data; ``same_buckets=False`` for two engines, whose unit hashes differ (any hash
    makes valid buckets): then per-bucket sums must still add up to the same totals."""
    assert (a.experiment, a.segments, a.health) == (b.experiment, b.segments, b.health)
    if same_buckets:
        assert a.serving == b.serving
    else:
        assert (a.serving.requests, a.serving.errors, a.serving.latency) == (
            b.serving.requests,
            b.serving.errors,
            b.serving.latency,
        )
        for s in (a.serving, b.serving):
            assert {v: sum(n) for v, n in s.bucket_requests.items()} == s.requests
            assert {v: sum(n) for v, n in s.bucket_errors.items()} == s.errors
    assert a.metrics.keys() == b.metrics.keys()
    for name, agg in a.metrics.items():
        other = b.metrics[name]
        assert (agg.kind, agg.histogram) == (other.kind, other.histogram)
        assert agg.segment_histograms == other.segment_histograms
        _assert_cells_equal(dict(agg.cells), dict(b.metrics[name].cells), tol=1e-12)


def test_duckdb_and_postgresql_give_the_same_data(tmp_path: Path, postgres_url: str) -> None:
    write_experiment([tmp_path, postgres_url], SPEC, units=600, seed=3, **FLAWS)
    with open_store(tmp_path) as parquet, open_store(postgres_url) as postgres:
        assert postgres.backend == "postgres"
        from_postgres = load_analysis_data(postgres, SPEC, as_of=AS_OF)
        _assert_same(
            load_analysis_data(parquet, SPEC, as_of=AS_OF), from_postgres, same_buckets=False
        )
    # PostgreSQL's buckets are MD5's, as by hand
    ex = read_events(tmp_path, "exposures")
    ex = ex[(ex["experiment"].astype(str) == SPEC.name) & ex["exposed"] & (ex["ts"] <= AS_OF)]
    by_hand = ex.assign(bucket=[_bucket(u) for u in ex["unit_id"]]).groupby(
        [ex["variant"].astype(str), "bucket"]
    )
    for (variant, bucket), n in by_hand.size().items():
        assert from_postgres.serving.bucket_requests[variant][bucket] == n


def test_a_hash_collision_falls_back_to_the_portable_plan_with_the_same_data(
    flawed: tuple[Path, Truth], loaded, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two payloads sharing a 64-bit hash cannot be decoded: the dictionary says so and
    the struct-MIN plan runs instead. The collision is forced; real ones are ~2^-64 rare."""
    from champion.analysis import packed

    def collide(rows: list) -> None:
        raise packed.HashCollision("forced")

    root, _ = flawed
    monkeypatch.setattr(packed, "decoder", collide)
    with open_store(root) as store:
        portable = load_analysis_data(store, SPEC, as_of=AS_OF)
        assert _tables(store) == []
    _assert_same(portable, loaded[0])


def test_the_packed_plan_leaves_no_table_behind(flawed: tuple[Path, Truth]) -> None:
    root, _ = flawed
    with open_store(root) as store:
        load_analysis_data(store, SPEC, as_of=AS_OF)
        assert _tables(store) == []


def _tables(store) -> list[str]:
    """Tables on the store's DuckDB connection (its views are not tables)."""
    return [
        row[0] for row in store.con.con.sql("SELECT table_name FROM duckdb_tables()").fetchall()
    ]


def test_health_by_hand_on_a_ramp(tmp_path: Path) -> None:
    """Version 1 gives v2 10%, version 2 gives it 50%; one unit crosses over; as of day 4."""
    t0 = datetime(2024, 5, 1, tzinfo=UTC)
    day = timedelta(days=1)
    plan = [  # unit, variant, version, probability, first exposure
        ("a", "v1", 1, 0.9, t0), ("b", "v1", 1, 0.9, t0), ("c", "v1", 1, 0.9, t0 + day / 2),
        ("d", "v2", 1, 0.1, t0), ("e", "v1", 2, 0.5, t0 + 2 * day),
        ("f", "v2", 2, 0.5, t0 + 2 * day), ("g", "v1", 2, 0.5, t0 + 2 * day),
    ]  # fmt: skip
    with open_writer(str(tmp_path)) as writer:
        for unit, variant, version, share, ts in plan:
            writer.log(Exposure(experiment=SPEC.name, unit_id=unit, variant=variant, model="m",
                                allocation_version=version, probability=share, ts=ts))  # fmt: skip
        writer.log(Exposure(experiment=SPEC.name, unit_id="g", variant="v2", model="m",
                            allocation_version=2, probability=0.5, ts=t0 + 3 * day))  # fmt: skip
        writer.log(Outcome(unit_id="a", metric="converted", value=1, ts=t0 + day))
        writer.log(Outcome(unit_id="f", metric="converted", value=1, ts=t0 + 3 * day))
        writer.log(Outcome(unit_id="g", metric="converted", value=1, ts=t0 + 3.5 * day))
    with open_store(tmp_path) as store:
        h = load_analysis_data(store, SPEC, as_of=t0 + 4 * day).health
    assert (h.exposed_units, h.analysed_units, h.multiple_exposure_units) == (7, 7, 1)
    assert h.crossovers == {"v1": 1, "v2": 0}  # g: first v1, then v2 after the ramp
    assert [(s.allocation_version, s.variant, s.units, s.share) for s in h.srm] == [
        (1, "v1", 3, 0.9), (1, "v2", 1, 0.1), (2, "v1", 2, 0.5), (2, "v2", 1, 0.5),
    ]  # fmt: skip
    assert (h.first_exposure, h.last_exposure) == (t0, t0 + 3 * day)
    assert h.last_outcome == t0 + 3.5 * day  # g crossed over and still counts, in v1
    assert h.outcomes["converted"] == 3
    assert h.units_in_window == 3  # e, f and g: first exposed after day 1, 3-day window


def test_latency_bins_and_errors_count_every_request_by_its_own_variant(tmp_path: Path) -> None:
    t0 = datetime(2024, 5, 1, tzinfo=UTC)
    served = [  # unit, variant, latency (ms), error
        ("a", "v1", 1.0, None), ("a", "v1", 1.0, None), ("a", "v2", 100.0, "timeout"),
        ("b", "v2", None, "refused"), ("b", "v2", 0.0, None), ("c", "v2", 1e9, None),
    ]  # fmt: skip
    with open_writer(str(tmp_path)) as writer:
        for k, (unit, variant, latency, error) in enumerate(served):
            writer.log(Exposure(experiment=SPEC.name, unit_id=unit, variant=variant, model="m",
                                allocation_version=1, probability=0.5, latency_ms=latency,
                                error=error, ts=t0 + timedelta(minutes=k)))  # fmt: skip
    with open_store(tmp_path) as store:
        serving = load_analysis_data(store, SPEC).serving
    assert serving.requests == {"v1": 2, "v2": 4}
    assert serving.errors == {"v1": 0, "v2": 2}
    bins = {
        v: {i: c for i, c in enumerate(counts) if c} for v, counts in serving.latency.counts.items()
    }
    # 1 ms is edge k=0 (bin 400), 100 ms bin 800; 0 ms falls in the first bin, 1e9 ms in the
    # last; the request without a latency is in no bin
    assert bins == {"v1": {400: 2}, "v2": {800: 1, 0: 1, 1399: 1}}
    assert serving.latency.edges[400] == 1.0
    # per unit bucket (DuckDB's hash of the id modulo 64, asked of DuckDB itself):
    a, b, c = _duckdb_buckets(pd.Series(["a", "b", "c"]))
    requests = {v: {k: n for k, n in enumerate(r) if n} for v, r in serving.bucket_requests.items()}
    errors = {v: {k: n for k, n in enumerate(e) if n} for v, e in serving.bucket_errors.items()}
    assert requests == {"v1": {a: 2}, "v2": {a: 1, b: 2, c: 1}}
    assert errors == {"v1": {}, "v2": {a: 1, b: 1}}
    assert serving.bucket_latency == {
        "v1": ((a, 400, 2),),
        "v2": tuple(sorted([(a, 800, 1), (b, 0, 1), (c, 1399, 1)])),
    }


def test_a_quantile_metric_is_read_out_per_segment_against_an_oracle(loaded) -> None:
    """Per segment value: the p90 difference test on the oracle's counts (pandas), then
    Holm across the attribute's values (statsmodels)."""
    from statsmodels.stats.multitest import multipletests

    from champion.analysis.readout import build_report
    from champion.stats.quantile import quantile_difference

    data, oracle, _, _ = loaded
    report = build_report(data, SPEC)
    found = [s for s in report.segments if s.metric == "load_seconds"]
    bins = oracle.segment_unit_bins["load_seconds"]
    assert {(s.attribute, s.value) for s in found} == {
        key for key, by_variant in bins.items() if {"v1", "v2"} <= set(by_variant)
    }
    tested = 0
    for attribute in SPEC.segments:
        mine = [s for s in found if s.attribute == attribute]
        raw = []
        for s in mine:
            counts = {
                v: tuple(bins[(attribute, s.value)][v].get(i, 0) for i in range(BINS))
                for v in ("v1", "v2")
            }
            test = quantile_difference(HISTOGRAM_EDGES, counts["v1"], counts["v2"], 0.9)
            assert s.comparison.test.status == test.status
            assert s.comparison.test.diff == pytest.approx(test.diff, rel=1e-12)
            assert s.comparison.test.p_value == pytest.approx(test.p_value, rel=1e-12, nan_ok=True)
            raw.append(test.p_value)
        finite = [i for i, p in enumerate(raw) if not math.isnan(p)]
        tested += len(finite)
        holm = multipletests([raw[i] for i in finite], method="holm")[1]
        assert [mine[i].p_value_adjusted for i in finite] == pytest.approx(list(holm), rel=1e-12)
    assert tested >= 4  # the test has something to check


BINS = len(HISTOGRAM_EDGES) - 1
