"""Outcome files: CSV and Parquet read, checked whole, refused whole, loaded once."""

import gzip
from datetime import UTC, datetime

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from champion.errors import EventSinkUnavailable, OutcomeFileError
from champion.events import Outcome, ParquetSink, PostgresSink
from champion.events.outcomes import load_outcome_file, read_outcome_file
from tests.events._helpers import count

GOOD_CSV = (
    "ts,unit_id,metric,value\n"
    "2024-05-01T12:00:00Z,u1,converted,1\n"
    "2024-05-01 14:00:00+02:00,007,revenue,12.5\n"
    "2024-05-02, u3 ,converted,0\n"
    "2024-05-02T08:15:30.250,u4,revenue,-3\n"
)


def _utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)


def test_a_csv_file_is_read_with_times_in_utc(tmp_path):
    path = tmp_path / "labels.csv"
    path.write_text(GOOD_CSV)
    assert read_outcome_file(path) == [
        Outcome(ts=_utc(2024, 5, 1, 12), unit_id="u1", metric="converted", value=1.0),
        Outcome(ts=_utc(2024, 5, 1, 12), unit_id="007", metric="revenue", value=12.5),
        Outcome(ts=_utc(2024, 5, 2), unit_id="u3", metric="converted", value=0.0),
        Outcome(ts=_utc(2024, 5, 2, 8, 15, 30, 250000), unit_id="u4", metric="revenue",
                value=-3.0),
    ]  # fmt: skip


def test_a_gzipped_csv_file_is_read(tmp_path):
    path = tmp_path / "labels.csv.gz"
    path.write_bytes(gzip.compress(GOOD_CSV.encode()))
    assert len(read_outcome_file(path)) == 4


def test_a_parquet_file_with_native_types_is_read(tmp_path):
    path = tmp_path / "labels.parquet"
    table = pa.table({
        "ts": pa.array([1714564800_000000000, 1714651200_000000000], pa.timestamp("ns")),
        "unit_id": pa.array([7, 8], pa.int64()),
        "metric": ["converted", "converted"],
        "value": pa.array([True, False]),
    })  # fmt: skip
    pq.write_table(table, path)
    assert read_outcome_file(path) == [
        Outcome(ts=_utc(2024, 5, 1, 12), unit_id="7", metric="converted", value=1.0),
        Outcome(ts=_utc(2024, 5, 2, 12), unit_id="8", metric="converted", value=0.0),
    ]


def test_parquet_times_with_a_zone_become_utc(tmp_path):
    path = tmp_path / "labels.parquet"
    ts = pa.array([_utc(2024, 5, 1, 12)], pa.timestamp("ms", tz="America/Sao_Paulo"))
    pq.write_table(pa.table({"ts": ts, "unit_id": ["u"], "metric": ["m"], "value": [2.0]}), path)
    assert read_outcome_file(path)[0].ts == _utc(2024, 5, 1, 12)


def test_a_misnamed_column_is_named_with_the_likely_fix(tmp_path):
    path = tmp_path / "labels.csv"
    path.write_text("ts,unit_id,metric,values\n2024-05-01,u1,converted,1\n")
    with pytest.raises(OutcomeFileError) as refused:
        read_outcome_file(path)
    assert refused.value.problems == [
        (
            "missing column 'value' (is 'values' meant to be 'value'? rename it); an outcome file "
            "has columns ts, unit_id, metric, value (found: ts, unit_id, metric, values)"
        ),
        (
            "unknown column 'values'; keep only ts, unit_id, metric, value (outcomes are not tied "
            "to an experiment: the analysis joins them to exposures by unit_id)"
        ),
    ]
    assert str(refused.value).startswith(f"{path}: refused, nothing was loaded (2 problem(s))")


def test_bad_cells_are_listed_by_column_with_their_lines(tmp_path):
    path = tmp_path / "labels.csv"
    lines = ["ts,unit_id,metric,value", "yesterday,u1,converted,1"]
    lines += [f"2024-05-01,u{i},converted,lots" for i in range(8)]
    lines += ["2024-05-01,,converted,1"]
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(OutcomeFileError) as refused:
        read_outcome_file(path)
    assert refused.value.problems == [
        (
            "column 'ts', line 2: 'yesterday' is not a timestamp; write ISO 8601 times such as "
            "2024-05-01T12:30:00Z (no offset means UTC)"
        ),
        (
            "column 'value', lines 3, 4, 5, 6, 7 and 3 more: 'lots' is not a number; write plain "
            "numbers such as 1, 0 or 12.5 (1/0 for conversions)"
        ),
        (
            "column 'unit_id', line 11: is empty; fill it in; unit ids must be the ids the gateway "
            "logged exposures for"
        ),
    ]


