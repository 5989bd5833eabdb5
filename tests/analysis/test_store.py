"""Opening event stores: folders, PostgreSQL, other Ibis URLs; clear errors; SQL that stays data."""

from __future__ import annotations

import doctest
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb
import ibis
import psycopg
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import champion.analysis.store
from champion.analysis.aggregate import load_analysis_data
from champion.analysis.store import DEFAULT_MEMORY_LIMIT, open_store
from champion.errors import EventStoreUnavailable, InvalidArgument, MetricSqlError, NoExposures
from champion.events import Exposure, Outcome, open_writer
from champion.events.schema import file_schema
from champion.spec.models import Metric
from tests.analysis._events import make_spec, write_experiment

SPEC = make_spec()
AS_OF = datetime(2024, 5, 9, tzinfo=UTC)
T0 = datetime(2024, 5, 1, 12, tzinfo=UTC)
EVIL_METRIC = 'x"; drop table exposures; --'
EVIL_SEGMENT = "a'b"


def _plain(url: str) -> str:
    return url.replace("postgresql+psycopg://", "postgresql://")


def test_the_docstring_example_runs() -> None:
    result = doctest.testmod(champion.analysis.store, optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0
    assert result.failed == 0


# -- folders ---------------------------------------------------------------------------------


def test_a_missing_folder_is_named_with_the_fix(tmp_path: Path) -> None:
    with pytest.raises(
        EventStoreUnavailable, match=r"missing cannot be read: no such folder; pass"
    ):
        open_store(tmp_path / "missing")


def test_a_file_is_not_an_event_folder(tmp_path: Path) -> None:
    (tmp_path / "events.parquet").write_bytes(b"")
    with pytest.raises(EventStoreUnavailable, match="not a folder"):
        open_store(tmp_path / "events.parquet")


def test_an_experiment_without_an_exposure_folder_lists_those_with_one(tmp_path: Path) -> None:
    write_experiment(tmp_path, SPEC, units=20)
    with pytest.raises(NoExposures, match=r"no exposures for experiment 'nope'.*: checkout-v2\)"):
        open_store(tmp_path, experiment="nope")


def test_an_empty_folder_reads_as_empty_tables_and_then_as_no_exposures(tmp_path: Path) -> None:
    with open_store(tmp_path) as store:
        assert store.fetch(store.exposures.aggregate(n=store.exposures.count())) == [{"n": 0}]
        with pytest.raises(NoExposures, match="it holds no exposures at all"):
            load_analysis_data(store, SPEC)


def test_an_experiment_name_that_is_not_a_name_is_refused(tmp_path: Path) -> None:
    with pytest.raises(InvalidArgument, match=r"experiment='\.\./x' is invalid"):
        open_store(tmp_path, experiment="../x")


def test_a_metric_without_any_outcome_counts_zero_outcomes(tmp_path: Path) -> None:
    spec = make_spec(metrics={"primary": {"name": "never_logged", "kind": "proportion"}})
    write_experiment(tmp_path, make_spec(), units=30)
    with open_store(tmp_path) as store:
        data = load_analysis_data(store, spec)
    assert data.health.outcomes == {"never_logged": 0}
    assert sum(c.n for c in data.metrics["never_logged"].overall().values()) == 30


def test_an_unreadable_segment_is_a_store_error_not_a_traceback(tmp_path: Path) -> None:
    write_experiment(tmp_path, SPEC, units=20)
    folder = next((tmp_path / "exposures").glob("experiment=*/date=*"))
    (folder / "part-broken.parquet").write_bytes(b"not parquet at all")
    with pytest.raises(EventStoreUnavailable, match=r"part-broken.parquet.*; remove or replace"):
        open_store(tmp_path)


def test_duckdb_gets_a_memory_limit_and_a_private_spill_folder(tmp_path: Path) -> None:
    store = open_store(tmp_path, memory_limit="300MB")
    settings = dict(store.con.con.sql(
        "SELECT name, value FROM duckdb_settings() WHERE name IN ('memory_limit', 'temp_directory')"
    ).fetchall())  # fmt: skip
    assert settings["memory_limit"] in ("286.1 MiB", "300.0 MB")
    spill = Path(settings["temp_directory"])
    assert spill.is_dir()
    store.close()
    assert not spill.exists()


def test_the_memory_limit_comes_from_the_environment_or_the_default(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def limit() -> str:
        with open_store(tmp_path) as store:
            return store.con.con.sql("SELECT current_setting('memory_limit')").fetchall()[0][0]

    assert DEFAULT_MEMORY_LIMIT == "512MB"
    assert limit() in ("488.2 MiB", "512.0 MB")
    monkeypatch.setenv("CHAMPION_DUCKDB_MEMORY_LIMIT", "1GB")
    assert limit() in ("953.6 MiB", "1.0 GB")


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"memory_limit": "lots"}, r"memory_limit='lots' is invalid: must be a size"),
        ({"tables": {"exposures": "x"}}, "tables=.* only applies to database URLs"),
    ],
)
def test_folder_options_are_checked(tmp_path: Path, options: dict, message: str) -> None:
    with pytest.raises(InvalidArgument, match=message):
        open_store(tmp_path, **options)


