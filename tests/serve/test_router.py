"""The in-process Router: routing, exposures, shadows, fallbacks and registry refresh."""

from __future__ import annotations

import time
from datetime import UTC, datetime

import duckdb
import pytest

from champion.assign import Assigner
from champion.errors import ExperimentNotFound
from champion.events import open_writer
from champion.registry import Registry
from champion.serve import RegistrySource, Router, SpecSource
from champion.spec import load_spec
from tests.serve import serve_models
from tests.serve._support import wait_until


def _exposures(root) -> list[tuple]:
    return duckdb.sql(
        f"select unit_id, variant, model, probability, allocation_version, error, exposed, "
        f"attributes['country'] from read_parquet('{root}/exposures/**/*.parquet', "
        f"hive_partitioning=true)"
    ).fetchall()


def _shadow_rows(root) -> list[tuple]:
    return duckdb.sql(
        f"select model, error, divergence, latency_ms, request_id from "
        f"read_parquet('{root}/shadow/**/*.parquet', hive_partitioning=true)"
    ).fetchall()


def test_router_serves_the_assigned_variant_and_its_model(write_spec, models_dir):
    spec = load_spec(write_spec())
    oracle = Assigner.from_spec(spec)
    models = {"champ": serve_models.champion, "chall": serve_models.challenger}
    with Router(SpecSource([spec]), models_dir=models_dir) as router:
        for i in range(2000):
            features = {"amount": float(i % 300)}
            out = router.predict("checkout", f"user-{i}", features)
            assert out.variant == oracle.assign(f"user-{i}").variant
            assert out.model == out.variant
            assert out.prediction == models[out.variant](features)


def test_every_request_logs_an_exposure_with_its_probability(write_spec, models_dir, tmp_path):
    spec = load_spec(write_spec(allocation="{champ: 0.9, chall: 0.1}"))
    root = tmp_path / "events"
    with open_writer(root) as events, Router(SpecSource([spec]), events=events,
                                               models_dir=models_dir) as router:  # fmt: skip
        for i in range(500):
            router.predict("checkout", f"u{i}", {"amount": 50.0}, {"country": "DE", "x": "y"})
    rows = _exposures(root)
    assert len(rows) == 500
    by_variant = {r[1]: r[3] for r in rows}
    assert by_variant == {"champ": 0.9, "chall": 0.1}
    assert all(r[4] == 1 and r[5] is None and r[6] is True and r[7] == "DE" for r in rows)


def test_a_shadow_that_raises_is_logged_and_counted(write_spec, models_dir, tmp_path):
    spec = load_spec(write_spec(shadow="{model: broken, sample: 1.0}"))
    root = tmp_path / "events"
    with open_writer(root) as events, Router(SpecSource([spec]), events=events,
                                               models_dir=models_dir) as router:  # fmt: skip
        for i in range(50):
            assert router.predict("checkout", f"u{i}", {"amount": 10.0}).error is None
        assert router.drain_shadows()
        assert router.shadow_stats["errors"] == 50
    rows = _shadow_rows(root)
    assert len(rows) == 50
    assert all(r[0] == "broken" and "shadow model is broken" in r[1] for r in rows)


def test_shadow_divergence_is_logged_against_the_served_score(write_spec, models_dir, tmp_path):
    spec = load_spec(write_spec(shadow="{model: close, sample: 1.0}",
                                allocation="{champ: 1.0, chall: 0.0}"))  # fmt: skip
    root = tmp_path / "events"
    with open_writer(root) as events, Router(SpecSource([spec]), events=events,
                                               models_dir=models_dir) as router:  # fmt: skip
        served = {router.predict("checkout", f"u{i}", {"amount": 42.0}).request_id
                  for i in range(20)}  # fmt: skip
        assert router.drain_shadows()
    rows = _shadow_rows(root)
    assert {r[4] for r in rows} == served
    assert all(r[2] == pytest.approx(0.01) for r in rows)


def test_a_slow_shadow_never_delays_the_answer_and_overruns_are_logged_as_timeouts(
    write_spec, models_dir, tmp_path
):
    spec = load_spec(write_spec(shadow="{model: slow, sample: 1.0, timeout_ms: 100}"))
    root = tmp_path / "events"
    with open_writer(root) as events, Router(SpecSource([spec]), events=events,
                                               models_dir=models_dir,
                                               shadow_concurrency=1) as router:  # fmt: skip
        start = time.perf_counter()
        for i in range(20):
            router.predict("checkout", f"u{i}", {"amount": 1.0})
        elapsed = time.perf_counter() - start
        # 20 requests while every shadow sleeps 2 s: the answers do not wait for them.
        assert elapsed < 0.5
        stats = router.shadow_stats
        # The queue holds 1; the worker may have taken a first call before it filled.
        assert 1 <= stats["submitted"] <= 2
        assert stats["dropped"] == 20 - stats["submitted"]
        taken = stats["submitted"]
        # A sync model cannot be interrupted: its calls are logged as timeouts when it returns.
        assert wait_until(lambda: router.shadow_stats["timeouts"] == taken, 2.0 * taken + 2.0)
    rows = _shadow_rows(root)
    assert len(rows) == taken
    assert all(r[1] == "timeout after 100 ms" and r[3] >= 2000 for r in rows)


