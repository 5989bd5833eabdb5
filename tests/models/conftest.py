"""Shared artefacts: the seeded logistic models, saved with joblib and as ONNX."""

from __future__ import annotations

from pathlib import Path

import pytest
from tests.models._artefacts import Trained, fit


@pytest.fixture(scope="session")
def trained() -> Trained:
    return fit(20240601, [1.2, -0.8, 0.5])


@pytest.fixture(scope="session")
def trained_b() -> Trained:
    """A second model (the challenger), visibly different from ``trained``."""
    return fit(7, [-0.4, 1.5, 1.0])


@pytest.fixture(scope="session")
def joblib_file(tmp_path_factory: pytest.TempPathFactory, trained: Trained) -> Path:
    import joblib

    path = tmp_path_factory.mktemp("sklearn") / "fraud.joblib"
    joblib.dump(trained.model, path)
    return path


@pytest.fixture(scope="session")
def onnx_file(tmp_path_factory: pytest.TempPathFactory, trained: Trained) -> Path:
    from skl2onnx import convert_sklearn
    from skl2onnx.common.data_types import FloatTensorType

    model = trained.model
    onx = convert_sklearn(
        model,
        initial_types=[("float_input", FloatTensorType([None, 3]))],
        options={id(model): {"zipmap": False}},
    )
    path = tmp_path_factory.mktemp("onnx") / "fraud.onnx"
    path.write_bytes(onx.SerializeToString())
    return path