# -- URLs ------------------------------------------------------------------------------------


def test_postgresql_that_does_not_answer_is_named_without_its_password() -> None:
    with pytest.raises(EventStoreUnavailable) as caught:
        open_store("postgresql://champion:s3cret@127.0.0.1:1/events")
    message = str(caught.value)
    assert "s3cret" not in message
    assert message.startswith("event store postgresql://champion:***@127.0.0.1:1/events")
    assert (
        "check the URL (user, password, host, port, database) and that the server is up" in message
    )


def test_an_unknown_url_scheme_says_which_urls_work() -> None:
    with pytest.raises(
        EventStoreUnavailable, match=r"no Ibis backend is called 'nosuch'.*duckdb://"
    ):
        open_store("nosuch://host/db")


def test_a_database_without_event_tables_says_how_to_name_them(postgres_url: str) -> None:
    with pytest.raises(EventStoreUnavailable, match=r"table 'exposures' not found.*tables=\{"):
        open_store(postgres_url)


def test_url_options_are_checked(postgres_url: str) -> None:
    with pytest.raises(InvalidArgument, match="tables='shadow' is invalid"):
        open_store(postgres_url, tables={"shadow": "s"})
    with pytest.raises(InvalidArgument, match=r"memory_limit=.* only applies to event folders"):
        open_store(postgres_url, memory_limit="1GB")


def test_renamed_tables_in_another_schema_are_read_like_the_writers(
    tmp_path: Path, postgres_url: str
) -> None:
    write_experiment([tmp_path, postgres_url], SPEC, units=200, seed=7)
    with psycopg.connect(_plain(postgres_url), autocommit=True) as conn:
        conn.execute("CREATE SCHEMA analytics")
        conn.execute("CREATE VIEW analytics.ab_exposures AS SELECT * FROM public.exposures")
        conn.execute("CREATE VIEW analytics.ab_outcomes AS SELECT * FROM public.outcomes")
    tables = {"exposures": "analytics.ab_exposures", "outcomes": "analytics.ab_outcomes"}
    with open_store(postgres_url, tables=tables) as renamed, open_store(tmp_path) as folder:
        assert (
            load_analysis_data(renamed, SPEC, as_of=AS_OF).health
            == load_analysis_data(folder, SPEC, as_of=AS_OF).health
        )


def test_a_table_lacking_columns_is_named(postgres_url: str) -> None:
    with psycopg.connect(_plain(postgres_url), autocommit=True) as conn:
        conn.execute("CREATE TABLE exposures (ts timestamptz, unit_id text)")
    with pytest.raises(
        EventStoreUnavailable, match=r"table 'exposures' lacks columns \['experiment'"
    ):
        open_store(postgres_url)


def test_outcomes_may_be_left_out_when_metrics_bring_their_own_sql(postgres_url: str) -> None:
    write_experiment(postgres_url, SPEC, units=20)
    with open_store(postgres_url, tables={"outcomes": None}) as store:
        data = load_analysis_data(store, SPEC)
    assert set(data.health.outcomes.values()) == {0}


@pytest.mark.parametrize("ts", ["zoned", "without a zone"])
def test_any_ibis_url_works_here_a_duckdb_file(tmp_path: Path, ts: str) -> None:
    """A warehouse's instants may lack a zone (UTC wall time): the same units either way."""
    events = tmp_path / "events"
    write_experiment(events, SPEC, units=200, seed=8, multiple_exposure=0.05, ties=0.1)
    db = tmp_path / "warehouse.duckdb"
    naive = "REPLACE (timezone('UTC', ts) AS ts)" if ts == "without a zone" else ""
    with duckdb.connect(str(db)) as con:
        for kind in ("exposures", "outcomes"):
            con.execute(
                f"CREATE TABLE {kind} AS SELECT * {naive} FROM read_parquet("
                f"'{events}/{kind}/**/*.parquet', hive_partitioning = true)"
            )
    with open_store(f"duckdb://{db}") as url, open_store(events) as folder:
        a = load_analysis_data(url, SPEC, as_of=AS_OF)
        b = load_analysis_data(folder, SPEC, as_of=AS_OF)
    assert (a.health, a.serving) == (b.health, b.serving)
    assert a.metrics["revenue"].overall().keys() == b.metrics["revenue"].overall().keys()


def test_a_connected_ibis_backend_is_used_as_it_is(tmp_path: Path) -> None:
    write_experiment(tmp_path, SPEC, units=20)
    con = ibis.duckdb.connect()
    for kind in ("exposures", "outcomes"):
        con.raw_sql(
            f"CREATE VIEW {kind} AS SELECT * FROM "
            f"read_parquet('{tmp_path}/{kind}/**/*.parquet', hive_partitioning = true)"
        )
    with open_store(con) as store:
        assert load_analysis_data(store, SPEC).health.exposed_units == 20
    assert con.con.sql("SELECT 1").fetchall() == [(1,)]  # not closed: the caller owns it


