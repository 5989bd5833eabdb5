"""The look ledger on SQLite and PostgreSQL: round trip, once-only writes, races, old files."""

import dataclasses
import math
import multiprocessing
import threading
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
import sqlalchemy as sa
from tests.registry._race import record_look_once

import champion.registry.looks as looks_module
from champion.errors import ExperimentNotFound, InvalidArgument
from champion.registry import LookRecord, Registry, resolve_url

ROOT = Path(__file__).resolve().parents[2]
AT = datetime(2026, 5, 1, 12, 30, 15, 123456, tzinfo=UTC)


def _look(**changes) -> LookRecord:
    fields = {
        "experiment": "exp", "variant": "b", "index": 1, "at": AT,
        "information_fraction": 0.25, "statistic": 1.7, "boundary": 4.332634,
        "alpha_spent": 0.0000148, "max_information": 1234.5, "decision": "keep", "final": False,
    }  # fmt: skip
    return LookRecord(**(fields | changes))


def _fields(look: LookRecord) -> dict:
    """Every field, NaN made comparable (NaN != NaN)."""
    return {
        k: "nan" if isinstance(v, float) and math.isnan(v) else v
        for k, v in dataclasses.asdict(look).items()
    }


@pytest.fixture
def exp(registry, make_spec) -> str:
    registry.create(make_spec("exp", challengers=("b", "c")))
    return "exp"


def test_every_field_round_trips(registry, exp):
    look = _look(index=3, information_fraction=1.25, statistic=-2.5e-17, boundary=1.959964,
                 alpha_spent=0.05, max_information=9.87654321e12, decision="rollout_full",
                 final=True)  # fmt: skip
    stored = registry.record_look(look)
    assert stored == look
    assert registry.looks(exp) == [look]
    assert stored.at.tzinfo is not None
    assert stored.at.utcoffset() == timedelta(0)


def test_nan_and_infinities_round_trip(registry, exp):
    look = _look(statistic=math.nan, boundary=math.inf, alpha_spent=math.nan,
                 max_information=math.nan, information_fraction=0.0)  # fmt: skip
    stored = registry.record_look(look)
    assert _fields(stored) == _fields(look)
    assert _fields(registry.looks(exp)[0]) == _fields(look)
    negative = registry.record_look(_look(index=2, statistic=-math.inf, boundary=math.nan))
    assert (negative.statistic, _fields(negative)["boundary"]) == (-math.inf, "nan")


def test_nan_is_stored_as_null(registry_url, registry, exp):
    registry.record_look(_look(statistic=math.nan, max_information=math.nan))
    engine = sa.create_engine(resolve_url(registry_url))
    try:
        with engine.connect() as conn:
            row = conn.execute(
                sa.text("SELECT statistic, boundary, max_information FROM champion_looks")
            ).one()
    finally:
        engine.dispose()
    assert row.statistic is None
    assert row.max_information is None
    assert row.boundary == pytest.approx(4.332634)


def test_numpy_numbers_are_stored_as_python_ones(registry, exp):
    np = pytest.importorskip("numpy")
    t = np.float64(1.0)
    stored = registry.record_look(
        _look(index=np.int64(2), information_fraction=t, statistic=np.float32(2.5),
              alpha_spent=np.float64(0.025), final=t >= 1.0)
    )  # fmt: skip
    assert (stored.index, stored.information_fraction, stored.statistic) == (2, 1.0, 2.5)
    assert stored.final is True
    assert type(stored.statistic) is float


def test_a_time_in_another_zone_is_stored_as_the_same_instant_in_utc(registry, exp):
    paris = AT.astimezone(timezone(timedelta(hours=2)))
    stored = registry.record_look(_look(at=paris))
    assert stored.at == AT
    assert stored.at.utcoffset() == timedelta(0)