def test_parquet_problems_are_counted_in_rows(tmp_path):
    path = tmp_path / "labels.parquet"
    pq.write_table(
        pa.table({"ts": ["2024-05-01", None], "unit_id": [1.5, 2.5], "metric": ["m", "m"],
                  "value": [1.0, float("inf")]}),
        path,
    )  # fmt: skip
    with pytest.raises(OutcomeFileError) as refused:
        read_outcome_file(path)
    assert refused.value.problems == [
        (
            "column 'unit_id' has type double; unit ids must be the ids the gateway logged "
            "exposures for (text)"
        ),
        (
            "column 'value', row 2: inf is not a finite number; write plain numbers such as 1, 0 "
            "or 12.5 (1/0 for conversions)"
        ),
        (
            "column 'ts', row 2: is empty; fill it in; write ISO 8601 times such as "
            "2024-05-01T12:30:00Z (no offset means UTC)"
        ),
    ]


def test_a_file_separated_by_semicolons_gets_one_clear_problem(tmp_path):
    path = tmp_path / "labels.csv"
    path.write_text("ts;unit_id;metric;value\n2024-05-01;u1;converted;1\n")
    with pytest.raises(OutcomeFileError) as refused:
        read_outcome_file(path)
    assert refused.value.problems == [
        (
            "the header 'ts;unit_id;metric;value' is one column: the file is separated by ';'; "
            "save it comma-separated"
        )
    ]


def test_a_byte_order_mark_is_not_part_of_the_first_column(tmp_path):
    path = tmp_path / "labels.csv"
    path.write_bytes(b"\xef\xbb\xbfts,unit_id,metric,value\n2024-05-01,u1,converted,1\n")
    assert read_outcome_file(path)[0].ts == _utc(2024, 5, 1)


@pytest.mark.parametrize(
    ("name", "content", "problem"),
    [
        ("labels.csv", "ts,unit_id,metric,value\n", "the file has no rows; nothing to load"),
        ("labels.xlsx", "", "unknown file type '.xlsx': save it as .csv or .parquet"),
        ("labels.csv", "ts,unit_id,metric,value\n2024-05-01,u1\n",
         "line 2: 2 fields where the header has 4; every row needs ts,unit_id,metric,value"),
        ("labels.parquet", "not parquet", "cannot be read as Parquet"),
    ],
)  # fmt: skip
def test_unreadable_files_are_refused_with_the_reason(tmp_path, name, content, problem):
    path = tmp_path / name
    path.write_text(content)
    with pytest.raises(OutcomeFileError) as refused:
        read_outcome_file(path)
    assert refused.value.problems[0].startswith(problem)


def test_a_missing_file_is_refused():
    with pytest.raises(OutcomeFileError, match=r"file not found; check the path"):
        read_outcome_file("/nonexistent/labels.csv")


def test_loading_the_same_file_twice_stores_it_once(tmp_path):
    path = tmp_path / "labels.csv"
    path.write_text(GOOD_CSV)
    first = load_outcome_file(path, ParquetSink(tmp_path / "events"))
    again = load_outcome_file(path, ParquetSink(tmp_path / "events"))
    assert (first.rows, first.stored, first.already_loaded) == (4, 4, False)
    assert (again.rows, again.stored, again.already_loaded) == (4, 0, True)
    assert first.metrics == {"converted": 2, "revenue": 2}
    assert (first.first_ts, first.last_ts) == (_utc(2024, 5, 1, 12), _utc(2024, 5, 2, 8, 15, 30,
                                                                           250000))  # fmt: skip
    assert count(tmp_path / "events", "outcomes") == 4


def test_a_load_that_fails_part_way_leaves_nothing(tmp_path):
    path = tmp_path / "labels.csv"
    path.write_text(GOOD_CSV)
    events = tmp_path / "events"
    (events / "outcomes").mkdir(parents=True)
    (events / "outcomes" / "date=2024-05-02").write_text("in the way")
    with pytest.raises(EventSinkUnavailable):
        load_outcome_file(path, ParquetSink(events))
    assert list(events.rglob("*.parquet")) == []


def test_outcomes_load_into_postgresql_once(tmp_path, postgres_url):
    path = tmp_path / "labels.csv"
    path.write_text(GOOD_CSV)
    sink = PostgresSink(postgres_url)
    try:
        assert load_outcome_file(path, sink).stored == 4
        assert load_outcome_file(path, sink).already_loaded
    finally:
        sink.close()
