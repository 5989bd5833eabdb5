"""Promotion moves an MLflow alias to the winner's version, in a real SQLite tracking store."""

from __future__ import annotations

import pytest
from tests.models import test_mlflow
from tests.models.test_mlflow import Store

from champion.errors import InvalidArgument
from champion.monitor.promotion import move_alias, parse_model_uri
from champion.registry import Registry
from champion.spec.models import Experiment

pytestmark = test_mlflow.pytestmark
store = test_mlflow.store  # the tracking store with @champion and @challenger


def _spec(uri: str, challenger_target: str) -> Experiment:
    return Experiment.model_validate({
        "name": "fraud-ab",
        "models": {
            "v1": {"kind": "mlflow", "target": "models:/fraud@champion",
                   "options": {"tracking_uri": uri}},
            "v2": {"kind": "mlflow", "target": challenger_target,
                   "options": {"tracking_uri": uri}},
        },
        "champion": "v1", "challengers": ["v2"], "allocation": {"v1": 0.5, "v2": 0.5},
        "metrics": {"primary": {"name": "caught"}},
        "rollout": {"stages": [50, 100], "promote_alias": "champion"},
    })  # fmt: skip


@pytest.mark.parametrize("target", ["models:/fraud@challenger", "models:/fraud/2"])
def test_promoting_moves_the_alias_to_the_winners_version(store: Store, target: str) -> None:
    from mlflow import MlflowClient

    spec = _spec(store.uri, target)
    client = MlflowClient(tracking_uri=store.uri, registry_uri=store.uri)
    client.set_registered_model_alias("fraud", "champion", store.versions["champion"])
    said = move_alias(spec, "v2", "champion")
    assert said == f"MLflow alias fraud@champion -> version {store.versions['challenger']}"
    moved = client.get_model_version_by_alias("fraud", "champion").version
    assert str(moved) == store.versions["challenger"]
    client.set_registered_model_alias("fraud", "champion", store.versions["champion"])


def test_the_cli_promotes_then_moves_the_alias(store: Store, tmp_path) -> None:
    from mlflow import MlflowClient
    from typer.testing import CliRunner

    from champion.cli import app

    db = f"sqlite:///{tmp_path / 'registry.db'}"
    with Registry(db) as reg:
        reg.create(_spec(store.uri, "models:/fraud@challenger"))
        reg.start("fraud-ab")
    result = CliRunner().invoke(app, ["rollout", "promote", "fraud-ab", "--db", db,
                                      "--reason", "it won"])  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "fraud@champion -> version" in result.output
    client = MlflowClient(tracking_uri=store.uri, registry_uri=store.uri)
    assert (
        str(client.get_model_version_by_alias("fraud", "champion").version)
        == (store.versions["challenger"])
    )
    client.set_registered_model_alias("fraud", "champion", store.versions["champion"])


def test_only_registry_uris_of_mlflow_models_have_aliases(store: Store) -> None:
    assert parse_model_uri("models:/fraud@champion") == ("fraud", "champion", None)
    assert parse_model_uri("models:/fraud/3") == ("fraud", None, "3")
    with pytest.raises(InvalidArgument, match="models:/NAME@ALIAS"):
        parse_model_uri("runs:/abc/model")
    spec = _spec(store.uri, "models:/fraud@challenger")
    with pytest.raises(InvalidArgument, match="not an mlflow model"):
        move_alias(spec, "nope", "champion")