def test_recording_a_look_again_returns_the_stored_one_and_writes_nothing(registry, exp):
    first = registry.record_look(_look())
    version, global_version = registry.get(exp).version, registry.global_version()
    again = registry.record_look(_look(statistic=3.1, decision="rollout_full", final=True,
                                       at=AT + timedelta(days=1)))  # fmt: skip
    assert again == first
    assert registry.record_look(_look()) == first
    assert registry.looks(exp) == [first]
    # a read-out is not a change to the experiment: pollers do not wake up for it
    assert (registry.get(exp).version, registry.global_version()) == (version, global_version)


def test_threads_racing_to_record_one_look_all_get_the_first_writers_row(registry, exp):
    writers = 6
    barrier = threading.Barrier(writers)
    results: list = [None] * writers
    errors: list = []

    def writer(i: int) -> None:
        barrier.wait(timeout=30)
        try:
            results[i] = registry.record_look(_look(statistic=float(i), index=2))
        except Exception as e:  # surfaced by the assertion below
            errors.append(e)

    threads = [threading.Thread(target=writer, args=(i,)) for i in range(writers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert errors == []
    stored = registry.looks(exp)
    assert len(stored) == 1
    assert results == [stored[0]] * writers
    assert stored[0].statistic in {float(i) for i in range(writers)}


def test_processes_racing_to_record_one_look_all_get_the_first_writers_row(
    registry_url, registry, exp, monkeypatch
):
    monkeypatch.syspath_prepend(str(ROOT))  # spawned children import tests.registry._race
    ctx = multiprocessing.get_context("spawn")
    barrier, results = ctx.Barrier(4), ctx.Queue()
    procs = [
        ctx.Process(
            target=record_look_once,
            args=(registry_url, dataclasses.asdict(_look(statistic=float(i))), barrier, results),
        )
        for i in range(4)
    ]
    for p in procs:
        p.start()
    for p in procs:
        p.join(timeout=60)
    assert [p.exitcode for p in procs] == [0] * 4
    outcomes = [results.get(timeout=5) for _ in procs]
    (stored,) = registry.looks(exp)
    assert [got for _, got in outcomes] == [stored.to_dict()] * 4
    assert stored.statistic in {mine for mine, _ in outcomes}


def test_a_look_stored_between_the_check_and_the_insert_is_returned(registry, exp, monkeypatch):
    """The path a PostgreSQL writer takes when a rival commits the same look first."""
    winner = registry.record_look(_look(statistic=1.0))
    real, calls = looks_module._stored, []

    def missed_once(conn, *key):
        calls.append(key)
        return None if len(calls) == 1 else real(conn, *key)

    monkeypatch.setattr(looks_module, "_stored", missed_once)
    assert registry.record_look(_look(statistic=2.0)) == winner
    assert len(calls) == 2  # the check missed it, the insert failed, the re-read found it
    assert registry.looks(exp) == [winner]


def test_an_unknown_experiment_is_refused_by_name(registry, exp):
    with pytest.raises(ExperimentNotFound, match=r"no experiment named 'ghost' \(existing: exp\)"):
        registry.record_look(_look(experiment="ghost"))
    with pytest.raises(ExperimentNotFound, match="'ghost'"):
        registry.looks("ghost")
    assert registry.looks(exp) == []


@pytest.mark.parametrize(
    ("changes", "match"),
    [
        ({"index": 0}, r"index=0 is invalid: the look's number, counted from 1"),
        ({"index": -2}, r"index=-2 is invalid"),
        ({"index": 1.0}, r"index=1.0 is invalid"),
        ({"index": True}, r"index=True is invalid"),
        ({"decision": "ship_it"}, r"decision='ship_it' is invalid: one of rollout_full, ro"),
        ({"decision": "Keep"}, r"rollout_gradual, keep, extend, rollback$"),
        ({"decision": None}, r"decision=None is invalid"),
        ({"information_fraction": -0.1}, r"information_fraction=-0.1 is invalid: a finite"),
        ({"information_fraction": math.nan}, r"information_fraction=nan is invalid"),
        ({"information_fraction": math.inf}, r"information_fraction=inf is invalid"),
        ({"information_fraction": "0.5"}, r"information_fraction='0.5' is invalid: a number"),
        ({"statistic": None}, r"statistic=None is invalid: a number \(NaN and infinities"),
        ({"boundary": "1.96"}, r"boundary='1.96' is invalid"),
        ({"max_information": False}, r"max_information=False is invalid"),
        ({"alpha_spent": 1.5}, r"alpha_spent=1.5 is invalid: a probability in \[0, 1\], or NaN"),
        ({"alpha_spent": -0.01}, r"alpha_spent=-0.01 is invalid"),
        ({"final": "yes"}, r"final='yes' is invalid: True or False"),
        ({"at": datetime(2026, 5, 1)}, r"at=datetime.datetime\(2026, 5, 1, 0, 0\) is invalid"),
        ({"at": datetime(2026, 5, 1)}, r"is invalid: a timezone-aware datetime"),
        ({"at": "2026-05-01"}, r"at='2026-05-01' is invalid"),
        ({"variant": ""}, r"variant='' is invalid: a non-empty name"),
        ({"variant": "champ"}, r"variant='champ' is invalid: one of the challengers of 'exp'"),
        ({"variant": "champ"}, r"one of the challengers of 'exp': b, c$"),
        ({"variant": "z"}, r"variant='z' is invalid: one of the challengers"),
        ({"experiment": None}, r"experiment=None is invalid"),
    ],
)  # fmt: skip
def test_invalid_fields_are_refused_by_name_and_nothing_is_written(registry, exp, changes, match):
    with pytest.raises(InvalidArgument, match=match):
        registry.record_look(_look(**changes))
    assert registry.looks(exp) == []


def test_anything_but_a_look_record_is_refused(sqlite_registry):
    with pytest.raises(InvalidArgument, match="look='dict' is invalid: a LookRecord"):
        sqlite_registry.record_look(dataclasses.asdict(_look()))


def test_looks_come_back_by_variant_then_index(registry, exp):
    for variant, index in [("c", 2), ("b", 3), ("b", 1), ("c", 1), ("b", 2)]:
        registry.record_look(_look(variant=variant, index=index, information_fraction=index / 4))
    assert [(x.variant, x.index) for x in registry.looks(exp)] == [
        ("b", 1), ("b", 2), ("b", 3), ("c", 1), ("c", 2)
    ]  # fmt: skip
    assert [(x.variant, x.index) for x in registry.looks(exp, "c")] == [("c", 1), ("c", 2)]
    assert registry.looks(exp, "nobody") == []


def test_looks_of_one_experiment_stay_apart_from_another(registry, make_spec, exp):
    registry.create(make_spec("other"))
    registry.record_look(_look(experiment="other"))
    registry.record_look(_look(decision="extend"))
    assert [x.decision for x in registry.looks(exp)] == ["extend"]
    assert [x.decision for x in registry.looks("other")] == ["keep"]


def test_a_registry_made_before_the_ledger_gains_its_table(registry_url, make_spec):
    with Registry(registry_url) as old:
        old.create(make_spec("exp", challengers=("b", "c")))
        old.start("exp")
    engine = sa.create_engine(resolve_url(registry_url))
    try:
        with engine.begin() as conn:  # the database as a champion without the ledger left it
            conn.execute(sa.text("DROP TABLE champion_looks"))
        assert "champion_looks" not in sa.inspect(engine).get_table_names()
        with Registry(registry_url) as registry:
            assert "champion_looks" in sa.inspect(engine).get_table_names()
            assert registry.get("exp").version == 2  # nothing else touched
            assert [e.action for e in registry.history("exp")] == ["create", "start"]
            assert registry.looks("exp") == []
            look = registry.record_look(_look())
            assert registry.looks("exp") == [look]
        with engine.connect() as conn:
            versions = conn.execute(
                sa.text("SELECT value FROM champion_meta WHERE key = 'schema_version'")
            ).scalar_one()
        assert versions == 1
    finally:
        engine.dispose()
