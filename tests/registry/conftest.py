"""Registry fixtures: every registry test runs once on a SQLite file and once on PostgreSQL."""

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from champion.registry import Registry
from champion.spec import Experiment, load_spec


@pytest.fixture(params=["sqlite", "postgresql"])
def registry_url(request: pytest.FixtureRequest, tmp_path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'registry.db'}"
    return request.getfixturevalue("postgres_url")


@pytest.fixture
def registry(registry_url: str) -> Iterator[Registry]:
    with Registry(registry_url) as reg:
        yield reg


@pytest.fixture
def spec(fraud_spec) -> Experiment:
    return load_spec(fraud_spec)


def _spec_data(name: str, challengers: list[str], stages: list[float] | None) -> dict[str, Any]:
    variants = ["champ", *challengers]
    share = round(0.1 / len(challengers), 6)
    allocation = dict.fromkeys(challengers, share)
    allocation["champ"] = round(1 - share * len(challengers), 6)
    data: dict[str, Any] = {
        "name": name,
        "models": {v: {"kind": "python", "target": f"models:{v}"} for v in variants},
        "champion": "champ",
        "challengers": challengers,
        "allocation": allocation,
        "metrics": {"primary": {"name": "converted"}},
    }
    if stages is not None:
        data["rollout"] = {"stages": stages}
    return data


@pytest.fixture
def make_spec() -> Callable[..., Experiment]:
    """A small valid spec: champion ``champ``, challengers ``b``, ``c``, ... sharing 10%."""

    def build(
        name: str = "exp",
        challengers: tuple[str, ...] = ("b",),
        stages: tuple[float, ...] | None = (10, 25, 50, 100),
    ) -> Experiment:
        steps = None if stages is None else list(stages)
        return Experiment.model_validate(_spec_data(name, list(challengers), steps))

    return build


@pytest.fixture
def sqlite_registry(tmp_path) -> Iterator[Registry]:
    """For behaviour that does not depend on the database (argument checks)."""
    with Registry(f"sqlite:///{tmp_path / 'registry.db'}") as reg:
        yield reg
