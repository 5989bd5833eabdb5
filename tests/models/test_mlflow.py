"""MLflow pyfunc models: a local folder, and registry aliases in a real SQLite tracking store."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from tests.models._artefacts import FEATURES, Trained

from champion.errors import InvalidFeatures, ModelLoadError
from champion.models import MlflowAdapter, load_model

# MLflow 3 warns at import about its own type hints, and its SQLite store uses an ORM loader
# that SQLAlchemy 2.1 deprecates: neither is about champion, so only these tests ignore them.
pytestmark = [
    pytest.mark.filterwarnings("ignore:.*Any type hint is inferred as AnyType:UserWarning"),
    pytest.mark.filterwarnings("ignore:The ``noload`` loader strategy is deprecated"),
]


@dataclass(frozen=True)
class Store:
    uri: str  # sqlite:///... tracking and registry
    champion_dir: Path  # the champion's saved pyfunc folder
    versions: dict[str, str]  # alias -> registered version


def _save(model: object, path: Path, X: np.ndarray) -> None:
    import mlflow.sklearn
    import pandas as pd
    from mlflow.models import infer_signature

    frame = pd.DataFrame(X[:5], columns=FEATURES)
    mlflow.sklearn.save_model(
        model,
        str(path),
        signature=infer_signature(frame, model.predict_proba(frame)),
        pyfunc_predict_fn="predict_proba",
        pip_requirements=["scikit-learn"],  # skips MLflow's slow requirement inference
        serialization_format="cloudpickle",  # the default (skops) needs one more package
    )


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory, trained: Trained, trained_b: Trained) -> Store:
    """Two versions of model 'fraud': @champion is ``trained``, @challenger ``trained_b``."""
    from mlflow import MlflowClient

    root = tmp_path_factory.mktemp("mlflow")
    _save(trained.model, root / "v1", trained.X)
    _save(trained_b.model, root / "v2", trained_b.X)
    uri = f"sqlite:///{root}/mlflow.db"
    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    client.create_registered_model("fraud")
    v1 = client.create_model_version("fraud", source=str(root / "v1")).version
    v2 = client.create_model_version("fraud", source=str(root / "v2")).version
    client.set_registered_model_alias("fraud", "champion", v1)
    client.set_registered_model_alias("fraud", "challenger", v2)
    return Store(uri, root / "v1", {"champion": str(v1), "challenger": str(v2)})


def _alias(store: Store, alias: str, **options: object) -> dict:
    return {
        "kind": "mlflow",
        "target": f"models:/fraud@{alias}",
        "options": {"tracking_uri": store.uri, **options},
    }


def test_champion_alias_loads_the_champion_version(store: Store, trained: Trained) -> None:
    model = load_model("v1", _alias(store, "champion"), "/")
    assert model.version == store.versions["champion"]
    got = np.array(model.predict_batch(trained.rows))
    np.testing.assert_allclose(got, trained.closed_form(trained.X), rtol=0, atol=1e-12)


def test_challenger_alias_loads_the_challenger_version(
    store: Store, trained: Trained, trained_b: Trained
) -> None:
    model = load_model("v2", _alias(store, "challenger"), "/")
    assert model.version == store.versions["challenger"]
    got = np.array(model.predict_batch(trained.rows))
    np.testing.assert_allclose(got, trained_b.closed_form(trained.X), rtol=0, atol=1e-12)
    assert not np.allclose(got, trained.closed_form(trained.X), atol=1e-3)


def test_a_version_number_loads_that_version(store: Store, trained_b: Trained) -> None:
    ref = {"kind": "mlflow", "target": "models:/fraud/2", "options": {"tracking_uri": store.uri}}
    model = load_model("v2", ref, "/")
    expected = trained_b.closed_form(trained_b.X[:1])[0]
    assert model.predict(trained_b.rows[0]) == pytest.approx(expected, abs=1e-12)


def test_the_tracking_uri_can_come_from_the_environment(
    store: Store, trained: Trained, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MLFLOW_TRACKING_URI", store.uri)
    model = load_model("v1", {"kind": "mlflow", "target": "models:/fraud@champion"}, "/")
    expected = trained.closed_form(trained.X[:1])[0]
    assert model.predict(trained.rows[0]) == pytest.approx(expected, abs=1e-12)


def test_a_local_folder_loads_relative_to_the_spec(store: Store, trained: Trained) -> None:
    model = load_model("v1", {"kind": "mlflow", "target": "v1"}, store.champion_dir.parent)
    assert model.features == FEATURES  # read from the logged signature
    batch = model.predict_batch(trained.rows)
    single = [model.predict(r) for r in trained.rows]
    np.testing.assert_allclose(batch, single, rtol=0, atol=1e-14)  # BLAS may order sums apart


def test_proba_vector_serves_both_columns(store: Store, trained: Trained) -> None:
    model = load_model("v1", _alias(store, "champion", proba="vector"), "/")
    p = trained.closed_form(trained.X[:1])[0]
    np.testing.assert_allclose(model.predict(trained.rows[0]), [1 - p, p], atol=1e-12)


def test_a_missing_feature_is_invalid_features(store: Store) -> None:
    model = load_model("v1", _alias(store, "champion"), "/")
    with pytest.raises(InvalidFeatures, match=r"missing feature\(s\) new_device"):
        model.predict({"amount": 1.0, "foreign": 0.0})


def test_an_unknown_alias_fails_at_load_naming_it(store: Store) -> None:
    with pytest.raises(
        ModelLoadError,
        match=r"model 'v3' failed to load: MLflow cannot load models:/fraud@shadow "
        r"\(tracking URI sqlite:///.*\): MlflowException: .*alias shadow",
    ):
        load_model("v3", _alias(store, "shadow"), "/")


def test_a_missing_local_folder_fails_at_load(tmp_path: Path) -> None:
    with pytest.raises(ModelLoadError, match=r"model 'm' failed to load: file not found: .*gone"):
        load_model("m", {"kind": "mlflow", "target": "gone"}, tmp_path)


def test_missing_mlflow_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "mlflow.pyfunc", None)
    with pytest.raises(
        ModelLoadError,
        match=r"mlflow.pyfunc cannot be imported .*; install it: pip install 'champion\[mlflow\]'",
    ):
        MlflowAdapter("m", "models:/fraud@champion").load()
