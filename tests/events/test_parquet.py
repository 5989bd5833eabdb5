"""The Parquet layout: Hive folders, whole segments only, one segment per batch id."""

import threading
import time
from datetime import UTC, datetime

import duckdb
import pytest

from champion.errors import EventSinkUnavailable
from champion.events import EventWriter, ParquetSink, parquet_source
from tests.events._helpers import count, make_exposure, make_outcome, make_shadow

MAY_1 = datetime(2024, 5, 1, 9, tzinfo=UTC)
MAY_2 = datetime(2024, 5, 2, 9, tzinfo=UTC)


def _files(root):
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())


def test_segments_land_in_hive_folders_by_kind_experiment_and_day(tmp_path):
    sink = ParquetSink(tmp_path)
    stored = sink.write(
        [make_exposure(1, ts=MAY_1), make_exposure(2, ts=MAY_2, experiment="other"),
         make_shadow(1, ts=MAY_1), make_outcome(1, ts=MAY_2)],
        "b1",
    )  # fmt: skip
    assert stored == 4
    assert _files(tmp_path) == [
        "exposures/experiment=fraud-v2/date=2024-05-01/part-b1.parquet",
        "exposures/experiment=other/date=2024-05-02/part-b1.parquet",
        "outcomes/date=2024-05-02/part-b1.parquet",
        "shadow/experiment=fraud-v2/date=2024-05-01/part-b1.parquet",
    ]


def test_the_same_batch_stored_twice_is_stored_once(tmp_path):
    sink = ParquetSink(tmp_path)
    batch = [make_outcome(i, ts=MAY_1) for i in range(10)]
    assert sink.write(batch, "b1") == 10
    assert sink.write(batch, "b1") == 0  # a replay: same name, same rows, replaced
    assert count(tmp_path, "outcomes") == 10


def test_a_batch_that_fails_part_way_leaves_nothing_behind(tmp_path):
    (tmp_path / "outcomes" / "date=2024-05-02").mkdir(parents=True)
    (tmp_path / "outcomes" / "date=2024-05-02" / "part-b1.parquet").mkdir()  # cannot be replaced
    sink = ParquetSink(tmp_path)
    batch = [make_outcome(1, ts=MAY_1), make_outcome(2, ts=MAY_2)]
    with pytest.raises(EventSinkUnavailable, match=r"event store .* is unavailable: .*part-b1"):
        sink.write(batch, "b1")
    assert not list((tmp_path / "outcomes" / "date=2024-05-01").iterdir())


def test_a_file_where_a_folder_should_be_is_reported_with_the_fix(tmp_path):
    (tmp_path / "exposures").write_text("in the way")
    with pytest.raises(EventSinkUnavailable, match=r"Not a directory.*; free disk space or fix"):
        ParquetSink(tmp_path).write([make_exposure()], "b1")


def test_readers_never_see_a_partial_segment_while_the_writer_runs(tmp_path):
    writer = EventWriter(ParquetSink(tmp_path), flush_interval=0.005, flush_events=50)
    total = 6000
    done = threading.Event()

    def produce() -> None:
        for i in range(total):
            writer.log(make_exposure(i, attributes={"country": "FR", "n": str(i)}))
            if i % 100 == 0:
                time.sleep(0.005)  # let segments trickle in while the reader reads
        done.set()

    producer = threading.Thread(target=produce)
    producer.start()
    source = parquet_source(tmp_path, "exposures")
    con = duckdb.connect()
    seen, reads = [], 0
    try:
        while not done.is_set() or reads < 5:
            if source.has_files():
                # Reads every column of every listed file: a partial file would fail here.
                n, unique = con.execute(
                    f"SELECT count(*), count(DISTINCT attributes['n']) "
                    f"FROM {source.read_parquet_sql()}"
                ).fetchone()
                assert n == unique
                seen.append(n)
                reads += 1
    finally:
        producer.join()
        writer.close()
        con.close()
    assert reads >= 5
    assert seen == sorted(seen)  # segments only ever appear, whole
    assert count(tmp_path, "exposures") == total
    assert not list(tmp_path.rglob("*.tmp"))
