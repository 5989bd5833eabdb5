"""The Router on a real SQLite registry: per-experiment failures, what it loads, double failures."""

from __future__ import annotations

import asyncio

import duckdb
import pytest

from champion.errors import ExperimentUnavailable, PredictionError
from champion.events import open_writer
from champion.registry import Registry
from champion.serve import RegistrySource, Router, RouterObserver, SpecSource
from champion.spec import parse_spec
from tests.serve._support import spec_text, wait_until


class Counts(RouterObserver):
    def __init__(self) -> None:
        self.served_calls: list[tuple[str, str, bool]] = []

    def served(self, experiment: str, variant: str, latency_ms: float, error: bool) -> None:
        self.served_calls.append((experiment, variant, error))


def _register(registry: Registry, name: str, **kwargs: object) -> None:
    registry.create(parse_spec(spec_text(name, **kwargs), name))  # type: ignore[arg-type]
    registry.start(name)


def _exposure_rows(root) -> list[tuple]:
    return duckdb.sql(
        f"select experiment, variant, model, error from read_parquet("
        f"'{root}/exposures/**/*.parquet', hive_partitioning=true) order by ts"
    ).fetchall()


def test_router_a_failing_experiment_is_unavailable_and_the_others_serve(tmp_path, models_dir):
    with Registry(f"sqlite:///{tmp_path / 'reg.db'}") as registry:
        _register(registry, "good")
        _register(registry, "no-model", challenger="no_such_function")
        _register(registry, "salty", extra="holdout: {share: 0.1, salt: salty}\n")
        with Router(RegistrySource(registry), models_dir=models_dir, poll_interval=0.1) as router:
            assert sorted(router.experiments) == ["good"]
            problems = router.unavailable()
            assert set(problems) == {"no-model", "salty"}
            assert "no_such_function" in problems["no-model"]
            assert "holdout.salt" in problems["salty"]
            assert router.predict("good", "u1", {"amount": 1.0}).error is None
            with pytest.raises(ExperimentUnavailable, match="no-model"):
                router.predict("no-model", "u1", {"amount": 1.0})
            # later changes still reach the router: the broken ones do not stall the poll
            registry.ramp("good", 30)
            assert wait_until(
                lambda: router.runtime("good").assigner.probabilities["chall"] == 0.3, 2.0
            )


def test_router_loads_only_the_models_that_can_get_traffic(tmp_path, models_dir):
    """A stopped experiment serves its champion: a challenger that cannot load is not loaded."""
    with Registry(f"sqlite:///{tmp_path / 'reg.db'}") as registry:
        _register(registry, "checkout", challenger="no_such_function")
        with Router(RegistrySource(registry), models_dir=models_dir, poll_interval=0.1) as router:
            assert "checkout" in router.unavailable()
            registry.stop("checkout", reason="the challenger does not load")
            assert wait_until(lambda: "checkout" in router.experiments, 2.0)
            assert router.unavailable() == {}
            out = router.predict("checkout", "u1", {"amount": 1.0})
            assert (out.model, out.exposed, out.error) == ("champ", False, None)


def test_router_a_registry_start_does_not_refuse_a_broken_experiment(tmp_path, models_dir):
    """Spec files are the operator's own and a broken one stops the start; a registry is not."""
    with Registry(f"sqlite:///{tmp_path / 'reg.db'}") as registry:
        _register(registry, "no-model", challenger="no_such_function")
        with Router(RegistrySource(registry), models_dir=models_dir, poll_interval=0) as router:
            assert router.experiments == {}
        spec = parse_spec(spec_text("files", challenger="no_such_function"), "files")
        with pytest.raises(Exception, match="no_such_function"):
            Router(SpecSource([spec]), models_dir=models_dir)


def _double_failure_spec() -> str:
    """A challenger and a champion that both raise."""
    return (
        spec_text("double", allocation="{champ: 0.0, chall: 1.0}")
        .replace('target: "serve_models:champion"', 'target: "serve_models:broken"')
        .replace('target: "serve_models:challenger"', 'target: "serve_models:broken"')
    )


@pytest.mark.parametrize("on_loop", [False, True])
def test_router_a_challenger_and_its_champion_fallback_failing_are_logged_and_counted(
    tmp_path, models_dir, on_loop
):
    spec = parse_spec(_double_failure_spec(), "double")
    root = tmp_path / "events"
    counts = Counts()
    with (
        open_writer(root) as events,
        Router(SpecSource([spec]), events=events, models_dir=models_dir, observer=counts) as r,
    ):

        def serve() -> object:
            if on_loop:
                return asyncio.run(r.apredict("double", "u1", {"amount": 1.0}))
            return r.predict("double", "u1", {"amount": 1.0})

        with pytest.raises(PredictionError, match="broken"):
            serve()
    assert counts.served_calls == [("double", "chall", True)]
    [(experiment, variant, model, error)] = _exposure_rows(root)
    assert (experiment, variant, model) == ("double", "chall", "champ")
    assert error.count("shadow model is broken") == 2
    assert "the champion champ failed too" in error