# -- warehouse-native SQL --------------------------------------------------------------------


def test_sql_with_a_second_statement_is_refused_before_it_runs(postgres_url: str) -> None:
    write_experiment(postgres_url, SPEC, units=10)
    with open_store(postgres_url) as store:
        with pytest.raises(
            MetricSqlError, match=r"'paid': sql must be one SELECT query, got SELECT, DROP"
        ):
            store.metric_table(
                "paid", "SELECT unit_id, ts, value FROM outcomes; DROP TABLE exposures"
            )
        with pytest.raises(MetricSqlError, match="must be one SELECT query, got DELETE"):
            store.metric_table("paid", "DELETE FROM exposures")
        assert store.fetch(store.exposures.aggregate(n=store.exposures.count()))[0]["n"] > 0


def test_sql_missing_a_column_or_failing_says_so(tmp_path: Path) -> None:
    write_experiment(tmp_path, SPEC, units=10)
    with open_store(tmp_path) as store:
        with pytest.raises(MetricSqlError, match=r"missing \['ts', 'value'\]"):
            store.metric_table("paid", "SELECT 'a' AS unit_id")
        with pytest.raises(MetricSqlError, match=r"failed in duckdb: .*no_such_table"):
            store.metric_table("paid", "SELECT * FROM no_such_table")
        with pytest.raises(MetricSqlError, match="does not parse"):
            store.metric_table("paid", "SELECT (")


# -- names from a spec are data --------------------------------------------------------------


def _evil_events(target: str | Path) -> None:
    with open_writer(str(target)) as writer:
        for i, country in enumerate(["it's", "FR", "it's"]):
            writer.log(Exposure(
                experiment="checkout-v2", unit_id=f"u{i}", variant="v1" if i else "v2",
                model="m", allocation_version=1, probability=0.5, request_id=f"r{i}",
                attributes={EVIL_SEGMENT: country}, ts=T0,
            ))  # fmt: skip
            writer.log(Outcome(unit_id=f"u{i}", metric="paid", value=2.0, ts=T0 + timedelta(1)))


def _evil_spec(outcomes: str):
    """A spec the spec layer would refuse (a metric's name), built to test the SQL layer."""
    base = make_spec(segments=[EVIL_SEGMENT])
    fields = Metric(name="x").model_dump()
    evil = Metric.model_construct(**{**fields, "name": EVIL_METRIC})
    sql = Metric.model_construct(**{
        **fields, "name": EVIL_METRIC + "2", "kind": "mean",
        "sql": f"SELECT unit_id, ts, value * 10 AS value FROM {outcomes} WHERE metric = 'paid'",
    })  # fmt: skip
    metrics = base.metrics.model_copy(update={"primary": evil, "secondary": [sql]})
    return base.model_copy(update={"metrics": metrics})


def _check_evil(store, spec) -> None:
    data = load_analysis_data(store, spec, as_of=AS_OF)
    overall = data.metrics[EVIL_METRIC].overall()
    assert (overall["v2"].sum_y, overall["v1"].sum_y) == (1.0, 0.0)  # u0 converted, as logged
    assert data.metrics[EVIL_METRIC + "2"].overall()["v1"].sum_y == 40.0
    assert data.metrics[EVIL_METRIC].segment_values(EVIL_SEGMENT) == ["FR", "it's"]
    assert data.health.outcomes[EVIL_METRIC] == 1


def test_a_hostile_metric_name_and_a_quoted_segment_are_data_in_duckdb(tmp_path: Path) -> None:
    _evil_events(tmp_path)
    folder = tmp_path / "outcomes" / "date=2024-05-02"
    table = pa.table({"ts": pa.array([T0 + timedelta(1)], pa.timestamp("us", "UTC")),
                      "unit_id": ["u0"], "metric": [EVIL_METRIC], "value": [1.0]},
                     schema=file_schema("outcomes"))  # fmt: skip
    pq.write_table(table, folder / "part-evil.parquet")
    spec = _evil_spec(f"read_parquet('{tmp_path}/outcomes/**/*.parquet')")
    with open_store(tmp_path) as store:
        _check_evil(store, spec)
        assert store.fetch(store.exposures.aggregate(n=store.exposures.count()))[0]["n"] == 3


def test_a_hostile_metric_name_and_a_quoted_segment_are_data_in_postgresql(
    postgres_url: str,
) -> None:
    _evil_events(postgres_url)
    with psycopg.connect(_plain(postgres_url), autocommit=True) as conn:
        conn.execute(
            "INSERT INTO outcomes (ts, unit_id, metric, value, date) VALUES (%s, 'u0', %s, 1, %s)",
            (T0 + timedelta(1), EVIL_METRIC, (T0 + timedelta(1)).date()),
        )
    spec = _evil_spec("outcomes")
    with open_store(postgres_url) as store:
        _check_evil(store, spec)
    with psycopg.connect(_plain(postgres_url)) as conn:
        tables = {
            r[0]
            for r in conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
        }
        assert {"exposures", "outcomes"} <= tables
        assert conn.execute("SELECT count(*) FROM exposures").fetchone() == (3,)