def test_a_failing_challenger_falls_back_to_the_champion(write_spec, models_dir, tmp_path):
    spec = load_spec(write_spec(challenger="broken", allocation="{champ: 0.0, chall: 1.0}"))
    root = tmp_path / "events"
    with open_writer(root) as events, Router(SpecSource([spec]), events=events,
                                               models_dir=models_dir) as router:  # fmt: skip
        out = router.predict("checkout", "u1", {"amount": 30.0})
    assert (out.variant, out.model) == ("chall", "champ")
    assert out.prediction == serve_models.champion({"amount": 30.0})
    [row] = _exposures(root)
    assert row[1:3] == ("chall", "champ")
    assert "shadow model is broken" in row[5]


def test_unknown_experiment_names_what_exists(write_spec, models_dir):
    spec = load_spec(write_spec())
    with (
        Router(SpecSource([spec]), models_dir=models_dir) as router,
        pytest.raises(ExperimentNotFound, match="checkout"),
    ):
        router.predict("nope", "u1", {})


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_a_ramp_in_the_registry_reaches_the_router_within_two_seconds(
    backend, write_spec, models_dir, tmp_path, request
):
    url = (
        f"sqlite:///{tmp_path / 'reg.db'}"
        if backend == "sqlite"
        else request.getfixturevalue("postgres_url")
    )
    spec = load_spec(write_spec(allocation="{champ: 0.9, chall: 0.1}"))
    with Registry(url) as registry:
        registry.create(spec)
        registry.start("checkout")
        with Router(RegistrySource(registry), models_dir=models_dir, poll_interval=0.1) as router:
            assert router.runtime("checkout").assigner.probabilities == {"champ": 0.9, "chall": 0.1}
            registry.ramp("checkout", 50)
            changed = time.monotonic()
            assert wait_until(
                lambda: router.runtime("checkout").assigner.probabilities["chall"] == 0.5, 2.0
            )
            assert time.monotonic() - changed < 2.0
            registry.stop("checkout", reason="test")
            assert wait_until(lambda: router.runtime("checkout").state == "stopped", 2.0)
            out = router.predict("checkout", "u1", {"amount": 1.0})
            assert (out.variant, out.exposed) == ("champ", False)


def test_a_clock_stamps_exposures_and_shadows(write_spec, models_dir, tmp_path):
    when = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
    spec = load_spec(write_spec(shadow="{model: close, sample: 1.0}"))
    root = tmp_path / "events"
    with open_writer(root) as events, Router(SpecSource([spec]), events=events,
                                               models_dir=models_dir,
                                               clock=lambda: when) as router:  # fmt: skip
        router.predict("checkout", "u1", {"amount": 1.0})
        assert router.drain_shadows()
    for kind in ("exposures", "shadow"):
        rows = duckdb.sql(
            f"select epoch_us(ts), date from read_parquet('{root}/{kind}/**/*.parquet', "
            "hive_partitioning=true)"
        ).fetchall()
        assert rows == [(int(when.timestamp() * 1_000_000), when.date())]


def test_concurrent_requests_in_sync_mode_share_fsyncs_off_the_event_loop(
    write_spec, models_dir, tmp_path
):
    """Each request waits for its exposure's fsync in a worker thread, so requests that
    arrive meanwhile join the same group commit; waiting on the loop would make it one
    fsync per request."""
    import asyncio

    spec = load_spec(write_spec())
    root = tmp_path / "events"
    requests = 60
    with (
        open_writer(root, sync=True) as events,
        Router(SpecSource([spec]), events=events, models_dir=models_dir) as router,
    ):

        async def serve_all() -> list:
            return await asyncio.gather(
                *(router.apredict("checkout", f"u{i}", {"amount": 5.0}) for i in range(requests))
            )

        answers = asyncio.run(serve_all())
        syncs = events.stats().journal_syncs
    assert len(answers) == requests
    assert 1 <= syncs < requests
    assert sorted(r[0] for r in _exposures(root)) == sorted(f"u{i}" for i in range(requests))


@pytest.mark.parametrize("fallback", [True, False])
def test_a_failing_challenger_on_the_event_loop_is_logged_either_way(
    write_spec, models_dir, tmp_path, fallback
):
    import asyncio

    spec = load_spec(write_spec(challenger="broken", allocation="{champ: 0.0, chall: 1.0}"))
    root = tmp_path / "events"
    with (
        open_writer(root, sync=True) as events,
        Router(
            SpecSource([spec]), events=events, models_dir=models_dir, fallback_to_champion=fallback
        ) as router,
    ):
        call = router.apredict("checkout", "u1", {"amount": 30.0})
        if fallback:
            out = asyncio.run(call)
            assert (out.variant, out.model) == ("chall", "champ")
        else:
            with pytest.raises(Exception, match="broken"):
                asyncio.run(call)
    [row] = _exposures(root)
    assert row[1:3] == ("chall", "champ" if fallback else "chall")
    assert "shadow model is broken" in row[5]
