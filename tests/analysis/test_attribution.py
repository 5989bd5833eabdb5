"""Attribution rules, one at a time, on hand-made events with known answers.

Each test logs a few events through the real writer, runs the Ibis expressions on the
real engine (DuckDB over Parquet; PostgreSQL where the engine matters) and compares with
values worked out by hand from the rules in docs/analysis.md.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from champion.analysis import packed
from champion.analysis.attribution import (
    NO_VALUE,
    attribute,
    counted_exposures,
    first_exposures,
    metric_outcomes,
    plan_metrics,
    unit_values,
)
from champion.analysis.store import EventStore, open_store
from champion.events import Exposure, Outcome, open_writer
from champion.spec.models import Metric
from tests.analysis._events import make_spec, write_experiment

T0 = datetime(2024, 5, 1, 12, tzinfo=UTC)
DAY = timedelta(days=1)
US = timedelta(microseconds=1)


def exposure(unit: str, variant: str = "v1", ts: datetime = T0, **fields) -> Exposure:
    fields.setdefault("experiment", "checkout-v2")
    fields.setdefault("model", f"model-{variant}")
    fields.setdefault("allocation_version", 1)
    fields.setdefault("probability", 0.5)
    fields.setdefault("request_id", f"{unit}-{ts.isoformat()}")
    return Exposure(unit_id=unit, variant=variant, ts=ts, **fields)


def outcome(unit: str, metric: str, value: float, ts: datetime) -> Outcome:
    return Outcome(unit_id=unit, metric=metric, value=value, ts=ts)


def log(target: object, *events: object) -> None:
    with open_writer(str(target)) as writer:
        for event in events:
            writer.log(event)


def units_of(store: EventStore, segments: tuple[str, ...] = (), **options) -> dict[str, dict]:
    """First exposures by unit; ``backend`` picks the strategy: ``"duckdb"`` a struct MIN,
    ``"postgres"`` a window, ``"packed"`` the packed MIN decoded by its dictionary."""
    exposed = counted_exposures(store.exposures, "checkout-v2")
    if options.get("backend") == "packed":
        return _packed_units_of(store, exposed, segments)
    table = first_exposures(exposed, segments, backend=options.get("backend", store.backend))
    return {r["unit_id"]: r for r in store.fetch(table)}


def _packed_units_of(store: EventStore, exposed, segments: tuple[str, ...]) -> dict[str, dict]:
    packed.install(store.con)
    again = counted_exposures(store.exposures.select(*store.exposures.columns), "checkout-v2")
    dictionary = packed.decoder(store.fetch(packed.dictionary_query(exposed, segments)))
    units = {}
    for row in store.fetch(packed.packed_units(exposed, again, segments)):
        units[row["unit_id"]] = row | dictionary.payloads[row.pop("payload")]
    return units


def values_of(store: EventStore, metrics: list[Metric], **sql: str) -> dict[str, dict]:
    plans = plan_metrics(metrics)
    exposed = counted_exposures(store.exposures, "checkout-v2")
    units = first_exposures(exposed, (), backend=store.backend)
    tables = {name: store.metric_table(name, text) for name, text in sql.items()}
    rows = metric_outcomes(store.outcomes, plans, tables)
    return {r["unit_id"]: r for r in store.fetch(unit_values(units, rows, plans))}


# -- which exposure is first -----------------------------------------------------------------


def test_the_earliest_exposure_fixes_variant_segments_and_version(tmp_path: Path) -> None:
    log(
        tmp_path,
        exposure("a", ts=T0 + DAY, attributes={"country": "late"}, allocation_version=2),
        exposure("a", ts=T0, attributes={"country": "FR"}, allocation_version=1),
        exposure("a", ts=T0 + 2 * DAY, attributes={"country": "later"}),
    )
    with open_store(tmp_path) as store:
        unit = units_of(store, ("country",))["a"]
    assert (unit["first_ts"], unit["s0"], unit["allocation_version"]) == (T0, "FR", 1)
    assert unit["multiple"] is False


@pytest.mark.parametrize("backend", ["duckdb", "postgres", "packed"])
def test_a_tie_on_ts_goes_to_the_smaller_request_id_on_every_strategy(
    tmp_path: Path, backend: str
) -> None:
    """``backend`` picks the query shape (one MIN over a struct, a window, or the packed
    MIN whose tied units are re-read); all run here."""
    log(
        tmp_path,
        exposure("a", request_id="r2", attributes={"country": "second"}),
        exposure("a", request_id="r1", attributes={"country": "first"}),
        exposure("a", request_id="r3", attributes={"country": "third"}),
        exposure("b", request_id=None, attributes={"country": "no id sorts first"}),
        exposure("b", request_id="r0", attributes={"country": "r0"}),
    )
    with open_store(tmp_path) as store:
        units = units_of(store, ("country",), backend=backend)
    assert units["a"]["s0"] == "first"
    assert units["b"]["s0"] == "no id sorts first"


def test_every_strategy_agrees_on_a_flawed_experiment(tmp_path: Path) -> None:
    spec = make_spec()
    write_experiment(tmp_path, spec, units=400, ties=0.1, multiple_exposure=0.1,
                     missing_attributes=0.2, duplicates=0.1, seed=4)  # fmt: skip
    with open_store(tmp_path) as store:
        by_struct = units_of(store, tuple(spec.segments), backend="duckdb")
        by_window = units_of(store, tuple(spec.segments), backend="postgres")
        by_packed = units_of(store, tuple(spec.segments), backend="packed")
    assert by_struct == by_window == by_packed
    assert sum(u["multiple"] for u in by_struct.values()) > 10


def test_a_missing_attribute_reads_none_and_other_experiments_and_unexposed_rows_do_not_count(
    tmp_path: Path,
) -> None:
    log(
        tmp_path,
        exposure("a", attributes={"device": "ios"}),
        exposure("a", variant="v2", ts=T0 - DAY, exposed=False, attributes={"country": "QA"}),
        exposure("a", variant="v2", ts=T0 - DAY, experiment="another"),
        exposure("z", experiment="another"),
    )
    with open_store(tmp_path) as store:
        units = units_of(store, ("country", "device"))
    assert list(units) == ["a"]
    assert (units["a"]["variant"], units["a"]["s0"], units["a"]["s1"]) == ("v1", NO_VALUE, "ios")
    assert units["a"]["multiple"] is False


def test_a_unit_seen_in_two_variants_is_flagged_and_keeps_its_first_arm_and_outcomes(
    tmp_path: Path,
) -> None:
    log(
        tmp_path,
        exposure("a", variant="v1"),
        exposure("a", variant="v2", ts=T0 + DAY),
        outcome("a", "revenue", 5.0, T0 + 2 * DAY),
    )
    with open_store(tmp_path) as store:
        unit = values_of(store, [Metric(name="revenue", kind="mean")])["a"]
    # intent to treat: dropping it would drop the champion's returning users only
    assert (unit["variant"], unit["multiple"], unit["y0"], unit["c0"]) == ("v1", True, 5.0, 1.0)


# -- windows ---------------------------------------------------------------------------------


def test_the_window_is_half_open_from_the_first_exposure(tmp_path: Path) -> None:
    log(
        tmp_path,
        exposure("a"),
        outcome("a", "revenue", 1.0, T0),  # at the exposure: counts
        outcome("a", "revenue", 2.0, T0 + 7 * DAY - US),  # last microsecond: counts
        outcome("a", "revenue", 4.0, T0 + 7 * DAY),  # window end: does not
        outcome("a", "revenue", 8.0, T0 - US),  # before: does not
        outcome("a", "other", 16.0, T0 + DAY),  # another metric: does not
    )
    with open_store(tmp_path) as store:
        unit = values_of(store, [Metric(name="revenue", kind="mean", window_days=7)])["a"]
    assert (unit["y0"], unit["c0"]) == (3.0, 2.0)


def test_fractional_windows_are_exact_to_the_microsecond(tmp_path: Path) -> None:
    half = timedelta(days=0.3)  # 25,920 s
    odd = timedelta(microseconds=round(1e-7 * 86_400e6))  # 8,640 µs: not whole seconds
    log(
        tmp_path,
        exposure("a"),
        outcome("a", "m", 1.0, T0 + half - US),
        outcome("a", "m", 10.0, T0 + half),
        outcome("a", "n", 1.0, T0 + odd - US),
        outcome("a", "n", 10.0, T0 + odd),
    )
    metrics = [Metric(name="m", kind="mean", window_days=0.3),
               Metric(name="n", kind="mean", window_days=1e-7)]  # fmt: skip
    with open_store(tmp_path) as store:
        unit = values_of(store, metrics)["a"]
    assert (unit["y0"], unit["y1"]) == (1.0, 1.0)


def test_a_proportion_is_one_when_any_outcome_is_nonzero(tmp_path: Path) -> None:
    log(
        tmp_path,
        exposure("a"),
        exposure("b"),
        exposure("c"),
        outcome("a", "converted", 1.0, T0 + DAY),
        outcome("a", "converted", 1.0, T0 + 2 * DAY),  # twice: still one unit converted
        outcome("b", "converted", 0.0, T0 + DAY),  # a logged zero: not converted
        outcome("c", "converted", -3.0, T0 + DAY),  # nonzero counts, whatever its sign
    )
    with open_store(tmp_path) as store:
        units = values_of(store, [Metric(name="converted", kind="proportion")])
    assert {u: (r["y0"], r["c0"]) for u, r in units.items()} == {
        "a": (1.0, 2.0),
        "b": (0.0, 1.0),
        "c": (1.0, 1.0),
    }


def test_the_covariate_sums_the_lookback_period_before_the_first_exposure(tmp_path: Path) -> None:
    log(
        tmp_path,
        exposure("a"),
        outcome("a", "revenue", 1.0, T0 - 3 * DAY),  # lookback start: counts
        outcome("a", "revenue", 2.0, T0 - US),  # just before: counts
        outcome("a", "revenue", 4.0, T0 - 3 * DAY - US),  # before the lookback
        outcome("a", "revenue", 8.0, T0),  # in the window: y, not x
    )
    metric = Metric(name="revenue", kind="mean", covariate="revenue", lookback_days=3)
    with open_store(tmp_path) as store:
        unit = values_of(store, [metric])["a"]
    assert (unit["x0"], unit["y0"]) == (3.0, 8.0)


def test_a_ratio_sums_numerator_and_denominator_in_its_window(tmp_path: Path) -> None:
    log(
        tmp_path,
        exposure("a"),
        outcome("a", "spend", 10.0, T0 + DAY),
        outcome("a", "spend", 5.0, T0 + 3 * DAY),  # after the 2-day window
        outcome("a", "visits", 1.0, T0 + DAY),
        outcome("a", "visits", 1.0, T0 + DAY + US),
    )
    metric = Metric(name="spv", kind="ratio", numerator="spend", denominator="visits",
                    window_days=2)  # fmt: skip
    with open_store(tmp_path) as store:
        unit = values_of(store, [metric])["a"]
    assert (unit["y0"], unit["d0"], unit["c0"]) == (10.0, 2.0, 3.0)


def test_a_unit_without_outcomes_counts_zero(tmp_path: Path) -> None:
    log(tmp_path, exposure("a"))  # no outcomes folder at all
    with open_store(tmp_path) as store:
        unit = values_of(store, [Metric(name="revenue", kind="mean", covariate="revenue")])["a"]
    assert (unit["y0"], unit["x0"], unit["c0"], unit["last_outcome"]) == (0.0, 0.0, 0.0, None)


# -- attributes in every storage type --------------------------------------------------------


def test_attributes_read_the_same_from_maps_json_and_json_text(postgres_url: str) -> None:
    import ibis

    con = ibis.duckdb.connect()
    data = pa.table({
        "m": pa.array([[("k", "x"), ("a'b", "y")], []], pa.map_(pa.string(), pa.string())),
        "j": ['{"k": "x", "a\'b": "y"}', "{}"],
    })  # fmt: skip
    t = ibis.memtable(data)
    expr = t.select(
        fast=attribute(t.m, "a'b", backend="duckdb"),
        portable=attribute(t.m, "a'b"),
        text=attribute(t.j, "a'b", backend="duckdb"),
        missing=attribute(t.m, "nope", backend="duckdb"),
    )
    assert con.to_pyarrow(expr).to_pylist() == [
        {"fast": "y", "portable": "y", "text": "y", "missing": None},
        {"fast": None, "portable": None, "text": None, "missing": None},
    ]
    log(postgres_url, exposure("a", attributes={"a'b": "y"}))
    with open_store(postgres_url) as store:
        assert store.exposures.attributes.type().is_json()
        assert units_of(store, ("a'b", "k"))["a"]["s0"] == "y"


# -- warehouse-native metrics ----------------------------------------------------------------


def _user_payments(folder: Path) -> Path:
    path = folder / "payments.parquet"
    pq.write_table(
        pa.table({
            "customer": ["a", "a", "b", "z"],
            "paid_at": pa.array([T0 + DAY, T0 + 9 * DAY, T0 + DAY, T0], pa.timestamp("us", "UTC")),
            "amount": [10, 20, 5, 7],
        }),
        path,
    )  # fmt: skip
    return path


def test_a_sql_metric_replaces_outcome_events_of_its_name(tmp_path: Path) -> None:
    events = tmp_path / "events"
    payments = _user_payments(tmp_path)
    log(events, exposure("a"), exposure("b"), outcome("a", "paid", 1000.0, T0 + DAY))
    sql = (
        f"SELECT customer AS unit_id, paid_at AS ts, amount AS value "
        f"FROM read_parquet('{payments}')  -- user data\n"
    )
    with open_store(events) as store:
        units = values_of(store, [Metric(name="paid", kind="mean", sql=sql)], paid=sql)
    assert {u: r["y0"] for u, r in units.items()} == {"a": 10.0, "b": 5.0}


def test_a_sql_metric_runs_on_postgresql_over_a_user_table(postgres_url: str) -> None:
    import psycopg

    plain = postgres_url.replace("postgresql+psycopg://", "postgresql://")
    log(postgres_url, exposure("a"), exposure("b"))
    with psycopg.connect(plain, autocommit=True) as conn:
        conn.execute("CREATE SCHEMA shop")
        conn.execute("CREATE TABLE shop.payments (customer int, paid_at timestamp, amount int)")
        conn.execute(
            "INSERT INTO shop.payments VALUES (1, %s, 10), (1, %s, 20), (2, %s, 5)",
            (T0.replace(tzinfo=None) + DAY, T0.replace(tzinfo=None) + 9 * DAY,
             T0.replace(tzinfo=None) + DAY),
        )  # fmt: skip
    sql = (
        "SELECT CASE customer WHEN 1 THEN 'a' ELSE 'b' END AS unit_id, paid_at AS ts, "
        "amount AS value FROM shop.payments;"
    )
    with open_store(postgres_url) as store:
        units = values_of(store, [Metric(name="paid", kind="mean", sql=sql)], paid=sql)
    assert {u: r["y0"] for u, r in units.items()} == {"a": 10.0, "b": 5.0}


def test_tied_exposures_that_agree_are_not_read_again(tmp_path: Path) -> None:
    """The packed MIN flags a unit only when exposures at its first instant differ."""
    log(
        tmp_path,
        exposure("a", request_id="r2", attributes={"country": "FR"}),
        exposure("a", request_id="r1", attributes={"country": "FR"}),
        exposure("b", request_id="r4", attributes={"country": "FR"}),
        exposure("b", request_id="r3", attributes={"country": "DE"}),
    )
    with open_store(tmp_path) as store:
        packed.install(store.con)
        exposed = counted_exposures(store.exposures, "checkout-v2")
        keys = packed.first_keys(exposed, ("country",))
        flagged = {row["unit_id"]: row["tied"] for row in store.fetch(keys)}
        by_packed = units_of(store, ("country",), backend="packed")
    assert flagged == {"a": False, "b": True}
    assert by_packed["b"]["s0"] == "DE"


def test_a_dictionary_refuses_a_hash_shared_by_two_payloads_or_two_variants() -> None:
    row = {"variant": "v1", "allocation_version": 1, "probability": 0.5, "s0": "FR"}
    same = packed.decoder([row | {"payload": 7, "variant_hash": 1}] * 2)
    assert same.payloads == {7: row}
    with pytest.raises(packed.HashCollision, match="payload hash 7"):
        packed.decoder([row | {"payload": 7, "variant_hash": 1},
                        row | {"s0": "DE", "payload": 7, "variant_hash": 1}])  # fmt: skip
    with pytest.raises(packed.HashCollision, match="variant hash 1"):
        packed.decoder([row | {"payload": 7, "variant_hash": 1},
                        row | {"variant": "v2", "payload": 8, "variant_hash": 1}])  # fmt: skip
