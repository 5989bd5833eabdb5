"""The PostgreSQL store on a real server: columns, once-only batches, spilling while it is down."""

import socket
import uuid
from datetime import UTC, datetime

import psycopg
import sqlalchemy as sa

from champion.events import EventWriter, PostgresSink
from tests.events._helpers import eventually, make_exposure, make_outcome, make_shadow

AT = datetime(2024, 5, 1, 23, 59, 59, 999999, tzinfo=UTC)


def _query(url: str, sql: str) -> list[tuple]:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            return [tuple(r) for r in conn.execute(sa.text(sql))]
    finally:
        engine.dispose()


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_every_kind_lands_in_its_table_with_the_same_columns(postgres_url):
    with EventWriter(PostgresSink(postgres_url), flush_interval=60) as writer:
        writer.log(make_exposure(1, ts=AT, attributes={"country": "BR", "device": "web"}))
        writer.log(make_exposure(2, ts=AT, error="timeout", score=None, exposed=False))
        writer.log(make_shadow(1, ts=AT, score=0.75, served_score=0.25))
        writer.log(make_outcome(1, ts=AT, metric="revenue", value=9.5))
    assert writer.stats().written == 4

    assert _query(
        postgres_url,
        "SELECT ts, experiment, unit_id, variant, model, request_id, latency_ms, error, "
        "prediction, score, attributes->>'country', allocation_version, probability, exposed, "
        "date FROM exposures ORDER BY unit_id",
    ) == [
        (AT, "fraud-v2", "u1", "challenger", "fraud@2", "r1", 1.5, None,
         '{"label":"ok","probability":0.25}', 0.25, "BR", 3, 0.5, True, AT.date()),
        (AT, "fraud-v2", "u2", "champion", "fraud@1", "r2", 1.5, "timeout",
         '{"label":"ok","probability":0.25}', None, "FR", 3, 0.5, False, AT.date()),
    ]  # fmt: skip
    assert _query(postgres_url, "SELECT unit_id, model, divergence, served_score FROM shadow") == [
        ("u1", "fraud@3", 0.5, 0.25)
    ]
    assert _query(postgres_url, "SELECT ts, unit_id, metric, value, date FROM outcomes") == [
        (AT, "u1", "revenue", 9.5, AT.date())
    ]
    assert _query(
        postgres_url,
        "SELECT data_type FROM information_schema.columns "
        "WHERE table_name = 'exposures' AND column_name IN ('ts', 'attributes') "
        "ORDER BY column_name",
    ) == [("jsonb",), ("timestamp with time zone",)]


def test_a_batch_id_is_stored_once(postgres_url):
    sink = PostgresSink(postgres_url)
    batch = [make_outcome(i) for i in range(5)]
    try:
        assert sink.write(batch, "b1") == 5
        assert sink.write(batch, "b1") == 0  # a replay after an ambiguous failure
    finally:
        sink.close()
    assert _query(postgres_url, "SELECT count(*) FROM outcomes") == [(5,)]


def test_nul_characters_are_replaced_since_postgresql_text_cannot_hold_them(postgres_url):
    sink = PostgresSink(postgres_url)
    try:
        sink.write([make_exposure(error="bad\x00byte", attributes={"k": "v\x00"})], "b1")
    finally:
        sink.close()
    assert _query(postgres_url, "SELECT error, attributes->>'k' FROM exposures") == [
        ("bad\ufffdbyte", "v\ufffd")
    ]


def test_tables_can_live_in_their_own_schema(postgres_url):
    sink = PostgresSink(postgres_url, schema="events")
    try:
        sink.write([make_outcome()], "b1")
    finally:
        sink.close()
    assert _query(postgres_url, "SELECT count(*) FROM events.outcomes") == [(1,)]


def test_events_logged_while_the_server_is_unreachable_are_replayed_into_it(postgres_url, tmp_path):
    unreachable = f"postgresql://postgres@127.0.0.1:{_closed_port()}/events"
    first = EventWriter(PostgresSink(unreachable), journal_dir=tmp_path, flush_interval=60)
    for i in range(50):
        first.log(make_exposure(i))
    first.close()
    assert (first.stats().spilled, first.stats().written) == (50, 0)

    second = EventWriter(PostgresSink(postgres_url), journal_dir=tmp_path, flush_interval=60)
    second.close()
    assert second.stats().replayed == 50
    assert _query(postgres_url, "SELECT count(DISTINCT unit_id) FROM exposures") == [(50,)]
    assert list(tmp_path.glob("*.log")) == []


def test_a_writer_catches_up_once_its_database_appears(postgres_server, tmp_path):
    name = f"later_{uuid.uuid4().hex[:8]}"
    later = postgres_server.rsplit("/", 1)[0] + f"/{name}"
    writer = EventWriter(
        PostgresSink(later), journal_dir=tmp_path, flush_interval=0.05, retry_interval=0.1
    )
    try:
        for i in range(30):
            writer.log(make_outcome(i))
        assert eventually(lambda: writer.stats().spilled == 30)
        plain = postgres_server.replace("postgresql+psycopg://", "postgresql://")
        with psycopg.connect(plain, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        assert eventually(lambda: writer.stats().replayed == 30)
    finally:
        writer.close()
    assert _query(later, "SELECT count(*) FROM outcomes") == [(30,)]


def test_sync_mode_journals_first_then_stores_in_postgresql(postgres_url, tmp_path):
    with EventWriter(
        PostgresSink(postgres_url), sync=True, journal_dir=tmp_path, flush_interval=60
    ) as writer:
        for i in range(20):
            writer.log(make_outcome(i))
        assert writer.stats().journal_syncs == 20
    assert _query(postgres_url, "SELECT count(*) FROM outcomes") == [(20,)]
    assert list(tmp_path.glob("*.log")) == []
